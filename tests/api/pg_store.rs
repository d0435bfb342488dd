//! The PostgreSQL backend against the sled store, on a real PostgreSQL: the same rows
//! written through both, then the same list queries — every operator, several orders
//! (nulls, ties, text, dates, datetimes with offsets), offsets and whole cursor walks —
//! must give the same pages and totals. Writes must refuse what the sled store refuses (a
//! reference to a missing row, a delete of a referenced row, a taken id, a batch with one
//! bad row stores none), and nothing a request sends becomes SQL: every injection string of
//! the corpus, sent as a filter value and as a stored value, leaves the database as it was.

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use palisade::config::StateConfig;
use palisade::error::ErrorKind;
use palisade::schema::Schema;
use palisade::store::pg::PgStore;
use palisade::store::{After, Cmp, Done, Filter, Kind, ListQuery, NewRow, Op, OrderBy, Row, Store};

use crate::engines::Postgres;

/// Both stores on the embedded schema, empty.
fn stores(pg: &Postgres, db: &str) -> (Store, PgStore, tempfile::TempDir) {
    let schema = Schema::parse(palisade::schema::EMBEDDED_SCHEMA).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sled = Store::open(dir.path(), &StateConfig::default(), schema.index_plan()).unwrap();
    pg.create_database(db);
    let postgres = PgStore::open(&pg.url(db), "", 3, schema.pg_layout()).unwrap();
    (sled, postgres, dir)
}

fn row(v: Value) -> Row {
    v.as_object().unwrap().clone()
}

/// Writes `op` (built twice: ops hold closures) to both; the answers must agree.
fn both(sled: &Store, pg: &PgStore, op: impl Fn() -> Op) -> Result<Done, ErrorKind> {
    let a = sled.write_blocking(op()).map_err(|e| e.kind);
    let b = pg.write_blocking(op()).map_err(|e| e.kind);
    assert_eq!(a, b, "sled and PostgreSQL answer one write differently");
    a
}

fn seed(sled: &Store, pg: &PgStore) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(29);
    let companies = ["École du Nord", "école du sud", "Hotel Alpha", "hotel beta", "HOTEL Gamma", "Ærø Fisk"];
    let offsets = ["Z", "+02:00", "-05:30"];
    for i in 0..60 {
        let mut c = json!({
            "company": format!("{} {i}", companies[i % companies.len()]),
            "status": (["active", "lead", "churned"][rng.gen_range(0..3)]),
        });
        if rng.gen_bool(0.7) {
            c["city"] = json!((["Lyon", "lyon", "Zürich", "Aachen", "Ørsted"][rng.gen_range(0..5)]));
        }
        if rng.gen_bool(0.8) {
            let hour = rng.gen_range(0..24);
            c["created_at"] = json!(format!("2024-03-01T{hour:02}:{:02}:00{}", rng.gen_range(0..60), offsets[i % 3]));
        }
        let c = row(c);
        both(sled, pg, || Op::Insert { table: "clients".into(), row: c.clone(), refs: Vec::new() }).unwrap();
    }
    for i in 0..400 {
        let mut inv = json!({
            "client_id": rng.gen_range(1..=60),
            "number": format!("INV-{i:05}"),
            "status": (["draft", "sent", "paid", "void"][rng.gen_range(0..4)]),
            "issue_date": format!("2024-{:02}-{:02}", rng.gen_range(1..=12), rng.gen_range(1..=28)),
            // Few distinct totals: ties for the id to break.
            "total": (rng.gen_range(0..40) as f64) * 12.5,
        });
        if rng.gen_bool(0.6) {
            inv["due_date"] = json!(format!("2025-{:02}-{:02}", rng.gen_range(1..=12), rng.gen_range(1..=28)));
        }
        if rng.gen_bool(0.5) {
            inv["currency"] = json!("EUR");
        }
        let inv = row(inv);
        both(sled, pg, || Op::Insert { table: "invoices".into(), row: inv.clone(), refs: Vec::new() }).unwrap();
    }
}

fn f(column: &str, kind: Kind, cmp: Cmp, not: bool, values: Vec<Value>) -> Filter {
    Filter::new(column, kind, cmp, not, values)
}

fn by(column: &str, kind: Kind, descending: bool) -> OrderBy {
    OrderBy { column: column.into(), kind, descending }
}

/// One query's pages from both stores: the first, one past an offset, and a whole cursor
/// walk in pages of 7.
fn same_answers(sled: &Store, pg: &PgStore, table: &str, filters: Vec<Filter>, order: Vec<OrderBy>) {
    let what = format!("{table} {filters:?} {order:?}");
    let q = ListQuery { filters, order, limit: 7, ..Default::default() };
    for q in [q.clone(), ListQuery { offset: 3, ..q.clone() }] {
        let (a, b) = (sled.list_rows(table, &q).unwrap(), pg.list_rows(table, &q).unwrap());
        assert_eq!(a.total, b.total, "total of {what}");
        assert_eq!(a.rows, b.rows, "page of {what} (offset {})", q.offset);
    }
    let mut q = ListQuery { skip_total: true, ..q };
    let mut seen = 0;
    loop {
        let (a, b) = (sled.list_rows(table, &q).unwrap(), pg.list_rows(table, &q).unwrap());
        assert_eq!(a.rows, b.rows, "cursor page after {} rows of {what}", seen);
        let Some(last) = a.rows.last() else { break };
        seen += a.rows.len();
        q.after = Some(After::of(&q.order, last));
    }
}

#[test]
fn every_operator_order_and_cursor_answers_as_the_sled_store_does() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let pg = Postgres::start();
    let (sled, postgres, _dir) = stores(&pg, "conformance");
    seed(&sled, &postgres);
    let n = |v: f64| json!(v);
    let s = |v: &str| json!(v);
    let filters: Vec<Vec<Filter>> = vec![
        vec![],
        vec![f("status", Kind::Text, Cmp::Eq, false, vec![s("paid")])],
        vec![f("status", Kind::Text, Cmp::Eq, true, vec![s("paid")])],
        vec![f("status", Kind::Text, Cmp::In, false, vec![s("paid"), s("void"), s("nope")])],
        vec![f("total", Kind::Number, Cmp::Gt, false, vec![n(250.0)])],
        vec![
            f("total", Kind::Number, Cmp::Gte, false, vec![n(100.0)]),
            f("total", Kind::Number, Cmp::Lt, false, vec![n(200.0)]),
        ],
        vec![f("total", Kind::Number, Cmp::Lte, false, vec![json!(37)])],
        vec![f("client_id", Kind::Number, Cmp::Eq, false, vec![json!(7)])],
        vec![f("client_id", Kind::Number, Cmp::In, false, vec![json!(3), json!(2.5), json!(9)])],
        vec![f("due_date", Kind::Text, Cmp::IsNull, false, vec![])],
        vec![f("due_date", Kind::Text, Cmp::IsNull, true, vec![])],
        vec![f("due_date", Kind::Text, Cmp::Lt, false, vec![s("2025-06-01")])],
        vec![f("due_date", Kind::Text, Cmp::Lt, true, vec![s("2025-06-01")])],
        vec![f("number", Kind::Text, Cmp::Like, false, vec![s("INV-001*")])],
        vec![f("number", Kind::Text, Cmp::ILike, false, vec![s("*v-0*5")])],
        vec![
            f("currency", Kind::Text, Cmp::Eq, false, vec![s("EUR")]),
            f("status", Kind::Text, Cmp::Eq, false, vec![s("sent")]),
        ],
        vec![f("id", Kind::Number, Cmp::Gt, false, vec![json!(390)])],
    ];
    let orders: Vec<Vec<OrderBy>> = vec![
        vec![],
        vec![by("total", Kind::Number, false)],
        vec![by("total", Kind::Number, true)],
        vec![by("due_date", Kind::Text, false)],
        vec![by("due_date", Kind::Text, true)],
        vec![by("status", Kind::Text, false), by("total", Kind::Number, true)],
        vec![by("currency", Kind::Text, true), by("issue_date", Kind::Text, false)],
        vec![by("id", Kind::Number, true)],
    ];
    for fs in &filters {
        for order in &orders {
            same_answers(&sled, &postgres, "invoices", fs.clone(), order.clone());
        }
    }
    // Text byte-wise, case-insensitive matching beyond ASCII, datetimes by instant.
    let clients: Vec<(Vec<Filter>, Vec<OrderBy>)> = vec![
        (vec![f("company", Kind::Text, Cmp::ILike, false, vec![s("*école*")])], vec![by("company", Kind::Text, false)]),
        (vec![f("company", Kind::Text, Cmp::Like, false, vec![s("Hotel*")])], vec![]),
        (vec![f("company", Kind::Text, Cmp::ILike, false, vec![s("hotel*")])], vec![by("company", Kind::Text, true)]),
        (vec![], vec![by("city", Kind::Text, false)]),
        (vec![], vec![by("created_at", Kind::Instant, false)]),
        (vec![], vec![by("created_at", Kind::Instant, true)]),
        (vec![f("created_at", Kind::Instant, Cmp::Gt, false, vec![s("2024-03-01T12:00:00+01:00")])], vec![]),
        (vec![f("created_at", Kind::Instant, Cmp::Eq, false, vec![s("2024-03-01T12:00:00Z")])], vec![]),
    ];
    for (fs, order) in clients {
        same_answers(&sled, &postgres, "clients", fs, order);
    }
    assert_eq!(postgres.row_count("invoices").unwrap(), 400);
    let one = postgres.get_row("clients", 2).unwrap().unwrap();
    assert_eq!(Some(one), sled.get_row("clients", 2).unwrap(), "a row reads back as it was written");
}

#[test]
fn writes_refuse_what_the_sled_store_refuses() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let pg = Postgres::start();
    let (sled, postgres, _dir) = stores(&pg, "writes");
    let client = row(json!({"company": "Acme", "status": "active"}));
    both(&sled, &postgres, || Op::Insert { table: "clients".into(), row: client.clone(), refs: Vec::new() }).unwrap();
    let invoice = |client_id: u64| {
        row(
            json!({"client_id": client_id, "number": "N-1", "status": "sent", "issue_date": "2024-01-01", "total": 1.5}),
        )
    };
    // A reference to a missing row: 409 (sled checks `refs`, PostgreSQL its foreign key).
    let missing = || {
        let refs = vec![palisade::store::RowRef { column: "client_id".into(), table: "clients".into(), id: 9 }];
        Op::Insert { table: "invoices".into(), row: invoice(9), refs }
    };
    assert_eq!(both(&sled, &postgres, missing), Err(ErrorKind::Conflict));
    let good = || {
        let refs = vec![palisade::store::RowRef { column: "client_id".into(), table: "clients".into(), id: 1 }];
        Op::Insert { table: "invoices".into(), row: invoice(1), refs }
    };
    assert!(matches!(both(&sled, &postgres, good), Ok(Done::Row(_))));
    // A referenced row cannot be deleted; a missing one is Missing.
    let referrers = vec![("invoices".to_string(), "client_id".to_string())];
    let delete = |id| Op::Delete { table: "clients".into(), id, referrers: referrers.clone() };
    assert_eq!(both(&sled, &postgres, || delete(1)), Err(ErrorKind::Conflict));
    assert_eq!(both(&sled, &postgres, || delete(77)), Ok(Done::Missing));
    // A batch with one bad row stores none, and says which.
    let batch = || {
        let rows = vec![
            NewRow { row: row(json!({"company": "B1", "status": "lead"})), refs: Vec::new() },
            NewRow { row: row(json!({"id": 1, "company": "taken", "status": "lead"})), refs: Vec::new() },
        ];
        Op::InsertMany { table: "clients".into(), rows }
    };
    let refused = postgres.write_blocking(batch()).unwrap_err();
    assert_eq!((refused.kind, refused.message.starts_with("row 1:")), (ErrorKind::Conflict, true), "{refused:?}");
    assert_eq!(sled.write_blocking(batch()).unwrap_err().kind, ErrorKind::Conflict);
    assert_eq!(postgres.row_count("clients").unwrap(), 1);
    // An update sees the stored row; one of a missing row is Missing.
    let update = |id| Op::Update {
        table: "clients".into(),
        id,
        refs: Vec::new(),
        change: Box::new(|mut r: Row| {
            r.insert("city".into(), json!("Lyon"));
            Ok(r)
        }),
    };
    assert!(matches!(both(&sled, &postgres, || update(1)), Ok(Done::Row(r)) if r["city"] == "Lyon"));
    assert_eq!(both(&sled, &postgres, || update(50)), Ok(Done::Missing));
    // Ids continue past rows stored with their own.
    let load =
        || Op::Load { table: "clients".into(), rows: vec![row(json!({"id": 40, "company": "L", "status": "lead"}))] };
    both(&sled, &postgres, load).unwrap();
    let next = both(&sled, &postgres, || Op::Insert { table: "clients".into(), row: client.clone(), refs: Vec::new() });
    assert!(matches!(next, Ok(Done::Row(r)) if r["id"] == 41));
}

#[test]
fn injection_strings_stay_values() {
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let pg = Postgres::start();
    let (sled, postgres, _dir) = stores(&pg, "injection");
    let corpus = include_str!("../corpus/real/attacks_sqlmap.txt");
    let payloads: Vec<&str> = corpus.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).take(2_000).collect();
    assert!(payloads.len() >= 1_000, "the corpus is there");
    let keep = row(json!({"company": "Keep", "status": "active"}));
    both(&sled, &postgres, || Op::Insert { table: "clients".into(), row: keep.clone(), refs: Vec::new() }).unwrap();
    for (i, p) in payloads.iter().enumerate() {
        // As filter values of every kind of operator...
        for cmp in [Cmp::Eq, Cmp::Like, Cmp::ILike, Cmp::Gt] {
            let q = ListQuery {
                filters: vec![f("company", Kind::Text, cmp, false, vec![json!(p)])],
                limit: 5,
                ..Default::default()
            };
            let page = postgres.list_rows("clients", &q).unwrap();
            if cmp == Cmp::Eq {
                assert!(page.rows.iter().all(|r| r["company"] == json!(p)), "{p}");
            }
        }
        // ...and as stored values, read back unchanged.
        if i % 10 == 0 {
            let r = row(json!({"company": p, "status": p}));
            let Done::Row(stored) =
                postgres.write_blocking(Op::Insert { table: "clients".into(), row: r, refs: Vec::new() }).unwrap()
            else {
                panic!("insert")
            };
            let id = stored["id"].as_u64().unwrap();
            assert_eq!(postgres.get_row("clients", id).unwrap().unwrap()["company"], json!(p));
        }
    }
    // Nothing dropped, nothing altered: the first row and every table are still there.
    assert_eq!(postgres.get_row("clients", 1).unwrap().unwrap()["company"], "Keep");
    assert_eq!(postgres.row_count("clients").unwrap(), 1 + payloads.len().div_ceil(10) as u64);
    assert_eq!(postgres.row_count("invoices").unwrap(), 0);
}

/// A column's type change on PostgreSQL (`ALTER … TYPE … USING`) gives what Palisade's own
/// conversion gives (`schema::migrate::convert`), value for value, for every pair the
/// migration allows here.
#[test]
fn type_changes_convert_as_the_migration_does() {
    use palisade::schema::ColumnType;
    if crate::support::runs_on_the_sled_run() {
        return;
    }
    let pg = Postgres::start();
    pg.create_database("retype");
    let before = "[tables.t.columns]\na = { type = \"string\" }\nb = { type = \"string\" }\nc = { type = \"string\" }\n\
                  d = { type = \"int\" }\ne = { type = \"date\" }\nf = { type = \"datetime\" }\ng = { type = \"float\" }\n";
    let after = "[tables.t.columns]\na = { type = \"int\" }\nb = { type = \"bool\" }\nc = { type = \"datetime\" }\n\
                 d = { type = \"float\" }\ne = { type = \"datetime\" }\nf = { type = \"string\" }\ng = { type = \"string\" }\n";
    let rows = [
        json!({"a": " 22", "b": "Yes", "c": "2024-03-01", "d": 7, "e": "2024-02-29", "f": "2024-03-01T10:00:00+02:00", "g": 1.5}),
        json!({"a": "-5", "b": " 0", "c": "2024-03-01T08:30:00Z", "d": -3, "e": "1999-12-31", "f": "2024-01-01T00:00:00Z", "g": 100.0}),
        json!({"a": "0", "b": "FALSE"}),
    ];
    let open = |text: &str| {
        let schema = Schema::parse(text).unwrap();
        (PgStore::open(&pg.url("retype"), "", 2, schema.pg_layout()).unwrap(), schema)
    };
    let (store, _) = open(before);
    for r in &rows {
        store.write_blocking(Op::Insert { table: "t".into(), row: row(r.clone()), refs: Vec::new() }).unwrap();
    }
    let (store, schema) = open(after);
    let types: Vec<(String, ColumnType)> =
        schema.tables["t"].columns.values().map(|c| (c.name.clone(), c.ty)).collect();
    let expected: Vec<Row> = rows
        .iter()
        .map(|r| {
            let mut out = row(r.clone());
            for (name, ty) in &types {
                if let Some(v) = out.get_mut(name) {
                    *v = palisade::schema::migrate::convert(v, *ty).unwrap();
                }
            }
            out
        })
        .collect();
    // The migration's rewrite: the type changes run first; the row map then finds every
    // value converted already.
    let unchanged: palisade::store::RowMap = std::sync::Arc::new(|_: &Row| None);
    store.write_blocking(Op::Transform { table: "t".into(), after: 0, limit: 100, change: unchanged }).unwrap();
    // Numbers compare by value: a float column reads back `7` as `7.0`.
    let by_value = |r: &Row| -> Vec<(String, Value)> {
        r.iter().map(|(k, v)| (k.clone(), v.as_f64().map_or_else(|| v.clone(), |f| json!(f)))).collect()
    };
    for (i, want) in expected.iter().enumerate() {
        let mut got = store.get_row("t", i as u64 + 1).unwrap().unwrap();
        got.remove("id");
        assert_eq!(by_value(&got), by_value(want), "row {}", i + 1);
    }
}

/// The whole attack corpus (sqlmap's and libinjection's payloads) over HTTP with the checks
/// chain off — nothing refuses them before the store — as filter values of each operator
/// and as stored values: every answer is a 200 or a 400, and afterwards every row that was
/// there is there as it was, and every stored payload reads back byte for byte. Runs on both
/// stores (on the PostgreSQL run, against PostgreSQL).
#[test]
fn the_whole_attack_corpus_with_the_checks_off_leaves_the_data_as_it_was() {
    use crate::support::{KeepAlive, TestApp};
    fn get(conn: &mut KeepAlive, headers: &str, path: &str) -> (u16, Value) {
        let (status, body) = conn.send("GET", path, headers, b"").unwrap();
        (status, serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null))
    }
    let app = TestApp::builder()
        .config(|c| {
            c.checks.chain = Vec::new();
            c.shield.ip_requests = u32::MAX;
            c.rate_limit.requests = u32::MAX;
        })
        .start();
    let token = app.token(&["clients:rcud", "invoices:r"]);
    let headers = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
    let mut conn = KeepAlive::connect(app.addr);
    let clients = get(&mut conn, &headers, "/api/v1/clients?limit=1000").1;
    let invoices = get(&mut conn, &headers, "/api/v1/invoices?limit=1000").1;
    assert!(clients["total"].as_u64().unwrap() > 0 && invoices["total"].as_u64().unwrap() > 0);
    let corpus = |name: &str| {
        let path = format!("{}/tests/corpus/real/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().filter(|l| !l.starts_with("# ") && !l.trim().is_empty()).map(str::to_string).collect::<Vec<_>>()
    };
    let payloads: Vec<String> = [corpus("attacks_sqlmap.txt"), corpus("attacks_libinjection.txt")].concat();
    assert!(payloads.len() > 14_000, "the whole corpus: {}", payloads.len());
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    let mut stored = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        let op = ["eq", "like", "ilike", "gt", "neq"][i % 5];
        let (status, _) = get(&mut conn, &headers, &format!("/api/v1/clients?company={op}.{}&limit=1", encode(p)));
        assert!(status == 200 || status == 400, "{op}.{p:?} answered {status}");
        if i % 25 == 0 {
            let body = serde_json::to_vec(&json!({"company": p, "status": "active"})).unwrap();
            let (status, answer) = conn.send("POST", "/api/v1/clients", &headers, &body).unwrap();
            assert_eq!(status, 201, "{p:?}: {}", String::from_utf8_lossy(&answer));
            let id = serde_json::from_slice::<Value>(&answer).unwrap()["data"]["id"].as_u64().unwrap();
            stored.push((id, p.clone()));
        }
    }
    for (id, p) in &stored {
        assert_eq!(get(&mut conn, &headers, &format!("/api/v1/clients/{id}")).1["data"]["company"], json!(p));
    }
    assert_eq!(get(&mut conn, &headers, "/api/v1/invoices?limit=1000").1, invoices, "invoices untouched");
    let now = get(&mut conn, &headers, "/api/v1/clients?limit=1000").1;
    let before_rows = clients["data"].as_array().unwrap();
    assert_eq!(&now["data"].as_array().unwrap()[..before_rows.len()], &before_rows[..], "every client as it was");
    assert_eq!(now["total"].as_u64().unwrap(), clients["total"].as_u64().unwrap() + stored.len() as u64);
}
