//! The store's figures, in one run (`cargo bench --bench store`).
//!
//! 1. Durable creates: 16 keep-alive clients `POST /api/v1/invoices` (each create checks its
//!    client exists) through the whole pipeline; every 201 is on disk (group commit).
//! 2. Indexed reads at 1 000 and at 100 000 invoices: `GET /api/v1/invoices?client_id=N&limit=20`
//!    and the two-level GraphQL query, p50 and p99; beside them a filter on a column without
//!    an index (`currency`), which still scans.
//! 3. Building the indexes of 100 000 rows at start (an existing data dir that lacks them).
//! 4. The audit trail: bytes on disk per typical record and records/s the writer sustains.
//!
//! Environment: BENCH_SECS (per measurement, default 5); BENCH_ONLY=audit runs part 4 alone.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade::clock::{Clock, SystemClock};
use palisade::schema::Schema;
use palisade::state::AppState;
use palisade::store::audit::{AuditLog, AuditRecord};
use palisade::store::{Op, Store};
use palisade::tokens::TokenSpec;
use serde_json::{json, Map, Value};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted.get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or(0)
}

/// One request on a keep-alive connection; returns the status.
fn exchange(writer: &mut TcpStream, reader: &mut BufReader<TcpStream>, request: &[u8]) -> u16 {
    writer.write_all(request).unwrap();
    let (mut length, mut status) = (0usize, 0u16);
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if let Some(rest) = line.strip_prefix("HTTP/1.1 ") {
            status = rest[..3].parse().unwrap();
        } else if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        } else if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    status
}

/// Drives `conns` connections for `secs`, each sending `make(conn, i)`; every answer must be
/// `want`. Returns (requests/s, p50 µs, p99 µs).
fn drive(
    addr: SocketAddr,
    conns: usize,
    secs: u64,
    want: u16,
    make: impl Fn(usize, u64) -> Vec<u8> + Send + Sync + 'static,
) -> (f64, u64, u64) {
    let make = Arc::new(make);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..conns)
        .map(|c| {
            let (stop, count, make) = (stop.clone(), count.clone(), make.clone());
            std::thread::spawn(move || {
                let stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let mut latencies = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let request = make(c, i);
                    let t = Instant::now();
                    let status = exchange(&mut writer, &mut reader, &request);
                    latencies.push(t.elapsed().as_micros() as u64);
                    assert_eq!(status, want);
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

fn get(path: String, token: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n").into_bytes()
}

fn post(path: &str, token: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn invoice(i: u64) -> Map<String, Value> {
    let v = json!({"client_id": 1 + i % 60, "number": format!("B-{i}"), "status": if i % 7 == 0 { "overdue" } else { "paid" },
                   "issue_date": "2026-01-15", "currency": if i % 50 == 0 { "NOK" } else { "EUR" }, "total": (i % 5000) as f64 + 0.5});
    v.as_object().unwrap().clone()
}

/// Adds invoices straight through the writer until the table holds `target` (queued
/// without waiting, so group commit takes them a thousand at a time).
fn fill_invoices(store: &Store, from: u64, target: u64) {
    for i in from..target {
        store.submit(Op::Insert { table: "invoices".into(), row: invoice(i), refs: Vec::new() }, |r| {
            r.expect("insert");
        });
    }
    store.write_blocking(Op::Ping).unwrap();
}

fn reads(addr: SocketAddr, token: &str, secs: u64, label: &str) {
    let t = token.to_string();
    let (rate, p50, p99) = drive(addr, 4, secs, 200, move |c, i| {
        get(format!("/api/v1/invoices?client_id={}&limit=20", 1 + (i * 7 + c as u64) % 60), &t)
    });
    println!("  {label} REST invoices?client_id=N&limit=20 (index): {rate:>7.0} req/s  p50 {p50} µs  p99 {p99} µs");
    let t = token.to_string();
    let query = r#"{"query":"{ clients(limit: 5) { company invoices(limit: 3) { total } } }"}"#;
    let (rate, p50, p99) = drive(addr, 4, secs, 200, move |_, _| post("/graphql", &t, query));
    println!("  {label} GraphQL clients(5) → invoices(3) (index):     {rate:>7.0} req/s  p50 {p50} µs  p99 {p99} µs");
    let t = token.to_string();
    let (rate, p50, p99) =
        drive(addr, 4, secs.min(3), 200, move |_, _| get("/api/v1/invoices?currency=NOK&limit=20".into(), &t));
    println!("  {label} REST invoices?currency=NOK&limit=20 (scan):    {rate:>7.0} req/s  p50 {p50} µs  p99 {p99} µs");
}

fn start(dir: &std::path::Path) -> (SocketAddr, Arc<AppState>, String) {
    let config = common::config(dir);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let running = common::launch_demo(config);
            let state = running.state.clone();
            let spec = TokenSpec {
                name: "bench".into(),
                scopes: vec!["*:r".into(), "invoices:rc".into()],
                ..Default::default()
            };
            let token = state.tokens.create(&spec, state.schema(), SystemClock.now_ms()).unwrap();
            tx.send((running.addr, state, token.token.expose().to_string())).unwrap();
            let _ = running.server.await;
        })
    });
    rx.recv().unwrap()
}

fn audit(secs: u64) {
    let dir = tempfile::tempdir().unwrap();
    let health = Arc::new(palisade::store::Health::new(dir.path(), 0));
    let log = AuditLog::open(dir.path(), Default::default(), health).unwrap();
    let now = SystemClock.now_ms();
    let record = |i: u64| AuditRecord {
        time: String::new(),
        time_ms: now + i,
        request_id: format!("{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        method: "GET".into(),
        path: "/api/v1/invoices/1234".into(),
        query: None,
        status: 200,
        duration_us: 180 + i % 400,
        token_id: Some("3f9a1c2be8d04e17".into()),
        user: Some("alice".into()),
        owner: None,
        ip_hash: format!("{:032x}", i.wrapping_mul(0x2545_f491_4f6c_dd1d) as u128 * 3),
        stage: None,
        reason: None,
        instance: None,
        prev: String::new(),
    };
    let (mut written, started) = (0u64, Instant::now());
    while started.elapsed() < Duration::from_secs(secs) {
        let batch: Vec<AuditRecord> = (written..written + 1024).map(record).collect();
        log.append(&batch, &()).unwrap();
        written += 1024;
    }
    let rate = written as f64 / started.elapsed().as_secs_f64();
    let plain = log.disk_bytes();
    // Closed segments are compressed in the background, at idle priority.
    let waited = Instant::now();
    while !palisade::store::audit::segments::uncompressed_closed(log.dir()).unwrap().is_empty() {
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "audit: {written} records in batches of 1024 (one write + fdatasync each): {rate:.0} records/s; \
         {} bytes on disk per record as written, {} once closed segments are compressed ({:.1} s later)",
        plain / written,
        log.disk_bytes() / written,
        waited.elapsed().as_secs_f64()
    );
    assert!(log.verify().unwrap().ok);
}

fn main() {
    let secs = env("BENCH_SECS", 5);
    if std::env::var("BENCH_ONLY").is_ok_and(|v| v == "audit") {
        return audit(secs);
    }
    println!("palisade store benchmark ({secs} s per measurement, 2 workers)");

    // 1. Durable creates through the pipeline.
    let dir = tempfile::tempdir().unwrap();
    let (addr, state, token) = start(dir.path());
    let t = token.clone();
    let (rate, p50, p99) = drive(addr, 16, secs, 201, move |c, i| {
        let body = json!({"client_id": 1 + (i + c as u64) % 60, "number": format!("W-{c}-{i}"), "status": "draft",
                          "issue_date": "2026-12-01", "total": 10.5})
        .to_string();
        post("/api/v1/invoices", &t, &body)
    });
    println!("durable creates, 16 clients: {rate:.0} creates/s  p50 {p50} µs  p99 {p99} µs");

    // 2. Indexed reads at 1 000 and 100 000 invoices.
    let count = |state: &AppState| {
        let q = palisade::store::ListQuery { limit: 0, ..Default::default() };
        state.store.list_rows("invoices", &q).unwrap().total as u64
    };
    let dir = tempfile::tempdir().unwrap();
    let (addr, state2, token) = start(dir.path());
    drop(state);
    let have = count(&state2);
    fill_invoices(&state2.store, have, 1_000);
    println!("reads with {} invoices:", count(&state2));
    reads(addr, &token, secs, "  1k");
    let started = Instant::now();
    fill_invoices(&state2.store, 1_000, 100_000);
    println!(
        "reads with {} invoices (99 000 added through the writer in {:.1} s):",
        count(&state2),
        started.elapsed().as_secs_f64()
    );
    reads(addr, &token, secs, "100k");

    // 3. Index build at start for 100 000 rows.
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &Default::default(), Default::default()).unwrap();
        fill_invoices(&store, 0, 100_000);
    }
    let schema = Schema::parse(palisade::schema::EMBEDDED_SCHEMA).unwrap();
    let started = Instant::now();
    let store = Store::open(dir.path(), &Default::default(), schema.index_plan()).unwrap();
    println!(
        "index build at start: 100 000 invoices (client_id, number, status) in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    drop(store);

    // 4. The audit trail.
    audit(secs);
}
