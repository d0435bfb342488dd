//! Findings of the outside penetration test, each written as the attack it was.

use serde_json::json;

use crate::support::TestApp;

/// 1. Secret and server-managed columns are not writable by a client, on any write path.
#[test]
fn secret_and_server_managed_columns_cannot_be_written() {
    let app = TestApp::builder().config(|c| c.sensitive.expose = vec!["staff".into()]).start();
    let t = app.token_with(|s| {
        s.scopes = vec!["staff:rcu".into(), "clients:rcu".into()];
        s.allow_sensitive = true;
    });
    let t = &t.token;
    let before = app.state.store.get_row("staff", 1).unwrap().unwrap()["password_hash"].clone();
    for method in ["PATCH", "PUT"] {
        let body = json!({"first_name": "A", "last_name": "B", "email": "a@example.com", "username": "ab",
                          "role": "admin", "password_hash": "$argon2id$attacker"});
        let r = app.req(method, "/api/v1/staff/1").bearer(t).json(&body).send();
        assert_eq!((r.status, r.code().as_str()), (422, "validation_failed"), "{method}");
        assert!(r.text().contains("password_hash"), "{}", r.text());
    }
    let body = json!({"first_name": "A", "last_name": "B", "email": "a@example.com", "username": "ab2",
                      "role": "admin", "password_hash": "x"});
    assert_eq!(app.req("POST", "/api/v1/staff").bearer(t).json(&body).send().status, 422);
    assert_eq!(app.state.store.get_row("staff", 1).unwrap().unwrap()["password_hash"], before);

    // created_at is the server's: refused from a client, stamped on create, kept on PUT.
    let forged = json!({"company": "Backdated Ltd", "status": "active", "created_at": "2001-01-01T00:00:00Z"});
    let r = app.req("POST", "/api/v1/clients").bearer(t).json(&forged).send();
    assert_eq!(r.status, 422);
    assert!(r.text().contains("created_at"));
    let r =
        app.req("POST", "/api/v1/clients").bearer(t).json(&json!({"company": "Now Ltd", "status": "active"})).send();
    assert_eq!(r.status, 201);
    let row = r.json()["data"].clone();
    let stamped = row["created_at"].as_str().unwrap().to_string();
    assert!(stamped.starts_with("20") && !stamped.starts_with("2001"), "{stamped}");
    let id = row["id"].as_u64().unwrap();
    let r = app
        .req("PUT", &format!("/api/v1/clients/{id}"))
        .bearer(t)
        .json(&json!({"company": "Now Ltd", "status": "lead"}))
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["created_at"], stamped.as_str());
    let r = app.req("PATCH", &format!("/api/v1/clients/{id}")).bearer(t).json(&json!({"created_at": null})).send();
    assert_eq!(r.status, 422);
}

/// 2. A proxy entry that does not parse never falls back to the proxy's own address.
#[test]
fn forwarded_for_entries_with_ports_parse_and_garbage_is_refused() {
    use palisade::api::admin::{execute, AdminRequest};
    use palisade::store::locks::LockKind;
    let app = TestApp::start();
    let t = app.token(&["clients:r"]);
    let get = |xff: &str| app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip(xff).send();
    for bad in ["unknown", "some text", "203.0.113.7:port", "1.2.3.4, unknown"] {
        let r = get(bad);
        assert_eq!((r.status, r.code().as_str()), (400, "bad_forwarded_for"), "{bad}");
        r.assert_security_headers();
    }
    let lock =
        AdminRequest::Lock { kind: LockKind::Ip, subject: "203.0.113.7".into(), secs: 60, reason: None, force: false };
    execute(&app.state, lock).unwrap();
    assert_eq!(get("203.0.113.7:5678").code(), "locked");
    assert_eq!(get("203.0.113.7").code(), "locked");
    // Others behind the same proxy are not that client.
    assert_eq!(get("[2001:db8::1]:443").status, 200);
    assert_eq!(get("2001:db8::1").status, 200);
    assert_eq!(app.get("/api/v1/clients/1", &t).status, 200);
}

/// 5 and 7. HEAD wherever GET is served (same status and headers, no body); the added
/// headers; the IETF rate-limit fields beside X-RateLimit-*.
#[test]
fn head_is_served_like_get_and_every_answer_carries_the_new_headers() {
    let app = TestApp::start();
    let t = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.rate = Some(100);
        s.window = Some(3600);
    });
    for path in [
        "/health",
        "/api/v1",
        "/api/v1/clients/1",
        "/api/v1/clients?limit=2",
        "/api/v1/views/active_clients",
        "/explorer",
    ] {
        let get = app.req("GET", path).bearer(&t.token).send();
        let head = app.req("HEAD", path).bearer(&t.token).send();
        assert_eq!(head.status, get.status, "{path}");
        assert!(head.body.is_empty(), "HEAD {path} sent a body");
        assert_eq!(head.header("content-type"), get.header("content-type"), "{path}");
        head.assert_security_headers();
    }
    let r = app.get("/api/v1/clients/1", &t.token);
    assert_eq!(r.header("cache-control"), Some("no-store, no-cache, must-revalidate, max-age=0"));
    assert_eq!(r.header("cross-origin-opener-policy"), Some("same-origin"));
    assert_eq!(r.header("cross-origin-embedder-policy"), Some("require-corp"));
    assert_eq!(r.header("ratelimit-policy"), Some("\"token\";q=100;w=3600"));
    assert!(r.header("ratelimit").is_some_and(|v| v.starts_with("\"token\";r=")), "{:?}", r.header("ratelimit"));
    // A method no route serves outside CORS: 204 with Allow.
    let r = app.req("OPTIONS", "/api/v1/clients/1").send();
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("GET, HEAD, PUT, PATCH, DELETE"));
    // A 404 from the router carries them too.
    app.req("GET", "/nope").send().assert_security_headers();
}

/// 8 and 9. The server's own origin comes from `public_url` (scheme included), never from
/// `Host`; the refusal's audit record copies no header value.
#[test]
fn own_origin_is_configured_not_taken_from_host_and_not_audited() {
    let app = TestApp::builder().config(|c| c.server.public_url = "https://api.example.com".into()).start();
    let t = app.token(&["clients:r"]);
    let with = |host: &str, origin: &str| {
        app.req("GET", "/api/v1/clients/1").bearer(&t).header("Host", host).header("Origin", origin).send()
    };
    let r = with("evil.example", "http://evil.example");
    assert_eq!((r.status, r.code().as_str()), (403, "origin_not_allowed"));
    // A TLS deployment's own origin is https only.
    assert_eq!(with("api.example.com", "http://api.example.com").code(), "origin_not_allowed");
    let r = with("api.example.com", "https://api.example.com");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://api.example.com"));
    let audit = serde_json::to_string(&app.audit()).unwrap();
    assert!(!audit.contains("evil.example"), "{audit}");
}

/// 3. An IPv6 lock covers the holder's /64, throttles count per /64 too.
#[test]
fn ipv6_locks_and_throttles_cover_the_prefix() {
    use palisade::api::admin::{execute, AdminRequest};
    use palisade::store::locks::LockKind;
    let app = TestApp::builder().config(|c| c.shield.ip_requests = 3).start();
    let t = app.token(&["clients:r"]);
    let from = |ip: &str| app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip(ip).send();
    let lock = AdminRequest::Lock {
        kind: LockKind::Ip,
        subject: "2001:db8:1::1".into(),
        secs: 60,
        reason: None,
        force: false,
    };
    execute(&app.state, lock).unwrap();
    assert_eq!(from("2001:db8:1::2").code(), "locked");
    assert_eq!(from("[2001:db8:1:0:ffff::9]:443").code(), "locked");
    // Another /64: its own throttle, shared by all its addresses.
    for ip in ["2001:db8:2::1", "2001:db8:2::2", "2001:db8:2::3"] {
        assert_eq!(from(ip).status, 200, "{ip}");
    }
    assert_eq!(from("2001:db8:2::4").code(), "ip_rate_limited");
    assert_eq!(from("2001:db8:3::1").status, 200);
}

/// Finding 4: breaking out of a GraphQL string is an injection like any other (refused and
/// locked), even though the document does not parse.
#[test]
fn a_graphql_string_broken_out_of_is_scanned_and_locks() {
    let app = TestApp::start();
    let t = app.token(&["clients:r"]);
    let q = serde_json::json!({"query": "{ clients(company: \"x\" OR 1=1--\") { id } }"});
    let r = app.req("POST", "/graphql").bearer(&t).client_ip("203.0.113.44").json(&q).send();
    assert_eq!((r.status, r.code().as_str()), (403, "injection_detected"));
    assert_eq!(app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip("203.0.113.44").send().code(), "locked");
    // A well-formed document with the same text inside a literal stays a literal's text.
    let ok = serde_json::json!({"query": "{ clients(limit: 1) { company } } # OR 1=1 -- notes"});
    assert_eq!(app.req("POST", "/graphql").bearer(&t).json(&ok).send().status, 200);
}

/// Finding 9: query values are redacted in the audit record unless their name is a plain
/// filter column, and every file of the data dir is the owner's alone.
#[test]
fn audit_keeps_only_plain_query_values_and_data_files_are_private() {
    let app = TestApp::start();
    let t = app.token(&["clients:r"]);
    app.get("/api/v1/clients?status=active&limit=2&city=Oslo", &t);
    app.get("/api/v1/clients?whatever=sk_live_51Habc", &t);
    let queries: Vec<String> = app.audit().into_iter().filter_map(|r| r.query).collect();
    let all = queries.join(" ");
    assert!(all.contains("status=active") && all.contains("limit=2"), "{all}");
    // An unknown name is not kept either (it is text the client chose).
    assert!(all.contains("city=[REDACTED]") && all.contains("[REDACTED]=[REDACTED]"), "{all}");
    assert!(!all.contains("whatever"), "{all}");
    assert!(!all.contains("Oslo") && !all.contains("sk_live"), "{all}");
    drop(app);

    let dir = tempfile::tempdir().unwrap();
    let (data, config) = (dir.path().join("data"), dir.path().join("c.toml"));
    std::fs::write(&config, "").unwrap();
    let server = crate::support::Spawned::serve(&data, &config);
    assert_eq!(server.req("GET", "/health").send().status, 200);
    assert_eq!(server.signal("TERM").code(), Some(0));
    fn walk(p: &std::path::Path, bad: &mut Vec<String>) {
        for e in std::fs::read_dir(p).unwrap() {
            let path = e.unwrap().path();
            let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
            if mode & 0o077 != 0 {
                bad.push(format!("{} {:o}", path.display(), mode & 0o777));
            }
            if path.is_dir() {
                walk(&path, bad);
            }
        }
    }
    let mut bad = Vec::new();
    walk(&data, &mut bad);
    assert!(bad.is_empty(), "readable by others: {bad:?}");
}

/// Finding 11: sandbox tokens get fakes for anything shaped like an e-mail address, a phone
/// number or an IBAN, column or not; VAT fakes keep their country prefix and format; a
/// key/value row whose key names a secret has its value redacted for every token.
#[test]
fn sandbox_fakes_shaped_values_and_secret_options_are_redacted_for_everyone() {
    let app = TestApp::builder().config(|c| c.sensitive.expose = vec!["options".into()]).start();
    let sandbox = app.token_with(|s| {
        s.scopes = vec!["options:r".into(), "clients:r".into()];
        s.allow_sensitive = true;
        s.sandbox = true;
    });
    let full = app.token_with(|s| {
        s.scopes = vec!["options:r".into()];
        s.allow_sensitive = true;
    });
    let options = app.get("/api/v1/options?limit=500", &sandbox.token).text();
    for real in ["crm-mailer@meridian-works.com", "support@meridian-works.com"] {
        assert!(!options.contains(real), "{real} reached a sandbox token");
    }
    assert!(!options.contains("eAG5ut58qq5MzEJpWMCyGAB3"));
    let one = app.get("/api/v1/options/12", &full.token).json();
    assert_eq!(one["data"]["value"], "[REDACTED]", "{one}");
    let list = app.get("/api/v1/options?limit=500", &full.token).text();
    assert!(!list.contains("eAG5ut58qq5MzEJpWMCyGAB3"));
    // Ordinary option values still reach a full token.
    assert!(list.contains("support@meridian-works.com"));

    let client = app.get("/api/v1/clients/1", &sandbox.token).json();
    let vat = client["data"]["vat_number"].as_str().unwrap();
    assert_ne!(vat, "NO835303798MVA");
    assert!(vat.starts_with("NO") && vat.ends_with("MVA") && vat.len() == "NO835303798MVA".len(), "{vat}");
}

/// Finding 3, second half: attacks sent with a valid token count against its owner, who is
/// locked after `[checks] user_lock_after` of them, from whatever addresses; a forged token
/// naming the owner counts for nothing.
#[test]
fn repeated_attacks_lock_the_token_owner_across_addresses() {
    let app = TestApp::builder().config(|c| c.checks.user_lock_after = 3).start();
    let mallory = app.token_with(|s| {
        s.name = "mallory".into();
        s.scopes = vec!["clients:r".into()];
    });
    let second = app.token_with(|s| {
        s.name = "mallory".into();
        s.scopes = vec!["clients:r".into()];
    });
    let alice = app.token(&["clients:r"]);
    let forged = format!("{}{}", &mallory.token[..mallory.token.len() - 4], "0000");
    let attack = |token: &str, ip: &str| {
        app.req("GET", "/api/v1/clients?status=x%27%20OR%201%3D1--").bearer(token).client_ip(ip).send().code()
    };
    for i in 0..5 {
        assert_eq!(attack(&forged, &format!("198.51.100.{}", 10 + i)), "injection_detected");
    }
    assert_eq!(app.get("/api/v1/clients/1", &mallory.token).status, 200, "forged tokens count for nothing");
    for i in 0..3 {
        assert_eq!(attack(&mallory.token, &format!("203.0.113.{}", 10 + i)), "injection_detected");
    }
    let fresh_ip = |token: &str| app.req("GET", "/api/v1/clients/1").bearer(token).client_ip("192.0.2.200").send();
    assert_eq!(fresh_ip(&mallory.token).code(), "locked");
    assert_eq!(fresh_ip(&second.token).code(), "locked");
    assert_eq!(fresh_ip(&alice).status, 200);
}

/// Finding 6: the answers actix-http writes before routing (malformed 400, slow head 408, too large
/// a head 431) carry the security headers, a request id and the JSON error body too.
#[test]
fn protocol_level_errors_carry_headers_and_a_json_body() {
    use std::io::{Read, Write};
    let app = TestApp::start();
    let raw = |bytes: &[u8], pause: Option<std::time::Duration>| -> Vec<u8> {
        let mut s = std::net::TcpStream::connect(app.addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        s.write_all(bytes).unwrap();
        if let Some(p) = pause {
            std::thread::sleep(p);
        }
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    };
    let check = |what: &str, answer: &[u8], status: u16, code: &str| {
        let r = crate::support::Resp::parse(answer).unwrap_or_else(|| panic!("{what}: no answer"));
        assert_eq!(r.status, status, "{what}: {}", String::from_utf8_lossy(answer));
        assert_eq!(r.json()["error"]["code"], code, "{what}");
        assert_eq!(r.header("x-request-id").map(str::len), Some(16), "{what}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{what}");
        assert_eq!(r.header("content-type"), Some("application/json"), "{what}");
        assert!(r.header("permissions-policy").is_some() && r.header("cross-origin-opener-policy").is_some(), "{what}");
    };

    check("garbage request line", &raw(b"NOT HTTP AT ALL\r\n\r\n", None), 400, "bad_request");
    check(
        "bad header line",
        &raw(b"GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", None),
        400,
        "bad_request",
    );
    let mut many = b"GET /health HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..120 {
        many.extend_from_slice(format!("X-Filler-{i}: y\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    check("too many header fields", &raw(&many, None), 431, "headers_too_large");
    let big = format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(140 * 1024));
    check("oversized head", &raw(big.as_bytes(), None), 431, "headers_too_large");
    check(
        "slow head",
        &raw(b"GET /health HTTP/1.1\r\nHost: x\r\n", Some(std::time::Duration::from_secs(6))),
        408,
        "head_timeout",
    );

    // On a kept-alive connection: the first answer is ours as always, the malformed second one too.
    let both = raw(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nBROKEN\x01 / HTTP/1.1\r\n\r\n", None);
    let second = both.windows(9).rposition(|w| w == b"HTTP/1.1 ").unwrap();
    assert!(second > 0, "two answers expected: {}", String::from_utf8_lossy(&both));
    assert_eq!(crate::support::Resp::parse(&both[..second]).unwrap().status, 200);
    check("malformed after a good request", &both[second..], 400, "bad_request");

    // The server is unharmed.
    assert_eq!(app.req("GET", "/health").send().status, 200);
}
