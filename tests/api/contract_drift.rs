//! Where the document and the server disagreed under `schemathesis --checks all` (issue #24,
//! item 7): typed filters validate their values, `OPTIONS` answers what the asking token may
//! do, a reference to a row that is not there is a conflict (409) with the stored data.

use serde_json::json;

use crate::support::TestApp;

#[test]
fn date_and_datetime_filters_validate_their_values() {
    let app = TestApp::start();
    let t = app.token(&["clients:r", "invoices:r"]);
    for bad in ["/api/v1/clients?created_at=null", "/api/v1/invoices?issue_date=yesterday"] {
        let r = app.get(bad, &t);
        assert_eq!((r.status, r.code().as_str()), (400, "bad_request"), "{bad}");
        assert!(r.text().contains("filter '"), "{}", r.text());
    }
    assert_eq!(app.get("/api/v1/invoices?issue_date=2025-01-08", &t).status, 200);
    assert_eq!(app.get("/api/v1/clients?created_at=2019-12-22T13:58:46Z", &t).status, 200);
}

#[test]
fn options_answers_what_the_token_may_do() {
    let app = TestApp::start();
    let reader = app.token(&["clients:r"]);
    let writer = app.token(&["clients:rcud"]);
    let allow = |path: &str, token: Option<&str>| {
        let mut req = app.req("OPTIONS", path);
        if let Some(t) = token {
            req = req.bearer(t);
        }
        let r = req.send();
        assert_eq!(r.status, 204, "{}", r.text());
        r.header("allow").unwrap_or_default().to_string()
    };
    assert_eq!(allow("/api/v1/clients", Some(&reader)), "GET, HEAD");
    assert_eq!(allow("/api/v1/clients/1", Some(&reader)), "GET, HEAD");
    assert!(allow("/api/v1/clients/1", Some(&writer)).contains("DELETE"));
    assert!(allow("/api/v1/clients", Some(&writer)).contains("POST"));
    assert_eq!(allow("/api/v1/invoices", Some(&reader)), "", "nothing this token may do");
    // Without a token: the route's methods.
    assert!(allow("/api/v1/clients", None).contains("POST"));
}

#[test]
fn a_reference_to_a_missing_row_is_a_conflict() {
    let app = TestApp::start();
    let t = app.token(&["invoices:rcu"]);
    let invoice =
        json!({"client_id": 999_999, "number": "X-1", "status": "draft", "issue_date": "2026-01-02", "total": 1.0});
    let r = app.req("POST", "/api/v1/invoices").bearer(&t).json(&invoice).send();
    assert_eq!((r.status, r.code().as_str()), (409, "conflict"), "{}", r.text());
    assert!(r.text().contains("client_id"));
    let r = app.req("PATCH", "/api/v1/invoices/1").bearer(&t).json(&json!({"client_id": 999_999})).send();
    assert_eq!(r.status, 409);
}

#[test]
fn an_integral_float_is_an_integer_as_json_schema_reads_it() {
    let app = TestApp::start();
    let t = app.token(&["invoice_items:rc"]);
    let item = json!({"invoice_id": 2.0, "description": "Two days", "quantity": 2.0, "unit_price": 100.5});
    let r = app.req("POST", "/api/v1/invoice_items").bearer(&t).json(&item).send();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!((r.json()["data"]["quantity"].clone(), r.json()["data"]["invoice_id"].clone()), (json!(2), json!(2)));
    let fractional = json!({"invoice_id": 2, "description": "x", "quantity": 2.5, "unit_price": 1.0});
    assert_eq!(app.req("POST", "/api/v1/invoice_items").bearer(&t).json(&fractional).send().status, 422);
}
