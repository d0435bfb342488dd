//! Stage 3: bearer tokens (no oracle between unknown, revoked and expired) and signing.

use palisade::pipeline::auth::{canonical, sign};

use crate::support::TestApp;

#[test]
fn missing_and_invalid_tokens() {
    let app = TestApp::builder().manual_clock().start();
    let r = app.req("GET", "/api/v1/clients").send();
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "missing_token");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    r.assert_security_headers();

    let good = app.token(&["clients:r"]);
    assert_eq!(app.get("/api/v1/clients", &good).status, 200);

    let revoked = app.token_with(|s| s.scopes = vec!["clients:r".into()]);
    app.state.tokens.revoke(&revoked.id).unwrap();
    let expiring = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.expires = Some(60);
    });
    assert_eq!(app.get("/api/v1/clients", &expiring.token).status, 200);
    app.manual_clock().advance_ms(60_000);

    let mut tampered = good.clone();
    tampered.replace_range(good.len() - 4.., "0000");
    let unknown_id = format!("pal_{}_{}", "0".repeat(16), "1".repeat(64));
    let bodies: Vec<(u16, Vec<u8>)> = [
        revoked.token.as_str(),
        expiring.token.as_str(),
        tampered.as_str(),
        unknown_id.as_str(),
        "pal_garbage",
        "not-even-close",
    ]
    .iter()
    .map(|t| {
        let r = app.get("/api/v1/clients", t);
        (r.status, r.body)
    })
    .collect();
    for (status, body) in &bodies {
        assert_eq!(*status, 401);
        assert_eq!(body, &bodies[0].1, "identical bodies, no oracle");
    }
    let basic = app.req("GET", "/api/v1/clients").header("Authorization", &format!("Basic {good}")).send();
    assert_eq!(basic.status, 401);
    assert_eq!(basic.code(), "invalid_token");
}

struct Signed<'a> {
    app: &'a TestApp,
    token: String,
    secret: String,
}

impl Signed<'_> {
    fn send(&self, method: &str, path_query: &str, body: &[u8], ts: u64, tamper: bool) -> crate::support::Resp {
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let mut sig = sign(&self.secret, &canonical(method, path, query, body, &ts.to_string()));
        if tamper {
            sig.replace_range(..2, if sig.starts_with("00") { "11" } else { "00" });
        }
        let mut req = self
            .app
            .req(method, path_query)
            .bearer(&self.token)
            .header("X-Timestamp", &ts.to_string())
            .header("X-Signature", &sig);
        if !body.is_empty() {
            req = req.header("Content-Type", "application/json").body(body.to_vec());
        }
        req.send()
    }
}

#[test]
fn signed_requests() {
    let app = TestApp::builder().manual_clock().start();
    let created = app.token_with(|s| {
        s.scopes = vec!["clients:rc".into()];
        s.sign = true;
    });
    let signed = Signed { app: &app, token: created.token.clone(), secret: created.signing_secret.clone().unwrap() };
    let now = app.manual_clock().now_secs_for_test();

    // Query parameters are signed sorted, as sent.
    let r = signed.send("GET", "/api/v1/clients?status=active&limit=2", b"", now, false);
    assert_eq!(r.status, 200, "{}", r.text());
    let body = br#"{"company":"Signed Ltd","status":"active"}"#;
    assert_eq!(signed.send("POST", "/api/v1/clients", body, now, false).status, 201);

    let unsigned = app.get("/api/v1/clients", &created.token);
    assert_eq!((unsigned.status, unsigned.code().as_str()), (401, "missing_signature"));
    let bad = signed.send("GET", "/api/v1/clients?limit=1", b"", now, true);
    assert_eq!((bad.status, bad.code().as_str()), (401, "bad_signature"));
    let stale = signed.send("GET", "/api/v1/clients?limit=2", b"", now - 301, false);
    assert_eq!((stale.status, stale.code().as_str()), (401, "stale_request"));
    let future = signed.send("GET", "/api/v1/clients?limit=3", b"", now + 301, false);
    assert_eq!(future.code(), "stale_request");
    assert_eq!(signed.send("GET", "/api/v1/clients?limit=4", b"", now - 300, false).status, 200);

    let first = signed.send("GET", "/api/v1/clients?limit=5", b"", now, false);
    assert_eq!(first.status, 200);
    let again = signed.send("GET", "/api/v1/clients?limit=5", b"", now, false);
    assert_eq!((again.status, again.code().as_str()), (401, "replayed_request"));

    // A body changed after signing fails.
    let (path, ts) = ("/api/v1/clients", now.to_string());
    let sig = sign(&signed.secret, &canonical("POST", path, "", body, &ts));
    let r = app
        .req("POST", path)
        .bearer(&created.token)
        .header("X-Timestamp", &ts)
        .header("X-Signature", &sig)
        .json(&serde_json::json!({"company": "Other", "status": "active"}))
        .send();
    assert_eq!(r.code(), "bad_signature");
}

trait NowSecs {
    fn now_secs_for_test(&self) -> u64;
}

impl NowSecs for palisade::clock::ManualClock {
    fn now_secs_for_test(&self) -> u64 {
        palisade::clock::Clock::now_secs(self)
    }
}

#[test]
fn data_dir_holds_no_token_or_signing_secret() {
    let app = TestApp::start();
    let plain = app.token_with(|s| s.scopes = vec!["clients:r".into()]);
    let signing = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.sign = true;
    });
    assert_eq!(app.get("/api/v1/clients/1", &plain.token).status, 200);
    assert_eq!(app.get(&format!("/api/v1/clients?token={}", plain.token), &plain.token).status, 400);
    let dir = app.stop();
    let secret = signing.signing_secret.unwrap();
    let needles = [plain.token.as_str(), signing.token.as_str(), secret.as_str()];
    let mut checked = 0;
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        checked += 1;
        for n in needles {
            assert!(!contains(&bytes, n.as_bytes()), "{} holds a secret", entry.display());
            // The secret half of the token alone must not be there either.
            let tail = &n[n.len() - 40..];
            assert!(!contains(&bytes, tail.as_bytes()), "{} holds part of a secret", entry.display());
        }
    }
    assert!(checked > 2);
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Finding L-4: the replay cache was filled before the rate limit ran, so signed requests
/// the rate limit refused (or any signer past its rate) could fill it, and every signed
/// token then got 503. Only admitted requests are recorded now.
#[test]
fn requests_refused_by_the_rate_limit_do_not_fill_the_replay_cache() {
    let app = TestApp::builder().manual_clock().start();
    let created = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.sign = true;
        s.rate = Some(3);
        s.window = Some(60);
    });
    let signed = Signed { app: &app, token: created.token.clone(), secret: created.signing_secret.clone().unwrap() };
    let now = app.manual_clock().now_secs_for_test();
    let statuses: Vec<u16> = (0..20)
        .map(|i| signed.send("GET", &format!("/api/v1/clients?limit={}", i + 1), b"", now, false).status)
        .collect();
    assert_eq!(statuses[..3], [200; 3]);
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(app.state.stages().auth.replay.len(), 3, "only the admitted requests are remembered");
    // A request refused by scope is not remembered either; an admitted one still is, once.
    let out_of_scope = signed.send("GET", "/api/v1/invoices", b"", now, false);
    assert_eq!(out_of_scope.status, 429, "the window is spent: refused before scope");
    app.manual_clock().advance_ms(60_000);
    let now = app.manual_clock().now_secs_for_test();
    assert_eq!(signed.send("GET", "/api/v1/invoices", b"", now, false).status, 403);
    assert_eq!(app.state.stages().auth.replay.len(), 3);
    let first = signed.send("GET", "/api/v1/clients?limit=99", b"", now, false);
    assert_eq!(first.status, 200);
    let again = signed.send("GET", "/api/v1/clients?limit=99", b"", now, false);
    assert_eq!((again.status, again.code().as_str()), (401, "replayed_request"));
    assert_eq!(app.state.stages().auth.replay.len(), 4);
}

/// Finding L-4: an entry expired `2 × window` after it was stored, which can be up to a
/// second before its timestamp stops being accepted; a replay in that second went through.
#[test]
fn a_replay_is_refused_for_as_long_as_its_timestamp_is_accepted() {
    let app = TestApp::builder().manual_clock().start();
    let created = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.sign = true;
    });
    let signed = Signed { app: &app, token: created.token.clone(), secret: created.signing_secret.clone().unwrap() };
    let clock = app.manual_clock();
    // At the last millisecond of second T, a request stamped T + 300 (the future edge).
    let t = clock.now_secs_for_test();
    clock.set_ms(t * 1000 + 999);
    let ts = t + 300;
    assert_eq!(signed.send("GET", "/api/v1/clients?limit=1", b"", ts, false).status, 200);
    // Its timestamp is accepted through second ts + 300 = T + 600, to its last millisecond.
    clock.set_ms((t + 600) * 1000 + 999);
    let replay = signed.send("GET", "/api/v1/clients?limit=1", b"", ts, false);
    assert_eq!((replay.status, replay.code().as_str()), (401, "replayed_request"));
    // One millisecond later it is stale, and the entry is gone with it.
    clock.advance_ms(1);
    let stale = signed.send("GET", "/api/v1/clients?limit=1", b"", ts, false);
    assert_eq!(stale.code(), "stale_request");
    app.state.stages().auth.replay.sweep(clock.now_ms_for_test());
    assert!(app.state.stages().auth.replay.is_empty());
}

trait NowMs {
    fn now_ms_for_test(&self) -> u64;
}

impl NowMs for palisade::clock::ManualClock {
    fn now_ms_for_test(&self) -> u64 {
        palisade::clock::Clock::now_ms(self)
    }
}
