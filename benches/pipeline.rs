//! The pipeline's price, in one run (`cargo bench --bench pipeline`).
//!
//! Starts two servers in this process on the same demo data: the full six-stage pipeline,
//! and the same dispatcher with no stage at all (a shim only sets the route and principal
//! the handler expects). A keep-alive load generator drives authenticated
//! `GET /api/v1/clients/1` against each, alternating, several rounds; the medians and their
//! ratio are printed, then the cost of one actor hop (a same-thread mailbox message to a
//! stage actor) against a direct call of the same decision function.
//!
//! Environment: BENCH_SECS (per round, default 3), BENCH_ROUNDS (default 5),
//! BENCH_CONNS (default 16).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Service;
use actix_web::{web, App, HttpMessage, HttpServer};
use palisade::clock::{Clock, SystemClock};
use palisade::config::Config;
use palisade::http::route::Route;
use palisade::schema::Schema;
use palisade::server::{launch, Launch};
use palisade::tokens::TokenSpec;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Drives `conns` keep-alive connections for `secs`; returns (requests/s, p50 µs, p99 µs).
fn load(addr: SocketAddr, token: &str, conns: usize, secs: u64) -> (f64, u64, u64) {
    let request = format!("GET /api/v1/clients/1 HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n");
    load_request(addr, request, conns, secs)
}

/// The two-level GraphQL query of the benchmark.
const GRAPHQL: &str = r#"{"query":"{ clients(limit: 5) { company invoices(limit: 3) { total } } }"}"#;

fn load_graphql(addr: SocketAddr, token: &str, conns: usize, secs: u64) -> (f64, u64, u64) {
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{GRAPHQL}",
        GRAPHQL.len()
    );
    load_request(addr, request, conns, secs)
}

fn load_request(addr: SocketAddr, request: String, conns: usize, secs: u64) -> (f64, u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let (stop, count, request) = (stop.clone(), count.clone(), request.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    exchange(&mut writer, &mut reader, &request);
                    latencies.push(t.elapsed().as_micros() as u64);
                    count.fetch_add(1, Ordering::Relaxed);
                }
                latencies
            })
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    all.sort_unstable();
    (count.load(Ordering::Relaxed) as f64 / elapsed, percentile(&all, 0.50), percentile(&all, 0.99))
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted.get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or(0)
}

/// One request and its 200 answer on a keep-alive connection.
fn exchange(writer: &mut TcpStream, reader: &mut BufReader<TcpStream>, request: &str) {
    writer.write_all(request.as_bytes()).unwrap();
    let mut length = 0usize;
    let mut status_ok = false;
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.starts_with("HTTP/1.1 ") {
            status_ok = line.starts_with("HTTP/1.1 200");
        } else if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        } else if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    assert!(status_ok, "non-200 answer: {}", String::from_utf8_lossy(&body));
}

/// Open-loop load: `rate` requests/s spread over `conns` connections, each request sent at
/// its scheduled time; latency counts from that time (so queueing is not hidden). Returns
/// (achieved requests/s, p50 µs, p99 µs, p99.9 µs).
fn paced(addr: SocketAddr, token: &str, rate: f64, conns: usize, secs: u64) -> (f64, u64, u64, u64) {
    let request = format!("GET /api/v1/clients/1 HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n");
    let interval = Duration::from_secs_f64(conns as f64 / rate);
    let start = Instant::now() + Duration::from_millis(50);
    let threads: Vec<_> = (0..conns)
        .map(|c| {
            let request = request.clone();
            std::thread::spawn(move || {
                let stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let offset = interval.mul_f64(c as f64 / conns as f64);
                let mut latencies = Vec::new();
                for i in 0.. {
                    let due = start + offset + interval * i;
                    if due > start + Duration::from_secs(secs) {
                        break;
                    }
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    exchange(&mut writer, &mut reader, &request);
                    latencies.push(due.elapsed().as_micros() as u64);
                }
                latencies
            })
        })
        .collect();
    let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let achieved = all.len() as f64 / start.elapsed().as_secs_f64();
    all.sort_unstable();
    (achieved, percentile(&all, 0.50), percentile(&all, 0.99), percentile(&all, 0.999))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let secs = env("BENCH_SECS", 3);
    let rounds = env("BENCH_ROUNDS", 5) as usize;
    let conns = env("BENCH_CONNS", 16) as usize;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.server.data_dir = dir.path().to_path_buf();
    config.shield.ip_requests = u32::MAX;
    config.rate_limit.requests = u32::MAX;
    config.server.workers = 2;
    config.audit.flush_interval_ms = env("BENCH_AUDIT_FLUSH_MS", config.audit.flush_interval_ms);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let schema = Schema::parse(palisade::schema::EMBEDDED_SCHEMA).unwrap();
            let running = launch(Launch {
                config,
                schema,
                clock: Arc::new(SystemClock),
                seed: true,
                handle_signals: false,
                checks: Vec::new(),
            })
            .unwrap();
            let state = running.state.clone();
            let spec = TokenSpec { name: "bench".into(), scopes: vec!["*:r".into()], ..Default::default() };
            let token = state.tokens.create(&spec, state.schema(), SystemClock.now_ms()).unwrap();
            let principal = state
                .tokens
                .authenticate(palisade::tokens::BearerToken::new(token.token.expose()), SystemClock.now_ms())
                .unwrap();
            // The same dispatcher, no stage: a shim sets what the pipeline would have.
            let bare_state = state.clone();
            let bare = HttpServer::new(move || {
                let principal = principal.clone();
                App::new()
                    .app_data(web::Data::from(bare_state.clone()))
                    .default_service(web::to(palisade::api::dispatch))
                    .wrap_fn(move |req, srv| {
                        req.extensions_mut().insert(Route::Table { table: "clients".into(), id: Some(1) });
                        req.extensions_mut().insert(principal.clone());
                        srv.call(req)
                    })
            })
            .workers(2)
            .disable_signals()
            .bind("127.0.0.1:0")
            .unwrap();
            let bare_addr = bare.addrs()[0];
            let bare = bare.run();
            tx.send((running.addr, bare_addr, token.token.expose().to_string(), state)).unwrap();
            let _ = futures_util::future::join(running.server, bare).await;
        })
    });
    let (full_addr, bare_addr, token, state) = rx.recv().unwrap();

    println!("palisade pipeline benchmark: {rounds} rounds × {secs}s, {conns} keep-alive connections, 2 workers");
    let _ = load(full_addr, &token, conns, 1); // warm-up
    let _ = load(bare_addr, &token, conns, 1);
    let (mut full, mut bare) = (Vec::new(), Vec::new());
    let (mut full_p99, mut bare_p99) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let b = load(bare_addr, &token, conns, secs);
        let f = load(full_addr, &token, conns, secs);
        println!(
            "  round {}: bare {:>8.0} req/s (p50 {} µs, p99 {} µs) | pipeline {:>8.0} req/s (p50 {} µs, p99 {} µs)",
            round + 1,
            b.0,
            b.1,
            b.2,
            f.0,
            f.1,
            f.2
        );
        bare.push(b.0);
        full.push(f.0);
        bare_p99.push(b.2 as f64);
        full_p99.push(f.2 as f64);
    }
    let (bm, fm) = (median(bare), median(full));
    println!("median bare:     {bm:>8.0} req/s, p99 {:.0} µs", median(bare_p99));
    println!("median pipeline: {fm:>8.0} req/s, p99 {:.0} µs", median(full_p99));
    println!("pipeline / bare: {:.1} %  (target ≥ 70 %)", 100.0 * fm / bm);

    let mut gql = Vec::new();
    for _ in 0..rounds {
        let g = load_graphql(full_addr, &token, conns, secs);
        gql.push(g);
    }
    gql.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let g = gql[gql.len() / 2];
    println!(
        "GraphQL two-level query (5 clients × 3 invoices) through all stages: {:.0} req/s (p50 {} µs, p99 {} µs)",
        g.0, g.1, g.2
    );

    // Half of saturation: a fixed arrival rate, open loop.
    let mut half = Vec::new();
    for _ in 0..rounds {
        half.push(paced(full_addr, &token, fm / 2.0, conns, secs));
    }
    half.sort_by_key(|h| h.2);
    let h = half[half.len() / 2];
    println!(
        "pipeline at half of saturation ({:.0} req/s offered, {:.0} achieved): p50 {} µs, p99 {} µs, p99.9 {} µs  (target p99 ≤ 2000 µs)",
        fm / 2.0,
        h.0,
        h.1,
        h.2,
        h.3
    );
    drop(state);
}
