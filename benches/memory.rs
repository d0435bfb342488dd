//! Memory figures (`cargo bench --bench memory`): the server's resident size idle on the demo
//! data, and what 100 000 tokens, 100 000 tracked client IPs, 100 000 IPv6 clients of the
//! public views (each a /64 window and its /48's), 100 000 replay entries and 10 000 lock
//! records (the default `[checks] max_locks`) add.
//!
//! `cargo test --bench memory` runs the same on the debug build (the heap figures are the
//! same; the idle resident size is not).
//!
//! Idle: the release binary is started on a fresh data dir (seeded), asked a few requests,
//! and its VmRSS read from /proc. Per key: the in-process structures the server keeps
//! (token registry cache, token rate-limit windows, per-IP throttle windows) are filled with
//! 100 000 entries each; a counting allocator gives the live heap bytes they add (resident
//! size would hide them in memory the allocator already holds). The audit trail's cost is
//! the growth of resident size over a million appended records.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use palisade::limits::window::FixedWindows;
use palisade::store::{IpKey, Op, Store, SysTree};
use palisade::tokens::{Perms, ScopeEntry, TokenRecord, TokenRegistry};

const N: usize = 100_000;

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn heap() -> u64 {
    LIVE.load(Ordering::Relaxed) as u64
}
/// Records per audit writer batch (`pipeline::audit`).
const AUDIT_BATCH: usize = 1024;

/// This process's resident size, from /proc/self/statm.
fn rss() -> u64 {
    palisade::metrics::resident_bytes()
}

fn vm_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap()
        * 1024
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn idle_server() -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    // Keep reading: the server prints more lines after the first (seeding, warnings), and a
    // closed pipe would make those prints fail and the server exit.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let addr = first.trim().strip_prefix("listening on http://").unwrap().to_string();
    for _ in 0..20 {
        // The server may reset a connection it has answered and closed: a few requests are
        // all this needs, not each one's answer.
        let Ok(mut s) = TcpStream::connect(&addr) else { continue };
        if s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").is_ok() {
            let _ = s.read_to_end(&mut Vec::new());
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let rss = vm_rss(child.id());
    let _ = child.kill();
    let _ = child.wait();
    rss
}

fn main() {
    println!("palisade memory benchmark ({N} keys each)");
    println!("idle server on the demo data: {:.1} MiB resident", mib(idle_server()));

    // Tokens: records written to sled, then loaded into the registry's cache.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &Default::default(), Default::default()).unwrap();
    let mut entries = Vec::with_capacity(N);
    for i in 0..N {
        let record = TokenRecord {
            id: format!("{i:016x}"),
            name: format!("user-{i}"),
            hash: format!("{:064x}", i),
            scopes: vec![
                ScopeEntry { table: "clients".into(), perms: Perms::parse("r").unwrap() },
                ScopeEntry { table: "invoices".into(), perms: Perms::parse("rc").unwrap() },
            ],
            views: Vec::new(),
            origins: Vec::new(),
            cidrs: Vec::new(),
            rate: Some(600),
            window_secs: Some(60),
            sealed_signing_secret: None,
            sandbox: false,
            introspection: false,
            allow_sensitive: false,
            created_at_ms: 0,
            expires_at_ms: None,
            revoked: false,
            owner: None,
        };
        entries.push((record.id.clone().into_bytes(), serde_json::to_vec(&record).unwrap()));
    }
    store.write_blocking(Op::Put { tree: SysTree::Tokens, entries }).unwrap();
    // Loading also churns sled's cache, so the registry's share is what dropping it frees.
    let registry = TokenRegistry::load(store.clone()).unwrap();
    assert_eq!(registry.len(), N);
    let before = heap();
    drop(registry);
    let freed = before.saturating_sub(heap());
    println!("tokens: {:.1} MiB per {N} loaded tokens ({} bytes each)", mib(freed), freed / N as u64);

    // Token rate-limit windows (one per token that made a request this window).
    let windows: Arc<FixedWindows<String>> = Arc::new(FixedWindows::new(N * 2));
    let before = heap();
    for i in 0..N {
        windows.hit(format!("{i:016x}"), 1_000, 600, 60_000).unwrap();
    }
    let after = heap();
    println!(
        "token rate-limit windows: {:.1} MiB per {N} active tokens ({} bytes each)",
        mib(after.saturating_sub(before)),
        after.saturating_sub(before) / N as u64
    );

    // Per-IP throttle windows, keyed by the keyed IP hash.
    let throttle: FixedWindows<IpKey> = FixedWindows::sheddable(N * 2);
    let keys = store.keys.clone();
    let before = heap();
    for i in 0..N as u32 {
        let ip = std::net::IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        throttle.hit(keys.ip_key(&ip), 1_000, 600, 60_000).unwrap();
    }
    let after = heap();
    println!(
        "per-IP throttle windows: {:.1} MiB per {N} tracked IPs ({} bytes each)",
        mib(after.saturating_sub(before)),
        after.saturating_sub(before) / N as u64
    );
    drop((windows, throttle));

    // Public-view windows of IPv6 clients: each /64's window and its /48's (one /48 per
    // sixteen /64s here), both keyed by keyed hashes.
    let public: FixedWindows<IpKey> = FixedWindows::sheddable(N * 2);
    let config = palisade::config::ChecksConfig::default();
    let before = heap();
    for i in 0..N as u32 {
        let ip = std::net::IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, (i >> 4) as u16, i as u16, 0, 0, 0, 1));
        let client = palisade::pipeline::client_ip::ClientKeys::of(ip, &keys, &config);
        let wide = client.wide.map(|key| palisade::limits::window::Outer { key, limit: 960 });
        public.hit_within(client.ip, wide, 1_000, 60, 60_000).unwrap();
    }
    let after = heap();
    println!(
        "public-view windows: {:.1} MiB per {N} IPv6 clients and their {} /48s ({} bytes a client)",
        mib(after.saturating_sub(before)),
        N / 16,
        after.saturating_sub(before) / N as u64
    );
    drop(public);

    // The replay cache: one entry per admitted signed request inside the window.
    let replay = palisade::limits::replay::ReplayCache::new(N * 2);
    let before = heap();
    for i in 0..N as u64 {
        let mut sig = [0u8; 32];
        sig[..8].copy_from_slice(&i.to_le_bytes());
        replay.remember(sig, 1_000, 301_000).unwrap();
    }
    let after = heap();
    println!(
        "replay cache: {:.1} MiB per {N} signatures ({} bytes each)",
        mib(after.saturating_sub(before)),
        after.saturating_sub(before) / N as u64
    );
    drop(replay);

    // Lock records in memory (the mirror of sys:locks), at the default cap.
    use palisade::store::locks::{LockKind, LockPolicy, LockRecord, LockSource, LockStore};
    const LOCKS: usize = 10_000;
    // Writing them churns sled's cache too, so the mirror's share is what dropping it frees.
    let locks = LockStore::load(store.clone(), LockPolicy::default()).unwrap();
    for i in 0..LOCKS as u32 {
        let ip = std::net::IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, i as u16, 1, 0, 0, 0, 1));
        let reason = "injection: SQL injection (tautology)".to_string();
        let mut record =
            LockRecord::new(LockKind::Ip, locks.ip_subject(&ip), LockSource::Automatic, 0, u64::MAX, reason);
        record.sample = Some("status=' OR 1=1--".into());
        locks.lock_client(&ip, record);
    }
    store.write_blocking(Op::Ping).unwrap();
    assert_eq!(locks.len(), LOCKS);
    let before = heap();
    drop(locks);
    let freed = before.saturating_sub(heap());
    println!(
        "lock records: {:.1} MiB per {LOCKS} automatic IPv6 locks in memory ({} bytes each)",
        mib(freed),
        freed / LOCKS as u64
    );

    // The audit trail under a flood: records appended in the writer's batches of 1024.
    let log = palisade::store::audit::AuditLog::open(dir.path(), Default::default(), store.health.clone()).unwrap();
    let before = rss();
    let mut batch = Vec::with_capacity(1024);
    for i in 0..1_000_000u64 {
        batch.push(palisade::store::audit::AuditRecord {
            time: String::new(),
            time_ms: 1_800_000_000_000 + i,
            request_id: format!("{i:016x}"),
            method: "GET".into(),
            path: "/api/v1/clients/1".into(),
            query: None,
            status: 401,
            duration_us: 120,
            token_id: None,
            user: None,
            owner: None,
            ip_hash: format!("{:032x}", i),
            stage: Some("auth".into()),
            reason: Some("missing bearer token".into()),
            instance: None,
            prev: String::new(),
        });
        if batch.len() == AUDIT_BATCH {
            log.append(&batch, &()).unwrap();
            batch.clear();
        }
    }
    let after = rss();
    println!(
        "audit: 1 000 000 records appended: resident size grew {:.1} MiB; {} bytes on disk per record",
        mib(after.saturating_sub(before)),
        log.disk_bytes() / 1_000_000
    );
}
