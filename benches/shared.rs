//! What the shared counters cost a request (`cargo bench --bench shared`).
//!
//! Two servers in this process on the same demo data, two workers each: **local** counts
//! in its own maps (the single-instance default) and **shared** counts in a real Redis
//! (`[shared] redis_url`; Debian's `redis-server`, started here on a free loopback port with
//! `appendonly yes`, `appendfsync everysec`, as the README recommends). Each request is an
//! authenticated `GET /api/v1/clients/1`, so it touches the per-IP throttle and the token's
//! window: on the shared server, one script call. Keep-alive clients in a closed loop, one
//! connection (the latency a lone client sees) and 16 (throughput), alternating between
//! the servers for several rounds; medians of the rounds. The difference of the p50s is
//! the shared limiter's added latency per request.
//!
//! Environment: BENCH_SECS (per round, default 3), BENCH_ROUNDS (default 5).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade::clock::{Clock, SystemClock};
use palisade::tokens::TokenSpec;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A Redis server of the bench's own (in its temp dir), killed when dropped.
struct Redis {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis() -> (Redis, u16) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let binary = ["/usr/bin/valkey-server", "/usr/bin/redis-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("redis-server is not installed: run tests/engines/install.sh");
    let child = Command::new(binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
        .args(["--appendonly", "yes", "--appendfsync", "everysec"])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Redis { child, _dir: dir }, port)
}

/// Starts a demo server with `redis_url` (empty: local counting); its address and a token.
fn start_server(redis_url: String) -> (SocketAddr, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.shared.redis_url = redis_url;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let running = common::launch_demo(config);
            let state = running.state.clone();
            let spec = TokenSpec { name: "bench".into(), scopes: vec!["*:r".into()], ..Default::default() };
            let token = state.tokens.create(&spec, state.schema(), SystemClock.now_ms()).unwrap();
            tx.send((running.addr, token.token.expose().to_string())).unwrap();
            palisade::server::run_until_stopped(running).await.unwrap();
        })
    });
    let (addr, token) = rx.recv().unwrap();
    (addr, token, dir)
}

/// One complete response read off `stream` (status 200 checked).
fn exchange(stream: &mut TcpStream, buf: &mut [u8], request: &[u8]) {
    stream.write_all(request).unwrap();
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..]).unwrap();
        assert!(n > 0, "connection closed");
        filled += n;
        let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        assert!(buf.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..filled.min(300)]));
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .unwrap_or(0);
        if filled >= end + 4 + length {
            return;
        }
    }
}

struct Run {
    rate: f64,
    p50: u64,
    p99: u64,
}

/// `conns` keep-alive clients in a closed loop for `secs`.
fn closed_loop(addr: SocketAddr, token: &str, conns: usize, secs: u64) -> Run {
    let request =
        format!("GET /api/v1/clients/1 HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n").into_bytes();
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let (request, stop) = (request.clone(), stop.clone());
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

fn main() {
    let secs = env("BENCH_SECS", 3);
    let rounds = env("BENCH_ROUNDS", 5) as usize;
    let (_redis, port) = start_redis();
    let (local, local_token, _a) = start_server(String::new());
    let (shared, shared_token, _b) = start_server(format!("redis://127.0.0.1:{port}"));
    println!("authenticated GET /api/v1/clients/1, closed loop, {rounds} rounds of {secs} s, medians");
    println!("{:<8} {:>6} {:>10} {:>9} {:>9}", "server", "conns", "req/s", "p50 µs", "p99 µs");
    for conns in [1, 16] {
        let mut results: [(Vec<Run>, &str); 2] = [(Vec::new(), "local"), (Vec::new(), "shared")];
        for _ in 0..rounds {
            results[0].0.push(closed_loop(local, &local_token, conns, secs));
            results[1].0.push(closed_loop(shared, &shared_token, conns, secs));
        }
        let mut p50s = Vec::new();
        for (runs, name) in &results {
            let rate = median(runs.iter().map(|r| r.rate).collect());
            let p50 = median(runs.iter().map(|r| r.p50 as f64).collect());
            let p99 = median(runs.iter().map(|r| r.p99 as f64).collect());
            println!("{name:<8} {conns:>6} {rate:>10.0} {p50:>9.0} {p99:>9.0}");
            p50s.push(p50);
        }
        println!("added by the shared counters at {conns} connection(s): p50 +{:.0} µs", p50s[1] - p50s[0]);
    }
}
