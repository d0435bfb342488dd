//! List queries (issue #27) at 1 000 and 100 000 invoices (and as many clients; `issue_date`
//! and `total` indexed), through
//! the same plan parser and store path as `GET /api/v1/{table}?…` (HTTP costs the same at
//! any size and is left out).
//!
//! `cargo bench --bench queries` prints the p50 and p99 of:
//! - `total=gte.X&order=-total&limit=20` (indexed range and order; X keeps the top 1 %),
//! - `order=-issue_date&limit=20`, page 1,
//! - a cursor page deep in the same walk (page 500 at 100 000 rows; page 45 at 1 000),
//! - an owner-bound token's list (`client_id=eq.7&order=-id&limit=20`, the filter the
//!   binding adds; client 7 owns 50 invoices at either size),
//! - `company=ilike.*hotel*&limit=20` on clients (unindexed: a scan of every row).

use std::time::{Duration, Instant};

use palisade::api::plan::{self, Allowed};
use palisade::schema::Schema;
use palisade::store::{After, Op, Store};
use serde_json::json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STATUSES: [&str; 3] = ["draft", "sent", "paid"];

fn params(query: &str) -> Vec<(String, String)> {
    palisade::http::query::decode_pairs(query)
}

fn time(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    t.sort();
    (t[runs / 2], t[runs * 99 / 100])
}

fn main() {
    // The demo schema, with the columns the queries sort and filter on indexed (as an app
    // that sorts on them would declare them).
    let text = palisade::schema::EMBEDDED_SCHEMA
        .replace(
            r#"issue_date = { type = "date", required = true }"#,
            r#"issue_date = { type = "date", required = true, index = true }"#,
        )
        .replace(
            r#"total      = { type = "float", required = true }"#,
            r#"total      = { type = "float", required = true, index = true }"#,
        );
    let schema = Schema::parse(&text).expect("schema");
    assert!(schema.index_plan().has("invoices", "total") && schema.index_plan().has("invoices", "issue_date"));
    let invoices = &schema.tables["invoices"];
    let clients = &schema.tables["clients"];
    let allowed = Allowed { columns: None, sandbox: false };
    for n in [1_000u64, 100_000] {
        let work = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&work.path().join("data"), &Default::default(), schema.index_plan()).expect("store");
        for start in (1..=n).step_by(10_000) {
            let end = (start + 9_999).min(n);
            let clients_rows = (start..=end)
                .map(|id| {
                    let company = if id % 50 == 0 { format!("Grand Hotel {id}") } else { format!("Company {id}") };
                    json!({"id": id, "company": company, "status": "active"})
                })
                .map(|v| v.as_object().cloned().unwrap_or_default())
                .collect();
            store.write_blocking(Op::Load { table: "clients".into(), rows: clients_rows }).expect("clients");
            let rows = (start..=end)
                .map(|id| {
                    // Client 7 owns the first 50 invoices at either size, and no other.
                    let client = if id <= 50 { 7 } else { 1 + id % n.min(1000) };
                    let client = if client == 7 && id > 50 { 8 } else { client };
                    json!({"id": id, "client_id": client, "number": format!("INV-{id}"),
                           "status": STATUSES[(id % 3) as usize],
                           "issue_date": format!("20{:02}-{:02}-{:02}", 10 + id % 15, 1 + id % 12, 1 + id % 28),
                           "total": (id * 7919 % 100_000) as f64 / 10.0})
                })
                .map(|v| v.as_object().cloned().unwrap_or_default())
                .collect();
            store.write_blocking(Op::Load { table: "invoices".into(), rows }).expect("invoices");
        }
        let run = |table: &palisade::schema::Table, query: &str| {
            let p = plan::parse(table, &params(query), &allowed, None).expect("plan");
            store.list_rows(&table.name, &p.q).expect("list")
        };
        let runs = if n > 10_000 { 200 } else { 1000 };
        let (p50, p99) = time(runs, || {
            run(invoices, "total=gte.9900&order=-total&limit=20");
        });
        let page = run(invoices, "total=gte.9900&order=-total&limit=20");
        println!(
            "{n:>7} invoices  total=gte.9900&order=-total&limit=20   p50 {p50:>9.2?}  p99 {p99:>9.2?}  ({} of {} rows)",
            page.rows.len(),
            page.total
        );
        let (p50, p99) = time(runs, || {
            run(invoices, "order=-issue_date&limit=20");
        });
        println!("{n:>7} invoices  order=-issue_date&limit=20 page 1    p50 {p50:>9.2?}  p99 {p99:>9.2?}");
        // Walk to the deep page once, then time reading it from its cursor.
        let deep = if n > 10_000 { 500 } else { 45 };
        let mut query = "order=-issue_date&limit=20".to_string();
        for _ in 1..deep {
            let p = plan::parse(invoices, &params(&query), &allowed, None).expect("plan");
            let page = store.list_rows("invoices", &p.q).expect("list");
            let last = After::of(&p.q.order, page.rows.last().expect("a full page"));
            query = format!("order=-issue_date&limit=20&after={}", p.cursor(&last));
        }
        let (p50, p99) = time(runs, || {
            run(invoices, &query);
        });
        println!("{n:>7} invoices  the same, cursor page {deep:<3}             p50 {p50:>9.2?}  p99 {p99:>9.2?}");
        // What an owner-bound token's list runs (`--owner clients:7`, one reference away):
        // the binding's filter on the reference column's index.
        let (p50, p99) = time(runs, || {
            run(invoices, "client_id=eq.7&order=-id&limit=20");
        });
        let owned = run(invoices, "client_id=eq.7&limit=1").total;
        println!("{n:>7} invoices  owned list (client 7: {owned:>3} rows), limit 20  p50 {p50:>9.2?}  p99 {p99:>9.2?}");
        let scans = if n > 10_000 { 20 } else { 200 };
        let (p50, p99) = time(scans, || {
            run(clients, "company=ilike.*hotel*&limit=20");
        });
        println!("{n:>7} clients   company=ilike.*hotel*&limit=20 (scan) p50 {p50:>9.2?}  p99 {p99:>9.2?}");
    }
}
