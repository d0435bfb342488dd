//! Stage 4: exact counts under concurrency, the window edge, fail-closed behaviour.

use std::sync::Arc;

use crate::support::TestApp;

#[test]
fn exactly_the_limit_passes_under_200_concurrent_clients() {
    let app = Arc::new(TestApp::start());
    let t = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.rate = Some(50);
        s.window = Some(3600);
    });
    let token = Arc::new(t.token);
    let barrier = Arc::new(std::sync::Barrier::new(200));
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let (app, token, barrier) = (app.clone(), token.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let r = app.get("/api/v1/clients/1", &token);
                (
                    r.status,
                    r.header("retry-after").map(str::to_string),
                    r.header("x-ratelimit-remaining").map(str::to_string),
                )
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let limited: Vec<_> = results.iter().filter(|r| r.0 == 429).collect();
    assert_eq!(ok, 50);
    assert_eq!(limited.len(), 150);
    assert!(limited.iter().all(|r| r.1.as_deref().is_some_and(|v| v.parse::<u64>().unwrap() >= 1)));
    assert!(limited.iter().all(|r| r.2.as_deref() == Some("0")));
}

#[test]
fn headers_count_down_and_the_window_edge_is_exact() {
    let app = TestApp::builder().manual_clock().start();
    // Align to the start of a 60 s window.
    let clock = app.manual_clock();
    let now = palisade::clock::Clock::now_ms(clock);
    clock.set_ms(now - now % 60_000);
    let t = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.rate = Some(3);
        s.window = Some(60);
    });
    for expected in ["2", "1", "0"] {
        let r = app.get("/api/v1/clients/1", &t.token);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-limit"), Some("3"));
        assert_eq!(r.header("x-ratelimit-remaining"), Some(expected));
    }
    clock.advance_ms(59_999);
    let r = app.get("/api/v1/clients/1", &t.token);
    assert_eq!(r.status, 429);
    assert_eq!(r.code(), "rate_limited");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    r.assert_security_headers();
    clock.advance_ms(1);
    let r = app.get("/api/v1/clients/1", &t.token);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("2"));
}

#[test]
fn full_limiter_state_fails_closed() {
    let app = TestApp::builder().config(|c| c.rate_limit.max_tracked_tokens = 1).start();
    let a = app.token(&["clients:r"]);
    let b = app.token(&["clients:r"]);
    assert_eq!(app.get("/api/v1/clients/1", &a).status, 200);
    let r = app.get("/api/v1/clients/1", &b);
    assert_eq!(r.status, 503);
    assert_eq!(r.code(), "rate_limiter_unavailable");
}

#[test]
fn a_restart_does_not_hand_out_a_fresh_quota() {
    let app = TestApp::builder().manual_clock().start();
    let clock = app.manual_clock();
    let now = palisade::clock::Clock::now_ms(clock);
    clock.set_ms(now - now % 3_600_000);
    let t = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.rate = Some(3);
        s.window = Some(3600);
    });
    assert_eq!(app.get("/api/v1/clients/1", &t.token).status, 200);
    assert_eq!(app.get("/api/v1/clients/1", &t.token).status, 200);
    let dir = app.stop();
    let app = TestApp::builder().manual_clock().dir(dir).start();
    let clock = app.manual_clock();
    let now = palisade::clock::Clock::now_ms(clock);
    clock.set_ms(now - now % 3_600_000 + 1_000);
    let r = app.get("/api/v1/clients/1", &t.token);
    assert_eq!((r.status, r.header("x-ratelimit-remaining")), (200, Some("0")));
    assert_eq!(app.get("/api/v1/clients/1", &t.token).code(), "rate_limited");
}

#[test]
fn a_restart_keeps_per_ip_throttle_failed_auth_and_endpoint_counts() {
    let setup = |c: &mut palisade::config::Config| {
        c.shield.ip_requests = 5;
        c.shield.ip_window_secs = 3600;
        c.checks.brute_force.max_failures = 3;
        c.checks.brute_force.window_secs = 3600;
        c.checks.endpoints = vec![palisade::config::EndpointPolicy {
            method: Some("POST".into()),
            path: "/api/v1/leads".into(),
            checks: None,
            auto_lock: true,
            refuse_suspicious: false,
            max_requests_per_minute: Some(3),
            limit_id: Some("lead_form".into()),
        }];
    };
    let app = TestApp::builder().manual_clock().config(setup).start();
    let clock = app.manual_clock();
    let now = palisade::clock::Clock::now_ms(clock);
    clock.set_ms(now - now % 3_600_000);
    let t = app.token(&["clients:r", "leads:c"]);
    let (busy, guesser, poster) = ("198.51.100.5", "198.51.100.6", "198.51.100.7");
    for _ in 0..4 {
        assert_eq!(app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip(busy).send().status, 200);
    }
    for _ in 0..2 {
        assert_eq!(app.req("GET", "/api/v1/clients/1").bearer("pal_bad").client_ip(guesser).send().status, 401);
    }
    let lead = serde_json::json!({"name": "Ada", "status": "new"});
    for _ in 0..2 {
        assert_eq!(app.req("POST", "/api/v1/leads").bearer(&t).client_ip(poster).json(&lead).send().status, 201);
    }
    let dir = app.stop();
    // No legible address reached the data dir.
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        for ip in [busy, guesser, poster] {
            assert!(!bytes.windows(ip.len()).any(|w| w == ip.as_bytes()), "{ip} in {}", entry.display());
        }
    }

    let app = TestApp::builder().manual_clock().config(setup).dir(dir).start();
    let clock = app.manual_clock();
    let now = palisade::clock::Clock::now_ms(clock);
    clock.set_ms(now - now % 3_600_000 + 1_000);
    let busy_req = app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip(busy);
    assert_eq!(busy_req.send().status, 200);
    assert_eq!(busy_req.send().code(), "ip_rate_limited");
    // Failures 3 and 4 of 3 allowed: the lock needs the two counted before the restart.
    for _ in 0..2 {
        app.req("GET", "/api/v1/clients/1").bearer("pal_bad").client_ip(guesser).send();
    }
    assert_eq!(app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip(guesser).send().code(), "locked");
    let post = app.req("POST", "/api/v1/leads").bearer(&t).client_ip(poster).json(&lead);
    assert_eq!(post.send().status, 201);
    assert_eq!(post.send().status, 429);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
