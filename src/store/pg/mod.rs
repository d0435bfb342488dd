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

pub mod layout;
pub mod pool;
pub mod sql;

use serde_json::Value;

use crate::error::{ApiError, ErrorKind};
use crate::store::query::ListQuery;
use crate::store::writer::{Done, NewRow, Op, RowRef, SysTree};
use crate::store::{Page, Row, StoreError};
use layout::{ident, sequence, Layout, SqlType, TableDef, SYS_TABLE, TEXT_TWIN};
use pool::{Pool, PoolError};
use sql::{param, Statement};

/// The SQLSTATE of a foreign-key violation.
const FOREIGN_KEY_VIOLATION: &str = "23503";
/// The SQLSTATE of a unique (primary key) violation.
const UNIQUE_VIOLATION: &str = "23505";

/// A system record: key and value.
pub type SysRecord = (Vec<u8>, Vec<u8>);

/// Rows, system records and writes on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    layout: std::sync::Arc<Layout>,
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

/// A write's failure as the client's error (a refusal keeps its own).
enum WriteError {
    Refused(ApiError),
    Store(StoreError),
}

impl From<PoolError> for WriteError {
    fn from(e: PoolError) -> Self {
        WriteError::Store(e.into())
    }
}

impl From<postgres::Error> for WriteError {
    fn from(e: postgres::Error) -> Self {
        WriteError::Store(PoolError::Sql(e).into())
    }
}

impl From<sql::BadValue> for WriteError {
    fn from(e: sql::BadValue) -> Self {
        WriteError::Refused(ApiError::validation(e.to_string()))
    }
}

impl From<ApiError> for WriteError {
    fn from(e: ApiError) -> Self {
        WriteError::Refused(e)
    }
}

impl PgStore {
    /// Connects `pool_size` threads to `url` and creates whatever tables, sequences, keys and
    /// indexes of `layout` are missing.
    pub fn open(url: &str, pool_size: usize, layout: Layout) -> Result<Self, StoreError> {
        let pool = Pool::start(url, pool_size).map_err(|e| StoreError::Database(e.to_string()))?;
        let statements = layout.create_statements();
        pool.run(move |c| {
            let mut tx = c.transaction()?;
            // One instance at a time creates the tables (several may start together).
            tx.batch_execute("SELECT pg_advisory_xact_lock(7234100001)")?;
            for s in &statements {
                tx.batch_execute(s)?;
            }
            tx.commit()?;
            Ok(())
        })?;
        Ok(Self { pool, layout: std::sync::Arc::new(layout) })
    }

    fn table(&self, name: &str) -> Result<TableDef, StoreError> {
        self.layout.table(name).cloned().ok_or_else(|| StoreError::Corrupt(format!("no table {name}")))
    }

    /// One row by id.
    pub fn get_row(&self, table: &str, id: u64) -> Result<Option<Row>, StoreError> {
        let t = self.table(table)?;
        let sql = format!("SELECT to_jsonb(t) FROM {} t WHERE id = $1", ident(table));
        let id = i64::try_from(id).unwrap_or(i64::MAX);
        let found = self.pool.run(move |c| Ok(c.query_opt(&sql, &[&id])?.map(|r| r.get::<_, Value>(0))))?;
        Ok(found.map(|v| row_of(&t, v)))
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
        let page = sql::page(&t, "to_jsonb(t)", q)?;
        let total = (!q.skip_total).then(|| sql::total(&t, q)).transpose()?;
        let (rows, total) = self.pool.run(move |c| {
            let mut tx = c
                .build_transaction()
                .read_only(true)
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .start()?;
            let rows: Vec<Value> = tx.query(&page.sql, &page.refs())?.iter().map(|r| r.get(0)).collect();
            let total: Option<i64> = match &total {
                Some(s) => Some(tx.query_one(&s.sql, &s.refs())?.get(0)),
                None => None,
            };
            tx.commit()?;
            Ok((rows, total))
        })?;
        Ok(Page { rows: rows.into_iter().map(|v| row_of(&t, v)).collect(), total: total.unwrap_or(0).max(0) as usize })
    }

    /// Every row of a table, in id order, through `f` (exports and oracles).
    pub fn for_each_row(&self, table: &str, mut f: impl FnMut(&Row)) -> Result<(), StoreError> {
        let q = ListQuery { limit: 1000, skip_total: true, ..Default::default() };
        let mut after = 0u64;
        loop {
            let filter = crate::store::Filter::new(
                "id",
                crate::store::Kind::Number,
                crate::store::Cmp::Gt,
                false,
                vec![Value::from(after)],
            );
            let page = self.list_rows(table, &ListQuery { filters: vec![filter], ..q.clone() })?;
            for row in &page.rows {
                f(row);
            }
            match page.rows.last().and_then(|r| r.get("id")).and_then(Value::as_u64) {
                Some(last) if page.rows.len() == q.limit => after = last,
                _ => return Ok(()),
            }
        }
    }

    /// One system record.
    pub fn sys_get(&self, tree: SysTree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!("SELECT value FROM {} WHERE tree = $1 AND key = $2", ident(SYS_TABLE));
        let (tree, key) = (tree.name().to_string(), key.to_vec());
        Ok(self.pool.run(move |c| Ok(c.query_opt(&sql, &[&tree, &key])?.map(|r| r.get::<_, Vec<u8>>(0))))?)
    }

    /// Every record of a system tree, in key order.
    pub fn sys_scan(&self, tree: SysTree) -> Result<Vec<SysRecord>, StoreError> {
        let sql = format!("SELECT key, value FROM {} WHERE tree = $1 ORDER BY key", ident(SYS_TABLE));
        let tree = tree.name().to_string();
        Ok(self.pool.run(move |c| Ok(c.query(&sql, &[&tree])?.iter().map(|r| (r.get(0), r.get(1))).collect()))?)
    }

    /// Applies one change in its own transaction; `reply` gets the answer once it committed.
    pub fn submit(&self, op: Op, reply: impl FnOnce(Result<Done, ApiError>) + Send + 'static) {
        let layout = self.layout.clone();
        self.pool.submit(
            move |c| {
                let mut tx = c.transaction()?;
                match apply(&mut tx, &layout, op) {
                    Ok(done) => {
                        tx.commit()?;
                        Ok(Ok(done))
                    }
                    Err(WriteError::Refused(e)) => Ok(Err(e)),
                    Err(WriteError::Store(e)) => Ok(Err(e.into())),
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

/// The columns of `row` that `t` has, as (names, placeholders, parameters) for an INSERT or
/// an UPDATE (a datetime fills its text twin too). `id` is left to the caller.
fn columns_of(t: &TableDef, row: &Row, s: &mut Statement) -> Result<Vec<(String, String)>, WriteError> {
    let mut out = Vec::with_capacity(t.columns.len());
    for c in &t.columns {
        let value = row.get(&c.name).unwrap_or(&Value::Null);
        let placeholder = match param(c.ty, &c.name, value)? {
            Some(p) => bind(s, p),
            None => "NULL".into(),
        };
        out.push((ident(&c.name), placeholder));
        if c.ty == SqlType::Timestamptz {
            let text = match value.as_str() {
                Some(text) => bind(s, Box::new(text.to_string())),
                None => "NULL".into(),
            };
            out.push((ident(&format!("{}{TEXT_TWIN}", c.name)), text));
        }
    }
    Ok(out)
}

fn bind(s: &mut Statement, p: sql::Param) -> String {
    s.params.push(p);
    format!("${}", s.params.len())
}

/// The 409 of a foreign-key violation on a write of `row`: the column and the missing id.
fn missing_reference(t: &TableDef, row: &Row, e: &postgres::Error) -> Option<ApiError> {
    let db = e.as_db_error().filter(|d| d.code().code() == FOREIGN_KEY_VIOLATION)?;
    let constraint = db.constraint()?;
    let c = t.columns.iter().find(|c| constraint == format!("{}_{}_fkey", t.name, c.name))?;
    let id = row.get(&c.name).map(Value::to_string).unwrap_or_default();
    let target = c.references.as_deref().unwrap_or_default();
    Some(ApiError::with_message(ErrorKind::Conflict, format!("column '{}': no {target} row with id {id}", c.name)))
}

/// Inserts `row` under `id` (or the sequence's next when `None`); the stored row.
fn insert_row(tx: &mut postgres::Transaction<'_>, t: &TableDef, row: &Row, id: Option<u64>) -> Result<Row, WriteError> {
    let mut s = Statement::default();
    let id_value = match id {
        Some(id) => bind(&mut s, Box::new(i64::try_from(id).unwrap_or(i64::MAX))),
        None => format!("nextval('{}')", ident(&sequence(&t.name)).replace('\'', "''")),
    };
    let cols = columns_of(t, row, &mut s)?;
    let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    let values: Vec<&str> = cols.iter().map(|(_, v)| v.as_str()).collect();
    let sql = format!(
        "INSERT INTO {} (id{}{}) VALUES ({id_value}{}{}) RETURNING to_jsonb({}.*)",
        ident(&t.name),
        if names.is_empty() { "" } else { ", " },
        names.join(", "),
        if values.is_empty() { "" } else { ", " },
        values.join(", "),
        ident(&t.name),
    );
    match tx.query_one(&sql, &s.refs()) {
        Ok(r) => Ok(row_of(t, r.get(0))),
        Err(e) => match missing_reference(t, row, &e) {
            Some(refused) => Err(refused.into()),
            None if e.as_db_error().is_some_and(|d| d.code().code() == UNIQUE_VIOLATION) => {
                let id = id.map(|i| i.to_string()).unwrap_or_default();
                Err(ApiError::with_message(ErrorKind::Conflict, format!("id {id} is taken")).into())
            }
            None => Err(e.into()),
        },
    }
}

/// Refuses a reference to a row that is not there (409, naming the column, as the sled store
/// words it), and holds the rows referenced until the commit (`FOR KEY SHARE`: another
/// instance cannot delete them meanwhile). The foreign keys stay as the last word.
fn check_refs(tx: &mut postgres::Transaction<'_>, refs: &[RowRef]) -> Result<(), WriteError> {
    for r in refs {
        let sql = format!("SELECT 1 FROM {} WHERE id = $1 FOR KEY SHARE", ident(&r.table));
        let id = i64::try_from(r.id).unwrap_or(i64::MAX);
        if tx.query_opt(&sql, &[&id])?.is_none() {
            let message = format!("column '{}': no {} row with id {}", r.column, r.table, r.id);
            return Err(ApiError::with_message(ErrorKind::Conflict, message).into());
        }
    }
    Ok(())
}

/// Moves the table's sequence past `id` (rows stored with ids of their own).
fn advance_sequence(tx: &mut postgres::Transaction<'_>, t: &TableDef, id: u64) -> Result<(), WriteError> {
    let seq = ident(&sequence(&t.name));
    let id = i64::try_from(id).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT setval('{seq}', GREATEST($1::bigint, (SELECT last_value FROM {seq}), 1), \
         $1::bigint >= (SELECT last_value FROM {seq}) OR (SELECT is_called FROM {seq}))",
        seq = seq.replace('\'', "''")
    );
    tx.execute(&sql, &[&id])?;
    Ok(())
}

/// One write, inside `tx`.
fn apply(tx: &mut postgres::Transaction<'_>, layout: &Layout, op: Op) -> Result<Done, WriteError> {
    let table = |name: &str| -> Result<&TableDef, WriteError> {
        layout.table(name).ok_or_else(|| WriteError::Store(StoreError::Corrupt(format!("no table {name}"))))
    };
    match op {
        Op::Ping => {
            tx.execute("SELECT 1", &[])?;
            Ok(Done::Ok)
        }
        Op::Insert { table: name, row, refs } => {
            check_refs(tx, &refs)?;
            Ok(Done::Row(insert_row(tx, table(&name)?, &row, None)?))
        }
        Op::InsertMany { table: name, rows } => {
            let t = table(&name)?;
            // As the sled store does: every id and reference checked before the first row.
            let mut given = std::collections::HashSet::new();
            let exists = format!("SELECT 1 FROM {} WHERE id = $1", ident(&t.name));
            for (i, new) in rows.iter().enumerate() {
                let Some(value) = new.row.get("id") else { continue };
                let id = value
                    .as_u64()
                    .filter(|id| *id > 0 && *id <= i64::MAX as u64)
                    .ok_or_else(|| ApiError::validation("column 'id' must be a positive row id").at_row(i))?;
                if !given.insert(id) || tx.query_opt(&exists, &[&(id as i64)])?.is_some() {
                    let message = format!("column 'id': a {name} row with id {id} already exists");
                    return Err(ApiError::with_message(ErrorKind::Conflict, message).at_row(i).into());
                }
            }
            for (i, new) in rows.iter().enumerate() {
                let outside: Vec<RowRef> =
                    new.refs.iter().filter(|r| !(r.table == name && given.contains(&r.id))).cloned().collect();
                check_refs(tx, &outside).map_err(|e| match e {
                    WriteError::Refused(e) => WriteError::Refused(e.at_row(i)),
                    other => other,
                })?;
            }
            // Rows may name each other: the keys are checked at commit.
            tx.batch_execute("SET CONSTRAINTS ALL DEFERRED")?;
            if let Some(highest) = given.iter().copied().max() {
                advance_sequence(tx, t, highest)?;
            }
            let mut stored = Vec::with_capacity(rows.len());
            for (i, NewRow { row, .. }) in rows.into_iter().enumerate() {
                let id = row.get("id").and_then(Value::as_u64);
                match insert_row(tx, t, &row, id) {
                    Ok(r) => stored.push(r),
                    Err(WriteError::Refused(e)) => return Err(e.at_row(i).into()),
                    Err(e) => return Err(e),
                }
            }
            Ok(Done::Rows(stored))
        }
        Op::Load { table: name, rows } => {
            let t = table(&name)?;
            let mut highest = 0;
            for row in rows {
                let Some(id) = row.get("id").and_then(Value::as_u64) else { continue };
                highest = highest.max(id);
                tx.execute(&format!("DELETE FROM {} WHERE id = $1", ident(&t.name)), &[&(id as i64)])?;
                insert_row(tx, t, &row, Some(id))?;
            }
            if highest > 0 {
                advance_sequence(tx, t, highest)?;
            }
            Ok(Done::Ok)
        }
        Op::Update { table: name, id, refs, change } => {
            let t = table(&name)?;
            let sql = format!("SELECT to_jsonb(t) FROM {} t WHERE id = $1 FOR UPDATE", ident(&t.name));
            let Some(found) = tx.query_opt(&sql, &[&(id as i64)])? else { return Ok(Done::Missing) };
            let mut next = change(row_of(t, found.get(0)))?;
            check_refs(tx, &refs)?;
            next.insert("id".into(), Value::from(id));
            let mut s = Statement::default();
            let cols = columns_of(t, &next, &mut s)?;
            let id_param = bind(&mut s, Box::new(id as i64));
            let sets: Vec<String> = cols.iter().map(|(n, v)| format!("{n} = {v}")).collect();
            let sql = match sets.is_empty() {
                true => format!("SELECT to_jsonb(t) FROM {} t WHERE id = {id_param}", ident(&t.name)),
                false => format!(
                    "UPDATE {} SET {} WHERE id = {id_param} RETURNING to_jsonb({}.*)",
                    ident(&t.name),
                    sets.join(", "),
                    ident(&t.name)
                ),
            };
            match tx.query_one(&sql, &s.refs()) {
                Ok(r) => Ok(Done::Row(row_of(t, r.get(0)))),
                Err(e) => Err(missing_reference(t, &next, &e).map(WriteError::Refused).unwrap_or_else(|| e.into())),
            }
        }
        Op::Delete { table: name, id, referrers: _ } => {
            let t = table(&name)?;
            let sql = format!("DELETE FROM {} WHERE id = $1", ident(&t.name));
            match tx.execute(&sql, &[&(id as i64)]) {
                Ok(0) => Ok(Done::Missing),
                Ok(_) => Ok(Done::Removed(true)),
                Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == FOREIGN_KEY_VIOLATION) => {
                    Err(ApiError::with_message(
                        ErrorKind::Conflict,
                        "the row is still referenced by other rows; delete those first",
                    )
                    .into())
                }
                Err(e) => Err(e.into()),
            }
        }
        Op::Put { tree, entries } => {
            let sql = format!(
                "INSERT INTO {} (tree, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value",
                ident(SYS_TABLE)
            );
            let tree = tree.name().to_string();
            for (key, value) in entries {
                tx.execute(&sql, &[&tree, &key, &value])?;
            }
            Ok(Done::Ok)
        }
        Op::Remove { tree, key } => {
            let sql = format!("DELETE FROM {} WHERE tree = $1 AND key = $2", ident(SYS_TABLE));
            Ok(Done::Removed(tx.execute(&sql, &[&tree.name().to_string(), &key])? > 0))
        }
        other => Err(WriteError::Store(StoreError::Database(format!(
            "{} is not available on the PostgreSQL backend yet",
            op_name(&other)
        )))),
    }
}

/// An op's name, for the refusal of one this backend does not run yet.
fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Transform { .. } => "a row rewrite (schema change)",
        Op::MoveRows { .. } => "a table rename",
        Op::DropTable { .. } => "dropping a table's rows",
        Op::BeginPoint { .. } | Op::EndPoint => "a backup point",
        Op::Owned { .. } => "an owner-bound write",
        _ => "this write",
    }
}
