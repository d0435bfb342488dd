//! Two real `palisade` processes counting on one real Redis (`[shared] redis_url`): a token's
//! window, the per-IP throttle, an endpoint limit and the replay cache are exact across both,
//! a write batch counts every row wherever it lands, and with Redis down every limited route
//! answers 503 — none is served over quota — until Redis is back, without a restart.
//! The instances are `instances::pair`: copies of one data dir, so the same tokens and the
//! same install key.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::engines::Redis;
use crate::instances::{count, one_window, pair, signed_read, spread, token, THROTTLE_40, WINDOW_TOKENS};
use crate::support::Req;

#[test]
fn a_token_window_and_the_ip_throttle_are_exact_across_two_instances() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let redis = Redis::start();
    let (pair, tokens) = pair(&redis, THROTTLE_40, WINDOW_TOKENS);
    let (limited, wide) = (token(&tokens[0]), token(&tokens[1]));

    // 300 requests alternating between the instances: exactly 100 served.
    one_window(&limited, |i| pair.nth(i));

    // One address, 100 requests over both instances: the shield lets exactly 40 through.
    let got = spread(100, 4, |i| {
        Req::to(pair.nth(i), "GET", "/api/v1/clients?limit=1").bearer(&wide).client_ip("203.0.113.9")
    });
    assert_eq!(count(&got, 200), 40);
    assert!(got.iter().filter(|r| r.status != 200).all(|r| r.code() == "ip_rate_limited"));
}

#[test]
fn a_signed_request_is_accepted_once_across_instances_and_batches_count_every_row() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let redis = Redis::start();
    let (pair, tokens) = pair(
        &redis,
        "",
        &[
            &["--name", "signer", "--scope", "clients:r", "--sign"],
            &["--name", "writer", "--scope", "clients:rc", "--rate", "5", "--window", "3600"],
            &["--name", "reader", "--scope", "clients:r"],
        ],
    );
    let signed = signed_read(&tokens[0]);
    assert_eq!(signed(pair.a.addr).send().status, 200);
    let replayed = signed(pair.b.addr).send();
    assert_eq!((replayed.status, replayed.code().as_str()), (401, "replayed_request"));
    assert_eq!(signed(pair.a.addr).send().code(), "replayed_request");

    // A batch of three on A, one on B: one left, so a batch of two on B runs none of its rows.
    let writer = token(&tokens[1]);
    let rows = |n: usize| {
        json!((0..n).map(|i| json!({"company": format!("Batch {i}"), "status": "active"})).collect::<Vec<_>>())
    };
    let post = |addr, body: &Value| Req::to(addr, "POST", "/api/v1/clients").bearer(&writer).json(body).send();
    assert_eq!(post(pair.a.addr, &rows(3)).status, 201);
    assert_eq!(post(pair.b.addr, &json!({"company": "Single", "status": "active"})).status, 201);
    let over = post(pair.b.addr, &rows(2));
    assert_eq!((over.status, over.code().as_str()), (429, "rate_limited"), "{}", over.text());
    let reader = token(&tokens[2]);
    let on = |addr| Req::to(addr, "GET", "/api/v1/clients?company=like.Batch*&limit=10").bearer(&reader).send();
    assert_eq!(on(pair.a.addr).json()["total"], 3);
    assert_eq!(on(pair.b.addr).json()["total"], 0, "the refused batch stored nothing");
}

#[test]
fn endpoint_limits_and_failed_authentications_count_across_instances() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let redis = Redis::start();
    let extra = "[checks.brute_force]\nmax_failures = 3\nwindow_secs = 3600\n\
                 [[checks.endpoints]]\npath = \"/api/v1/invoices\"\nmax_requests_per_minute = 10\n";
    let (pair, tokens) = pair(&redis, extra, &[&["--name", "reader", "--scope", "invoices:r", "--scope", "clients:r"]]);
    let reader = token(&tokens[0]);

    // The endpoint's minute: start well inside one, so the 30 requests share it.
    let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() % 60;
    if second > 55 {
        std::thread::sleep(Duration::from_secs(61 - second));
    }
    let got = spread(30, 3, |i| {
        Req::to(pair.nth(i), "GET", "/api/v1/invoices?limit=1").bearer(&reader).client_ip("192.0.2.44")
    });
    assert_eq!((count(&got, 200), count(&got, 429)), (10, 20));
    assert!(got.iter().filter(|r| r.status == 429).all(|r| r.code() == "rate_limited"));

    // Three failed authentications from one address, spread over both: the next one, on
    // either, locks the address on the instance that counted it.
    let bad = |i| Req::to(pair.nth(i), "GET", "/api/v1/clients").bearer("wrong-token").client_ip("192.0.2.77");
    for i in 0..3 {
        assert_eq!(bad(i).send().code(), "invalid_token");
    }
    assert_eq!(bad(3).send().code(), "invalid_token");
    let after = Req::to(pair.b.addr, "GET", "/api/v1/clients?limit=1").bearer(&reader).client_ip("192.0.2.77");
    assert_eq!(after.send().code(), "locked", "the fourth failure (on B) locked the address there");
}

#[test]
fn a_graphql_document_counts_every_write_in_its_one_call() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let redis = Redis::start();
    let (pair, tokens) =
        pair(&redis, "", &[&["--name", "writer", "--scope", "clients:rc", "--rate", "5", "--window", "3600"]]);
    let writer = token(&tokens[0]);
    let two = json!({"query": "mutation { a: create_clients(company: \"A\", status: \"active\") { id } \
                                b: create_clients(company: \"B\", status: \"active\") { id } }"});
    let graphql = |addr| Req::to(addr, "POST", "/graphql").bearer(&writer).json(&two).send();
    let first = graphql(pair.a.addr);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("x-ratelimit-remaining"), Some("3"));
    // (Counted from the second request on: the first loads the script.)
    let before = redis.script_calls();
    assert_eq!(graphql(pair.b.addr).header("x-ratelimit-remaining"), Some("1"));
    assert_eq!(redis.script_calls() - before, 1, "one call for the request and both its writes");
    // Two writes, one left: refused before anything runs.
    let over = graphql(pair.a.addr);
    assert_eq!((over.status, over.code().as_str()), (429, "rate_limited"), "{}", over.text());
    let one = json!({"company": "C", "status": "active"});
    assert_eq!(Req::to(pair.b.addr, "POST", "/api/v1/clients").bearer(&writer).json(&one).send().status, 201);
    // A batch of three counts three in its one call too.
    let redis_before = redis.script_calls();
    let batch = json!([{"company": "D", "status": "lead"}, {"company": "E", "status": "lead"}]);
    let refused = Req::to(pair.a.addr, "POST", "/api/v1/clients").bearer(&writer).json(&batch).send();
    assert_eq!(refused.status, 429);
    assert_eq!(redis.script_calls() - redis_before, 1);
}

#[test]
fn with_redis_down_limited_routes_fail_closed_and_come_back_without_a_restart() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let mut redis = Redis::start();
    let (pair, tokens) = pair(
        &redis,
        "",
        &[
            &["--name", "spent", "--scope", "clients:r", "--rate", "3", "--window", "3600"],
            &["--name", "fresh", "--scope", "clients:r", "--rate", "1000"],
        ],
    );
    let (spent, fresh) = (token(&tokens[0]), token(&tokens[1]));
    let get = |addr, token: &str| Req::to(addr, "GET", "/api/v1/clients?limit=1").bearer(token).send();
    let statuses: Vec<u16> = (0..5).map(|i| get(pair.nth(i), &spent).status).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);

    redis.stop();
    for addr in [pair.a.addr, pair.b.addr] {
        for token in [&fresh, &spent] {
            let r = get(addr, token);
            assert_eq!((r.status, r.code().as_str()), (503, "rate_limiter_unavailable"), "{}", r.text());
            assert!(r.header("retry-after").is_some());
            r.assert_security_headers();
        }
        let health = Req::to(addr, "GET", "/health").send();
        assert_eq!((health.status, health.code().as_str()), (503, "rate_limiter_unavailable"));
        assert!(health.json()["error"]["message"].as_str().unwrap().contains("shared counters"));
    }

    redis.resume();
    let deadline = Instant::now() + Duration::from_secs(5);
    for addr in [pair.a.addr, pair.b.addr] {
        loop {
            let r = get(addr, &fresh);
            if r.status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "not back after Redis returned: {}", r.text());
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(Req::to(addr, "GET", "/health").send().status, 200);
        // The spent window came back with Redis: still refused, never served over quota.
        assert_eq!(get(addr, &spent).status, 429);
    }
}
