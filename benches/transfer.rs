//! Import, export, backup and restore rates (issue #25), on the demo schema's `invoices`
//! table (8 columns, one reference, two indexes) plus the clients it references.
//!
//! `cargo bench --bench transfer` (`BENCH_ROWS=N` to change the size; default 200 000;
//! `BENCH_CACHE_MB=N` for sled's page cache).
//! Prints: CSV import rate (validation through `tables`, groups through the writer),
//! JSON-lines and CSV export rates, backup time and archive size, restore time, and the
//! p99 latency of writes made while the backup runs.

use std::time::{Duration, Instant};

/// As the server binary (`src/main.rs`): the rates below are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use palisade::schema::Schema;
use palisade::store::{Op, Store};
use palisade::transfer::{export, import, Format};
use serde_json::json;

fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let schema = Schema::parse(palisade::schema::EMBEDDED_SCHEMA).expect("schema");
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("data");
    // `BENCH_CACHE_MB`: sled's page cache (default: the `[state] cache_bytes` default).
    let mut state = palisade::config::StateConfig::default();
    if let Some(mb) = std::env::var("BENCH_CACHE_MB").ok().and_then(|v| v.parse::<u64>().ok()) {
        state.cache_bytes = mb << 20;
    }
    let store = Store::open(&data, &state, schema.index_plan()).expect("store");
    let clients: Vec<_> = (1..=100u64)
        .map(|id| json!({"id": id, "company": format!("Client {id}"), "status": "active"}))
        .map(|v| v.as_object().cloned().unwrap_or_default())
        .collect();
    store.write_blocking(Op::Load { table: "clients".into(), rows: clients }).expect("clients");

    let csv_path = work.path().join("invoices.csv");
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&csv_path).expect("csv"));
        writeln!(out, "id,client_id,number,status,issue_date,due_date,currency,total,notes").expect("w");
        for id in 1..=rows {
            writeln!(
                out,
                "{id},{},INV-{id:08},{},2025-03-{:02},2025-04-01,NOK,{}.50,\"Line, with \"\"quotes\"\" and ø\"",
                1 + id % 100,
                ["draft", "sent", "paid"][(id % 3) as usize],
                1 + id % 28,
                id % 10_000
            )
            .expect("w");
        }
    }
    let t = Instant::now();
    let report = import::file(&store, &schema, "invoices", &csv_path, None, false, 1_800_000_000_000).expect("import");
    let import_secs = t.elapsed().as_secs_f64();
    assert!(report.bad.is_empty() && report.written, "{:?}", report.bad.first());
    println!("import  {rows} rows CSV: {import_secs:.2} s = {:.0} rows/s", rows as f64 / import_secs);

    let table = &schema.tables["invoices"];
    for format in [Format::Jsonl, Format::Csv] {
        let t = Instant::now();
        let mut sink = std::io::BufWriter::new(std::io::sink());
        let n = export::table(&store, table, format, &mut sink).expect("export");
        let secs = t.elapsed().as_secs_f64();
        println!("export  {n} rows {format:?}: {secs:.2} s = {:.0} rows/s", n as f64 / secs);
    }

    // Backup while one client writes as fast as the writer acknowledges.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut lat = Vec::new();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let row =
                    json!({"company": format!("during {n}"), "status": "new"}).as_object().cloned().unwrap_or_default();
                let t = Instant::now();
                store.write_blocking(Op::Insert { table: "clients".into(), row, refs: vec![] }).expect("write");
                lat.push(t.elapsed());
            }
            lat
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let archive = work.path().join("b.tar.zst");
    let t = Instant::now();
    let created = palisade::backup::create(&store, &data.join("audit"), &archive, None).expect("backup");
    let backup_secs = t.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut lat = writer.join().expect("writer");
    lat.sort();
    let p99 = lat.get(lat.len() * 99 / 100).copied().unwrap_or_default();
    println!(
        "backup  {} rows: {backup_secs:.2} s, archive {:.1} MB; {} writes during it, p99 {:.1} ms",
        created.rows.values().sum::<u64>(),
        created.bytes as f64 / 1e6,
        lat.len(),
        p99.as_secs_f64() * 1000.0
    );
    drop(store);
    let restored = work.path().join("restored");
    let t = Instant::now();
    let (plan, layout) = (schema.index_plan(), schema.pg_layout());
    let sled = Default::default();
    palisade::backup::restore(&archive, &Default::default(), &restored, &Default::default(), &sled, plan, layout)
        .expect("restore");
    println!("restore {:.2} s", t.elapsed().as_secs_f64());
}
