//! Schema migration rates at 100 000 rows (issue #23): a column rename, a type change
//! (string → int), and the start-up cost of checking an unchanged schema against the store.
//!
//! `cargo bench --bench migrate` (`BENCH_ROWS=N` to change the size). Each figure is the
//! median of three runs on a fresh data dir.

use std::time::{Duration, Instant};

use palisade::schema::{migrate, Schema};
use palisade::store::{Op, Store};
use serde_json::json;

const BEFORE: &str = "[tables.things.columns]\nlabel = { type = \"string\" }\nsize = { type = \"string\" }\nstatus = { type = \"string\", index = true }\n";
const RENAMED: &str = "[tables.things.columns]\nname = { type = \"string\", renamed_from = \"label\" }\nsize = { type = \"string\" }\nstatus = { type = \"string\", index = true }\n";
const RETYPED: &str = "[tables.things.columns]\nlabel = { type = \"string\" }\nsize = { type = \"int\" }\nstatus = { type = \"string\", index = true }\n";

fn filled(rows: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut schema = Schema::parse(BEFORE).expect("schema");
    let store = Store::open(dir.path(), &Default::default(), schema.index_plan()).expect("store");
    migrate::apply(&store, &mut schema).expect("record");
    let ids: Vec<u64> = (1..=rows).collect();
    for chunk in ids.chunks(10_000) {
        let rows = chunk
            .iter()
            .map(|id| {
                let status = ["new", "open", "closed"][(*id % 3) as usize];
                json!({"id": id, "label": format!("thing number {id}"), "size": id.to_string(), "status": status})
            })
            .map(|v| v.as_object().cloned().unwrap_or_default())
            .collect();
        store.write_blocking(Op::Load { table: "things".into(), rows }).expect("load");
    }
    dir
}

/// Opens the store with `schema` and applies it: the time of the whole start-up part, and of
/// the schema step alone.
fn start(dir: &std::path::Path, text: &str) -> (Duration, usize, Duration) {
    let mut schema = Schema::parse(text).expect("schema");
    let started = Instant::now();
    let store = Store::open(dir, &Default::default(), schema.index_plan()).expect("store");
    let opened = Instant::now();
    let changes = migrate::apply(&store, &mut schema).expect("migrate");
    (started.elapsed(), changes.len(), opened.elapsed())
}

fn open_only(dir: &std::path::Path) -> Duration {
    let schema = Schema::parse(BEFORE).expect("schema");
    let started = Instant::now();
    let _store = Store::open(dir, &Default::default(), schema.index_plan()).expect("store");
    started.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    for (name, text) in [("rename label → name", RENAMED), ("type change size string → int", RETYPED)] {
        let times: Vec<Duration> = (0..3)
            .map(|_| {
                let dir = filled(rows);
                let (took, changes, _) = start(dir.path(), text);
                assert!(changes > 0);
                took
            })
            .collect();
        let t = median(times);
        println!(
            "{name}: {rows} rows in {:.2} s = {:.0} rows/s (open + migrate)",
            t.as_secs_f64(),
            rows as f64 / t.as_secs_f64()
        );
    }
    let dir = filled(rows);
    // Alternated, so neither side gets the warmer page cache.
    let (mut unchanged, mut open, mut step) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let (took, _, schema_step) = start(dir.path(), BEFORE);
        unchanged.push(took);
        step.push(schema_step);
        open.push(open_only(dir.path()));
    }
    println!(
        "start with no schema change at {rows} rows: open + check {:.1} ms, open alone {:.1} ms, the schema step alone {:.3} ms",
        median(unchanged).as_secs_f64() * 1e3,
        median(open).as_secs_f64() * 1e3,
        median(step).as_secs_f64() * 1e3
    );
}
