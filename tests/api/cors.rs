//! Stage 2: preflights from server policy without auth; the token's own origin list.

use crate::support::TestApp;

#[test]
fn preflight_is_answered_from_policy_without_auth() {
    let app = TestApp::builder().config(|c| c.cors.allowed_origins = vec!["https://app.example.com".into()]).start();
    let pre = |origin: &str, method: &str, headers: &str| {
        app.req("OPTIONS", "/api/v1/clients")
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", headers)
            .send()
    };
    let r = pre("https://app.example.com", "POST", "authorization, content-type");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert_eq!(r.header("vary"), Some("Origin"));
    assert!(r.header("access-control-allow-methods").unwrap().contains("POST"));
    assert!(r.header("access-control-allow-headers").unwrap().contains("X-Signature"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert!(r.header("access-control-allow-credentials").is_none());
    r.assert_security_headers();
    for (origin, method, headers) in [
        ("https://evil.example", "GET", ""),
        ("https://app.example.com", "TRACE", ""),
        ("https://app.example.com", "GET", "x-custom"),
    ] {
        let r = pre(origin, method, headers);
        assert_eq!((r.status, r.code().as_str()), (403, "cors_rejected"), "{origin} {method} {headers}");
        assert!(r.header("access-control-allow-origin").is_none());
        r.assert_security_headers();
    }
}

#[test]
fn requests_must_come_from_the_tokens_origins() {
    let app = TestApp::start();
    let t = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.origins = vec!["https://crm.example.com".into()];
    });
    let from = |o: &str| app.req("GET", "/api/v1/clients/1").bearer(&t.token).header("Origin", o).send();
    let ok = from("https://crm.example.com");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("access-control-allow-origin"), Some("https://crm.example.com"));
    assert_eq!(ok.header("vary"), Some("Origin"));
    let r = from("https://evil.example");
    assert_eq!((r.status, r.code().as_str()), (403, "origin_not_allowed"));
    assert!(r.header("access-control-allow-origin").is_none());
    // No Origin (curl, servers): nothing to check.
    assert_eq!(app.get("/api/v1/clients/1", &t.token).status, 200);
    // A token without origins cannot be used from other sites at all.
    let plain = app.token(&["clients:r"]);
    let r = app.req("GET", "/api/v1/clients/1").bearer(&plain).header("Origin", "https://crm.example.com").send();
    assert_eq!(r.code(), "origin_not_allowed");
}
