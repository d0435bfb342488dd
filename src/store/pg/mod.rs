//! The PostgreSQL backend: rows in real tables (see `layout`), reads and writes as SQL with
//! bound parameters only (see `sql`), on connection threads of their own (see `pool`).
//!
//! It answers the same questions as the sled store, with the same rules, so that one
//! conformance suite holds both to one behaviour (`tests/api/pg_store.rs` runs the same
//! queries against both and compares the answers):
//! - a page of a table: filters, order, cursor, offset and limit, and the total;
//! - a row by id; whether it exists; how many rows a table has;
//! - the system records (tokens, locks, counter snapshots, markers) by tree and key;
//! - writes, each in its own transaction, acknowledged once it has committed: a new row gets
//!   the table's next id from its sequence; a reference to a missing row is refused 409
//!   naming the column (the foreign key says so); a referenced row cannot be deleted (409,
//!   `ON DELETE RESTRICT`); a batch stores every row or none, a refusal naming the row.
//!
//! Several instances may write at once: what sled gets from its single writer (serial
//! order), PostgreSQL gets from its constraints and row locks (`SELECT … FOR UPDATE` before a
//! read-modify-write).
//!
//! Not wired in yet: `[store] backend = "postgres"` still refuses to start. What remains is
//! the store façade choosing a backend, schema changes as `ALTER TABLE`, owner-bound writes,
//! backup and restore, and the feed that tells every instance about locks and revocations.

pub mod endpoint;
pub mod layout;
pub mod pool;
pub mod spool;
pub mod sql;
pub mod watch;
mod write;

use serde_json::Value;

use crate::error::{ApiError, ErrorKind};
use crate::store::op::{Done, Op, SysTree};
use crate::store::query::ListQuery;
use crate::store::{Page, Row, StoreError};
use endpoint::Endpoint;
use layout::{ident, Layout, Retype, SqlType, TableDef, SYS_TABLE, TEXT_TWIN};
use pool::{Pool, PoolError};

/// Rows a scan reads at a time.
const SCAN_PAGE: usize = 1000;

/// A system record: key and value.
pub type SysRecord = (Vec<u8>, Vec<u8>);

/// Rows, system records and writes on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    layout: std::sync::Arc<Layout>,
    /// Where the lock and token feed connects (as the pool does).
    endpoint: Endpoint,
    /// Column type changes not carried out yet (see `layout::Retype`).
    retypes: std::sync::Arc<std::sync::Mutex<Vec<Retype>>>,
}

impl From<PoolError> for StoreError {
    fn from(e: PoolError) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<sql::BadValue> for StoreError {
    fn from(e: sql::BadValue) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

impl PgStore {
    /// Connects `pool_size` threads to `url` and creates whatever tables, sequences, keys and
    /// indexes of `layout` are missing.
    pub fn open(url: &str, ca_file: &str, pool_size: usize, layout: Layout) -> Result<Self, StoreError> {
        let endpoint = Endpoint::new(url, ca_file).map_err(StoreError::Database)?;
        let pool = Pool::start(endpoint.clone(), pool_size).map_err(|e| StoreError::Database(e.to_string()))?;
        let (statements, type_check) = (layout.create_statements(), layout.type_check());
        let changed: Vec<(String, String, String)> = pool.run(move |c| {
            let mut tx = c.transaction()?;
            // One instance at a time brings the tables to the layout (several may start
            // together).
            tx.batch_execute("SELECT pg_advisory_xact_lock(7234100001)")?;
            for s in &statements {
                tx.batch_execute(s)?;
            }
            let changed = tx.query(&type_check, &[])?.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
            tx.commit()?;
            Ok(changed)
        })?;
        // Columns whose type the schema changed: the migration's first rewrite of each such
        // table converts them, once its read-only pass found every value convertible.
        let mut retypes = Vec::new();
        for (table, column, from) in changed {
            let to = layout.table(&table).and_then(|t| t.column(&column)).map(|c| c.ty);
            if let Some(to) = to {
                retypes.push(Retype { table, column, from, to });
            }
        }
        let retypes = std::sync::Arc::new(std::sync::Mutex::new(retypes));
        Ok(Self { pool, layout: std::sync::Arc::new(layout), endpoint, retypes })
    }

    /// Reads the whole store at one point into spool files in `dir` (see `spool`); the
    /// point's time (ms since the epoch).
    pub fn spool_point(&self, dir: &std::path::Path) -> Result<u64, StoreError> {
        let (layout, dir) = (self.layout.clone(), dir.to_path_buf());
        Ok(self.pool.run(move |c| {
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            // The snapshot is taken at the first statement: the point's time is just before.
            let point_ms = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
            tx.batch_execute("SELECT 1")?;
            spool::write(&mut tx, &layout, &dir)?;
            tx.commit()?;
            Ok(point_ms)
        })?)
    }

    /// Calls `on_change` with each mirrored tree another instance (or this one) changed,
    /// within about a second (see `watch`), until it answers `false`.
    pub fn watch(&self, on_change: watch::OnChange) -> Result<(), StoreError> {
        watch::start(self.endpoint.clone(), on_change).map_err(|e| StoreError::Database(e.to_string()))
    }

    /// Drops every foreign key of the layout (a restore loads tables in name order); see
    /// [`PgStore::ensure_layout`].
    pub fn drop_foreign_keys(&self) -> Result<(), StoreError> {
        let mut statements = Vec::new();
        for t in &self.layout.tables {
            for c in t.columns.iter().filter(|c| c.references.is_some()) {
                statements.push(format!(
                    "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
                    ident(&t.name),
                    ident(&format!("{}_{}_fkey", t.name, c.name))
                ));
            }
        }
        self.pool.run(move |c| {
            let mut tx = c.transaction()?;
            for s in &statements {
                tx.batch_execute(s)?;
            }
            Ok(tx.commit()?)
        })?;
        Ok(())
    }

    /// Brings the database to the layout again (keys added back are checked against every
    /// row: a broken reference fails it, and nothing changes).
    pub fn ensure_layout(&self) -> Result<(), StoreError> {
        let statements = self.layout.create_statements();
        self.pool.run(move |c| {
            let mut tx = c.transaction()?;
            tx.batch_execute("SELECT pg_advisory_xact_lock(7234100001)")?;
            for s in &statements {
                tx.batch_execute(s)?;
            }
            Ok(tx.commit()?)
        })?;
        Ok(())
    }

    fn table(&self, name: &str) -> Result<&TableDef, StoreError> {
        self.layout.table(name).ok_or_else(|| StoreError::Corrupt(format!("no table {name}")))
    }

    /// One row by id.
    pub fn get_row(&self, table: &str, id: u64) -> Result<Option<Row>, StoreError> {
        let t = self.table(table)?;
        let sql = format!("SELECT to_jsonb(t) FROM {} t WHERE id = $1", ident(table));
        let id = i64::try_from(id).unwrap_or(i64::MAX);
        let found = self.pool.run(move |c| {
            let statement = pool::prepared(c, &sql)?;
            Ok(c.query_opt(&statement, &[&id])?.map(|r| r.get::<_, Value>(0)))
        })?;
        Ok(found.map(|v| row_of(t, v)))
    }

    /// Whether a row exists.
    pub fn row_exists(&self, table: &str, id: u64) -> Result<bool, StoreError> {
        Ok(self.get_row(table, id)?.is_some())
    }

    /// How many rows a table has.
    pub fn row_count(&self, table: &str) -> Result<u64, StoreError> {
        let sql = format!("SELECT count(*) FROM {}", ident(&self.table(table)?.name));
        let n: i64 = self.pool.run(move |c| Ok(c.query_one(&sql, &[])?.get(0)))?;
        Ok(n.max(0) as u64)
    }

    /// A page of a table and, unless `skip_total`, how many rows the filters match.
    pub fn list_rows(&self, table: &str, q: &ListQuery) -> Result<Page, StoreError> {
        let t = self.table(table)?;
        let page = sql::page(t, "to_jsonb(t)", q)?;
        let total = (!q.skip_total).then(|| sql::total(t, q)).transpose()?;
        let (rows, total) = self.pool.run(move |c| {
            let mut tx = c
                .build_transaction()
                .read_only(true)
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .start()?;
            let statement = pool::prepared(&mut tx, &page.sql)?;
            let rows: Vec<Value> = tx.query(&statement, &page.refs())?.iter().map(|r| r.get(0)).collect();
            let total: Option<i64> = match &total {
                Some(s) => {
                    let statement = pool::prepared(&mut tx, &s.sql)?;
                    Some(tx.query_one(&statement, &s.refs())?.get(0))
                }
                None => None,
            };
            tx.commit()?;
            Ok((rows, total))
        })?;
        Ok(Page { rows: rows.into_iter().map(|v| row_of(t, v)).collect(), total: total.unwrap_or(0).max(0) as usize })
    }

    /// Up to `limit` rows of a table with ids above `after`, in id order.
    fn rows_after(&self, table: &str, after: u64, limit: usize) -> Result<Vec<Row>, StoreError> {
        use crate::store::{Cmp, Filter, Kind};
        let filter = Filter::new("id", Kind::Number, Cmp::Gt, false, vec![Value::from(after)]);
        let q = ListQuery { filters: vec![filter], limit, skip_total: true, ..Default::default() };
        Ok(self.list_rows(table, &q)?.rows)
    }

    /// Every row of a table, in id order, read [`SCAN_PAGE`] at a time (never a whole
    /// table in memory): the one scan behind exports, migrations and oracles.
    pub fn rows(&self, table: &str) -> impl Iterator<Item = Result<Row, StoreError>> + 'static {
        let (pg, table) = (self.clone(), table.to_string());
        let (mut page, mut after, mut done) = (std::collections::VecDeque::new(), 0u64, false);
        std::iter::from_fn(move || {
            if page.is_empty() && !done {
                match pg.rows_after(&table, after, SCAN_PAGE) {
                    Ok(rows) => {
                        done = rows.len() < SCAN_PAGE;
                        after = rows.last().and_then(|r| r.get("id")).and_then(Value::as_u64).unwrap_or(after);
                        page.extend(rows);
                    }
                    Err(e) => {
                        done = true;
                        return Some(Err(e));
                    }
                }
            }
            page.pop_front().map(Ok)
        })
    }

    /// Every row of a table, in id order, through `f` (see [`PgStore::rows`]).
    pub fn for_each_row(&self, table: &str, mut f: impl FnMut(&Row)) -> Result<(), StoreError> {
        for row in self.rows(table) {
            f(&row?);
        }
        Ok(())
    }

    /// Whether nothing is stored yet: no token, no seeding marker, no row.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        let mut sql =
            format!("SELECT NOT EXISTS (SELECT 1 FROM {} WHERE tree IN ('sys:tokens', 'sys:meta'))", ident(SYS_TABLE));
        for t in &self.layout.tables {
            let _ = std::fmt::Write::write_fmt(
                &mut sql,
                format_args!(" AND NOT EXISTS (SELECT 1 FROM {})", ident(&t.name)),
            );
        }
        Ok(self.pool.run(move |c| Ok(c.query_one(&sql, &[])?.get(0)))?)
    }

    /// The tables of the layout that hold rows.
    pub fn row_tables(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for t in &self.layout.tables {
            if self.row_count(&t.name)? > 0 {
                out.push(t.name.clone());
            }
        }
        Ok(out)
    }

    /// One system record.
    pub fn sys_get(&self, tree: SysTree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!("SELECT value FROM {} WHERE tree = $1 AND key = $2", ident(SYS_TABLE));
        let (tree, key) = (tree.name().to_string(), key.to_vec());
        Ok(self.pool.run(move |c| {
            let statement = pool::prepared(c, &sql)?;
            Ok(c.query_opt(&statement, &[&tree, &key])?.map(|r| r.get::<_, Vec<u8>>(0)))
        })?)
    }

    /// Every record of a system tree, in key order.
    pub fn sys_scan(&self, tree: SysTree) -> Result<Vec<SysRecord>, StoreError> {
        let sql = format!("SELECT key, value FROM {} WHERE tree = $1 ORDER BY key", ident(SYS_TABLE));
        let tree = tree.name().to_string();
        Ok(self.pool.run(move |c| Ok(c.query(&sql, &[&tree])?.iter().map(|r| (r.get(0), r.get(1))).collect()))?)
    }

    /// Applies one change in its own transaction; `reply` gets the answer once it committed.
    pub fn submit(&self, op: Op, reply: impl FnOnce(Result<Done, ApiError>) + Send + 'static) {
        let (layout, retypes) = (self.layout.clone(), self.retypes.clone());
        self.pool.submit(
            move |c| {
                let mut tx = c.transaction()?;
                match write::apply(&mut tx, &write::Schema { layout: &layout, retypes: &retypes }, op) {
                    Ok(done) => {
                        tx.commit()?;
                        Ok(Ok(done))
                    }
                    Err(write::WriteError::Refused(e)) => Ok(Err(e)),
                    Err(write::WriteError::Store(e)) => Ok(Err(e.into())),
                }
            },
            move |answer: Result<Result<Done, ApiError>, PoolError>| {
                reply(answer.unwrap_or_else(|e| Err(StoreError::from(e).into())))
            },
        );
    }

    /// The same, blocking the calling thread (never on an async worker).
    pub fn write_blocking(&self, op: Op) -> Result<Done, ApiError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(op, move |r| {
            let _ = tx.send(r);
        });
        rx.recv().unwrap_or_else(|_| Err(ApiError::new(ErrorKind::StorageUnavailable)))
    }

    /// The same, awaited.
    pub async fn write(&self, op: Op) -> Result<Done, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(op, move |r| {
            let _ = tx.send(r);
        });
        rx.await.unwrap_or_else(|_| Err(ApiError::new(ErrorKind::StorageUnavailable)))
    }
}

/// A row as the API knows it: a datetime's text as written, no nulls (as sled stores rows).
fn row_of(t: &TableDef, v: Value) -> Row {
    let Value::Object(mut row) = v else { return Row::new() };
    for c in &t.columns {
        match c.ty {
            SqlType::Timestamptz => {
                let text = row.remove(&format!("{}{TEXT_TWIN}", c.name)).unwrap_or(Value::Null);
                row.insert(c.name.clone(), text);
            }
            // A whole double reads back as `100`: keep it a float, as it was written.
            SqlType::Double => {
                if let Some(v) = row.get_mut(&c.name) {
                    if let Some(f) = v.as_f64().filter(|_| v.is_number()) {
                        *v = Value::from(f);
                    }
                }
            }
            _ => {}
        }
    }
    row.retain(|_, v| !v.is_null());
    row
}
