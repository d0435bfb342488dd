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
    assert_eq!(bad_query.query.as_deref(), Some("[REDACTED]=[REDACTED]&[REDACTED]=[REDACTED]"), "{bad_query:?}");

    let all = serde_json::to_string(&records).unwrap();
    assert!(!all.contains(&t) && !all.contains(&t[t.len() - 40..]), "token leaked: {all}");
    assert!(!all.contains("hunter2"));
    assert!(!all.contains(&bogus[10..]));
    assert!(!all.contains("198.51.100.7") && !all.contains("127.0.0.1"));
}

/// `palisade audit verify` on a real trail: intact after traffic; one changed byte is found
/// and the record is named; the file mode keeps the trail private.
#[test]
fn each_instance_names_itself_in_its_records() {
    let app = TestApp::builder().config(|c| c.audit.instance = "b".into()).start();
    let t = app.token(&["clients:r"]);
    assert_eq!(app.get("/api/v1/clients?limit=1", &t).status, 200);
    let records = app.audit();
    assert!(!records.is_empty() && records.iter().all(|r| r.instance.as_deref() == Some("b")));
    // Unnamed (one instance): no field at all.
    let app = TestApp::start();
    app.get("/health", "");
    assert!(app.audit().iter().all(|r| r.instance.is_none()));
}

#[test]
fn audit_verify_finds_one_changed_byte_and_names_the_record() {
    let app = TestApp::start();
    let t = app.token(&["clients:r"]);
    for i in 1..=6 {
        assert_eq!(app.get(&format!("/api/v1/clients/{i}"), &t).status, 200);
    }
    let records = app.audit();
    assert_eq!(records.len(), 6);
    let dir = app.stop();
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "").unwrap();
    let verify = |json: bool| {
        let args: &[&str] = if json { &["audit", "verify", "--json"] } else { &["audit", "verify"] };
        crate::support::Spawned::cli(dir.path(), &config, args)
    };
    let out = verify(false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact: 6 records"), "{:?}", out);

    let segment = std::fs::read_dir(dir.path().join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&segment).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&segment).unwrap();
    let fourth: serde_json::Value = serde_json::from_str(text.lines().nth(3).unwrap()).unwrap();
    // One byte of the third record: its duration.
    let at = text.match_indices("\"duration_us\":").nth(2).unwrap().0 + "\"duration_us\":".len();
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'9' { b'8' } else { bytes[at] + 1 };
    std::fs::write(&segment, &bytes).unwrap();

    let out = verify(true);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_break"]["line"], 4, "{report}");
    assert_eq!(report["first_break"]["request_id"], fourth["request_id"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 4") && stderr.contains("line 3"), "{stderr}");
}
