//! Locks an operator can manage (issue #24, item 2): every lock shows a short id, the rule
//! and route that made it and whose token the request carried; `unlock ID` lifts it; a
//! request refused before auth is still audited with its valid token's id and owner.

use palisade::api::admin::{execute, AdminRequest};
use serde_json::Value;

use crate::support::TestApp;

#[test]
fn an_automatic_lock_names_rule_route_and_owner_and_lifts_by_id() {
    let app = TestApp::start();
    let t = app.token_with(|s| {
        s.name = "acme-integration".into();
        s.scopes = vec!["clients:r".into()];
    });
    let attack = app.req("GET", "/api/v1/clients?status=%27%20OR%201%3D1--").bearer(&t.token).client_ip("203.0.113.77");
    assert_eq!(attack.send().status, 403);
    let locks = execute(&app.state, AdminRequest::LocksList).unwrap();
    let lock = locks.as_array().unwrap().iter().find(|l| l["kind"] == "ip").cloned().expect("an ip lock");
    let id = lock["id"].as_str().unwrap().to_string();
    assert!(id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{lock}");
    assert!(lock["rule"].as_str().unwrap().starts_with("injection"), "{lock}");
    assert_eq!(lock["route"], "GET /api/v1/{table}");
    assert_eq!(lock["owner"], "acme-integration");
    assert!(lock["created"].is_string() && lock["expires"].is_string());
    assert!(!lock.to_string().contains("203.0.113.77") && !lock.to_string().contains("OR 1"), "{lock}");
    // The refused request's record says whose token it was.
    let records = app.audit();
    let refused = records.iter().find(|r| r.status == 403 && r.stage.as_deref() == Some("checks")).unwrap();
    assert_eq!((refused.token_id.as_deref(), refused.user.as_deref()), (Some(t.id.as_str()), Some("acme-integration")));
    // Locked, then lifted by its id.
    let again = app.req("GET", "/api/v1/clients").bearer(&t.token).client_ip("203.0.113.77");
    assert_eq!(again.clone().send().code(), "locked");
    let lifted = execute(&app.state, AdminRequest::UnlockId { id: id.clone() }).unwrap();
    assert_eq!(lifted["unlocked"], true);
    assert_eq!(again.send().status, 200);
    assert!(execute(&app.state, AdminRequest::UnlockId { id }).is_err(), "gone");
}

#[test]
fn the_cli_lists_and_unlocks_by_id() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::init_store(dir.path());
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["lock", "ip", "192.0.2.9", "--reason", "scanner"]).status.success());
    let out = run(&["locks", "list", "--json"]);
    let lock: Value = serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!((lock["kind"].as_str(), lock["rule"].as_str()), (Some("ip"), Some("manual")));
    let id = lock["id"].as_str().unwrap();
    let text = String::from_utf8_lossy(&run(&["locks", "list"]).stdout).into_owned();
    assert!(text.starts_with(id), "{text}");
    let out = run(&["unlock", id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(run(&["locks", "list", "--json"]).stdout.is_empty());
    let out = run(&["unlock", "0123456789ab"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no lock has the id"));
    // Addresses and names still work.
    assert!(run(&["lock", "ip", "192.0.2.10"]).status.success());
    assert!(run(&["unlock", "ip", "192.0.2.10"]).status.success());
}
