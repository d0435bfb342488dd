//! Tokens an operator can manage (issue #24, item 6): `token update` changes a live token at
//! once and is audited; `token list` shows views, expiry and last use and hides revoked
//! tokens unless `--all`; a scope beside a view is refused, never dropped.

use palisade::api::admin::{execute, AdminRequest};
use palisade::tokens::{TokenSpec, TokenUpdate};

use crate::support::TestApp;

#[test]
fn an_update_applies_at_once_and_is_audited() {
    let app = TestApp::builder().manual_clock().start();
    let t = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.rate = Some(2);
        s.window = Some(3600);
    });
    let get = || app.get("/api/v1/clients/1", &t.token).status;
    assert_eq!((get(), get(), get()), (200, 200, 429));
    let update = |change: TokenUpdate| execute(&app.state, AdminRequest::TokenUpdate { id: t.id.clone(), change });
    let shown = update(TokenUpdate { rate: Some(5), ..Default::default() }).unwrap();
    assert_eq!(shown["rate"], 5);
    assert_eq!(get(), 200, "the new rate counts from the next request");
    update(TokenUpdate { cidrs: Some(vec!["10.0.0.0/8".into()]), ..Default::default() }).unwrap();
    assert_eq!(app.get("/api/v1/clients/1", &t.token).code(), "ip_not_allowed");
    update(TokenUpdate { cidrs: Some(Vec::new()), expires: Some(60), ..Default::default() }).unwrap();
    assert_eq!(get(), 200);
    app.manual_clock().advance_ms(61_000);
    assert_eq!(app.get("/api/v1/clients/1", &t.token).code(), "invalid_token");
    assert!(update(TokenUpdate::default()).unwrap_err().contains("nothing to change"));
    assert!(update(TokenUpdate { rate: Some(0), ..Default::default() }).is_err());
    assert!(execute(
        &app.state,
        AdminRequest::TokenUpdate { id: "nope".into(), change: TokenUpdate { rate: Some(1), ..Default::default() } }
    )
    .is_err());
    let audit = app.audit();
    let events: Vec<_> = audit.iter().filter(|r| r.method == "TOKEN_UPDATE").collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0].token_id.as_deref(), Some(t.id.as_str()));
    assert!(events[0].reason.as_deref().unwrap().contains("rate"));
}

#[test]
fn the_list_shows_views_expiry_and_last_use_and_hides_revoked() {
    let app = TestApp::start();
    let viewer = app.token_with(|s| {
        s.views = vec!["active_clients".into()];
        s.expires = Some(3600);
    });
    let old = app.token_with(|s| s.scopes = vec!["clients:r".into()]);
    execute(&app.state, AdminRequest::TokenRevoke { id: old.id.clone() }).unwrap();
    assert_eq!(app.get("/api/v1/views/active_clients", &viewer.token).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let live = execute(&app.state, AdminRequest::TokenList { all: false }).unwrap();
    let live = live.as_array().unwrap();
    assert!(live.iter().all(|t| t["id"] != old.id.as_str()), "revoked tokens are hidden");
    let v = live.iter().find(|t| t["id"] == viewer.id.as_str()).unwrap();
    assert_eq!(v["views"], serde_json::json!(["active_clients"]));
    assert!(v["expires_at"].is_string());
    let used = v["last_used"].as_str().expect("used within the hour");
    assert!(used.ends_with(":00:00.000Z") || used.ends_with(":00:00Z"), "kept to the hour: {used}");
    let all = execute(&app.state, AdminRequest::TokenList { all: true }).unwrap();
    assert!(all.as_array().unwrap().iter().any(|t| t["id"] == old.id.as_str() && t["revoked"] == true));
}

#[test]
fn a_scope_beside_a_view_is_refused() {
    let app = TestApp::start();
    let spec = TokenSpec {
        name: "mixed".into(),
        scopes: vec!["invoices:r".into()],
        views: vec!["active_clients".into()],
        ..Default::default()
    };
    let err = execute(&app.state, AdminRequest::TokenCreate(spec)).unwrap_err();
    assert!(err.contains("--scope and --view cannot be combined"), "{err}");
}
