//! The audit trail stores the shape of a request, not text the client chose (second pen
//! test L-3, review L-3): unmatched paths, unknown query and JSON key names and values on
//! sensitive tables are redacted, on their percent-decoded text; a path is scanned for
//! injection like a query value.

use serde_json::json;

use crate::support::TestApp;

#[test]
fn records_keep_shapes_not_client_text() {
    let app = TestApp::builder().config(|c| c.sensitive.expose = vec!["options".into()]).start();
    let t = app.token_with(|s| {
        s.scopes = vec!["clients:r".into(), "options:r".into(), "leads:c".into()];
        s.allow_sensitive = true;
    });
    let t = t.token;
    let encoded_token = format!("%70{}", &t[1..]);
    let paths = [
        "/api/v1/jo.lee@example.com".to_string(),
        format!("/api/v1/{encoded_token}"),
        "/api/v1/clients?status=active&jo%40example.com=1".to_string(),
        format!("/api/v1/clients?status={encoded_token}"),
        "/api/v1/options?name=smtp_password&value=eAG5ut58qq5MzEJpWMCyGAB3".to_string(),
    ];
    for p in &paths {
        let r = app.get(p, &t);
        assert!(r.status < 500, "{p}: {}", r.status);
    }
    let r = app
        .req("POST", "/api/v1/leads")
        .bearer(&t)
        .json(&json!({"name": "x", "status": "new", "ann@example.org": 1}))
        .send();
    assert_eq!(r.status, 422);

    let records = app.audit();
    let all = serde_json::to_string(&records).unwrap();
    for secret in
        ["jo.lee", "jo%40example.com", "ann@example.org", "eAG5ut58qq5MzEJpWMCyGAB3", &t[4..], &encoded_token[4..]]
    {
        assert!(!all.contains(secret), "{secret} is in the trail: {all}");
    }
    let paths: Vec<&str> = records.iter().map(|r| r.path.as_str()).collect();
    assert!(paths.contains(&"/api/v1/[REDACTED]"), "{paths:?}");
    let queries: Vec<&str> = records.iter().filter_map(|r| r.query.as_deref()).collect();
    assert!(queries.contains(&"status=active&[REDACTED]=[REDACTED]"), "{queries:?}");
    assert!(queries.contains(&"status=[REDACTED]"), "{queries:?}");
    assert!(queries.contains(&"name=[REDACTED]&value=[REDACTED]"), "a sensitive table keeps no values: {queries:?}");
    let unknown = records.iter().find(|r| r.status == 422).unwrap();
    assert!(unknown.reason.as_deref().unwrap().contains("'[REDACTED]'"), "{unknown:?}");
}

#[test]
fn an_injection_in_the_path_is_refused_and_locks() {
    let app = TestApp::start();
    let t = app.token(&["clients:r"]);
    let r = app.req("GET", "/api/v1/clients/1%27%20OR%20%271%27=%271").bearer(&t).client_ip("203.0.113.40").send();
    assert_eq!((r.status, r.code().as_str()), (403, "injection_detected"), "{}", r.text());
    let r = app.get("/api/v1/clients/1", &t);
    assert_eq!(r.status, 200, "another address is not locked");
    let r = app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip("203.0.113.40").send();
    assert_eq!((r.status, r.code().as_str()), (403, "locked"));
    // Ordinary paths are not scanned at all (and a name with a dot passes).
    assert_eq!(app.get("/api/v1/clients/2", &t).status, 200);
}
