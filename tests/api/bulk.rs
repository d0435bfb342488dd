//! Bulk create over REST: `POST /api/v1/{table}` with a JSON array creates every row or
//! none, in one writer op; each row counts against the token's rate limit.

use serde_json::{json, Value};

use crate::support::TestApp;

fn invoice(i: usize) -> Value {
    json!({"client_id": 1 + i % 5, "number": format!("BULK-{i}"), "status": "draft",
           "issue_date": "2025-05-01", "total": i as f64 + 0.5})
}

#[test]
fn five_hundred_rows_in_one_request() {
    let app = TestApp::start();
    let t = app.token(&["invoices:rc"]);
    let before = app.get("/api/v1/invoices?limit=1", &t).json()["total"].as_u64().unwrap();
    let rows: Vec<Value> = (0..500).map(invoice).collect();
    let r = app.req("POST", "/api/v1/invoices").bearer(&t).json(&Value::Array(rows)).send();
    assert_eq!(r.status, 201, "{}", r.text());
    let data = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 500);
    let ids: Vec<u64> = data.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "consecutive ids in the order given");
    assert_eq!(data[7]["number"], "BULK-7");
    let after = app.get("/api/v1/invoices?limit=1", &t).json()["total"].as_u64().unwrap();
    assert_eq!(after, before + 500);
    let one = app.get(&format!("/api/v1/invoices/{}", ids[499]), &t).json();
    assert_eq!(one["data"]["number"], "BULK-499");
    // The sequence moved past them: a single create comes next.
    let next = app.req("POST", "/api/v1/invoices").bearer(&t).json(&invoice(1000)).send();
    assert_eq!(next.json()["data"]["id"].as_u64().unwrap(), ids[499] + 1);
}

#[test]
fn one_bad_row_refuses_all_and_names_index_and_column() {
    let app = TestApp::start();
    let t = app.token(&["invoices:rc"]);
    let before = app.get("/api/v1/invoices?limit=1", &t).json()["total"].clone();
    // A reference to a missing row is a conflict with the stored data (409), as for one row.
    let cases: [(usize, Value, &str, u16); 4] = [
        (3, json!({"total": "ten"}), "row 3: column 'total'", 422),
        (9, json!({"bogus": 1}), "row 9: unknown column 'bogus'", 422),
        (5, json!({"client_id": 999_999}), "row 5: column 'client_id': no clients row", 409),
        (0, json!({"id": 4}), "row 0: column 'id'", 422),
    ];
    for (index, patch, expected, status) in cases {
        let mut rows: Vec<Value> = (0..10).map(invoice).collect();
        for (k, v) in patch.as_object().unwrap() {
            rows[index][k] = v.clone();
        }
        let r = app.req("POST", "/api/v1/invoices").bearer(&t).json(&Value::Array(rows)).send();
        assert_eq!(r.status, status, "{}", r.text());
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.starts_with(expected), "{message}");
    }
    let r = app.req("POST", "/api/v1/invoices").bearer(&t).json(&json!([invoice(1), 5])).send();
    assert!(r.json()["error"]["message"].as_str().unwrap().starts_with("row 1:"), "{}", r.text());
    assert_eq!(app.get("/api/v1/invoices?limit=1", &t).json()["total"], before, "nothing was created");
    // Too many rows, or none.
    let many: Vec<Value> = (0..501).map(invoice).collect();
    assert_eq!(app.req("POST", "/api/v1/invoices").bearer(&t).json(&Value::Array(many)).send().status, 422);
    assert_eq!(app.req("POST", "/api/v1/invoices").bearer(&t).json(&json!([])).send().status, 422);
}

#[test]
fn max_batch_rows_is_configurable() {
    let app = TestApp::builder().config(|c| c.limits.max_batch_rows = 3).start();
    let t = app.token(&["invoices:rc"]);
    let three: Vec<Value> = (0..3).map(invoice).collect();
    assert_eq!(app.req("POST", "/api/v1/invoices").bearer(&t).json(&Value::Array(three)).send().status, 201);
    let four: Vec<Value> = (0..4).map(invoice).collect();
    let r = app.req("POST", "/api/v1/invoices").bearer(&t).json(&Value::Array(four)).send();
    assert!(r.text().contains("1 to 3 rows"), "{}", r.text());
}

#[test]
fn every_row_counts_against_the_rate_limit() {
    let app = TestApp::start();
    let t = app.token_with(|s| {
        s.scopes = vec!["invoices:rc".into()];
        s.rate = Some(10);
    });
    let six: Vec<Value> = (0..6).map(invoice).collect();
    let r = app.req("POST", "/api/v1/invoices").bearer(&t.token).json(&Value::Array(six.clone())).send();
    assert_eq!(r.status, 201, "{}", r.text());
    // Six of ten are spent: another six do not fit, and none of them is created.
    let r = app.req("POST", "/api/v1/invoices").bearer(&t.token).json(&Value::Array(six)).send();
    assert_eq!((r.status, r.code().as_str()), (429, "rate_limited"));
    assert!(r.header("retry-after").is_some());
    let three: Vec<Value> = (10..13).map(invoice).collect();
    let r = app.req("POST", "/api/v1/invoices").bearer(&t.token).json(&Value::Array(three)).send();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(app.get("/api/v1/invoices?limit=1", &t.token).code(), "rate_limited");
}

#[test]
fn graphql_batches_stay_refused() {
    let app = TestApp::start();
    let t = app.token(&["*:r"]);
    let batch = json!([{"query": "{ clients { id } }"}, {"query": "{ clients { id } }"}]);
    let r = app.req("POST", "/graphql").bearer(&t).json(&batch).send();
    assert_eq!(r.status, 400, "{}", r.text());
}
