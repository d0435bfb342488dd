//! The security headers on every kind of response.

use crate::support::TestApp;

#[test]
fn every_kind_of_response_carries_the_headers() {
    let app = TestApp::start();
    let t = app.token(&["clients:r"]);
    let responses = vec![
        app.req("GET", "/health").send(),
        app.get("/api/v1/clients/1", &t),
        app.req("GET", "/api/v1/clients").send(),
        app.get("/api/v1/clients/424242", &t),
        app.req("GET", "/totally/unknown").send(),
        app.req("GET", "/").send(),
        app.req("PUT", "/health").send(),
        app.req("OPTIONS", "/api/v1/clients").send(),
        app.req("OPTIONS", "/api/v1/clients")
            .header("Origin", "https://x.example")
            .header("Access-Control-Request-Method", "GET")
            .send(),
        app.req("POST", "/api/v1/clients")
            .bearer(&t)
            .header("Content-Type", "application/json")
            .body(b"{".to_vec())
            .send(),
        app.req("POST", "/api/v1/clients")
            .bearer(&t)
            .header("Content-Type", "application/json")
            .body(vec![b' '; 300_000])
            .send(),
    ];
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 401, 404, 404, 404, 405, 204, 403, 400, 413]);
    for r in &responses {
        r.assert_security_headers();
        if r.status >= 400 {
            assert_eq!(r.header("content-type"), Some("application/json"), "{}", r.status);
            assert!(r.json()["error"]["code"].is_string());
        }
    }
}

#[test]
fn equal_causes_give_byte_identical_bodies_with_distinct_request_ids() {
    let app = TestApp::start();
    let a = app.req("GET", "/api/v1/clients").send();
    let b = app.req("GET", "/api/v1/clients").send();
    assert_eq!(a.body, b.body);
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
}
