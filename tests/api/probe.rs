//! The server's own probe cannot be locked out (issue #24, item 1): one lock on 127.0.0.1
//! used to make the watchdog fail and systemd restart the service for a day.

use std::time::Duration;

use palisade::api::admin::{execute, AdminRequest};
use palisade::store::locks::LockKind;
use palisade::watchdog::{probe, Probe};

use crate::support::{Spawned, TestApp};

fn ask(app: &TestApp, key: Option<&str>) -> Probe {
    actix_rt::System::new().block_on(probe(app.addr, Duration::from_secs(5), key))
}

#[test]
fn the_watchdogs_probe_passes_a_lock_and_the_throttle_others_do_not() {
    let app = TestApp::builder()
        .config(|c| {
            c.server.trusted_proxies = Vec::new();
            c.shield.ip_requests = 3;
        })
        .start();
    let key = app.state.pipeline.probe.expose().to_string();
    let lock =
        AdminRequest::Lock { kind: LockKind::Ip, subject: "127.0.0.1".into(), secs: 600, reason: None, force: false };
    execute(&app.state, lock).unwrap();
    assert_eq!(app.req("GET", "/health").send().code(), "locked");
    for _ in 0..10 {
        assert_eq!(ask(&app, Some(&key)), Probe::Healthy, "the own probe is never locked or throttled");
    }
    let outsider = ask(&app, Some("0".repeat(64).as_str()));
    assert_eq!(outsider, Probe::Answered { status: 403, code: Some("locked".into()) });
    assert_eq!(outsider.to_string(), "answered 403 locked", "the watchdog's log line says what it got");
    // The key opens nothing but /health.
    let r = app.req("GET", "/api/v1").header("X-Palisade-Probe", &key).send();
    assert_eq!(r.code(), "locked");
}

#[test]
fn a_proxy_that_is_not_trusted_gets_one_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (data, config, log) = (dir.path().join("data"), dir.path().join("c.toml"), dir.path().join("log"));
    std::fs::write(&config, "").unwrap();
    let server = Spawned::serve_logging_to(&data, &config, std::fs::File::create(&log).unwrap());
    for _ in 0..3 {
        assert_eq!(server.req("GET", "/health").header("X-Forwarded-For", "198.51.100.4").send().status, 200);
    }
    std::thread::sleep(Duration::from_millis(200));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("trusted_proxies is empty").count(), 1, "{text}");
}
