//! The crash test: the real binary under write load, locks and rate-limited traffic is killed
//! with SIGKILL, restarted on the same data dir, and must have kept every acknowledged write,
//! every token, every lock, and the spent quota (counters are snapshotted every
//! `[state] snapshot_interval_ms`; at most one interval of counter updates may be lost).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::support::Spawned;

const CONFIG: &str = r#"
[server]
trusted_proxies = ["127.0.0.1/32"]
[shield]
ip_requests = 1000000
[state]
snapshot_interval_ms = 200
"#;

#[test]
fn kill_9_mid_load_loses_no_acknowledged_write_token_lock_or_spent_quota() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("palisade.toml");
    std::fs::write(&config, CONFIG).unwrap();
    // Created with the server down (direct store access).
    crate::support::init_store(&data);
    let writer =
        Spawned::create_token(&data, &config, &["--name", "writer", "--scope", "clients:rcud", "--rate", "1000000"]);
    let limited = Spawned::create_token(
        &data,
        &config,
        &["--name", "limited", "--scope", "clients:r", "--rate", "10", "--window", "3600"],
    );

    let server = Spawned::serve(&data, &config);
    // Created while it runs (through the admin socket).
    let live = Spawned::create_token(&data, &config, &["--name", "live", "--scope", "clients:r"]);
    let lock = Spawned::cli(&data, &config, &["lock", "ip", "203.0.113.77", "--reason", "crash test"]);
    assert!(lock.status.success(), "{}", String::from_utf8_lossy(&lock.stderr));
    let locked = server.req("GET", "/api/v1/clients?limit=1").bearer(&live).client_ip("203.0.113.77");
    assert_eq!(locked.send().json()["error"]["code"], "locked");

    // Spend 6 of the limited token's 10.
    for _ in 0..6 {
        assert_eq!(server.req("GET", "/api/v1/clients?limit=1").bearer(&limited).send().status, 200);
    }

    // Writers keep going until the kill; every 201 they read is an acknowledged write.
    let acknowledged = Arc::new(Mutex::new(Vec::<(u64, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|w| {
            let (acknowledged, stop, writer) = (acknowledged.clone(), stop.clone(), writer.clone());
            let req = server.req("POST", "/api/v1/clients").bearer(&writer);
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let company = format!("Crash {w}-{i}");
                    let r = req.clone().json(&json!({"company": company, "status": "active"})).try_send();
                    match r {
                        Some(r) if r.status == 201 => {
                            let id = r.json()["data"]["id"].as_u64().unwrap();
                            acknowledged.lock().unwrap().push((id, company));
                        }
                        Some(r) => panic!("write refused: {} {}", r.status, r.text()),
                        None => break,
                    }
                }
            })
        })
        .collect();
    // Long enough for writes to pile up and for the quota to be snapshotted.
    std::thread::sleep(Duration::from_millis(800));
    let status = server.signal("KILL");
    stop.store(true, Ordering::Relaxed);
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(status.code(), None, "killed by a signal");
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 20, "only {} writes before the kill", acknowledged.len());

    let server = Spawned::serve(&data, &config);
    for (id, company) in &acknowledged {
        let r = server.req("GET", &format!("/api/v1/clients/{id}")).bearer(&writer).send();
        assert_eq!(r.status, 200, "acknowledged write {id} lost");
        assert_eq!(r.json()["data"]["company"], company.as_str());
    }
    // Tokens (made before and during the run) and the lock survived.
    assert_eq!(server.req("GET", "/api/v1/clients?limit=1").bearer(&live).send().status, 200);
    let locked = server.req("GET", "/api/v1/clients?limit=1").bearer(&live).client_ip("203.0.113.77");
    assert_eq!(locked.send().json()["error"]["code"], "locked");
    // The quota carried over: 6 spent, so this is the 7th of 10.
    let r = server.req("GET", "/api/v1/clients?limit=1").bearer(&limited).send();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("3"));
    // Multi-key writes are atomic: the id sequence is past every stored row, so a new row
    // never overwrites one.
    let r = server
        .req("POST", "/api/v1/clients")
        .bearer(&writer)
        .json(&json!({"company": "After", "status": "active"}))
        .send();
    assert_eq!(r.status, 201);
    let max = acknowledged.iter().map(|(id, _)| *id).max().unwrap();
    assert!(r.json()["data"]["id"].as_u64().unwrap() > max);
    assert_eq!(server.signal("TERM").code(), Some(0));
}
