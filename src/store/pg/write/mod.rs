//! Writes on PostgreSQL: each [`Op`] inside the transaction the caller commits, with the
//! sled writer's answers and refusals (see the parent module). Where sled relies on its one
//! writer's serial order, this relies on row locks: a read-modify-write reads `FOR UPDATE`,
//! a checked reference or an owner chain is read `FOR KEY SHARE` (no other instance can
//! delete or re-key it before the commit), and the foreign keys stay as the last word.

mod owned;

use serde_json::Value;

use super::layout::SYS_TABLE;
use super::layout::{ident, retype_statements, sequence, Layout, Retype, SqlType, TableDef, TEXT_TWIN};
use super::pool::PoolError;
use super::row_of;
use super::sql::{self, param, Statement};
use crate::error::{ApiError, ErrorKind};
use crate::store::op::{Done, NewRow, Op, RowRef, SysTree};
use crate::store::{Row, StoreError};
use owned::{fetch_row, owned, table_of, Hold};

/// The SQLSTATE of a foreign-key violation.
const FOREIGN_KEY_VIOLATION: &str = "23503";
/// The SQLSTATE of a unique (primary key) violation.
const UNIQUE_VIOLATION: &str = "23505";

/// A write's failure as the client's error (a refusal keeps its own).
pub(super) enum WriteError {
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

/// The columns of `row` that `t` has, as (names, placeholders, parameters) for an INSERT or
/// an UPDATE (a datetime fills its text twin too). `id` is left to the caller.
fn columns_of(t: &TableDef, row: &Row, s: &mut Statement) -> Result<Vec<(String, String)>, WriteError> {
    let mut out = Vec::with_capacity(t.columns.len());
    for c in &t.columns {
        let value = row.get(&c.name).unwrap_or(&Value::Null);
        let placeholder = match param(c.ty, &c.name, value)? {
            Some(p) => s.bind(p),
            None => "NULL".into(),
        };
        out.push((ident(&c.name), placeholder));
        if c.ty == SqlType::Timestamptz {
            let text = match value.as_str() {
                Some(text) => s.bind(Box::new(text.to_string())),
                None => "NULL".into(),
            };
            out.push((ident(&format!("{}{TEXT_TWIN}", c.name)), text));
        }
    }
    Ok(out)
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
        Some(id) => s.bind(Box::new(i64::try_from(id).unwrap_or(i64::MAX))),
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
    let statement = super::pool::prepared(tx, &sql)?;
    match tx.query_one(&statement, &s.refs()) {
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
        let statement = super::pool::prepared(tx, &sql)?;
        if tx.query_opt(&statement, &[&id])?.is_none() {
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
/// What a write needs to know of the tables: the layout, and the type changes still to
/// carry out.
pub(super) struct Schema<'a> {
    pub layout: &'a Layout,
    pub retypes: &'a std::sync::Mutex<Vec<Retype>>,
}

pub(super) fn apply(tx: &mut postgres::Transaction<'_>, schema: &Schema<'_>, op: Op) -> Result<Done, WriteError> {
    let layout = schema.layout;
    let table = |name: &str| table_of(layout, name);
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
            let Some(found) = fetch_row(tx, t, id, Hold::Update)? else { return Ok(Done::Missing) };
            let mut next = change(found)?;
            check_refs(tx, &refs)?;
            next.insert("id".into(), Value::from(id));
            let mut s = Statement::default();
            let cols = columns_of(t, &next, &mut s)?;
            let id_param = s.bind(Box::new(id as i64));
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
            let name = tree.name().to_string();
            for (key, value) in entries {
                tx.execute(&sql, &[&name, &key, &value])?;
            }
            announce(tx, tree)?;
            Ok(Done::Ok)
        }
        Op::Remove { tree, key } => {
            let sql = format!("DELETE FROM {} WHERE tree = $1 AND key = $2", ident(SYS_TABLE));
            let removed = tx.execute(&sql, &[&tree.name().to_string(), &key])? > 0;
            if removed {
                announce(tx, tree)?;
            }
            Ok(Done::Removed(removed))
        }
        Op::Transform { table: name, after, limit, change } => {
            let t = table(&name)?;
            // The table's type changes first, in this transaction (see `Retype`).
            let mine: Vec<Retype> = {
                let mut pending = schema.retypes.lock().unwrap_or_else(|e| e.into_inner());
                let (mine, rest) = pending.drain(..).partition(|r| r.table == name);
                *pending = rest;
                mine
            };
            for r in &mine {
                for sql in retype_statements(r) {
                    tx.batch_execute(&sql)?;
                }
            }
            let sql =
                format!("SELECT to_jsonb(t) FROM {} t WHERE id > $1 ORDER BY id LIMIT $2 FOR UPDATE", ident(&t.name));
            let after = i64::try_from(after).unwrap_or(i64::MAX);
            let found = tx.query(&sql, &[&after, &(limit.max(1) as i64)])?;
            let mut last = None;
            for r in found {
                let old = row_of(t, r.get(0));
                let id = old.get("id").and_then(Value::as_u64).unwrap_or(0);
                last = Some(id);
                if let Some(new) = change(&old) {
                    rewrite(tx, t, id, &old, &new)?;
                }
            }
            Ok(Done::Progress(last))
        }
        Op::MoveRows { from, to, limit } => {
            // A renamed table is renamed in place when the store opens (its keys follow);
            // rows are moved only from a table left under the old name beside the new one.
            let exists: bool = tx.query_one("SELECT to_regclass($1) IS NOT NULL", &[&ident(&from)])?.get(0);
            if !exists {
                return Ok(Done::Progress(None));
            }
            let t = table(&to)?;
            let sql = format!("SELECT to_jsonb(t) FROM {} t ORDER BY id LIMIT $1 FOR UPDATE", ident(&from));
            let batch: Vec<Row> =
                tx.query(&sql, &[&(limit.max(1) as i64)])?.iter().map(|r| row_of(t, r.get(0))).collect();
            if batch.is_empty() {
                return Ok(Done::Progress(None));
            }
            let delete = format!("DELETE FROM {} WHERE id = $1", ident(&from));
            let mut highest = 0;
            for row in &batch {
                let id = row.get("id").and_then(Value::as_u64).unwrap_or(0);
                highest = highest.max(id);
                tx.execute(&delete, &[&(id as i64)])?;
                insert_row(tx, t, row, Some(id))?;
            }
            advance_sequence(tx, t, highest)?;
            Ok(Done::Progress(Some(batch.len() as u64)))
        }
        Op::DropTable { table: name } => {
            tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", ident(&name)))?;
            tx.batch_execute(&format!("DROP SEQUENCE IF EXISTS {}", ident(&sequence(&name))))?;
            Ok(Done::Ok)
        }
        Op::DropColumns { table: name, columns } => {
            // Never a declared column (a dropped one is not in the layout), and each with its
            // text twin if it was a datetime; keys and indexes on it go with it.
            let t = table(&name)?;
            let names = columns.iter().flat_map(|c| [c.clone(), format!("{c}{TEXT_TWIN}")]);
            for c in names.filter(|c| t.column(c).is_none()) {
                tx.batch_execute(&format!("ALTER TABLE {} DROP COLUMN IF EXISTS {}", ident(&name), ident(&c)))?;
            }
            Ok(Done::Ok)
        }
        Op::Owned { rule, op } => owned(tx, schema, &rule, *op),
        // A point on PostgreSQL is a repeatable-read transaction (`super::spool`): nothing
        // to begin or end in the write path.
        Op::BeginPoint { .. } | Op::EndPoint => Ok(Done::Ok),
    }
}

/// Tells every instance, when this transaction commits, that a mirrored tree changed
/// (tokens, locks; see `super::watch`).
fn announce(tx: &mut postgres::Transaction<'_>, tree: SysTree) -> Result<(), WriteError> {
    if matches!(tree, SysTree::Tokens | SysTree::Locks) {
        tx.execute("SELECT pg_notify($1, $2)", &[&super::watch::CHANNEL, &tree.name()])?;
    }
    Ok(())
}

/// Writes `new` over `old` (a row rewrite): the layout's columns from `new`, and every
/// other stored column `new` no longer holds set to NULL (a renamed or dropped key, as sled
/// removes it from the row).
fn rewrite(tx: &mut postgres::Transaction<'_>, t: &TableDef, id: u64, old: &Row, new: &Row) -> Result<(), WriteError> {
    let mut s = Statement::default();
    let mut sets: Vec<String> = columns_of(t, new, &mut s)?.into_iter().map(|(n, v)| format!("{n} = {v}")).collect();
    for key in old.keys().filter(|k| *k != "id" && !new.contains_key(*k) && t.column(k).is_none()) {
        sets.push(format!("{} = NULL", ident(key)));
    }
    let id = s.bind(Box::new(i64::try_from(id).unwrap_or(i64::MAX)));
    if !sets.is_empty() {
        tx.execute(&format!("UPDATE {} SET {} WHERE id = {id}", ident(&t.name), sets.join(", ")), &s.refs())?;
    }
    Ok(())
}
