//! Writes of an owner-bound token on PostgreSQL, with the sled writer's rules (`store::owned`),
//! and the row reads every write makes inside its transaction: held `FOR UPDATE` before a
//! change, `FOR KEY SHARE` along an owner chain, so no other instance moves a row out from
//! under the check before the commit.

use serde_json::Value;

use super::{apply, Schema, WriteError};
use crate::error::{ApiError, ErrorKind};
use crate::store::op::{Done, NewRow, Op, OwnerRule, RowRef};
use crate::store::pg::layout::{ident, Layout, TableDef};
use crate::store::pg::row_of;
use crate::store::{Row, StoreError};

/// How a row read inside a write is held until the commit.
#[derive(Clone, Copy)]
pub(super) enum Hold {
    /// It is about to change (a read-modify-write).
    Update,
    /// It must stay and keep its id (a checked reference, an owner chain).
    KeyShare,
}

/// One row of `t` read inside the transaction and held as `hold` says.
pub(super) fn fetch_row(
    tx: &mut postgres::Transaction<'_>,
    t: &TableDef,
    id: u64,
    hold: Hold,
) -> Result<Option<Row>, postgres::Error> {
    let clause = match hold {
        Hold::Update => "FOR UPDATE",
        Hold::KeyShare => "FOR KEY SHARE",
    };
    let sql = format!("SELECT to_jsonb(t) FROM {} t WHERE id = $1 {clause}", ident(&t.name));
    Ok(tx.query_opt(&sql, &[&i64::try_from(id).unwrap_or(i64::MAX)])?.map(|r| row_of(t, r.get(0))))
}

/// A table of the layout, for a write naming it.
pub(super) fn table_of<'l>(layout: &'l Layout, table: &str) -> Result<&'l TableDef, WriteError> {
    layout.table(table).ok_or_else(|| WriteError::Store(StoreError::Corrupt(format!("no table {table}"))))
}

/// Whether `row` leads to the owner, its chain read inside the transaction.
fn leads(tx: &mut postgres::Transaction<'_>, layout: &Layout, rule: &OwnerRule, row: &Row) -> Result<bool, ApiError> {
    rule.leads_to(row, |table, id| {
        let t = layout.table(table).ok_or_else(|| ApiError::new(ErrorKind::Internal))?;
        fetch_row(tx, t, id, Hold::KeyShare).map_err(|e| {
            tracing::error!(error = %e, "owner chain read failed");
            ApiError::new(ErrorKind::StorageUnavailable)
        })
    })
}

/// A write of an owner-bound token, with the sled writer's rules (see `store::owned`): a
/// create must lead to the owner (its first chain column filled in where the owner is one
/// reference away), an update or delete reaches only an owned row and cannot move it out.
pub(super) fn owned(
    tx: &mut postgres::Transaction<'_>,
    schema: &Schema<'_>,
    rule: &OwnerRule,
    op: Op,
) -> Result<Done, WriteError> {
    let layout = schema.layout;
    let mismatch = |at: Option<usize>| {
        let e = ApiError::new(ErrorKind::OwnerMismatch);
        WriteError::Refused(match at {
            Some(i) => e.at_row(i),
            None => e,
        })
    };
    let fill = |row: &mut Row, refs: &mut Vec<RowRef>| {
        if let [(_, column)] = rule.path.as_slice() {
            row.entry(column.clone()).or_insert(Value::from(rule.id));
            if !refs.iter().any(|r| &r.column == column) {
                if let Some(id) = row.get(column).and_then(Value::as_u64) {
                    refs.push(RowRef { column: column.clone(), table: rule.table.clone(), id });
                }
            }
        }
    };
    match op {
        Op::Insert { table, mut row, mut refs } => {
            fill(&mut row, &mut refs);
            if rule.path.is_empty() || !leads(tx, layout, rule, &row)? {
                return Err(mismatch(None));
            }
            apply(tx, schema, Op::Insert { table, row, refs })
        }
        Op::InsertMany { table, mut rows } => {
            for (i, NewRow { row, refs }) in rows.iter_mut().enumerate() {
                fill(row, refs);
                if rule.path.is_empty() || !leads(tx, layout, rule, row).map_err(|e| e.at_row(i))? {
                    return Err(mismatch(Some(i)));
                }
            }
            apply(tx, schema, Op::InsertMany { table, rows })
        }
        Op::Update { table, id, refs, change } => {
            let Some(old) = fetch_row(tx, table_of(layout, &table)?, id, Hold::Update)? else {
                return Ok(Done::Missing);
            };
            if !leads(tx, layout, rule, &old)? {
                return Ok(Done::Missing);
            }
            let mut next = change(old)?;
            next.insert("id".into(), Value::from(id));
            if !leads(tx, layout, rule, &next)? {
                return Err(mismatch(None));
            }
            apply(tx, schema, Op::Update { table, id, refs, change: Box::new(move |_| Ok(next)) })
        }
        Op::Delete { table, id, referrers } => {
            let Some(old) = fetch_row(tx, table_of(layout, &table)?, id, Hold::Update)? else {
                return Ok(Done::Missing);
            };
            if !leads(tx, layout, rule, &old)? {
                return Ok(Done::Missing);
            }
            apply(tx, schema, Op::Delete { table, id, referrers })
        }
        // Nothing else is a client's write.
        _ => Err(WriteError::Refused(ApiError::new(ErrorKind::Internal))),
    }
}
