//! Owner-bound tokens (issue #28), from an attacker's side: a token bound to client 1 never
//! sees another client's rows — by guessed id, filter, list, total, CSV, view or GraphQL walk.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::support::TestApp;

const SCOPES: [&str; 5] = ["clients:r", "invoices:r", "invoice_items:r", "contacts:r", "tickets:r"];

fn bound(app: &TestApp) -> String {
    app.token_with(|s| {
        s.scopes = SCOPES.iter().map(|x| x.to_string()).collect();
        s.owner = Some("clients:1".into());
        s.allow_sensitive = true;
    })
    .token
}

/// A token that reads every row of the same tables.
fn admin(app: &TestApp) -> String {
    app.token_with(|s| {
        s.scopes = SCOPES.iter().map(|x| x.to_string()).collect();
        s.allow_sensitive = true;
    })
    .token
}

fn rows(v: &Value) -> Vec<Value> {
    v["data"].as_array().cloned().unwrap_or_default()
}

fn ids(v: &[Value]) -> HashSet<u64> {
    v.iter().map(|r| r["id"].as_u64().unwrap()).collect()
}

/// The ids of every page of an invoices list, following its cursor to the end.
fn walk(app: &TestApp, token: &str, query: &str) -> HashSet<u64> {
    let mut out = HashSet::new();
    let mut path = format!("/api/v1/invoices?{query}");
    loop {
        let page = app.get(&path, token).json();
        out.extend(ids(&rows(&page)));
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/invoices?{query}&after={next}"),
            None => return out,
        }
    }
}

/// Every row of a table as the full-access token sees it.
fn every(app: &TestApp, admin: &str, table: &str) -> Vec<Value> {
    rows(&app.get(&format!("/api/v1/{table}?limit=500"), admin).json())
}

#[test]
fn a_bound_token_sees_only_its_owners_rows_on_rest() {
    let app = TestApp::start();
    let admin = admin(&app);
    let t = bound(&app);
    let invoices = every(&app, &admin, "invoices");
    let (mine, theirs): (Vec<Value>, Vec<Value>) = invoices.iter().cloned().partition(|r| r["client_id"] == 1);
    assert!(!mine.is_empty() && !theirs.is_empty(), "the demo data has invoices of several clients");
    let my_invoices = ids(&mine);
    // Lists and totals hold only owned rows; a filter on another client finds nothing.
    let listed = app.get("/api/v1/invoices?limit=500", &t).json();
    assert_eq!(ids(&rows(&listed)), my_invoices);
    assert_eq!(listed["total"].as_u64().unwrap() as usize, my_invoices.len());
    let other = app.get("/api/v1/invoices?client_id=2", &t).json();
    assert!(rows(&other).is_empty() && other["total"] == 0);
    // Guessed ids of another client's rows: 404, as for a row that does not exist.
    for table in ["invoices", "invoice_items", "contacts", "tickets", "clients"] {
        for r in every(&app, &admin, table) {
            let id = r["id"].as_u64().unwrap();
            let owned = match table {
                "clients" => id == 1,
                "invoice_items" => my_invoices.contains(&r["invoice_id"].as_u64().unwrap()),
                _ => r["client_id"] == 1,
            };
            let got = app.get(&format!("/api/v1/{table}/{id}"), &t);
            assert_eq!(got.status, if owned { 200 } else { 404 }, "{table}/{id}: {}", got.text());
            if !owned {
                assert_eq!(got.code(), "not_found");
                got.assert_security_headers();
            }
        }
        // The list of each table holds exactly the owned rows.
        let listed = ids(&rows(&app.get(&format!("/api/v1/{table}?limit=500"), &t).json()));
        for id in &listed {
            assert_eq!(
                app.get(&format!("/api/v1/{table}/{id}"), &t).status,
                200,
                "{table}/{id} listed but not readable"
            );
        }
    }
    // Items two references away: only those of owned invoices.
    for item in rows(&app.get("/api/v1/invoice_items?limit=500", &t).json()) {
        assert!(my_invoices.contains(&item["invoice_id"].as_u64().unwrap()), "{item}");
    }
    // CSV export: the same rows.
    let csv = app.req("GET", "/api/v1/invoices").bearer(&t).header("Accept", "text/csv").send();
    assert_eq!(csv.status, 200);
    assert_eq!(csv.text().lines().count() - 1, my_invoices.len(), "{}", csv.text());
    // Writes are not in a bound token's reach at all (read scopes only).
    let w = app.req("POST", "/api/v1/invoices").bearer(&t).json(&json!({"client_id": 1})).send();
    assert_eq!(w.status, 403);
    // The document says it is bound, and so does every audit record of its requests.
    assert_eq!(app.get("/api/v1/openapi.json", &t).json()["x-palisade"]["owner"], "clients:1");
    let audit = app.audit();
    let bound_records: Vec<_> = audit.iter().filter(|r| r.owner.is_some()).collect();
    assert!(bound_records.len() > 10, "{} records carry the binding", bound_records.len());
    assert!(bound_records.iter().all(|r| r.owner.as_deref() == Some("clients:1")));
}

#[test]
fn graphql_walks_never_leave_the_owner() {
    let app = TestApp::start();
    let admin = admin(&app);
    let t = bound(&app);
    let theirs: Vec<u64> = every(&app, &admin, "invoices")
        .iter()
        .filter(|r| r["client_id"] != 1)
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    let gql = |q: &str| {
        let r = app.req("POST", "/graphql").bearer(&t).json(&json!({ "query": q })).send();
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        r.json()
    };
    assert!(gql("{ clients_by_id(id: 2) { id company } }")["data"]["clients_by_id"].is_null());
    assert!(gql(&format!("{{ invoices_by_id(id: {}) {{ id }} }}", theirs[0]))["data"]["invoices_by_id"].is_null());
    let clients = gql("{ clients(limit: 100) { id } }");
    assert_eq!(clients["data"]["clients"].as_array().unwrap().len(), 1);
    let walk = gql("{ invoices(limit: 100) { id client { id } } }");
    for inv in walk["data"]["invoices"].as_array().unwrap() {
        assert_eq!(inv["client"]["id"], 1, "{inv}");
    }
    let items = gql("{ invoice_items(limit: 100) { id invoice { id client { id } } } }");
    for item in items["data"]["invoice_items"].as_array().unwrap() {
        assert_eq!(item["invoice"]["client"]["id"], 1, "{item}");
    }
    let reverse = gql("{ clients(limit: 5) { id invoices(limit: 100) { id client_id } } }");
    for c in reverse["data"]["clients"].as_array().unwrap() {
        for inv in c["invoices"].as_array().unwrap() {
            assert_eq!(inv["client_id"], 1);
        }
    }
    let filtered = gql(r#"{ invoices(where: { client_id: { eq: 2 } }) { id } }"#);
    assert!(filtered["data"]["invoices"].as_array().unwrap().is_empty());
}

#[test]
fn a_binding_that_cannot_hold_is_refused_at_creation() {
    let app = TestApp::start();
    let make = |scopes: &[&str], owner: &str| {
        let spec = palisade::tokens::TokenSpec {
            name: "partner".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            owner: Some(owner.into()),
            ..Default::default()
        };
        app.state.tokens.create(&spec, app.state.schema(), 0).map(|_| ()).map_err(|e| e.to_string())
    };
    assert!(make(&["invoices:r"], "clients:1").is_ok());
    for (scopes, owner, says) in [
        (&["leads:r"][..], "clients:1", "leads"),
        (&["*:r"][..], "clients:1", "name each table"),
        (&["invoices:r"][..], "clients:999999", "no such row"),
        (&["invoices:r"][..], "nope:1", "unknown table"),
        (&["invoices:r"][..], "clients", "TABLE:ID"),
    ] {
        let err = make(scopes, owner).unwrap_err();
        assert!(err.contains(says), "{scopes:?} {owner}: {err}");
    }
}

#[test]
fn writes_stay_inside_the_owner() {
    let app = TestApp::start();
    let admin = admin(&app);
    let t = app
        .token_with(|s| {
            s.scopes = ["clients:ru", "invoices:rcud", "invoice_items:rc", "tickets:rc"]
                .iter()
                .map(|x| x.to_string())
                .collect();
            s.owner = Some("clients:1".into());
        })
        .token;
    let invoices = every(&app, &admin, "invoices");
    let mine = invoices.iter().find(|r| r["client_id"] == 1).unwrap()["id"].as_u64().unwrap();
    let theirs = invoices.iter().find(|r| r["client_id"] != 1).unwrap()["id"].as_u64().unwrap();
    let invoice = |client: Option<u64>| {
        let mut v = json!({"number": "OWN-1", "status": "draft", "issue_date": "2025-05-01", "total": 10.0});
        if let Some(c) = client {
            v["client_id"] = json!(c);
        }
        v
    };
    let post = |path: &str, body: &Value| app.req("POST", path).bearer(&t).json(body).send();
    // A create without the owner column gets the owner; another owner's is refused.
    let made = post("/api/v1/invoices", &invoice(None));
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(made.json()["data"]["client_id"], 1);
    let refused = post("/api/v1/invoices", &invoice(Some(2)));
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(refused.code(), "owner_mismatch");
    refused.assert_security_headers();
    let bulk = post("/api/v1/invoices", &json!([invoice(Some(1)), invoice(Some(2))]));
    assert_eq!((bulk.status, bulk.code()), (403, "owner_mismatch".to_string()), "{}", bulk.text());
    // Two references away: an item of another client's invoice is refused.
    let item = |inv: u64| json!({"invoice_id": inv, "description": "x", "quantity": 1, "unit_price": 1.0});
    assert_eq!(post("/api/v1/invoice_items", &item(mine)).status, 201);
    assert_eq!(post("/api/v1/invoice_items", &item(theirs)).code(), "owner_mismatch");
    // Updates cannot move a row out; another owner's rows are not found.
    let moved = app.req("PATCH", &format!("/api/v1/invoices/{mine}")).bearer(&t).json(&json!({"client_id": 2})).send();
    assert_eq!((moved.status, moved.code()), (403, "owner_mismatch".to_string()));
    let kept = app.req("PATCH", &format!("/api/v1/invoices/{mine}")).bearer(&t).json(&json!({"status": "sent"})).send();
    assert_eq!(kept.status, 200, "{}", kept.text());
    let foreign =
        app.req("PATCH", &format!("/api/v1/invoices/{theirs}")).bearer(&t).json(&json!({"status": "paid"})).send();
    assert_eq!(foreign.status, 404);
    assert_eq!(app.req("DELETE", &format!("/api/v1/invoices/{theirs}")).bearer(&t).send().status, 404);
    assert_eq!(
        app.get(&format!("/api/v1/invoices/{theirs}"), &admin).json()["data"]["status"],
        invoices.iter().find(|r| r["id"] == theirs).unwrap()["status"]
    );
    let gone = made.json()["data"]["id"].as_u64().unwrap();
    assert_eq!(app.req("DELETE", &format!("/api/v1/invoices/{gone}")).bearer(&t).send().status, 204);
    // The owner row itself: editable, not creatable; another client's is not found.
    assert_eq!(app.req("PATCH", "/api/v1/clients/1").bearer(&t).json(&json!({"city": "Oslo"})).send().status, 200);
    assert_eq!(app.req("PATCH", "/api/v1/clients/2").bearer(&t).json(&json!({"city": "Oslo"})).send().status, 404);
    // GraphQL goes through the same writer check.
    let r = app
        .req("POST", "/graphql")
        .bearer(&t)
        .json(&json!({"query": "mutation { create_invoices(client_id: 2, number: \"G\", status: \"draft\", issue_date: \"2025-01-01\", total: 1.0) { id } }"}))
        .send();
    assert_eq!(r.json()["errors"][0]["extensions"]["code"], "owner_mismatch", "{}", r.text());
    let r = app
        .req("POST", "/graphql")
        .bearer(&t)
        .json(&json!({"query": format!("mutation {{ update_invoices(id: {theirs}, status: \"paid\") {{ id }} }}")}))
        .send();
    assert_eq!(r.json()["errors"][0]["extensions"]["code"], "not_found", "{}", r.text());
}

#[test]
fn token_update_binds_a_live_token() {
    use palisade::api::admin::execute;
    use palisade::api::admin_request::AdminRequest;
    use palisade::tokens::TokenUpdate;
    let app = TestApp::start();
    let t = app.token_with(|s| s.scopes = vec!["invoices:r".into()]);
    let before = app.get("/api/v1/invoices?limit=500", &t.token).json()["total"].as_u64().unwrap();
    let bind = |owner: &str| {
        let change = TokenUpdate { owner: Some(owner.into()), ..Default::default() };
        execute(&app.state, AdminRequest::TokenUpdate { id: t.id.clone(), change })
    };
    assert!(bind("clients:999999").is_err(), "no such row");
    let shown = bind("clients:1").unwrap();
    assert_eq!(shown["owner"], "clients:1");
    let after = app.get("/api/v1/invoices?limit=500", &t.token).json();
    assert!(after["total"].as_u64().unwrap() < before);
    assert!(rows(&after).iter().all(|r| r["client_id"] == 1));
    let leads = app.token_with(|s| s.scopes = vec!["leads:r".into()]);
    let change = TokenUpdate { owner: Some("clients:1".into()), ..Default::default() };
    let refused = execute(&app.state, AdminRequest::TokenUpdate { id: leads.id.clone(), change });
    assert!(refused.unwrap_err().contains("leads"));
}

#[test]
fn rows_moving_between_owners_never_show_up_on_the_wrong_side() {
    // Thousands of rows through this process: kept apart from the tests that measure its memory.
    let _one = crate::measure::one_at_a_time();
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let app = TestApp::builder().config(|c| c.rate_limit.requests = 10_000_000).start();
    let admin = app
        .token_with(|s| {
            s.scopes = ["invoices:rcud", "invoice_items:rc"].iter().map(|x| x.to_string()).collect();
            s.rate = Some(10_000_000);
        })
        .token;
    let reader = app
        .token_with(|s| {
            s.scopes = ["clients:r", "invoices:r", "invoice_items:r"].iter().map(|x| x.to_string()).collect();
            s.owner = Some("clients:1".into());
            s.rate = Some(10_000_000);
        })
        .token;
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let addr = app.addr;
    let writers: Vec<_> = (0..16u64)
        .map(|w| {
            let (admin, stop) = (admin.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let client = 1 + (w + n) % 3;
                    let body = json!({"client_id": client, "number": format!("M-{w}-{n}"), "status": "draft",
                                      "issue_date": "2025-01-01", "total": 1.0});
                    let made =
                        crate::support::Req::to(addr, "POST", "/api/v1/invoices").bearer(&admin).json(&body).send();
                    let Some(id) = made.json()["data"]["id"].as_u64() else { continue };
                    let item = json!({"invoice_id": id, "description": "x", "quantity": 1, "unit_price": 1.0});
                    crate::support::Req::to(addr, "POST", "/api/v1/invoice_items").bearer(&admin).json(&item).send();
                    // Move it across owners and back and forth.
                    for to in [1 + (client % 3), client] {
                        let path = format!("/api/v1/invoices/{id}");
                        crate::support::Req::to(addr, "PATCH", &path)
                            .bearer(&admin)
                            .json(&json!({"client_id": to}))
                            .send();
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (reader, stop, reads) = (reader.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let list = crate::support::Req::to(addr, "GET", "/api/v1/invoices?limit=200&order=-id").bearer(&reader).send();
                    for r in list.json()["data"].as_array().unwrap() {
                        assert_eq!(r["client_id"], 1, "a foreign invoice was listed: {r}");
                    }
                    let q = json!({"query": "{ invoice_items(limit: 100, order_by: \"-id\") { id invoice { client_id } } }"});
                    let walk = crate::support::Req::to(addr, "POST", "/graphql").bearer(&reader).json(&q).send();
                    for item in walk.json()["data"]["invoice_items"].as_array().unwrap() {
                        let owner = &item["invoice"]["client_id"];
                        assert!(owner.is_null() || *owner == 1, "a foreign invoice through an item: {item}");
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // At least six seconds of moves, and enough reads to prove something: on a CI machine busy with
    // other suites, 4 readers may get few turns beside 16 writers, so the run lasts until they have.
    let began = std::time::Instant::now();
    while began.elapsed() < std::time::Duration::from_secs(6)
        || (reads.load(Ordering::Relaxed) <= 40 && began.elapsed() < std::time::Duration::from_secs(90))
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    for r in readers {
        r.join().expect("a reader saw a foreign row");
    }
    assert!(reads.load(Ordering::Relaxed) > 20, "too few reads to prove anything");
    assert_eq!(app.get("/health", "").status, 200);
    // Afterwards, the binding's lists equal the owner's rows exactly.
    let mine: HashSet<u64> = every(&app, &admin, "invoices")
        .iter()
        .filter(|r| r["client_id"] == 1)
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    let seen = walk(&app, &reader, "limit=500");
    let all_mine = walk(&app, &admin, "limit=500&client_id=1");
    assert!(mine.is_subset(&all_mine));
    assert_eq!(seen, all_mine);
}
