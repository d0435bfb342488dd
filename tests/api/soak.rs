//! The store never hangs. Many clients at once over keep-alive connections — writers that
//! create invoices (each checks its client exists), create clients, patch and delete; readers
//! with indexed filters and views; GraphQL relation queries and create mutations — while a
//! probe asks `/health` every 0.5 s. Passes only if `/health` never misses twice in a row, no
//! request waits 15 s, and afterwards every acknowledged create is readable with its values
//! and every acknowledged delete is gone. The same ledger is checked after a `kill -9` in the
//! middle of such a run.
//!
//! The suite runs 60 s in process; the 10-minute variant is
//! `cargo test --release --test api soak_ten_minutes -- --ignored --nocapture`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{KeepAlive, Spawned, TestApp};

const WRITERS: usize = 16;
const READERS: usize = 4;
const GRAPHQL: usize = 2;
/// Longest any request may take.
const MAX_WAIT: Duration = Duration::from_secs(15);

/// What the clients were told was stored or removed.
#[derive(Default)]
struct Ledger {
    /// (table, id) → the values the last acknowledged write gave it.
    rows: HashMap<(String, u64), Value>,
    deleted: Vec<(String, u64)>,
    /// Writes sent whose answer never came (only possible when the server is killed).
    unknown: u64,
}

struct Soak {
    ledger: Mutex<Ledger>,
    stop: AtomicBool,
    requests: AtomicU64,
    slowest_ms: AtomicU64,
    failures: Mutex<Vec<String>>,
}

impl Soak {
    fn timed<T>(&self, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = f();
        let ms = started.elapsed().as_millis() as u64;
        self.slowest_ms.fetch_max(ms, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        out
    }

    fn fail(&self, what: String) {
        let mut f = self.failures.lock().unwrap();
        if f.len() < 20 {
            f.push(what);
        }
    }
}

fn auth(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n")
}

/// A fresh connection once the server answers again (or `None` once the run is over).
fn reconnect(soak: &Soak, addr: SocketAddr) -> Option<KeepAlive> {
    while !soak.stop.load(Ordering::Relaxed) {
        if let Some(c) = KeepAlive::try_connect(addr, MAX_WAIT) {
            return Some(c);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// One writer: creates invoices for demo clients, now and then a client of its own, and
/// patches and deletes its own invoices.
fn writer(soak: &Soak, addr: SocketAddr, token: &str, w: usize) {
    let mut conn = KeepAlive::connect(addr);
    let headers = auth(token);
    let mut mine: Vec<u64> = Vec::new();
    let mut i = 0u64;
    while !soak.stop.load(Ordering::Relaxed) {
        i += 1;
        let pick = (i as usize * 7 + w) % 10;
        let (method, path, body, key) = if pick < 5 || mine.is_empty() {
            let client = 1 + (i + w as u64) % 60;
            let body = json!({"client_id": client, "number": format!("SOAK-{w}-{i}"), "status": "draft",
                              "issue_date": "2026-12-01", "total": (i % 1000) as f64 + 0.5});
            ("POST", "/api/v1/invoices".to_string(), body, None)
        } else if pick < 6 {
            let body = json!({"company": format!("Soak Client {w}-{i}"), "status": "active"});
            ("POST", "/api/v1/clients".to_string(), body, None)
        } else if pick < 9 {
            let id = mine[(i as usize) % mine.len()];
            ("PATCH", format!("/api/v1/invoices/{id}"), json!({"total": i as f64 + 0.25}), Some(id))
        } else {
            let id = mine.swap_remove((i as usize) % mine.len());
            ("DELETE", format!("/api/v1/invoices/{id}"), Value::Null, Some(id))
        };
        let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        let answer = soak.timed(|| conn.send(method, &path, &headers, &bytes));
        let Some((status, reply)) = answer else {
            soak.ledger.lock().unwrap().unknown += 1;
            if let Some(id) = key {
                // Its outcome is unknown: leave it out of the ledger.
                let mut l = soak.ledger.lock().unwrap();
                l.rows.remove(&("invoices".to_string(), id));
                mine.retain(|m| *m != id);
            }
            let Some(c) = reconnect(soak, addr) else { return };
            conn = c;
            continue;
        };
        let table = if path.starts_with("/api/v1/clients") { "clients" } else { "invoices" };
        match (method, status) {
            ("POST", 201) | ("PATCH", 200) => {
                let row: Value = serde_json::from_slice::<Value>(&reply).unwrap()["data"].clone();
                let id = row["id"].as_u64().unwrap();
                if method == "POST" && table == "invoices" {
                    mine.push(id);
                }
                soak.ledger.lock().unwrap().rows.insert((table.to_string(), id), row);
            }
            ("DELETE", 204) => {
                let id = key.unwrap();
                let mut l = soak.ledger.lock().unwrap();
                l.rows.remove(&("invoices".to_string(), id));
                l.deleted.push(("invoices".to_string(), id));
            }
            _ => soak.fail(format!("{method} {path} → {status} {}", String::from_utf8_lossy(&reply))),
        }
    }
}

fn reader(soak: &Soak, addr: SocketAddr, token: &str, r: usize) {
    let mut conn = KeepAlive::connect(addr);
    let headers = auth(token);
    let mut i = r as u64;
    while !soak.stop.load(Ordering::Relaxed) {
        i += 1;
        let path = match i % 4 {
            0 => format!("/api/v1/invoices?client_id={}&limit=20", 1 + i % 60),
            1 => "/api/v1/views/overdue_invoices?limit=10".to_string(),
            2 => "/api/v1/clients?status=active&limit=5".to_string(),
            _ => format!("/api/v1/invoices/{}", 1 + i % 200),
        };
        match soak.timed(|| conn.get(&path, &headers)) {
            Some(200) => {}
            Some(status) => soak.fail(format!("GET {path} → {status}")),
            None => match reconnect(soak, addr) {
                Some(c) => conn = c,
                None => return,
            },
        }
    }
}

fn graphql(soak: &Soak, addr: SocketAddr, token: &str, g: usize) {
    let mut conn = KeepAlive::connect(addr);
    let headers = auth(token);
    let mut i = 0u64;
    while !soak.stop.load(Ordering::Relaxed) {
        i += 1;
        let query = if i % 2 == 0 {
            "{ clients(limit: 5) { company invoices(limit: 3) { total } } }".to_string()
        } else {
            format!(
                "mutation {{ create_invoices(client_id: {}, number: \"GQL-{g}-{i}\", status: \"draft\", \
                 issue_date: \"2026-12-02\", total: 9.5) {{ id client_id number status issue_date total }} }}",
                1 + i % 60
            )
        };
        let body = json!({ "query": query }).to_string();
        let Some((status, reply)) = soak.timed(|| conn.send("POST", "/graphql", &headers, body.as_bytes())) else {
            soak.ledger.lock().unwrap().unknown += 1;
            let Some(c) = reconnect(soak, addr) else { return };
            conn = c;
            continue;
        };
        let v: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
        if status != 200 || v.get("errors").is_some() {
            soak.fail(format!("graphql → {status} {v}"));
            continue;
        }
        if let Some(row) = v["data"]["create_invoices"].as_object() {
            let id = row["id"].as_u64().unwrap();
            soak.ledger.lock().unwrap().rows.insert(("invoices".into(), id), Value::Object(row.clone()));
        }
    }
}

/// Asks `/health` every 0.5 s; returns the longest run of consecutive misses.
fn health_probe(soak: &Soak, addr: SocketAddr) -> u32 {
    let (mut run, mut worst) = (0, 0);
    while !soak.stop.load(Ordering::Relaxed) {
        let ok =
            KeepAlive::try_connect(addr, Duration::from_secs(2)).is_some_and(|mut c| c.get("/health", "") == Some(200));
        run = if ok { 0 } else { run + 1 };
        worst = worst.max(run);
        std::thread::sleep(Duration::from_millis(500));
    }
    worst
}

/// Runs every client against `addr` until `stop` is set by `until`.
fn run(addr: SocketAddr, token: &str, until: impl FnOnce(&Soak)) -> (Arc<Soak>, u32) {
    let soak = Arc::new(Soak {
        ledger: Default::default(),
        stop: AtomicBool::new(false),
        requests: AtomicU64::new(0),
        slowest_ms: AtomicU64::new(0),
        failures: Default::default(),
    });
    let mut threads = Vec::new();
    for n in 0..WRITERS + READERS + GRAPHQL {
        let (soak, token) = (soak.clone(), token.to_string());
        threads.push(std::thread::spawn(move || match n {
            n if n < WRITERS => writer(&soak, addr, &token, n),
            n if n < WRITERS + READERS => reader(&soak, addr, &token, n),
            n => graphql(&soak, addr, &token, n),
        }));
    }
    let probe = {
        let soak = soak.clone();
        std::thread::spawn(move || health_probe(&soak, addr))
    };
    until(&soak);
    soak.stop.store(true, Ordering::Relaxed);
    threads.into_iter().for_each(|t| t.join().unwrap());
    let misses = probe.join().unwrap();
    (soak, misses)
}

/// Every acknowledged create is readable with its values; every acknowledged delete is gone.
fn check_ledger(addr: SocketAddr, token: &str, ledger: &Ledger) {
    let mut conn = KeepAlive::connect(addr);
    let headers = auth(token);
    for ((table, id), want) in &ledger.rows {
        let (status, body) = conn.send("GET", &format!("/api/v1/{table}/{id}"), &headers, b"").unwrap();
        assert_eq!(status, 200, "acknowledged {table} {id} is missing");
        let got: Value = serde_json::from_slice::<Value>(&body).unwrap()["data"].clone();
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&got[k], v, "{table} {id}: column {k}");
        }
    }
    for (table, id) in &ledger.deleted {
        let (status, _) = conn.send("GET", &format!("/api/v1/{table}/{id}"), &headers, b"").unwrap();
        assert_eq!(status, 404, "acknowledged delete of {table} {id} came back");
    }
}

/// The run's verdict (no failure, no hang, `/health` never missed twice, every request
/// answered, at least `min_rows` acknowledged): its ledger, to check against the store.
fn judged<'s>(what: &str, soak: &'s Soak, misses: u32, min_rows: usize) -> std::sync::MutexGuard<'s, Ledger> {
    let ledger = soak.ledger.lock().unwrap();
    let slowest = soak.slowest_ms.load(Ordering::Relaxed);
    eprintln!(
        "{what}: {} requests, {} rows acknowledged, {} deletes, slowest {slowest} ms, worst /health miss run {misses}",
        soak.requests.load(Ordering::Relaxed),
        ledger.rows.len(),
        ledger.deleted.len()
    );
    assert!(soak.failures.lock().unwrap().is_empty(), "{:?}", soak.failures.lock().unwrap());
    assert!(misses < 2, "/health missed {misses} times in a row");
    assert!(slowest < MAX_WAIT.as_millis() as u64, "a request waited {slowest} ms");
    assert_eq!(ledger.unknown, 0, "requests went unanswered");
    assert!(ledger.rows.len() > min_rows && !ledger.deleted.is_empty(), "too little work to prove anything");
    ledger
}

fn soak_for(duration: Duration) {
    let app = TestApp::builder()
        .config(|c| {
            c.shield.ip_requests = 100_000_000;
            c.rate_limit.requests = 100_000_000;
        })
        .start();
    let token = app.token(&["clients:rcud", "invoices:rcud"]);
    let (soak, misses) = run(app.addr, &token, |_| std::thread::sleep(duration));
    let ledger = judged(&format!("soak {duration:?}"), &soak, misses, 500);
    check_ledger(app.addr, &token, &ledger);
}

#[test]
fn soak_sixty_seconds_never_hangs_and_keeps_every_acknowledged_write() {
    soak_for(Duration::from_secs(60));
}

/// The same clients through nginx against two instances on one PostgreSQL and one Redis
/// (the production layout): no request hangs, `/health` never misses twice, and every
/// acknowledged write is there afterwards, read through either instance.
#[test]
fn soak_through_nginx_against_two_instances_on_postgres() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let (pg, redis) = (crate::engines::Postgres::start(), crate::engines::Redis::start());
    pg.create_database("soak");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("palisade.toml");
    let text = format!(
        "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[shield]\nip_requests = 100000000\n\
         [shared]\nredis_url = \"{}\"\n[store]\nbackend = \"postgres\"\nurl = \"{}\"\n",
        redis.url(),
        pg.url("soak")
    );
    std::fs::write(&config, text).unwrap();
    // A seeds the demo data into the empty database; B gets A's install key only.
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    let a = Spawned::serve(&a_dir, &config);
    let token = Spawned::create_token(
        &a_dir,
        &config,
        &["--name", "soak", "--scope", "clients:rcud", "--scope", "invoices:rcud", "--rate", "100000000"],
    );
    std::fs::create_dir_all(&b_dir).unwrap();
    std::fs::copy(a_dir.join("secret.key"), b_dir.join("secret.key")).unwrap();
    let b = Spawned::serve(&b_dir, &config);
    struct Both {
        a: Spawned,
        b: Spawned,
    }
    let pair = Both { a, b };
    let nginx = crate::engines::Nginx::start(&[pair.a.addr, pair.b.addr]);
    let (soak, misses) = run(nginx.addr, &token, |_| std::thread::sleep(Duration::from_secs(30)));
    let ledger = judged("two-instance soak", &soak, misses, 200);
    for addr in [pair.a.addr, pair.b.addr] {
        check_ledger(addr, &token, &ledger);
    }
}

#[test]
#[ignore = "ten minutes; run with --ignored (see the module docs)"]
fn soak_ten_minutes() {
    soak_for(Duration::from_secs(600));
}

#[test]
fn kill_9_during_a_soak_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("palisade.toml");
    std::fs::write(&config, "[shield]\nip_requests = 100000000\n").unwrap();
    let server = Spawned::serve(&data, &config);
    let token = Spawned::create_token(
        &data,
        &config,
        &["--name", "soak", "--scope", "clients:rcud", "--scope", "invoices:rcud", "--rate", "100000000"],
    );
    let addr = server.addr;
    let mut server = Some(server);
    let (soak, _) = run(addr, &token, |soak| {
        std::thread::sleep(Duration::from_secs(8));
        let status = server.take().unwrap().signal("KILL");
        assert_eq!(status.code(), None, "killed by a signal");
        soak.stop.store(true, Ordering::Relaxed);
    });
    let ledger = soak.ledger.lock().unwrap();
    assert!(soak.failures.lock().unwrap().is_empty(), "{:?}", soak.failures.lock().unwrap());
    assert!(ledger.rows.len() > 100, "only {} writes before the kill", ledger.rows.len());
    let server = Spawned::serve(&data, &config);
    check_ledger(server.addr, &token, &ledger);
    // Indexes were rebuilt after the unclean stop: a filter agrees with the rows.
    let mut conn = KeepAlive::connect(server.addr);
    let (_, body) = conn.send("GET", "/api/v1/invoices?client_id=7&limit=500", &auth(&token), b"").unwrap();
    let page: Value = serde_json::from_slice(&body).unwrap();
    let by_index: Vec<u64> = page["data"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect();
    let mut expected: Vec<u64> = ledger
        .rows
        .iter()
        .filter(|((t, _), row)| t == "invoices" && row["client_id"] == 7)
        .map(|((_, id), _)| *id)
        .collect();
    expected.sort();
    assert!(expected.iter().all(|id| by_index.contains(id)), "index lost rows: {expected:?} vs {by_index:?}");
    assert_eq!(server.signal("TERM").code(), Some(0));
}
