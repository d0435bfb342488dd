//! The one write path for table rows. REST and GraphQL turn a client's write into a call
//! here, so both apply the same rules: `id` is the server's, unknown columns and wrong types
//! are refused naming the column, `null` clears an optional column, a replacement keeps the
//! secret columns the client cannot see, and the sandbox learns the real values it must
//! never show. What needs the stored state — the id sequence, the reference checks, the
//! merge with the stored row, "still referenced" on delete — happens in the store's writer,
//! in its serial order (see `store::writer`). Secret columns and the server-managed
//! `created_at` are never written by a client, on any path (422 naming the column).

use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorKind};
use crate::sandbox::RealValues;
use crate::schema::{Schema, Table, CREATED_AT};
use crate::store::{Done, NewRow, Op, Row, RowRef};

/// How an update treats the stored row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// PUT: the body is the whole visible row (secret columns are kept).
    Replace,
    /// PATCH and GraphQL `update_…`: the body is merged into the stored row.
    Merge,
}

/// The references a row's columns make (checked by the writer).
fn references(table: &Table, row: &Map<String, Value>) -> Vec<RowRef> {
    table
        .columns
        .values()
        .filter_map(|c| {
            let target = c.references.as_ref()?;
            let id = row.get(&c.name)?.as_u64()?;
            Some(RowRef { column: c.name.clone(), table: target.clone(), id })
        })
        .collect()
}

/// Refuses a body that names a column no client may write: `secret` ones and the
/// server-managed `created_at` (one rule for every write path).
fn refuse_unwritable(table: &Table, body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.keys().find(|k| table.column(k).is_some_and(|c| !c.client_writable())) {
        Some(name) => Err(ApiError::validation(format!("column '{name}' is not writable"))),
        None => Ok(()),
    }
}

/// A new row from a client body, stamped `created_at` = `now_ms` where the table has one.
pub fn create(table: &Table, real: &RealValues, row: Map<String, Value>, now_ms: u64) -> Result<Op, ApiError> {
    let NewRow { row, refs } = new_row(table, real, row, now_ms)?;
    Ok(Op::Insert { table: table.name.clone(), refs, row })
}

fn new_row(table: &Table, real: &RealValues, mut row: Map<String, Value>, now_ms: u64) -> Result<NewRow, ApiError> {
    if row.contains_key("id") {
        return Err(ApiError::validation("column 'id' is assigned by the server"));
    }
    table.normalize_numbers(&mut row);
    table.validate_known_columns(&row)?;
    refuse_unwritable(table, &row)?;
    row.retain(|_, v| !v.is_null());
    stamp_created_at(table, &mut row, now_ms);
    table.validate_row(&row)?;
    real.remember(table, &row);
    Ok(NewRow { refs: references(table, &row), row })
}

fn stamp_created_at(table: &Table, row: &mut Map<String, Value>, now_ms: u64) {
    if table.column(CREATED_AT).is_some_and(|c| c.server_managed()) && !row.contains_key(CREATED_AT) {
        row.insert(CREATED_AT.into(), Value::from(crate::clock::rfc3339(now_ms)));
    }
}

/// Many new rows from a client's JSON array, created all or none by one writer op; a
/// refusal names the array index (`row 3: column 'total' …`).
pub fn create_many(table: &Table, real: &RealValues, items: &[Value], now_ms: u64) -> Result<Op, ApiError> {
    let mut rows = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(ApiError::validation("each item must be a JSON object").at_row(i));
        };
        rows.push(new_row(table, real, map.clone(), now_ms).map_err(|e| e.at_row(i))?);
    }
    Ok(Op::InsertMany { table: table.name.clone(), rows })
}

/// A row brought in by an administrator's import: the same validation as a client's
/// create, except that `id` and `created_at` are kept when given (so references between
/// imported tables and creation dates survive) and secret columns may be written. Rows
/// without `created_at` are stamped `now_ms`.
pub fn import_row(table: &Table, mut row: Map<String, Value>, now_ms: u64) -> Result<NewRow, ApiError> {
    let id = match row.remove("id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|id| *id > 0)
                .ok_or_else(|| ApiError::validation("column 'id' must be a positive row id"))?,
        ),
    };
    row.retain(|_, v| !v.is_null());
    table.normalize_numbers(&mut row);
    stamp_created_at(table, &mut row, now_ms);
    table.validate_row(&row)?;
    let refs = references(table, &row);
    if let Some(id) = id {
        row.insert("id".into(), Value::from(id));
    }
    Ok(NewRow { row, refs })
}

/// The rows an [`Op::InsertMany`] stored.
pub fn stored_rows(done: Done) -> Result<Vec<Row>, ApiError> {
    match done {
        Done::Rows(rows) => Ok(rows),
        _ => Err(ApiError::new(ErrorKind::Internal)),
    }
}

/// A change to row `id` from a client body (which may repeat the id, but not change it).
pub fn update(
    table: &Table,
    real: &RealValues,
    id: u64,
    mut body: Map<String, Value>,
    how: Update,
) -> Result<Op, ApiError> {
    match body.remove("id") {
        None => {}
        Some(v) if v.as_u64() == Some(id) => {}
        Some(_) => return Err(ApiError::validation("column 'id' does not match the URL")),
    }
    table.normalize_numbers(&mut body);
    table.validate_known_columns(&body)?;
    refuse_unwritable(table, &body)?;
    real.remember(table, &body);
    let refs = references(table, &body);
    let def = table.clone();
    let change = Box::new(move |current: Row| {
        // Keys the schema no longer declares (a dropped column kept until `schema prune`)
        // are not the client's: they are neither validated nor lost.
        let (declared, hidden): (Row, Row) = current.into_iter().partition(|(k, _)| def.column(k).is_some());
        let mut next: Row = match how {
            Update::Merge => declared,
            // What the client cannot write (secret, server-managed) is kept.
            Update::Replace => {
                declared.into_iter().filter(|(k, _)| def.column(k).is_some_and(|c| !c.client_writable())).collect()
            }
        };
        next.extend(body);
        next.retain(|_, v| !v.is_null());
        def.validate_row(&next)?;
        next.extend(hidden.into_iter().filter(|(k, _)| k != "id"));
        Ok(next)
    });
    Ok(Op::Update { table: table.name.clone(), id, refs, change })
}

/// Deleting row `id`, refused while other rows reference it.
pub fn delete(schema: &Schema, table: &Table, id: u64) -> Op {
    Op::Delete { table: table.name.clone(), id, referrers: schema.referrers(&table.name) }
}

/// The row a create or update stored.
pub fn stored(done: Done) -> Result<Row, ApiError> {
    match done {
        Done::Row(row) => Ok(row),
        _ => Err(ApiError::new(ErrorKind::NotFound)),
    }
}

/// Whether a delete removed its row.
pub fn deleted(done: Done) -> Result<(), ApiError> {
    match done {
        Done::Removed(true) => Ok(()),
        _ => Err(ApiError::new(ErrorKind::NotFound)),
    }
}
