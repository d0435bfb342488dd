//! Memory figures (`cargo bench --bench memory`): the server's resident size idle on the demo
//! data, and what 100 000 tokens and 100 000 tracked client IPs add.
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
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr = first.trim().strip_prefix("listening on http://").unwrap().to_string();
    for _ in 0..20 {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
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
            ip_hash: format!("{:032x}", i),
            stage: Some("auth".into()),
            reason: Some("missing bearer token".into()),
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
