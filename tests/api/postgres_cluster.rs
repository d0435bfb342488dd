//! Two real `palisade` processes on one PostgreSQL database and one Redis: what one
//! instance writes, locks or revokes holds on the other (a lock and a revocation within a
//! second), kill -9 of one under a 16-writer load loses no acknowledged write, and with
//! PostgreSQL stopped writes answer 503 saying why and come back by themselves.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::engines::{Postgres, Redis};
use crate::instances::{pair, token, Pair};
use crate::support::{Req, Spawned};

/// A CLI command through instance `which`'s admin socket (0: a, 1: b).
fn cli(pair: &Pair, which: usize, args: &[&str]) -> std::process::Output {
    let out = Spawned::cli(&pair.dirs[which], &pair.config, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Within `limit`, `check` holds (polled); how long it took.
fn within(limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

/// Two instances (see `instances::pair`) whose rows, tokens and locks live in database
/// `db`: the tokens are made offline through A's data dir, into PostgreSQL.
pub fn cluster(pg: &Postgres, redis: &Redis, db: &str, tokens: &[&[&str]]) -> (Pair, Vec<Value>) {
    pg.create_database(db);
    let extra = format!(
        "[shield]\nip_requests = 1000000\n[store]\nbackend = \"postgres\"\nurl = \"{}\"\npool_size = 4\n",
        pg.url(db)
    );
    pair(redis, &extra, tokens)
}

#[test]
fn rows_locks_and_revocations_made_through_one_instance_hold_on_the_other() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let (pg, redis) = (Postgres::start(), Redis::start());
    let (c, tokens) = cluster(
        &pg,
        &redis,
        "shared_rows",
        &[&["--name", "writer", "--scope", "clients:rcud"], &["--name", "doomed", "--scope", "clients:r"]],
    );
    let (writer, doomed) = (token(&tokens[0]), token(&tokens[1]));
    let created = Req::to(c.a.addr, "POST", "/api/v1/clients")
        .bearer(&writer)
        .json(&json!({"company": "Seen Everywhere", "status": "active"}))
        .send();
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["data"]["id"].as_u64().unwrap();
    let on_b = Req::to(c.b.addr, "GET", &format!("/api/v1/clients/{id}")).bearer(&writer).send();
    assert_eq!((on_b.status, on_b.json()["data"]["company"].clone()), (200, json!("Seen Everywhere")));

    // A lock made through A refuses on B within a second.
    let get = |addr, token: &str, ip: &str| {
        Req::to(addr, "GET", "/api/v1/clients?limit=1").bearer(token).client_ip(ip).send().code()
    };
    assert_ne!(get(c.b.addr, &writer, "203.0.113.50"), "locked");
    cli(&c, 0, &["lock", "ip", "203.0.113.50", "--reason", "cluster test"]);
    let took = within(Duration::from_secs(1), || get(c.b.addr, &writer, "203.0.113.50") == "locked");
    eprintln!("lock reached B after {took:?}");
    cli(&c, 0, &["unlock", "ip", "203.0.113.50"]);
    within(Duration::from_secs(1), || get(c.b.addr, &writer, "203.0.113.50") != "locked");

    // A token revoked through A is refused on B within a second.
    assert_eq!(Req::to(c.b.addr, "GET", "/api/v1/clients?limit=1").bearer(&doomed).send().status, 200);
    let id = tokens[1]["id"].as_str().unwrap().to_string();
    cli(&c, 0, &["token", "revoke", &id]);
    let mut tries = 0;
    let took = within(Duration::from_secs(1), || {
        tries += 1;
        let ip = format!("192.0.2.{tries}");
        Req::to(c.b.addr, "GET", "/api/v1/clients?limit=1").bearer(&doomed).client_ip(&ip).send().status == 401
    });
    eprintln!("revocation reached B after {took:?}");
    // A token made through B works on A at once.
    let out = cli(&c, 1, &["token", "create", "--name", "late", "--scope", "clients:r", "--json"]);
    let late = serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"].as_str().unwrap().to_string();
    // (Each try from another address: a token not known yet is a failed authentication.)
    let mut tries = 0;
    within(Duration::from_secs(1), || {
        tries += 1;
        let ip = format!("198.51.100.{tries}");
        Req::to(c.a.addr, "GET", "/api/v1/clients?limit=1").bearer(&late).client_ip(&ip).send().status == 200
    });
}

#[test]
fn kill_9_of_one_instance_under_sixteen_writers_loses_no_acknowledged_write() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let (pg, redis) = (Postgres::start(), Redis::start());
    let (c, tokens) =
        cluster(&pg, &redis, "kill9", &[&["--name", "writer", "--scope", "clients:rcud", "--rate", "1000000"]]);
    let writer = token(&tokens[0]);
    let acknowledged = Arc::new(Mutex::new(Vec::<(u64, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let (a, b) = (c.a.addr, c.b.addr);
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (acknowledged, stop, sent, writer) = (acknowledged.clone(), stop.clone(), sent.clone(), writer.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let company = format!("w{w}-{n}");
                    n += 1;
                    sent.fetch_add(1, Ordering::Relaxed);
                    let addr = if n % 2 == 0 { a } else { b };
                    let req = Req::to(addr, "POST", "/api/v1/clients")
                        .bearer(&writer)
                        .json(&json!({"company": company, "status": "active"}));
                    if let Some(r) = req.try_send() {
                        if r.status == 201 {
                            let id = r.json()["data"]["id"].as_u64().unwrap();
                            acknowledged.lock().unwrap().push((id, company));
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let Pair { a: instance_a, b: instance_b, .. } = c;
    let status = instance_a.signal("KILL");
    assert!(!status.success());
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 100, "the load ran ({} sent)", sent.load(Ordering::Relaxed));
    // Every acknowledged write, read through the survivor.
    for (id, company) in &acknowledged {
        let r = Req::to(instance_b.addr, "GET", &format!("/api/v1/clients/{id}")).bearer(&writer).send();
        assert_eq!((r.status, r.json()["data"]["company"].clone()), (200, json!(company)), "row {id}");
    }
}

#[test]
fn with_postgres_stopped_writes_answer_503_and_come_back_without_a_restart() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let (mut pg, redis) = (Postgres::start(), Redis::start());
    let (c, tokens) = cluster(&pg, &redis, "outage", &[&["--name", "writer", "--scope", "clients:rcud"]]);
    let writer = token(&tokens[0]);
    let post = |addr| {
        Req::to(addr, "POST", "/api/v1/clients").bearer(&writer).json(&json!({"company": "X", "status": "lead"})).send()
    };
    assert_eq!(post(c.a.addr).status, 201);
    pg.stop();
    let refused = post(c.a.addr);
    assert_eq!((refused.status, refused.code().as_str()), (503, "storage_unavailable"), "{}", refused.text());
    refused.assert_security_headers();
    let health = Req::to(c.b.addr, "GET", "/health").send();
    assert_eq!((health.status, health.code().as_str()), (503, "storage_unavailable"));
    assert!(health.json()["error"]["message"].as_str().unwrap().contains("PostgreSQL"));
    pg.resume();
    for addr in [c.a.addr, c.b.addr] {
        within(Duration::from_secs(5), || post(addr).status == 201);
        assert_eq!(Req::to(addr, "GET", "/health").send().status, 200);
    }
}

#[test]
fn a_sled_data_dir_moves_to_postgres_with_backup_and_restore() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let pg = Postgres::start();
    pg.create_database("moved");
    let work = tempfile::tempdir().unwrap();
    // A sled server with rows, a token and a lock.
    let (old, new) = (work.path().join("old"), work.path().join("new"));
    let sled = work.path().join("sled.toml");
    std::fs::write(&sled, "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n").unwrap();
    crate::support::init_store(&old);
    let token = Spawned::create_token(&old, &sled, &["--name", "mover", "--scope", "clients:rcud"]);
    let server = Spawned::serve(&old, &sled);
    let created = server
        .req("POST", "/api/v1/clients")
        .bearer(&token)
        .json(&json!({"company": "Moved Ltd", "status": "active"}))
        .send();
    assert_eq!(created.status, 201);
    let id = created.json()["data"]["id"].as_u64().unwrap();
    let listed = server.req("GET", "/api/v1/clients?limit=500").bearer(&token).send().json();
    let lock = Spawned::cli(&old, &sled, &["lock", "ip", "203.0.113.66", "--reason", "moved with the data"]);
    assert!(lock.status.success());
    let archive = work.path().join("move.tar.zst");
    let out = Spawned::cli(&old, &sled, &["backup", archive.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    drop(server);

    // Restored with the PostgreSQL config into a new data dir, then served from there.
    let postgres = work.path().join("pg.toml");
    let text = format!(
        "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[store]\nbackend = \"postgres\"\nurl = \"{}\"\n",
        pg.url("moved")
    );
    std::fs::write(&postgres, text).unwrap();
    let out = Spawned::cli(&new, &postgres, &["restore", archive.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A second restore into the same database is refused, changing nothing.
    let again = Spawned::cli(&work.path().join("other"), &postgres, &["restore", archive.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));
    let server = Spawned::serve(&new, &postgres);
    let r = server.req("GET", &format!("/api/v1/clients/{id}")).bearer(&token).send();
    assert_eq!((r.status, r.json()["data"]["company"].clone()), (200, json!("Moved Ltd")));
    let moved = server.req("GET", "/api/v1/clients?limit=500").bearer(&token).send().json();
    assert_eq!(moved["data"], listed["data"], "every row, as it was");
    assert_eq!(moved["total"], listed["total"]);
    let locked = server.req("GET", "/api/v1/clients?limit=1").bearer(&token).client_ip("203.0.113.66").send();
    assert_eq!(locked.code(), "locked");
    // New rows continue past the moved ids.
    let next =
        server.req("POST", "/api/v1/clients").bearer(&token).json(&json!({"company": "N", "status": "lead"})).send();
    assert!(next.json()["data"]["id"].as_u64().unwrap() > id);
}
