//! Floods of distinct client IPs (through a trusted proxy's `X-Forwarded-For`): the per-IP
//! maps stay within their capacity, heavy hitters stay throttled, and legitimate tokens keep
//! being answered.
//!
//! The million-IP run is `#[ignore]`d (minutes in a debug build); run it, in release, with
//!     cargo test --release --test api flood_of_a_million -- --ignored --nocapture
//! It prints the server's peak resident memory and the bytes per tracked IP.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{KeepAlive, Spawned, TestApp};

fn ip(i: u32) -> String {
    std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string()
}

#[test]
fn a_flood_of_one_shot_ips_stays_within_capacity_and_tokens_are_answered() {
    let app = TestApp::builder()
        .manual_clock()
        .config(|c| {
            c.shield.max_tracked_ips = 2_000;
            c.shield.ip_requests = 20;
            c.shield.ip_window_secs = 3600;
        })
        .start();
    // At the start of an hour-long window; the clock moves 1.1 s per 1000 flood requests
    // (so the full map is swept every thousand), and the window never ends mid-test.
    let clock = app.manual_clock();
    let now = palisade::clock::Clock::now_ms(clock);
    clock.set_ms(now - now % 3_600_000);
    let t = app.token(&["clients:r"]);
    let legit = format!("Authorization: Bearer {t}\r\nX-Forwarded-For: 192.0.2.10\r\n");
    let heavy = "X-Forwarded-For: 198.51.100.99\r\n";
    let mut conn = KeepAlive::connect(app.addr);
    assert_eq!(conn.get("/api/v1/clients/1", &legit), Some(200));
    assert_eq!(conn.get("/health", heavy), Some(200));
    assert_eq!(conn.get("/health", heavy), Some(200));
    let mut refused_full = 0;
    for i in 0..10_000u32 {
        match conn.get("/health", &format!("X-Forwarded-For: {}\r\n", ip(i))) {
            Some(200) => {}
            Some(503) => refused_full += 1,
            other => panic!("flood request {i}: {other:?}"),
        }
        if i % 1_000 == 999 {
            clock.advance_ms(1_100);
            // The legitimate token is answered throughout (its IP is 'repeated', so kept).
            assert_eq!(conn.get("/api/v1/clients/1", &legit), Some(200), "after {i} flood requests");
            assert!(app.state.stages().shield.throttle.len() <= 2_000);
        }
    }
    // The heavy hitter kept its window through the flood: 2 + 18 more, then throttled.
    let heavy_statuses: Vec<u16> = (0..19).map(|_| conn.get("/health", heavy).unwrap()).collect();
    assert_eq!(heavy_statuses[..18], [200; 18]);
    assert_eq!(heavy_statuses[18], 429);
    eprintln!("flood: {refused_full} of 10000 one-shot requests refused while the map was full");
}

/// VmHWM / VmRSS of a process, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap()
            * 1024
    };
    (kb("VmHWM:"), kb("VmRSS:"))
}

#[test]
#[ignore = "a million requests: run in release (see the module docs)"]
fn flood_of_a_million_ips_stays_under_256_mib_and_serves_tokens() {
    const IPS: u32 = 1_000_000;
    const THREADS: u32 = 4;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("palisade.toml");
    std::fs::write(&config, "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n").unwrap();
    crate::support::init_store(&data);
    let token =
        Spawned::create_token(&data, &config, &["--name", "legit", "--scope", "clients:r", "--rate", "1000000"]);
    let server = Spawned::serve(&data, &config);
    let pid = server.child.id();
    let addr = server.addr;
    let mut legit = KeepAlive::connect(addr);
    let legit_headers = format!("Authorization: Bearer {token}\r\nX-Forwarded-For: 192.0.2.10\r\n");
    assert_eq!(legit.get("/api/v1/clients?limit=1", &legit_headers), Some(200));
    let (_, idle_rss) = memory(pid);

    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicU64::new(0));
    let flooders: Vec<_> = (0..THREADS)
        .map(|t| {
            let refused = refused.clone();
            std::thread::spawn(move || {
                let mut conn = KeepAlive::connect(addr);
                for i in (t..IPS).step_by(THREADS as usize) {
                    let status = conn.get("/api/v1/clients/1", &format!("X-Forwarded-For: {}\r\n", ip(i)));
                    match status {
                        Some(401) => {}
                        Some(_) => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        None => conn = KeepAlive::connect(addr),
                    }
                }
            })
        })
        .collect();
    // The legitimate client, every 200 ms during the flood (within the default 600 a minute).
    let (mut worst, mut answered, mut peak) = (Duration::ZERO, 0u32, 0u64);
    let watcher_done = done.clone();
    while !watcher_done.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        assert_eq!(legit.get("/api/v1/clients?limit=1", &legit_headers), Some(200), "legitimate token refused");
        worst = worst.max(t0.elapsed());
        answered += 1;
        peak = peak.max(memory(pid).0);
        std::thread::sleep(Duration::from_millis(200));
        if flooders.iter().all(|f| f.is_finished()) {
            done.store(true, Ordering::Relaxed);
        }
    }
    flooders.into_iter().for_each(|f| f.join().unwrap());
    let elapsed = started.elapsed();
    let (hwm, rss) = memory(pid);
    eprintln!(
        "flood: {IPS} IPs in {:.1} s ({:.0} req/s), {} refused; legitimate: {answered} answered, worst {:?}; \
         RSS idle {:.1} MiB, after {:.1} MiB, peak {:.1} MiB; ≈ {} bytes per flood IP (all maps, audit and caches)",
        elapsed.as_secs_f64(),
        IPS as f64 / elapsed.as_secs_f64(),
        refused.load(Ordering::Relaxed),
        worst,
        idle_rss as f64 / 1048576.0,
        rss as f64 / 1048576.0,
        hwm.max(peak) as f64 / 1048576.0,
        rss.saturating_sub(idle_rss) / IPS as u64,
    );
    assert!(hwm < 256 * 1024 * 1024, "peak RSS {hwm} bytes");
    assert_eq!(legit.get("/api/v1/clients?limit=1", &legit_headers), Some(200));
}
