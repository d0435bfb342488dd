//! Stage 6: every request is recorded, refusals with stage and reason, secrets redacted.

use crate::support::TestApp;

#[test]
fn records_every_request_with_stage_reason_and_no_secrets() {
    let app = TestApp::start();
    let t = app.token(&["clients:r"]);
    assert_eq!(app.get("/api/v1/clients/1", &t).status, 200);
    assert_eq!(app.get("/api/v1/invoices/1", &t).status, 403);
    assert_eq!(app.get(&format!("/api/v1/clients?password=hunter2&q={t}"), &t).status, 400);
    let bogus = format!("pal_{}_{}", "a".repeat(16), "b".repeat(64));
    assert_eq!(app.get("/api/v1/clients", &bogus).status, 401);
    assert_eq!(app.req("GET", "/health").client_ip("198.51.100.7").send().status, 200);

    let records = app.audit();
    assert_eq!(records.len(), 5, "{records:#?}");
    let find = |status: u16| records.iter().find(|r| r.status == status).unwrap();
    let ok = records.iter().find(|r| r.path == "/api/v1/clients/1").unwrap();
    assert_eq!((ok.method.as_str(), ok.path.as_str(), ok.status), ("GET", "/api/v1/clients/1", 200));
    assert!(ok.token_id.is_some() && ok.stage.is_none());
    assert!(ok.time.ends_with('Z') && ok.time.contains('T'));
    let refused = find(403);
    assert_eq!(refused.stage.as_deref(), Some("scope"));
    assert!(refused.reason.as_deref().unwrap().contains("invoices"));
    let invalid = find(401);
    assert_eq!((invalid.status, invalid.stage.as_deref()), (401, Some("auth")));
    assert_eq!(invalid.reason.as_deref(), Some("unknown token id"));
    assert!(invalid.token_id.is_none());
    let health = records.iter().find(|r| r.path == "/health").unwrap();
    assert_ne!(health.ip_hash, ok.ip_hash);
    let bad_query = find(400);
    assert!(bad_query.query.as_deref().unwrap().contains("password=[REDACTED]"), "{bad_query:?}");

    let all = serde_json::to_string(&records).unwrap();
    assert!(!all.contains(&t) && !all.contains(&t[t.len() - 40..]), "token leaked: {all}");
    assert!(!all.contains("hunter2"));
    assert!(!all.contains(&bogus[10..]));
    assert!(!all.contains("198.51.100.7") && !all.contains("127.0.0.1"));
}
