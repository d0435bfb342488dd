//! Observability: `/metrics` scraped over HTTP on its own listener (and absent from the API
//! port), and structured JSON logs that never carry a secret.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::{Req, Spawned, TestApp};

/// `name{labels}` → value, from a Prometheus text exposition.
fn parse(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad line: {l}"));
            (k.to_string(), v.parse().unwrap_or_else(|_| panic!("bad value: {l}")))
        })
        .collect()
}

#[test]
fn metrics_are_scraped_on_their_own_listener() {
    let app = TestApp::builder()
        .config(|c| {
            c.metrics.listen = "127.0.0.1:0".into();
            c.state.snapshot_interval_ms = 50;
        })
        .start();
    let metrics = app.metrics_addr.expect("metrics listener");
    let reader = app.token(&["clients:r"]);
    let limited = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.rate = Some(1);
        s.window = Some(3600);
    });
    assert_eq!(app.get("/api/v1/clients/1", &reader).status, 200);
    assert_eq!(app.req("GET", "/api/v1/clients/1").send().status, 401);
    assert_eq!(app.get("/api/v1/clients/1", &limited.token).status, 200);
    assert_eq!(app.get("/api/v1/clients/1", &limited.token).status, 429);
    let attack = app.req("GET", "/api/v1/clients?status=%27%20OR%201%3D1--").bearer(&reader).client_ip("203.0.113.4");
    assert_eq!(attack.send().status, 403);
    // Client mistakes the handler refuses are counted under their own codes, not as
    // internal errors an alert would page on.
    assert_eq!(app.get("/api/v1/clients/99999", &reader).status, 404);
    assert_eq!(app.get("/api/v1/clients?nosuchcolumn=1", &reader).status, 400);
    std::thread::sleep(Duration::from_millis(200));

    let r = Req::to(metrics, "GET", "/metrics").send();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    r.assert_security_headers();
    let text = r.text();
    assert!(!text.contains(&reader) && !text.contains(&limited.token) && !text.contains("203.0.113.4"));
    let m = parse(&text);
    let at_least = |k: &str, n: f64| {
        let v = m.get(k).copied().unwrap_or_else(|| panic!("no {k} in:\n{text}"));
        assert!(v >= n, "{k} = {v}, expected >= {n}");
    };
    at_least(r#"palisade_requests_total{route="row",status="200"}"#, 2.0);
    at_least(r#"palisade_requests_total{route="row",status="401"}"#, 1.0);
    at_least(r#"palisade_rejections_total{stage="auth",reason="missing_token"}"#, 1.0);
    at_least(r#"palisade_rejections_total{stage="rate_limit",reason="rate_limited"}"#, 1.0);
    at_least(r#"palisade_rejections_total{stage="checks",reason="injection_detected"}"#, 1.0);
    at_least(r#"palisade_rejections_total{stage="handler",reason="not_found"}"#, 1.0);
    at_least(r#"palisade_rejections_total{stage="handler",reason="bad_request"}"#, 1.0);
    assert!(!m.contains_key(r#"palisade_rejections_total{stage="handler",reason="internal_error"}"#), "{text}");
    at_least("palisade_rate_limited_total", 1.0);
    at_least("palisade_locks_active", 1.0);
    at_least("palisade_locks_created_total", 1.0);
    at_least("palisade_request_duration_seconds_count", 5.0);
    at_least(r#"palisade_request_duration_seconds_bucket{le="+Inf"}"#, 5.0);
    at_least("palisade_snapshot_duration_seconds_count", 1.0);
    at_least("palisade_audit_records", 1.0);
    at_least("palisade_process_resident_memory_bytes", 1.0);
    assert_eq!(m["palisade_audit_dropped_total"], 0.0);
    assert_eq!(m["palisade_storage_writable"], 1.0);
    assert!(m.contains_key("palisade_audit_queue_depth"));

    // Only GET /metrics, only there.
    let r = Req::to(metrics, "POST", "/metrics").send();
    assert_eq!((r.status, r.header("allow")), (405, Some("GET")));
    assert_eq!(Req::to(metrics, "GET", "/api/v1/clients/1").send().status, 404);
    assert_eq!(app.req("GET", "/metrics").bearer(&reader).send().status, 404);
}

#[test]
fn metrics_are_off_by_default_and_refuse_a_public_address() {
    assert!(TestApp::start().metrics_addr.is_none());
    let mut config = palisade::config::Config::default();
    config.metrics.listen = "0.0.0.0:9898".into();
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("metrics.listen"), "{err}");
    config.metrics.allow_remote = true;
    config.validate().unwrap();
}

#[test]
fn json_logs_are_one_object_per_line_and_carry_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("palisade.toml");
    std::fs::write(&config, "[log]\nformat = \"json\"\n[checks.brute_force]\nmax_failures = 2\nwindow_secs = 3600\n")
        .unwrap();
    crate::support::init_store(&data);
    let token = Spawned::create_token(&data, &config, &["--name", "logger", "--scope", "clients:r"]);
    let log = dir.path().join("server.log");
    let server = Spawned::serve_logging_to(&data, &config, std::fs::File::create(&log).unwrap());
    // Failed authentications until the brute-force guard locks the address (a logged event).
    for _ in 0..3 {
        server.req("GET", "/api/v1/clients").bearer(&format!("{token}x")).send();
    }
    assert_eq!(server.req("GET", "/api/v1/clients").bearer(&token).send().json()["error"]["code"], "locked");
    assert!(server.signal("TERM").success());

    let text = std::fs::read_to_string(&log).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let messages: Vec<&str> = events.iter().filter_map(|e| e["message"].as_str()).collect();
    for expected in ["palisade started", "locked", "listener stopped; flushing state"] {
        assert!(messages.contains(&expected), "no {expected:?} in {messages:?}");
    }
    assert!(events.iter().all(|e| e["level"].is_string() && e["timestamp"].is_string()));
    assert!(!text.contains(&token[..20]), "a token reached the log");
}
