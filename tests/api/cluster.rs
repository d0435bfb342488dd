//! The production layout, driven through its front door only: Debian's nginx running the
//! shipped site (`systemd/nginx-palisade.conf`) in front of two real instances that count
//! on one real Redis. Through the proxy a token's window and the per-IP throttle are exact
//! although nginx spreads the requests over both instances (and the address nginx saw is
//! the one counted, whatever `X-Forwarded-For` the client wrote), a signed request is
//! accepted once whichever instance sees it again, Redis down fails closed and heals
//! without a restart, and with one instance killed nginx sends everything to the other
//! without losing an acknowledged write.
//!
//! Rows are not shared between instances yet (each has its own data dir until the
//! PostgreSQL backend lands), so an acknowledged write is looked for on the instance that
//! acknowledged it: nginx names it in `X-Upstream` (see `engines::Nginx`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::engines::{Nginx, Redis};
use crate::instances::{count, one_window, pair, signed_read, spread, token, Pair, THROTTLE_40, WINDOW_TOKENS};
use crate::support::{Req, Resp, Spawned};

/// Two instances (see `instances::pair`) behind nginx.
fn cluster(redis: &Redis, extra: &str, tokens: &[&[&str]]) -> (Pair, Nginx, Vec<Value>) {
    let (pair, created) = pair(redis, extra, tokens);
    let nginx = Nginx::start(&[pair.a.addr, pair.b.addr]);
    (pair, nginx, created)
}

/// The instance that answered: the last address nginx tried.
fn upstream(r: &Resp) -> &str {
    let tried = r.header("x-upstream").unwrap_or_else(|| panic!("no X-Upstream on a {} answer", r.status));
    tried.rsplit(", ").next().unwrap()
}

/// The instances that answered `responses`.
fn upstreams(responses: &[Resp]) -> BTreeSet<String> {
    responses.iter().map(|r| upstream(r).to_string()).collect()
}

fn both(pair: &Pair) -> BTreeSet<String> {
    [pair.a.addr, pair.b.addr].iter().map(|a| a.to_string()).collect()
}

#[test]
fn through_nginx_a_token_window_and_the_ip_throttle_are_exact_over_both_instances() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let redis = Redis::start();
    let (pair, nginx, tokens) = cluster(&redis, THROTTLE_40, WINDOW_TOKENS);
    let (limited, wide) = (token(&tokens[0]), token(&tokens[1]));

    // 300 requests through nginx, each from its own address: had nginx not forwarded the
    // client's address, the throttle (40) would have counted them as one.
    let got = one_window(&limited, |_| nginx.addr);
    let served: Vec<Resp> = got.iter().filter(|r| r.status == 200).cloned().collect();
    assert_eq!(upstreams(&served), both(&pair), "nginx spread the served requests over both instances");
    assert!(got.iter().all(|r| !r.header("x-upstream").unwrap().contains(',')), "no instance was retried");

    // A client nobody trusts (127.0.0.2) writing its own X-Forwarded-For, another address
    // each time: nginx appends the address it saw, the instances count that one, and the
    // shield lets exactly 40 of 100 through.
    let got = spread(100, 4, |i| {
        Req::to(nginx.addr, "GET", "/api/v1/clients?limit=1")
            .from([127, 0, 0, 2].into())
            .bearer(&wide)
            .client_ip(&format!("203.0.113.{}", i % 250))
    });
    assert_eq!(count(&got, 200), 40);
    assert!(got.iter().filter(|r| r.status != 200).all(|r| r.code() == "ip_rate_limited"));
    assert_eq!(upstreams(&got), both(&pair));
}

#[test]
fn through_nginx_a_signed_request_is_accepted_once_whichever_instance_sees_it_again() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let redis = Redis::start();
    let (pair, nginx, tokens) = cluster(&redis, "", &[&["--name", "signer", "--scope", "clients:r", "--sign"]]);
    let signed = signed_read(&tokens[0]);
    let first = signed(nginx.addr).send();
    assert_eq!(first.status, 200, "{}", first.text());

    // Sent again through nginx until both instances have refused it.
    let mut again = Vec::new();
    while upstreams(&again) != both(&pair) {
        assert!(again.len() < 10, "nginx sent 10 requests to one instance: {:?}", upstreams(&again));
        again.push(signed(nginx.addr).send());
    }
    for r in &again {
        assert_eq!((r.status, r.code().as_str()), (401, "replayed_request"), "{}", r.text());
    }
    assert!(again.iter().any(|r| upstream(r) != upstream(&first)), "the instance that did not accept it refused it");
}

#[test]
fn through_nginx_redis_down_fails_closed_and_heals_without_a_restart() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let mut redis = Redis::start();
    let (pair, nginx, tokens) = cluster(
        &redis,
        "",
        &[
            &["--name", "spent", "--scope", "clients:r", "--rate", "3", "--window", "3600"],
            &["--name", "fresh", "--scope", "clients:r", "--rate", "1000"],
        ],
    );
    let (spent, fresh) = (token(&tokens[0]), token(&tokens[1]));
    let get = |token: &str| Req::to(nginx.addr, "GET", "/api/v1/clients?limit=1").bearer(token).send();
    let statuses: Vec<u16> = (0..5).map(|_| get(&spent).status).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);

    redis.stop();
    let refused: Vec<Resp> = (0..6).map(|i| get(if i % 2 == 0 { &fresh } else { &spent })).collect();
    for r in &refused {
        assert_eq!((r.status, r.code().as_str()), (503, "rate_limiter_unavailable"), "{}", r.text());
        assert_eq!(r.header("retry-after"), Some("1"));
        assert!(!r.header("x-upstream").unwrap().contains(','), "a 503 is passed on, not retried");
    }
    assert_eq!(upstreams(&refused), both(&pair));
    let health = Req::to(nginx.addr, "GET", "/health").send();
    assert_eq!((health.status, health.code().as_str()), (503, "rate_limiter_unavailable"));
    assert!(health.json()["error"]["message"].as_str().unwrap().contains("shared counters"));

    redis.resume();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut served = Vec::new();
    while upstreams(&served) != both(&pair) {
        let r = get(&fresh);
        assert!(r.status == 200 || Instant::now() < deadline, "not back after Redis returned: {}", r.text());
        if r.status == 200 {
            served.push(r);
        } else {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert_eq!(Req::to(nginx.addr, "GET", "/health").send().status, 200);
    // The spent window came back with Redis (append-only file): still refused on both.
    let after: Vec<Resp> = (0..2).map(|_| get(&spent)).collect();
    assert_eq!(after.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 429]);
    assert_eq!(upstreams(&after), both(&pair));
}

/// One acknowledged write: the instance that acknowledged it, the row's id there, its company.
struct Ack {
    by: String,
    id: u64,
    company: String,
}

#[test]
fn with_one_instance_killed_nginx_sends_everything_to_the_other_and_no_acknowledged_write_is_lost() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let redis = Redis::start();
    let (mut pair, nginx, tokens) = cluster(
        &redis,
        "[shield]\nip_requests = 1000000\n",
        &[&["--name", "writer", "--scope", "clients:rc", "--rate", "1000000"]],
    );
    let writer = token(&tokens[0]);
    let (a, b) = (pair.a.addr.to_string(), pair.b.addr.to_string());
    let acks = Mutex::new(Vec::<Ack>::new());
    let answers = Mutex::new(Vec::<(Instant, u16, String)>::new());
    let (acked, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
    let killed_at = std::thread::scope(|s| {
        for thread in 0..16 {
            let (acks, answers, acked, stop, writer) = (&acks, &answers, &acked, &stop, &writer);
            s.spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let company = format!("Writer {thread}-{n}");
                    let started = Instant::now();
                    let r = Req::to(nginx.addr, "POST", "/api/v1/clients")
                        .bearer(writer)
                        .json(&json!({"company": company, "status": "active"}))
                        .send();
                    let by = r.header("x-upstream").unwrap_or_default().to_string();
                    if r.status == 201 {
                        let id = r.json()["data"]["id"].as_u64().unwrap();
                        acks.lock().unwrap().push(Ack { by: upstream(&r).to_string(), id, company });
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    answers.lock().unwrap().push((started, r.status, by));
                }
            });
        }
        // Kill A (SIGKILL) mid-stream, then keep writing for two more seconds. The writers
        // are stopped whatever happens, so a failure here ends the test instead of hanging it.
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.load(Ordering::Relaxed) < 200 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let killed_at = (acked.load(Ordering::Relaxed) >= 200).then(|| {
            pair.a.child.kill().unwrap();
            pair.a.child.wait().unwrap();
            let killed_at = Instant::now();
            std::thread::sleep(Duration::from_secs(2));
            killed_at
        });
        stop.store(true, Ordering::Relaxed);
        killed_at
    });
    let killed_at = killed_at.expect("200 writes acknowledged within 60 s");
    let answers = answers.into_inner().unwrap();
    let acks = acks.into_inner().unwrap();

    // Only writes in flight on A when it died fail (502 from nginx, which does not resend a
    // POST it has sent), and those on connections nginx kept open to A, until it sees them
    // closed: none started half a second after the kill.
    let failed: Vec<_> = answers.iter().filter(|(_, status, _)| *status != 201).collect();
    assert!(failed.iter().all(|(_, status, _)| *status == 502), "{failed:?}");
    assert!(failed.iter().all(|(at, _, by)| *at < killed_at + Duration::from_millis(500) && by == &a), "{failed:?}");
    // A second after the kill, every write is acknowledged, by B (nginx may try A first).
    let late: Vec<_> = answers.iter().filter(|(at, _, _)| *at > killed_at + Duration::from_secs(1)).collect();
    assert!(late.len() >= 20, "only {} writes in the last second", late.len());
    assert!(late.iter().all(|(_, status, by)| *status == 201 && by.ends_with(&b)), "{late:?}");
    let by_a = acks.iter().filter(|w| w.by == a).count();
    assert!(by_a >= 50 && acks.len() - by_a >= 50, "{by_a} of {} acknowledged by A", acks.len());

    // B's writes through nginx (A is down: nginx reads from B), A's on A restarted on its data dir.
    let reader = |addr: SocketAddr, ack: &Ack| {
        let r = Req::to(addr, "GET", &format!("/api/v1/clients/{}", ack.id)).bearer(&writer).send();
        assert_eq!(r.status, 200, "row {} acknowledged by {} is gone: {}", ack.id, ack.by, r.text());
        assert_eq!(r.json()["data"]["company"], ack.company.as_str());
    };
    for ack in acks.iter().filter(|w| w.by == b) {
        reader(nginx.addr, ack);
    }
    // A batch whose body (over 32 KiB) nginx keeps in its temp dir before passing it on.
    let row = |i| {
        json!({"company": format!("Batch {i}"), "status": "active", "address": format!("{i} Harbour Street"),
                         "city": "Rotterdam", "country": "Netherlands"})
    };
    let body = json!((0..400).map(row).collect::<Vec<_>>());
    assert!(body.to_string().len() > 32 * 1024);
    let batch = Req::to(nginx.addr, "POST", "/api/v1/clients").bearer(&writer).json(&body).send();
    assert_eq!(batch.status, 201, "{}\n{}", batch.text(), nginx.log());
    assert_eq!(batch.json()["data"].as_array().map(Vec::len), Some(400));
    let restarted = Spawned::serve(&pair.dirs[0], &pair.config);
    for ack in acks.iter().filter(|w| w.by == a) {
        reader(restarted.addr, ack);
    }
    assert!(!nginx.log().contains("[emerg]"), "{}", nginx.log());
}
