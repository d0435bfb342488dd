//! What several instances cost (`cargo bench --bench shared`).
//!
//! Servers in this process, two workers each, on the demo data, with real engines from
//! Debian's packages started here on free loopback ports (the test suite's own
//! `tests/api/engines.rs`: Redis with `appendonly yes`, `appendfsync everysec` as the
//! README recommends, PostgreSQL with `fsync` on):
//!
//! 1. **The shared limiter.** Authenticated `GET /api/v1/clients/1` (per-IP throttle and
//!    token window) counted in the process versus in Redis (`[shared] redis_url`: one
//!    script call), 1 and 16 connections: the difference of the p50s is the limiter's
//!    added latency per request.
//! 2. **The store.** The same reads, and durable creates (`POST /api/v1/clients`, 201 once
//!    committed), on sled; on PostgreSQL with one instance; and on PostgreSQL with two
//!    instances sharing the database and Redis, the 16 connections split between them.
//!
//! Keep-alive clients in a closed loop, alternating between the setups for several rounds;
//! medians of the rounds. Environment: BENCH_SECS (per round, default 3), BENCH_ROUNDS
//! (default 5).

mod common;
#[path = "../tests/api/engines.rs"]
#[allow(dead_code)]
mod engines;
#[path = "common/wire.rs"]
mod wire;

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade::clock::{Clock, SystemClock};
use palisade::config::{Backend, Config};
use palisade::tokens::TokenSpec;
use wire::exchange;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A running demo server: its address, a read-and-create token, its data dir.
struct Server {
    addr: SocketAddr,
    token: String,
    _dir: tempfile::TempDir,
}

/// Starts a demo server after `adjust`; `token`: reuse this token (a second instance on the
/// same database) instead of creating one.
fn start_server(adjust: impl FnOnce(&mut Config) + Send + 'static, token: Option<String>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    adjust(&mut config);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let running = common::launch_demo(config);
            let state = running.state.clone();
            let token = token.unwrap_or_else(|| {
                let spec = TokenSpec { name: "bench".into(), scopes: vec!["clients:rc".into()], ..Default::default() };
                let created = state.tokens.create(&spec, state.schema(), SystemClock.now_ms()).unwrap();
                created.token.expose().to_string()
            });
            tx.send((running.addr, token)).unwrap();
            palisade::server::run_until_stopped(running).await.unwrap();
        })
    });
    let (addr, token) = rx.recv().unwrap();
    Server { addr, token, _dir: dir }
}

#[derive(Clone, Copy)]
enum Work {
    Read,
    Create,
}

fn request(work: Work, token: &str) -> Vec<u8> {
    match work {
        Work::Read => format!("GET /api/v1/clients/1 HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n"),
        Work::Create => {
            let body = r#"{"company":"Bench Ltd","status":"active"}"#;
            format!(
                "POST /api/v1/clients HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        }
    }
    .into_bytes()
}

struct Run {
    rate: f64,
    p50: u64,
    p99: u64,
}

/// `conns` keep-alive clients, spread over `servers` in turn, in a closed loop for `secs`.
fn closed_loop(servers: &[&Server], work: Work, conns: usize, secs: u64) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..conns)
        .map(|c| {
            let server = servers[c % servers.len()];
            let (addr, request, stop) = (server.addr, request(work, &server.token), stop.clone());
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut buf = vec![0u8; 1 << 16];
                let mut latencies = Vec::with_capacity(1 << 16);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    exchange(&mut stream, &mut buf, &request);
                    latencies.push(t.elapsed().as_micros() as u64);
                }
                latencies
            })
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Run { rate: all.len() as f64 / elapsed, p50: at(0.50), p99: at(0.99) }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

/// Runs each setup `rounds` times, alternating, and prints the medians; their p50s.
fn compare(setups: &[(&str, Vec<&Server>)], work: Work, conns: usize, secs: u64, rounds: usize) -> Vec<f64> {
    let mut runs: Vec<Vec<Run>> = setups.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (i, (_, servers)) in setups.iter().enumerate() {
            runs[i].push(closed_loop(servers, work, conns, secs));
        }
    }
    let what = match work {
        Work::Read => "read",
        Work::Create => "create",
    };
    setups
        .iter()
        .zip(&runs)
        .map(|((name, _), runs)| {
            let rate = median(runs.iter().map(|r| r.rate).collect());
            let p50 = median(runs.iter().map(|r| r.p50 as f64).collect());
            let p99 = median(runs.iter().map(|r| r.p99 as f64).collect());
            println!("{name:<22} {what:<7} {conns:>5} {rate:>10.0} {p50:>9.0} {p99:>9.0}");
            p50
        })
        .collect()
}

fn main() {
    let secs = env("BENCH_SECS", 3);
    let rounds = env("BENCH_ROUNDS", 5) as usize;
    let redis = engines::Redis::start_syncing("everysec");
    let pg = engines::Postgres::start();
    pg.create_database("bench");
    let (redis_url, pg_url) = (redis.url(), pg.url("bench"));

    let local = start_server(|_| {}, None);
    let url = redis_url.clone();
    let shared = start_server(move |c| c.shared.redis_url = url, None);
    let on_pg = |redis_url: String, pg_url: String| {
        move |c: &mut Config| {
            c.shared.redis_url = redis_url;
            c.store.backend = Backend::Postgres;
            c.store.url = pg_url;
            // The PostgreSQL default: a worker per pool connection (see `server::workers`).
            c.server.workers = 0;
        }
    };
    let pg_a = start_server(on_pg(redis_url.clone(), pg_url.clone()), None);
    let pg_b = start_server(on_pg(redis_url.clone(), pg_url.clone()), Some(pg_a.token.clone()));

    println!("closed loop, {rounds} rounds of {secs} s, medians");
    println!("{:<22} {:<7} {:>5} {:>10} {:>9} {:>9}", "setup", "request", "conns", "req/s", "p50 µs", "p99 µs");
    for conns in [1, 16] {
        let p50 = compare(
            &[("sled, local limiter", vec![&local]), ("sled, Redis limiter", vec![&shared])],
            Work::Read,
            conns,
            secs,
            rounds,
        );
        println!("added by the shared limiter at {conns} connection(s): p50 +{:.0} µs", p50[1] - p50[0]);
    }
    let stores = [
        ("sled, 1 instance", vec![&shared]),
        ("postgres, 1 instance", vec![&pg_a]),
        ("postgres, 2 instances", vec![&pg_a, &pg_b]),
    ];
    for work in [Work::Read, Work::Create] {
        compare(&stores, work, 16, secs, rounds);
    }
}
