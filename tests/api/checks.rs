//! The security checks chain: injection lockout, lock lists, endpoint limits, brute force,
//! honeypot, lock expiry, and no legible IP in the data dir.

use palisade::api::admin::{execute, AdminRequest};
use palisade::config::EndpointPolicy;
use palisade::store::locks::LockKind;
use palisade::store::SysTree;
use serde_json::json;

use crate::support::TestApp;

const ATTACKER: &str = "203.0.113.66";
const BYSTANDER: &str = "198.51.100.23";

fn lead(name: &str) -> serde_json::Value {
    json!({"name": name, "status": "new"})
}

fn policy(path: &str) -> EndpointPolicy {
    EndpointPolicy {
        method: None,
        path: path.into(),
        checks: None,
        auto_lock: true,
        refuse_suspicious: false,
        max_requests_per_minute: None,
        limit_id: None,
    }
}

#[test]
fn injection_locks_the_ip_for_a_day_and_unlock_restores_it() {
    let app = TestApp::builder().manual_clock().start();
    let t = app.token(&["leads:rc", "clients:r"]);
    let post = |ip: &str, body: serde_json::Value| {
        app.req("POST", "/api/v1/leads").bearer(&t).client_ip(ip).json(&body).send()
    };

    let r = post(ATTACKER, lead("x' OR '1'='1"));
    assert_eq!((r.status, r.code().as_str()), (403, "injection_detected"));
    r.assert_security_headers();
    let clean = app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip(ATTACKER);
    let r = clean.send();
    assert_eq!((r.status, r.code().as_str()), (403, "locked"));
    assert_eq!(app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip(BYSTANDER).send().status, 200);
    // Query strings are scanned too (and double encoding does not hide it).
    let r = app.req("GET", "/api/v1/clients?status=%2527%2520OR%25201%253D1").bearer(&t).client_ip(BYSTANDER).send();
    assert_eq!(r.code(), "injection_detected");

    // 24 h later, minus a second: still locked; at 24 h: free.
    app.manual_clock().advance_ms(86_399_000);
    assert_eq!(clean.send().code(), "locked");
    let locks = execute(&app.state, AdminRequest::LocksList).unwrap();
    assert_eq!(locks.as_array().unwrap().len(), 2);
    assert!(!locks.to_string().contains(ATTACKER));
    let unlock = AdminRequest::Unlock { kind: LockKind::Ip, subject: ATTACKER.into() };
    assert_eq!(execute(&app.state, unlock).unwrap()["unlocked"], true);
    assert_eq!(clean.send().status, 200);

    let events: Vec<String> =
        app.audit().iter().filter(|r| r.method == "LOCK" || r.method == "UNLOCK").map(|r| r.method.clone()).collect();
    assert_eq!(events, ["LOCK", "LOCK", "UNLOCK"]);
}

#[test]
fn locks_expire_by_themselves_and_are_swept() {
    let app = TestApp::builder().manual_clock().config(|c| c.checks.lock_secs = 600).start();
    let t = app.token(&["leads:rc"]);
    let r = app.req("POST", "/api/v1/leads").bearer(&t).client_ip(ATTACKER).json(&lead("1; DROP TABLE leads")).send();
    assert_eq!(r.code(), "injection_detected");
    assert_eq!(app.get("/api/v1/leads/1", &t).status, 200);
    assert_eq!(app.req("GET", "/api/v1/leads/1").bearer(&t).client_ip(ATTACKER).send().code(), "locked");
    app.manual_clock().advance_ms(600_000);
    assert_eq!(app.req("GET", "/api/v1/leads/1").bearer(&t).client_ip(ATTACKER).send().status, 200);
    assert_eq!(app.state.store.sys_scan(SysTree::Locks).unwrap().len(), 1, "expired but not yet swept");
    palisade::housekeeper::Housekeeper::sweep(&app.state);
    assert_eq!(app.state.store.sys_scan(SysTree::Locks).unwrap().len(), 0);
}

#[test]
fn a_route_with_auto_lock_off_refuses_without_locking() {
    let app = TestApp::builder()
        .config(|c| c.checks.endpoints = vec![EndpointPolicy { auto_lock: false, ..policy("/api/v1/tickets") }])
        .start();
    let t = app.token(&["tickets:rc", "leads:rc"]);
    let r = app
        .req("GET", "/api/v1/tickets?subject=1%20UNION%20SELECT%20password%20FROM%20staff")
        .bearer(&t)
        .client_ip(ATTACKER)
        .send();
    assert_eq!(r.code(), "injection_detected");
    assert_eq!(app.req("GET", "/api/v1/tickets/1").bearer(&t).client_ip(ATTACKER).send().status, 200);
    // Elsewhere the default policy still locks.
    let r = app.req("POST", "/api/v1/leads").bearer(&t).client_ip(ATTACKER).json(&lead("' or 1=1--")).send();
    assert_eq!(r.code(), "injection_detected");
    assert_eq!(app.req("GET", "/api/v1/tickets/1").bearer(&t).client_ip(ATTACKER).send().code(), "locked");
}

#[test]
fn ordinary_business_text_passes() {
    let app = TestApp::start();
    let t = app.token(&["leads:rc", "tickets:rc"]);
    for name in ["Seán O'Brien", "D'Angelo & Sons", "Union Pacific", "Select Comfort", "Drop Zone Ltd"] {
        let r = app.req("POST", "/api/v1/leads").bearer(&t).client_ip(BYSTANDER).json(&lead(name)).send();
        assert_eq!(r.status, 201, "{name}: {}", r.text());
    }
    let ticket = json!({"client_id": 1, "subject": "please update the order, then delete the old draft",
        "body": "Steps 1-2-3; call +44 20 7946 0321 or mail o'brien@example.com -- thanks! `SELECT name FROM clients`",
        "priority": "low", "status": "open", "opened_at": "2025-01-01T00:00:00Z"});
    assert_eq!(app.req("POST", "/api/v1/tickets").bearer(&t).client_ip(BYSTANDER).json(&ticket).send().status, 201);
}

#[test]
fn endpoint_limits_are_per_ip_and_shared_by_id() {
    let app = TestApp::builder()
        .manual_clock()
        .config(|c| {
            let limited = |path: &str| EndpointPolicy {
                max_requests_per_minute: Some(3),
                limit_id: Some("login".into()),
                ..policy(path)
            };
            c.checks.endpoints = vec![limited("/api/v1/leads"), limited("/api/v1/leads/*")];
        })
        .start();
    let t = app.token(&["leads:r", "clients:r"]);
    let get = |path: &str, ip: &str| app.req("GET", path).bearer(&t).client_ip(ip).send();
    assert_eq!(get("/api/v1/leads", ATTACKER).status, 200);
    assert_eq!(get("/api/v1/leads/1", ATTACKER).status, 200);
    assert_eq!(get("/api/v1/leads/2", ATTACKER).status, 200);
    let r = get("/api/v1/leads", ATTACKER);
    assert_eq!((r.status, r.code().as_str()), (429, "rate_limited"));
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(get("/api/v1/leads/3", BYSTANDER).status, 200);
    assert_eq!(get("/api/v1/clients/1", ATTACKER).status, 200, "other routes are not limited");
    app.manual_clock().advance_ms(60_000);
    assert_eq!(get("/api/v1/leads", ATTACKER).status, 200);
}

#[test]
fn failed_authentications_lock_the_ip() {
    let app = TestApp::builder()
        .config(|c| {
            c.checks.brute_force.max_failures = 3;
            c.checks.brute_force.lock_secs = 900;
        })
        .start();
    let good = app.token(&["clients:r"]);
    let bogus = format!("pal_{}_{}", "0".repeat(16), "1".repeat(64));
    for _ in 0..3 {
        assert_eq!(
            app.req("GET", "/api/v1/clients/1").bearer(&bogus).client_ip(ATTACKER).send().code(),
            "invalid_token"
        );
    }
    assert_eq!(app.req("GET", "/api/v1/clients/1").bearer(&good).client_ip(ATTACKER).send().status, 200);
    assert_eq!(app.req("GET", "/api/v1/clients/1").bearer(&bogus).client_ip(ATTACKER).send().code(), "invalid_token");
    let r = app.req("GET", "/api/v1/clients/1").bearer(&good).client_ip(ATTACKER).send();
    assert_eq!(r.code(), "locked", "the fourth failure locks");
    assert_eq!(app.req("GET", "/api/v1/clients/1").bearer(&good).client_ip(BYSTANDER).send().status, 200);
    // Missing tokens are not failures.
    for _ in 0..5 {
        assert_eq!(app.req("GET", "/api/v1/clients/1").client_ip(BYSTANDER).send().code(), "missing_token");
    }
    assert_eq!(app.req("GET", "/api/v1/clients/1").bearer(&good).client_ip(BYSTANDER).send().status, 200);
}

#[test]
fn honeypot_refuses_and_locks() {
    let app = TestApp::builder()
        .config(|c| {
            c.checks.honeypot.field = Some("website_url".into());
            c.checks.honeypot.lock = true;
        })
        .start();
    let t = app.token(&["leads:rc"]);
    let mut body = lead("Real Person");
    body["website_url"] = json!("");
    // An empty honeypot is what humans send; the schema then rejects the unknown field.
    assert_eq!(app.req("POST", "/api/v1/leads").bearer(&t).client_ip(BYSTANDER).json(&body).send().status, 422);
    body["website_url"] = json!("http://spam.example");
    let r = app.req("POST", "/api/v1/leads").bearer(&t).client_ip(ATTACKER).json(&body).send();
    assert_eq!((r.status, r.code().as_str()), (403, "check_failed"));
    assert_eq!(app.req("GET", "/api/v1/leads/1").bearer(&t).client_ip(ATTACKER).send().code(), "locked");
    let form = app
        .req("POST", "/api/v1/leads")
        .bearer(&t)
        .client_ip(BYSTANDER)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(b"name=x&website_url=spam".to_vec())
        .send();
    assert_eq!(form.code(), "check_failed");
}

#[test]
fn user_locks_apply_to_every_token_of_the_owner() {
    let app = TestApp::start();
    let t = app.token(&["clients:r"]);
    let lock =
        AdminRequest::Lock { kind: LockKind::User, subject: "tester".into(), secs: 60, reason: None, force: false };
    execute(&app.state, lock).unwrap();
    assert_eq!(app.get("/api/v1/clients/1", &t).code(), "locked");
    let other = app.token_with(|s| {
        s.name = "someone-else".into();
        s.scopes = vec!["clients:r".into()];
    });
    assert_eq!(app.get("/api/v1/clients/1", &other.token).status, 200);
    execute(&app.state, AdminRequest::Unlock { kind: LockKind::User, subject: "tester".into() }).unwrap();
    assert_eq!(app.get("/api/v1/clients/1", &t).status, 200);
}

#[test]
fn the_data_dir_never_holds_a_legible_ip() {
    let app = TestApp::start();
    let t = app.token(&["leads:rc"]);
    let ips = ["203.0.113.77", "2001:db8::beef", "198.51.100.99"];
    for ip in ips {
        let _ = app.req("POST", "/api/v1/leads").bearer(&t).client_ip(ip).json(&lead("x' or '1'='1")).send();
    }
    let lock = AdminRequest::Lock {
        kind: LockKind::Ip,
        subject: "192.0.2.55".into(),
        secs: 60,
        reason: Some("manual".into()),
        force: false,
    };
    execute(&app.state, lock).unwrap();
    assert_eq!(app.state.locks.list(palisade::clock::Clock::now_ms(&palisade::clock::SystemClock)).len(), 4);
    let dir = app.stop();
    for file in crate::auth::walk(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        for ip in ips.iter().chain(&["192.0.2.55"]) {
            assert!(!crate::auth::contains(&bytes, ip.as_bytes()), "{} holds {ip}", file.display());
        }
    }
}

#[test]
fn attacks_hidden_in_graphql_string_escapes_are_refused_and_lock() {
    let app = TestApp::start();
    let t = app.token(&["clients:rc"]);
    let gql = |ip: &str, query: &str| {
        app.req("POST", "/graphql").bearer(&t).client_ip(ip).json(&json!({ "query": query })).send()
    };
    let clients = || app.get("/api/v1/clients", &t).json()["total"].as_u64().unwrap();
    let before = clients();
    // JSON decoding leaves the GraphQL escapes in place; the resolver gets them decoded.
    let attacks = [
        (r#"\" or \"\"=\""#, "203.0.113.1"),
        (r"\u0027 OR \u00271\u0027=\u00271", "203.0.113.2"),
        (r"admin\u0027--", "203.0.113.3"),
        (r"\u0027) or (\u0027a\u0027=\u0027a", "203.0.113.4"),
        (r"\u{27} OR \u{27}1\u{27}=\u{27}1", "203.0.113.5"),
    ];
    for (company, ip) in attacks {
        let r = gql(ip, &format!(r#"mutation {{ create_clients(company: "{company}", status: "active") {{ id }} }}"#));
        assert_eq!((r.status, r.code().as_str()), (403, "injection_detected"), "{company}: {}", r.text());
        let r = gql(ip, "{ clients(limit: 1) { id } }");
        assert_eq!((r.status, r.code().as_str()), (403, "locked"), "{company}");
    }
    assert_eq!(clients(), before, "no row was created");
    assert_eq!(gql(BYSTANDER, "{ clients(limit: 1) { id } }").status, 200);

    // Escapes in ordinary text pass, and the row holds the decoded value.
    let q =
        r#"mutation { create_clients(company: "O\u0027Brien \"Union\" Select\\Drop", status: "active") { company } }"#;
    let r = gql(BYSTANDER, q);
    assert_eq!(r.json()["data"]["create_clients"]["company"], r#"O'Brien "Union" Select\Drop"#, "{}", r.text());
    assert_eq!(clients(), before + 1);
}

#[test]
fn ordinary_graphql_text_with_hashes_and_dashes_is_not_an_injection() {
    let app = TestApp::start();
    let t = app.token(&["leads:rc"]);
    let ip = "198.51.100.77";
    for name in ["#hashtags", "Order #30076 from Saturday", "-- no comment --", ";-) <3", "## Heading"] {
        let q = format!(r#"mutation {{ create_leads(name: "{name}", status: "new") {{ name }} }} # a comment"#);
        let r = app.req("POST", "/graphql").bearer(&t).client_ip(ip).json(&json!({ "query": q })).send();
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert_eq!(r.json()["data"]["create_leads"]["name"], name);
    }
    // Variables and other body fields are still read.
    let r = app
        .req("POST", "/graphql")
        .bearer(&t)
        .client_ip(ip)
        .json(&json!({ "query": "mutation($n: String!) { create_leads(name: $n, status: \"new\") { id } }", "variables": {"n": "x' OR '1'='1"} }))
        .send();
    assert_eq!(r.code(), "injection_detected");
}

/// Two verdicts: a suspicious value passes and is audited with its rule; an endpoint policy
/// may refuse it (no lock); attacks in headers are refused without a lock; NoSQL operators
/// in parameter names are attacks; the lock keeps the rule, never the payload.
#[test]
fn suspicious_values_are_audited_attacks_locked_and_locks_name_the_rule() {
    let mut strict = policy("/api/v1/leads");
    strict.refuse_suspicious = true;
    strict.method = Some("POST".into());
    let app = TestApp::builder().config(|c| c.checks.endpoints = vec![strict]).start();
    let t = app.token(&["leads:rc", "clients:r"]);

    // `version()` is SQL a probe sends, not a confident attack: served, audited.
    let r = app.req("GET", "/api/v1/clients?city=version()").bearer(&t).client_ip(BYSTANDER).send();
    assert_eq!(r.status, 200, "{}", r.text());
    let noted = app.audit().into_iter().find(|r| r.query.as_deref().is_some_and(|q| q.contains("city"))).unwrap();
    assert!(noted.reason.as_deref().is_some_and(|x| x.contains("suspicious SQL (sql function call)")), "{noted:?}");
    assert!(noted.stage.is_none());
    // Where the policy says so, it is refused — and nobody is locked for it.
    let r = app.req("POST", "/api/v1/leads").bearer(&t).client_ip(BYSTANDER).json(&lead("x' regexp 'a")).send();
    assert_eq!((r.status, r.code().as_str()), (403, "injection_detected"));
    let r = app.get("/api/v1/clients/1", &t);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip(BYSTANDER).send().status, 200);

    // An attack in a header the audit log keeps: refused, not locked.
    let r = app
        .req("GET", "/api/v1/clients/1")
        .bearer(&t)
        .client_ip(BYSTANDER)
        .header("User-Agent", "x' UNION SELECT password FROM staff--")
        .send();
    assert_eq!(r.code(), "injection_detected");
    assert_eq!(app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip(BYSTANDER).send().status, 200);

    // NoSQL operators in a parameter name: an attack, and the address is locked.
    let r = app.req("GET", "/api/v1/clients?email[$ne]=x").bearer(&t).client_ip(ATTACKER).send();
    assert_eq!(r.code(), "injection_detected");
    assert_eq!(app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip(ATTACKER).send().code(), "locked");
    let locks = execute(&app.state, AdminRequest::LocksList).unwrap().to_string();
    assert!(locks.contains("nosql operator") && !locks.contains("$ne"), "{locks}");
}

#[test]
fn check_injection_explains_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "").unwrap();
    let out = crate::support::Spawned::cli(
        dir.path(),
        &config,
        &["check-injection", "--json", "O'Brien", "' or 1=1--", "1::int"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let verdicts: Vec<&str> = lines.iter().map(|l| l["verdict"].as_str().unwrap()).collect();
    assert_eq!(verdicts, ["clean", "attack", "suspicious"]);
    assert_eq!(lines[1]["rule"], "tautology");
    assert!(lines[1]["fingerprint"].as_str().unwrap().starts_with('s'));
}
