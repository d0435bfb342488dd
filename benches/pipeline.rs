//! The pipeline's price, in one run (`cargo bench --bench pipeline`).
//!
//! Three servers in this process, two workers each, on the same demo data:
//! - **plain**: actix-web answering the bytes of `GET /api/v1/clients/1` from memory (no
//!   store, no JSON building): the floor any Rust HTTP server pays;
//! - **no stage**: Palisade's dispatcher behind a shim that sets the route and principal the
//!   handler expects (store read, JSON, security headers not included);
//! - **pipeline**: the real server, every stage, security headers and audit.
//!
//! A keep-alive load generator (16 connections, no allocation per request) drives
//! authenticated `GET /api/v1/clients/1` against each, alternating, several rounds, and
//! reports per server: req/s, p50/p99, **server CPU µs per request** (process CPU time minus
//! the load threads' own, from `CLOCK_*_CPUTIME_ID`), and **allocations per request** (a
//! counting allocator in this binary). Then p99 of the pipeline at half of its saturation,
//! open loop (two polling threads, like wrk2), beside the plain and no-stage servers at the same
//! offered rate (the controls: what the load generator, the machine and the handler add by
//! themselves). Medians of the rounds.
//!
//! Environment: BENCH_SECS (per round, default 3), BENCH_ROUNDS (default 5),
//! BENCH_CONNS (default 16); BENCH_ONLY=plain|bare|pipeline saturates one server alone and
//! BENCH_PACED=<req/s> paces it alone (for `perf`).

mod common;
#[path = "common/wire.rs"]
mod wire;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Service;
use actix_web::{web, App, HttpMessage, HttpResponse, HttpServer};
use nix::time::{clock_gettime, ClockId};
use palisade::clock::{Clock, SystemClock};
use palisade::http::route::Route;
use palisade::tokens::TokenSpec;
use wire::{exchange, response_len};

/// Counts allocations in sharded counters (no shared cache line between threads).
struct Counting;

const SHARDS: usize = 64;
#[repr(align(64))]
struct Shard(AtomicU64);
static ALLOCS: [Shard; SHARDS] = [const { Shard(AtomicU64::new(0)) }; SHARDS];

fn shard() -> usize {
    thread_local!(static ID: usize = {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) as usize % SHARDS
    });
    ID.with(|i| *i)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS[shard()].0.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS[shard()].0.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
}

fn cpu_ns(clock: ClockId) -> u64 {
    clock_gettime(clock).map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64).unwrap_or(0)
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Latencies in 10 µs buckets up to 200 ms (no allocation while measuring).
struct Histogram(Vec<u32>);

impl Histogram {
    const BUCKET_US: u64 = 10;
    fn new() -> Self {
        Self(vec![0; 20_001])
    }
    fn record(&mut self, us: u64) {
        let i = ((us / Self::BUCKET_US) as usize).min(self.0.len() - 1);
        self.0[i] += 1;
    }
    fn merge(&mut self, other: &Histogram) {
        self.0.iter_mut().zip(&other.0).for_each(|(a, b)| *a += b);
    }
    fn percentile(&self, p: f64) -> u64 {
        let total: u64 = self.0.iter().map(|&c| u64::from(c)).sum();
        let want = (total as f64 * p).ceil() as u64;
        let mut seen = 0;
        for (i, &c) in self.0.iter().enumerate() {
            seen += u64::from(c);
            if seen >= want.max(1) {
                return (i as u64 + 1) * Self::BUCKET_US;
            }
        }
        0
    }
}

/// One closed-loop measurement.
struct Run {
    rate: f64,
    p50: u64,
    p99: u64,
    cpu_us: f64,
    allocs: f64,
}

fn saturate(addr: SocketAddr, request: &[u8], conns: usize, secs: u64) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(std::sync::Barrier::new(conns + 1));
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let (stop, ready, request) = (stop.clone(), ready.clone(), request.to_vec());
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut buf = vec![0u8; 1 << 16];
                let mut hist = Histogram::new();
                exchange(&mut stream, &mut buf, &request);
                ready.wait();
                let cpu_before = cpu_ns(ClockId::CLOCK_THREAD_CPUTIME_ID);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    exchange(&mut stream, &mut buf, &request);
                    hist.record(t.elapsed().as_micros() as u64);
                    n += 1;
                }
                (n, hist, cpu_ns(ClockId::CLOCK_THREAD_CPUTIME_ID) - cpu_before)
            })
        })
        .collect();
    ready.wait();
    let (cpu_before, allocs_before, started) =
        (cpu_ns(ClockId::CLOCK_PROCESS_CPUTIME_ID), allocations(), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut all = Histogram::new();
    let (mut requests, mut load_cpu) = (0, 0);
    for t in threads {
        let (n, hist, cpu) = t.join().unwrap();
        requests += n;
        all.merge(&hist);
        load_cpu += cpu;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = cpu_ns(ClockId::CLOCK_PROCESS_CPUTIME_ID) - cpu_before - load_cpu;
    Run {
        rate: requests as f64 / elapsed,
        p50: all.percentile(0.50),
        p99: all.percentile(0.99),
        cpu_us: server_cpu as f64 / 1000.0 / requests as f64,
        allocs: (allocations() - allocs_before) as f64 / requests as f64,
    }
}

/// One connection of the open-loop generator.
struct Paced {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
    /// When the next (or the in-flight) request was due.
    due: Instant,
    in_flight: bool,
}

/// Open loop: `rate` requests/s over `conns` connections, driven like wrk2 by two threads
/// that poll their connections (not a sleeping thread per connection, which would crowd the
/// two cores' run queue and measure the scheduler). Each request is sent at its scheduled
/// time, or as soon as its connection is free when behind; latency counts from the scheduled
/// time, so queueing is not hidden. Returns (achieved, p50, p99, p99.9).
fn paced(addr: SocketAddr, request: &[u8], rate: f64, conns: usize, secs: u64) -> (f64, u64, u64, u64) {
    const THREADS: usize = 2;
    let interval = Duration::from_secs_f64(conns as f64 / rate);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + Duration::from_secs(secs);
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let request = request.to_vec();
            std::thread::spawn(move || {
                let mut pool: Vec<Paced> = (t..conns)
                    .step_by(THREADS)
                    .map(|c| {
                        let stream = TcpStream::connect(addr).unwrap();
                        stream.set_nodelay(true).unwrap();
                        stream.set_nonblocking(true).unwrap();
                        let due = start + interval.mul_f64(c as f64 / conns as f64);
                        Paced { stream, buf: vec![0u8; 1 << 16], filled: 0, due, in_flight: false }
                    })
                    .collect();
                let mut fds: Vec<libc::pollfd> = pool
                    .iter()
                    .map(|p| {
                        use std::os::fd::AsRawFd;
                        libc::pollfd { fd: p.stream.as_raw_fd(), events: libc::POLLIN, revents: 0 }
                    })
                    .collect();
                let mut hist = Histogram::new();
                let mut n = 0u64;
                loop {
                    let now = Instant::now();
                    for p in pool.iter_mut().filter(|p| !p.in_flight && p.due <= now && p.due < end) {
                        (&p.stream).write_all(&request).unwrap();
                        p.in_flight = true;
                    }
                    let next = pool.iter().filter(|p| !p.in_flight && p.due < end).map(|p| p.due).min();
                    if next.is_none() && pool.iter().all(|p| !p.in_flight) {
                        break;
                    }
                    let wait = next.map(|d| d.saturating_duration_since(now)).unwrap_or(Duration::from_millis(100));
                    let ts = libc::timespec { tv_sec: wait.as_secs() as _, tv_nsec: wait.subsec_nanos() as _ };
                    // SAFETY: `fds` is a live slice of pollfd; no signal mask is passed.
                    let ready = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as _, &ts, std::ptr::null()) };
                    if ready <= 0 {
                        continue;
                    }
                    for (p, fd) in pool.iter_mut().zip(&fds) {
                        if fd.revents == 0 {
                            continue;
                        }
                        // One read per readiness: the rest of a split response wakes the poll again.
                        match p.stream.read(&mut p.buf[p.filled..]) {
                            Ok(0) => panic!("connection closed"),
                            Ok(read) => p.filled += read,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                            Err(e) => panic!("{e}"),
                        }
                        if let Some(len) = response_len(&p.buf[..p.filled]) {
                            assert_eq!(len, p.filled, "one response per request");
                            hist.record(p.due.elapsed().as_micros() as u64);
                            n += 1;
                            p.filled = 0;
                            p.in_flight = false;
                            p.due += interval;
                        }
                    }
                }
                (n, hist)
            })
        })
        .collect();
    let mut all = Histogram::new();
    let mut n = 0;
    for t in threads {
        let (count, hist) = t.join().unwrap();
        n += count;
        all.merge(&hist);
    }
    let achieved = n as f64 / start.elapsed().as_secs_f64();
    (achieved, all.percentile(0.50), all.percentile(0.99), all.percentile(0.999))
}

fn median<T>(v: &[T], key: impl Fn(&T) -> f64) -> f64 {
    let mut xs: Vec<f64> = v.iter().map(key).collect();
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn main() {
    let secs = env("BENCH_SECS", 3);
    let rounds = env("BENCH_ROUNDS", 5) as usize;
    let conns = env("BENCH_CONNS", 16) as usize;
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(dir.path());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let running = common::launch_demo(config);
            let state = running.state.clone();
            let spec = TokenSpec { name: "bench".into(), scopes: vec!["*:r".into()], ..Default::default() };
            let token = state.tokens.create(&spec, state.schema(), SystemClock.now_ms()).unwrap();
            let token = token.token.expose().to_string();
            let principal =
                state.tokens.authenticate(palisade::tokens::BearerToken::new(&token), SystemClock.now_ms()).unwrap();
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
            // Plain actix-web: the same body bytes, from memory.
            let row = state.store.get_row("clients", 1).unwrap().unwrap();
            let body = bytes::Bytes::from(serde_json::json!({ "data": row }).to_string());
            let plain = HttpServer::new(move || {
                let body = body.clone();
                App::new().default_service(web::to(move || {
                    let body = body.clone();
                    async move { HttpResponse::Ok().content_type("application/json").body(body) }
                }))
            })
            .workers(2)
            .disable_signals()
            .bind("127.0.0.1:0")
            .unwrap();
            let plain_addr = plain.addrs()[0];
            tx.send((running.addr, bare_addr, plain_addr, token)).unwrap();
            let _ = futures_util::future::join3(running.server, bare.run(), plain.run()).await;
        })
    });
    let (full_addr, bare_addr, plain_addr, token) = rx.recv().unwrap();
    let request =
        format!("GET /api/v1/clients/1 HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n").into_bytes();

    if let Ok(only) = std::env::var("BENCH_ONLY") {
        // For a profiler: one server alone, saturated.
        let addr = match only.as_str() {
            "plain" => plain_addr,
            "bare" => bare_addr,
            _ => full_addr,
        };
        let r = saturate(addr, &request, conns, secs);
        println!("{only} alone: {:.0}/s, {:.1} µs CPU and {:.1} allocations per request", r.rate, r.cpu_us, r.allocs);
        return;
    }
    if let Some(rate) = std::env::var("BENCH_PACED").ok().and_then(|v| v.parse::<f64>().ok()) {
        // For a scheduler trace: the pipeline alone, open loop at `rate` req/s.
        let h = paced(full_addr, &request, rate, conns, secs);
        println!(
            "pipeline at {rate:.0}/s offered, {:.0} achieved: p50 {} µs, p99 {} µs, p99.9 {} µs",
            h.0, h.1, h.2, h.3
        );
        return;
    }
    println!("palisade pipeline benchmark: {rounds} rounds × {secs}s, {conns} keep-alive connections, 2 workers each");
    for addr in [plain_addr, bare_addr, full_addr] {
        saturate(addr, &request, conns, 1); // warm-up
    }
    let servers = [("plain actix-web", plain_addr), ("no stage", bare_addr), ("pipeline", full_addr)];
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(), Vec::new(), Vec::new()];
    for round in 1..=rounds {
        let mut line = format!("  round {round}:");
        for (i, (name, addr)) in servers.iter().enumerate() {
            let r = saturate(*addr, &request, conns, secs);
            line += &format!(" {name} {:.0}/s {:.1}µs {:.1}a |", r.rate, r.cpu_us, r.allocs);
            runs[i].push(r);
        }
        println!("{line}");
    }
    println!(
        "{:<16} {:>9} {:>8} {:>8} {:>14} {:>12}",
        "medians", "req/s", "p50 µs", "p99 µs", "CPU µs/req", "allocs/req"
    );
    let mut medians = Vec::new();
    for (i, (name, _)) in servers.iter().enumerate() {
        let r = &runs[i];
        let m = (
            median(r, |x| x.rate),
            median(r, |x| x.p50 as f64),
            median(r, |x| x.p99 as f64),
            median(r, |x| x.cpu_us),
            median(r, |x| x.allocs),
        );
        println!("{name:<16} {:>9.0} {:>8.0} {:>8.0} {:>14.1} {:>12.1}", m.0, m.1, m.2, m.3, m.4);
        medians.push(m);
    }
    let (plain, bare, full) = (medians[0], medians[1], medians[2]);
    println!(
        "pipeline / no stage throughput: {:.2} (target ≥ 0.85); pipeline / plain CPU per request: {:.2}× (target ≤ 1.6×)",
        full.0 / bare.0,
        full.3 / plain.3
    );

    // Open loop at half of the pipeline's saturation; the plain server at the same offered
    // rate is the control (what the load generator and the machine add on their own).
    let at_half = |addr| {
        let mut half: Vec<_> = (0..rounds).map(|_| paced(addr, &request, full.0 / 2.0, conns, secs)).collect();
        half.sort_by_key(|h| h.2);
        half[half.len() / 2]
    };
    let (h, control, bare_half) = (at_half(full_addr), at_half(plain_addr), at_half(bare_addr));
    println!(
        "pipeline at half of saturation ({:.0} req/s offered, {:.0} achieved): p50 {} µs, p99 {} µs, p99.9 {} µs (target p99 ≤ 2000 µs)",
        full.0 / 2.0,
        h.0,
        h.1,
        h.2,
        h.3
    );
    for (name, c) in [("plain actix-web", control), ("no stage", bare_half)] {
        println!("control, {name} at the same offered rate: p50 {} µs, p99 {} µs, p99.9 {} µs", c.1, c.2, c.3);
    }
}
