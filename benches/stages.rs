//! Each stage's own cost, measured without HTTP (`cargo bench --bench stages`).
//!
//! Prints the median time per operation over several batches for: the JSON depth scan of a
//! 256 KiB body, the injection scan of a 10 KiB and of a 256 KiB JSON body, the decoded
//! string literals of a GraphQL mutation and their scan, HMAC request verification, a
//! rate-limit increment under contention, a CIDR match against 100 ranges, a lock lookup,
//! and sandbox PII faking of a 50-row page.

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use ipnet::IpNet;
use palisade::checks::injection::detect;
use palisade::http::body::check_depth;
use palisade::http::literals::string_values;
use palisade::limits::window::FixedWindows;
use palisade::pipeline::auth::{canonical, sign};
use palisade::sandbox::{fake_row, RealValues};
use palisade::schema::Schema;
use palisade::store::locks::{LockKind, LockRecord, LockSource, LockStore};
use palisade::store::KeyRing;
use serde_json::Value;

/// Median nanoseconds per call of `f` over 7 batches of `n` calls.
fn measure(n: u32, mut f: impl FnMut()) -> f64 {
    let mut batches: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .collect();
    batches.sort_by(|a, b| a.partial_cmp(b).unwrap());
    batches[3]
}

fn show(what: &str, ns: f64) {
    if ns >= 1_000_000.0 {
        println!("{what:<55} {:>10.2} ms", ns / 1e6);
    } else if ns >= 1_000.0 {
        println!("{what:<55} {:>10.2} µs", ns / 1e3);
    } else {
        println!("{what:<55} {:>10.0} ns", ns);
    }
}

/// A JSON ticket body of about `size` bytes of realistic support prose.
fn ticket_body(size: usize) -> String {
    let prose = "Hi team, please update the order from last week (INV-2025-0042) and delete the old draft. \
                 O'Brien & Sons said the 'Select' tier is fine; call +44 20 7946 0321 or mail o'brien@example.com. \
                 Steps 1-2-3 -- thanks! ";
    let mut text = String::new();
    while text.len() < size - 200 {
        text.push_str(prose);
    }
    serde_json::json!({"client_id": 1, "subject": "Order question", "body": text, "priority": "low",
        "status": "open", "tags": ["billing", "urgent"]})
    .to_string()
}

fn scan(body: &str) -> usize {
    scan_value(&serde_json::from_str(body).unwrap())
}

/// The detector over every key and string of a parsed body (what the checks stage does).
fn scan_value(value: &Value) -> usize {
    let mut stack = vec![value];
    let mut hits = 0;
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => hits += usize::from(detect(s).is_some()),
            Value::Array(a) => stack.extend(a),
            Value::Object(m) => {
                for (k, v) in m {
                    hits += usize::from(detect(k).is_some());
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
    hits
}

fn main() {
    println!("palisade stage costs (median of 7 batches)");
    let deep = vec![b'['; 262_144];
    let flat: Vec<u8> = ticket_body(262_144).into_bytes();
    show(
        "JSON depth scan, 256 KiB of `[` (refused at 11)",
        measure(100_000, || {
            black_box(check_depth(black_box(&deep), 10)).ok();
        }),
    );
    show(
        "JSON depth scan, 256 KiB ticket (whole body)",
        measure(200, || {
            black_box(check_depth(black_box(&flat), 10)).ok();
        }),
    );

    let small = ticket_body(10_240);
    let large = ticket_body(262_144);
    let t10 = measure(200, || assert_eq!(scan(black_box(&small)), 0));
    show("injection scan, 10 KiB JSON body (parse + scan)", t10);
    let t256 = measure(20, || assert_eq!(scan(black_box(&large)), 0));
    show("injection scan, 256 KiB JSON body (parse + scan)", t256);
    show("  … per 10 KiB of the 256 KiB body", t256 / 25.6);
    println!(
        "  throughput with JSON parsing: {:.0} MB/s (10 KiB body), {:.0} MB/s (256 KiB body)",
        small.len() as f64 / t10 * 1e3,
        large.len() as f64 / t256 * 1e3
    );
    // The pipeline parses a body once (the shield) and the checks scan the parsed value.
    let (small_v, large_v): (Value, Value) =
        (serde_json::from_str(&small).unwrap(), serde_json::from_str(&large).unwrap());
    let s10 = measure(200, || assert_eq!(scan_value(black_box(&small_v)), 0));
    let s256 = measure(20, || assert_eq!(scan_value(black_box(&large_v)), 0));
    println!(
        "  scan throughput (parsed body, as the checks stage sees it): {:.0} MB/s (10 KiB), {:.0} MB/s (256 KiB)  (target ≥ 200)",
        small.len() as f64 / s10 * 1e3,
        large.len() as f64 / s256 * 1e3
    );
    let typical = ticket_body(1_024);
    show(
        "injection scan of a typical 1 KiB JSON body (what it adds to a request)",
        measure(2_000, || assert_eq!(scan(black_box(&typical)), 0)),
    );

    let mutation = r#"mutation { create_tickets(client_id: 1, subject: "Order question", body: "Hi team, O\u0027Brien & Sons asked \"why\" the order from last week is late.\nThanks!", priority: "low", status: "open") { id } }"#;
    show(
        "GraphQL literals of a 5-argument mutation (lex + decode)",
        measure(100_000, || {
            black_box(string_values(black_box(mutation)));
        }),
    );
    show(
        "  … and the injection scan of the query and its literals",
        measure(20_000, || {
            assert!(detect(black_box(mutation)).is_none());
            assert!(string_values(black_box(mutation)).iter().all(|v| detect(v).is_none()));
        }),
    );

    let body = br#"{"company":"Signed Ltd","status":"active"}"#;
    let secret = "pals_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let expected = sign(secret, &canonical("POST", "/api/v1/clients", "b=2&a=1", body, "1800000000"));
    show(
        "HMAC request verification (canonical + HMAC + compare)",
        measure(100_000, || {
            let c = canonical("POST", "/api/v1/clients", "b=2&a=1", black_box(body), "1800000000");
            assert_eq!(sign(secret, &c), expected);
        }),
    );

    let windows = Arc::new(FixedWindows::<String>::new(1000));
    let contended = |threads: usize| {
        let n = 200_000;
        let t = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let w = windows.clone();
                std::thread::spawn(move || {
                    for _ in 0..n {
                        black_box(w.hit("token".to_string(), 1_800_000_000_000, u32::MAX, 60_000).unwrap());
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        t.elapsed().as_nanos() as f64 / (n * threads) as f64
    };
    show("rate-limit increment, 1 thread", contended(1));
    show("rate-limit increment, 2 threads on one token", contended(2));

    let ranges: Vec<IpNet> = (0..100).map(|i| format!("10.{i}.0.0/16").parse().unwrap()).collect();
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    show(
        "CIDR match against 100 ranges (miss: all checked)",
        measure(100_000, || {
            black_box(ranges.iter().any(|n| n.contains(black_box(&ip))));
        }),
    );

    let dir = tempfile::tempdir().unwrap();
    let store = palisade::store::Store::open(dir.path(), &Default::default(), Default::default()).unwrap();
    let locks = LockStore::load(store, Default::default()).unwrap();
    let keys = KeyRing::from_master(&[9; 32]);
    for i in 0..10_000u32 {
        let ip: IpAddr = std::net::Ipv4Addr::from(0x0a00_0000 + i).into();
        let record =
            LockRecord::new(LockKind::Ip, locks.ip_subject(&ip), LockSource::Manual, 0, u64::MAX, "bench".into());
        locks.lock(record);
    }
    show(
        "lock lookup (keyed IP hash + map probe, 10 000 locks)",
        measure(100_000, || {
            black_box(locks.active(LockKind::Ip, &locks.ip_subject(black_box(&ip)), 1));
        }),
    );

    let schema = Schema::parse(palisade::schema::EMBEDDED_SCHEMA).unwrap();
    let table = schema.table("clients").unwrap();
    let rows: Vec<serde_json::Map<String, Value>> =
        palisade::seed::demo_rows(&schema, "clients").unwrap().into_iter().take(50).collect();
    let real = RealValues::default();
    show(
        "sandbox PII faking of a 50-row clients page",
        measure(50, || {
            for row in &rows {
                let mut row = row.clone();
                fake_row(&keys, &real, "tok", table, &mut row);
                black_box(row);
            }
        }),
    );
}
