//! Queries a client app needs (issue #27): PostgREST operators, `order`, `select` and
//! cursors, checked against what a scan of every row says, before and after writes.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::support::TestApp;

/// A server whose rate limit does not get in the way of thousands of rows, on the demo
/// schema with `total`, `issue_date` and `due_date` indexed too (so filters and orders on
/// them take the ordered index, while `currency` and `notes` are scanned).
fn app() -> TestApp {
    let schema = palisade::schema::EMBEDDED_SCHEMA
        .replace(
            r#"issue_date = { type = "date", required = true }"#,
            r#"issue_date = { type = "date", required = true, index = true }"#,
        )
        .replace(r#"due_date   = { type = "date" }"#, r#"due_date   = { type = "date", index = true }"#)
        .replace(
            r#"total      = { type = "float", required = true }"#,
            r#"total      = { type = "float", required = true, index = true }"#,
        );
    assert_eq!(
        schema.matches("index = true").count(),
        palisade::schema::EMBEDDED_SCHEMA.matches("index = true").count() + 3
    );
    TestApp::builder().schema(&schema).config(|c| c.rate_limit.requests = 1_000_000).start()
}

/// Every invoice, read page by page in id order.
fn all(app: &TestApp, t: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let page = app.get(&format!("/api/v1/invoices?limit=500&offset={}", out.len()), t).json();
        let rows = page["data"].as_array().unwrap().clone();
        if rows.is_empty() {
            return out;
        }
        out.extend(rows);
    }
}

/// The ids a query answers, walking its cursor to the end.
fn ids(app: &TestApp, t: &str, query: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut path = format!("/api/v1/invoices?{query}&limit=37");
    loop {
        let r = app.get(&path, t);
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        let page = r.json();
        out.extend(page["data"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()));
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/invoices?{query}&limit=37&after={next}"),
            None => return out,
        }
    }
}

fn seed(app: &TestApp, t: &str, n: usize, tag: &str) {
    let statuses = ["draft", "sent", "paid", "overdue"];
    let currencies = ["NOK", "EUR", "usd"];
    let rows: Vec<Value> = (0..n)
        .map(|i| {
            let mut row = json!({
                "client_id": 1 + i % 4,
                "number": format!("{tag}-{i:04}"),
                "status": statuses[i % 4],
                "issue_date": format!("2025-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
                "total": if i % 5 == 0 { json!(i as i64 - 40) } else { json!(i as f64 * 1.5) },
                "currency": currencies[i % 3],
            });
            if i % 3 != 0 {
                row["due_date"] = json!(format!("2025-{:02}-15", 1 + i % 12));
            }
            if i % 7 == 0 {
                row["notes"] = json!(format!("Grand Hotel stay {i}"));
            }
            row
        })
        .collect();
    for chunk in rows.chunks(500) {
        let r = app.req("POST", "/api/v1/invoices").bearer(t).json(&Value::Array(chunk.to_vec())).send();
        assert_eq!(r.status, 201, "{}", r.text());
    }
}

type Check = (&'static str, fn(&Value) -> bool);

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn text<'a>(row: &'a Value, col: &str) -> Option<&'a str> {
    row[col].as_str()
}

const CHECKS: &[Check] = &[
    ("status=eq.paid", |r| r["status"] == "paid"),
    ("status=paid", |r| r["status"] == "paid"),
    ("status=neq.paid", |r| r["status"] != "paid"),
    ("status=in.(sent,overdue)", |r| r["status"] == "sent" || r["status"] == "overdue"),
    ("status=not.in.(sent,overdue,draft)", |r| r["status"] == "paid"),
    ("total=gt.100", |r| num(&r["total"]).unwrap() > 100.0),
    ("total=gte.99", |r| num(&r["total"]).unwrap() >= 99.0),
    ("total=lt.0", |r| num(&r["total"]).unwrap() < 0.0),
    ("total=lte.-20&total=gte.-35", |r| (-35.0..=-20.0).contains(&num(&r["total"]).unwrap())),
    ("total=not.gt.10", |r| num(&r["total"]).unwrap() <= 10.0),
    ("total=eq.60", |r| num(&r["total"]).unwrap() == 60.0),
    ("client_id=in.(1,3)", |r| r["client_id"] == 1 || r["client_id"] == 3),
    ("client_id=gt.2&status=eq.sent", |r| r["client_id"].as_u64().unwrap() > 2 && r["status"] == "sent"),
    ("issue_date=gte.2025-06-01&issue_date=lt.2025-09-01", |r| {
        let d = text(r, "issue_date").unwrap();
        ("2025-06-01".."2025-09-01").contains(&d)
    }),
    ("due_date=is.null", |r| r["due_date"].is_null()),
    ("due_date=not.is.null", |r| !r["due_date"].is_null()),
    ("due_date=lt.2025-03-01", |r| text(r, "due_date").is_some_and(|d| d < "2025-03-01")),
    ("due_date=neq.2025-02-15", |r| text(r, "due_date").is_some_and(|d| d != "2025-02-15")),
    ("currency=eq.usd", |r| r["currency"] == "usd"),
    ("currency=ilike.*U*", |r| text(r, "currency").is_some_and(|c| c.to_lowercase().contains('u'))),
    ("currency=like.N*", |r| text(r, "currency").is_some_and(|c| c.starts_with('N'))),
    ("currency=not.like.*R", |r| text(r, "currency").is_some_and(|c| !c.ends_with('R'))),
    ("number=like.Q-00*&status=in.(paid)", |r| {
        text(r, "number").is_some_and(|n| n.starts_with("Q-00")) && r["status"] == "paid"
    }),
    ("notes=ilike.*hotel*", |r| text(r, "notes").is_some_and(|n| n.to_lowercase().contains("hotel"))),
    ("id=gt.5&id=lte.40", |r| (6..=40).contains(&r["id"].as_u64().unwrap())),
    ("id=in.(2,3,999999)", |r| [2, 3].contains(&r["id"].as_u64().unwrap())),
];

fn check_all(app: &TestApp, t: &str) {
    let rows = all(app, t);
    for (query, keep) in CHECKS {
        let want: Vec<u64> = rows.iter().filter(|r| keep(r)).map(|r| r["id"].as_u64().unwrap()).collect();
        let got = ids(app, t, query);
        assert_eq!(got, want, "{query}");
        let total = app.get(&format!("/api/v1/invoices?{query}&limit=1"), t).json()["total"].as_u64().unwrap();
        assert_eq!(total as usize, want.len(), "{query}: total");
    }
    // Orders: indexed (one key), unindexed and several keys; nulls last either way; id
    // breaks ties in the last key's direction.
    let sorted = |key: &dyn Fn(&Value, &Value) -> std::cmp::Ordering| {
        let mut all = rows.clone();
        all.sort_by(|a, b| key(a, b));
        all.iter().map(|r| r["id"].as_u64().unwrap()).collect::<Vec<_>>()
    };
    let id = |r: &Value| r["id"].as_u64().unwrap();
    let total = |r: &Value| num(&r["total"]).unwrap();
    let due = |r: &Value| text(r, "due_date").map(str::to_string);
    let nulls_last = |a: Option<String>, b: Option<String>, desc: bool| match (a, b) {
        (Some(x), Some(y)) if desc => y.cmp(&x),
        (Some(x), Some(y)) => x.cmp(&y),
        (None, None) => std::cmp::Ordering::Equal,
        (None, _) => std::cmp::Ordering::Greater,
        (_, None) => std::cmp::Ordering::Less,
    };
    let cases: Vec<(&str, Vec<u64>)> = vec![
        ("order=-total", sorted(&|a, b| total(b).total_cmp(&total(a)).then(id(b).cmp(&id(a))))),
        ("order=total", sorted(&|a, b| total(a).total_cmp(&total(b)).then(id(a).cmp(&id(b))))),
        ("order=due_date", sorted(&|a, b| nulls_last(due(a), due(b), false).then(id(a).cmp(&id(b))))),
        ("order=-due_date", sorted(&|a, b| nulls_last(due(a), due(b), true).then(id(b).cmp(&id(a))))),
        ("order=-id", sorted(&|a, b| id(b).cmp(&id(a)))),
        (
            "order=currency,-total",
            sorted(&|a, b| {
                let cur = |r: &Value| text(r, "currency").map(str::to_string);
                nulls_last(cur(a), cur(b), false).then(total(b).total_cmp(&total(a))).then(id(b).cmp(&id(a)))
            }),
        ),
    ];
    for (query, want) in cases {
        assert_eq!(ids(app, t, query), want, "{query}");
        let page: Vec<u64> = app.get(&format!("/api/v1/invoices?{query}&limit=20&offset=5"), t).json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_u64().unwrap())
            .collect();
        assert_eq!(page, want[5..25].to_vec(), "{query} with offset");
    }
    let filtered: Vec<u64> = rows
        .iter()
        .filter(|r| r["status"] == "paid" && total(r) > 30.0)
        .map(id)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert_eq!(ids(app, t, "status=eq.paid&total=gt.30&order=-id"), filtered);
}

#[test]
fn every_operator_and_order_matches_a_scan_before_and_after_writes() {
    // Thousands of rows through this process: kept apart from the tests that measure its memory.
    let _one = crate::measure::one_at_a_time();
    let app = app();
    let t = app.token(&["invoices:rcud"]);
    seed(&app, &t, 600, "Q");
    check_all(&app, &t);
    // Writes move values across ranges, to and from null, and remove rows.
    for id in (10..200).step_by(9) {
        let patch = json!({"total": -(id as f64), "due_date": null, "status": "paid", "currency": "NOK"});
        let r = app.req("PATCH", &format!("/api/v1/invoices/{id}")).bearer(&t).json(&patch).send();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    for id in (300..360).step_by(4) {
        let r = app.req("DELETE", &format!("/api/v1/invoices/{id}")).bearer(&t).send();
        assert!(r.status == 204 || r.status == 404, "{}", r.text());
    }
    check_all(&app, &t);
}

#[test]
fn the_same_answers_by_scan_on_the_plain_demo_schema() {
    // Thousands of rows through this process: kept apart from the tests that measure its memory.
    let _one = crate::measure::one_at_a_time();
    let app = TestApp::builder().config(|c| c.rate_limit.requests = 1_000_000).start();
    let t = app.token(&["invoices:rcud"]);
    seed(&app, &t, 300, "Q");
    check_all(&app, &t);
}

#[test]
fn a_cursor_walk_returns_each_row_once_while_rows_are_inserted() {
    // Thousands of rows through this process: kept apart from the tests that measure its memory.
    let _one = crate::measure::one_at_a_time();
    let app = app();
    let t = app.token(&["invoices:rc"]);
    seed(&app, &t, 10_000, "W");
    let before: HashSet<u64> = all(&app, &t).iter().map(|r| r["id"].as_u64().unwrap()).collect();
    for order in ["order=-total", "order=issue_date", "order=currency", ""] {
        let mut seen = HashSet::new();
        let mut path = format!("/api/v1/invoices?{order}&limit=500");
        let mut pages = 0;
        loop {
            let page = app.get(&path, &t).json();
            for r in page["data"].as_array().unwrap() {
                assert!(seen.insert(r["id"].as_u64().unwrap()), "{order}: row {} twice", r["id"]);
            }
            // Rows arrive between pages, on both sides of the cursor.
            let fresh = json!([{"client_id": 1, "number": "NEW", "status": "draft", "issue_date": "2024-01-01", "total": 1e9},
                               {"client_id": 2, "number": "NEW", "status": "draft", "issue_date": "2026-01-01", "total": -1e9}]);
            assert_eq!(app.req("POST", "/api/v1/invoices").bearer(&t).json(&fresh).send().status, 201);
            pages += 1;
            match page["next"].as_str() {
                Some(next) => path = format!("/api/v1/invoices?{order}&limit=500&after={next}"),
                None => break,
            }
        }
        assert!(pages >= 20, "{order}: {pages} pages");
        assert!(before.is_subset(&seen), "{order}: rows stored before the walk were all met");
    }
}

#[test]
fn cursors_select_and_bad_requests() {
    let app = app();
    let t = app.token(&["invoices:rc"]);
    seed(&app, &t, 120, "C");
    let page = app.get("/api/v1/invoices?status=eq.paid&order=-total&limit=5", &t).json();
    let next = page["next"].as_str().unwrap().to_string();
    let ok = app.get(&format!("/api/v1/invoices?status=eq.paid&order=-total&limit=5&after={next}"), &t);
    assert_eq!(ok.status, 200);
    for other in [
        format!("/api/v1/invoices?status=eq.sent&order=-total&after={next}"),
        format!("/api/v1/invoices?status=eq.paid&order=total&after={next}"),
        format!("/api/v1/invoices?status=eq.paid&order=-total&offset=5&after={next}"),
        "/api/v1/invoices?after=bm90LWEtY3Vyc29y".to_string(),
        "/api/v1/invoices?after=%%%".to_string(),
    ] {
        let r = app.get(&other, &t);
        assert_eq!(r.status, 400, "{other}: {}", r.text());
        assert_eq!(r.code(), "bad_request");
        r.assert_security_headers();
    }
    // The last page has no next.
    let last = app.get("/api/v1/invoices?limit=500", &t).json();
    assert!(last["next"].is_null());
    // select: the columns asked for, in that order; secret, unknown and json ones refused.
    let sel = app.get("/api/v1/invoices?select=total,number&limit=3", &t).json();
    let first = sel["data"][0].as_object().unwrap();
    let keys: HashSet<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(keys, HashSet::from(["id", "total", "number"]), "id always comes along");
    for (query, names) in [
        ("select=bogus", "bogus"),
        ("total=gt.abc", "total"),
        ("status=in.(a", "status"),
        ("total=like.1*", "total"),
        ("order=bogus", "bogus"),
        ("order=-", "order"),
        ("due_date=gte.yesterday", "due_date"),
        ("status=is.maybe", "status"),
        ("order=total,total", "total"),
        ("select=total,total", "total"),
    ] {
        let r = app.get(&format!("/api/v1/invoices?{query}"), &t);
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        assert!(r.json()["error"]["message"].as_str().unwrap().contains(names), "{query}: {}", r.text());
    }
}

#[test]
fn operator_syntax_is_not_an_injection_but_a_payload_in_the_value_is() {
    let app = app();
    let t = app.token(&["invoices:r", "clients:r"]);
    for query in [
        "/api/v1/invoices?status=in.(sent,paid)",
        "/api/v1/invoices?status=not.in.(%22sent%22,%22paid%22)",
        "/api/v1/clients?company=ilike.*hotel*",
        "/api/v1/invoices?due_date=not.is.null&order=-total,id",
        "/api/v1/invoices?total=not.lte.100&select=id,total",
        "/api/v1/clients?company=like.*O'Brien*",
    ] {
        let r = app.get(query, &t);
        assert_eq!(r.status, 200, "{query}: {}", r.text());
    }
    for (i, query) in [
        "/api/v1/clients?company=eq.x'%20or%201=1--",
        "/api/v1/invoices?status=in.(sent,x'%20UNION%20SELECT%20token%20FROM%20tokens--)",
        "/api/v1/clients?company=ilike.*'%20or%20'1'='1*",
    ]
    .into_iter()
    .enumerate()
    {
        let r = app.req("GET", query).bearer(&t).client_ip(&format!("203.0.113.{}", 70 + i)).send();
        assert_eq!(r.status, 403, "{query}: {}", r.text());
        assert_eq!(r.code(), "injection_detected");
    }
}

#[test]
fn graphql_where_order_by_and_cursors_answer_the_rest_rows() {
    // Thousands of rows through this process: kept apart from the tests that measure its memory.
    let _one = crate::measure::one_at_a_time();
    let app = app();
    let t = app.token(&["invoices:rc", "clients:r"]);
    seed(&app, &t, 300, "G");
    let gql = |query: &str| {
        let r = app.req("POST", "/graphql").bearer(&t).json(&json!({ "query": query })).send();
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        let body = r.json();
        assert!(body["errors"].is_null(), "{query}: {body}");
        body
    };
    let cases = [
        (
            r#"where: { total: { gte: 100 }, status: { in: ["sent", "overdue"] } }, order_by: "-total""#,
            "total=gte.100&status=in.(sent,overdue)&order=-total",
        ),
        (
            r#"where: { due_date: { is_null: true }, currency: { ilike: "*u*" } }"#,
            "due_date=is.null&currency=ilike.*u*",
        ),
        (
            r#"where: { issue_date: { gte: "2025-03-01", lt: "2025-05-01" }, total: { neq: 60 } }, order_by: "issue_date,-id""#,
            "issue_date=gte.2025-03-01&issue_date=lt.2025-05-01&total=neq.60&order=issue_date,-id",
        ),
        (
            r#"where: { client_id: { in: [1, 3] }, id: { gt: 10 } }, order_by: "currency""#,
            "client_id=in.(1,3)&id=gt.10&order=currency",
        ),
    ];
    for (args, rest) in cases {
        let want = ids(&app, &t, rest);
        // Walk GraphQL's cursor too: `after` a page's last `_cursor`.
        let mut got = Vec::new();
        let mut after = String::new();
        loop {
            let body = gql(&format!("{{ invoices({args}, limit: 37{after}) {{ id _cursor }} }}"));
            let rows = body["data"]["invoices"].as_array().unwrap().clone();
            got.extend(rows.iter().map(|r| r["id"].as_u64().unwrap()));
            match rows.last() {
                Some(last) if rows.len() == 37 => after = format!(", after: \"{}\"", last["_cursor"].as_str().unwrap()),
                _ => break,
            }
        }
        assert_eq!(got, want, "{args}");
    }
    // Relations take the same arguments.
    let body = gql(
        r#"{ clients(id: 1, limit: 1) { invoices(where: { total: { lt: 0 } }, order_by: "total", limit: 200) { id total } } }"#,
    );
    let nested: Vec<u64> =
        body["data"]["clients"][0]["invoices"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(nested, ids(&app, &t, "client_id=eq.1&total=lt.0&order=total"));
    // A bad value or column is a GraphQL error naming it; a cursor from another query too.
    for bad in [
        r#"{ invoices(where: { issue_date: { gte: "yesterday" } }) { id } }"#,
        r#"{ invoices(order_by: "bogus") { id } }"#,
        r#"{ invoices(after: "bm9wZQ") { id } }"#,
    ] {
        let r = app.req("POST", "/graphql").bearer(&t).json(&json!({ "query": bad })).send();
        assert!(!r.json()["errors"].is_null(), "{bad}: {}", r.text());
    }
}
