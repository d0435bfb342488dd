//! Writes of an owner-bound token ([`Op::Owned`](super::Op::Owned), issue #28), checked in
//! the writer's serial order like the reference checks, so no concurrent write can slip a row
//! out of its owner between the check and the write:
//!
//! - a create must lead to the owner: when the first column of its chain is absent and the
//!   owner is one reference away, it is set to the owner; any other value that does not lead
//!   there is `403 owner_mismatch`;
//! - an update or delete reaches only an owned row (another owner's is `Done::Missing`, a
//!   404, so its existence is not revealed), and an update cannot move the row out (`403`);
//! - a row of the owner table itself cannot be created (its id would not be the owner's).

use serde_json::Value;

use super::codec::{decode, key, Row};
use super::op::{Done, NewRow, Op, OwnerRule};
use super::writer::Engine;
use super::StoreError;
use crate::error::{ApiError, ErrorKind};

fn mismatch() -> ApiError {
    ApiError::new(ErrorKind::OwnerMismatch)
}

impl Engine {
    /// Whether `row` (of the path's first table) leads to the owner.
    fn owned(&mut self, row: &Row, rule: &OwnerRule) -> Result<bool, ApiError> {
        rule.leads_to(row, |table, id| {
            let bytes = self.rows(table)?.get(key(id)).map_err(StoreError::from)?;
            Ok(bytes.map(|b| decode(&b)).transpose()?)
        })
    }

    /// A new row of an owner-bound token: its chain's first column filled in where the owner
    /// is one reference away, then checked.
    fn owned_new(&mut self, row: &mut Row, rule: &OwnerRule) -> Result<(), ApiError> {
        if let [(_, column)] = rule.path.as_slice() {
            row.entry(column.clone()).or_insert(Value::from(rule.id));
        }
        if rule.path.is_empty() || !self.owned(row, rule)? {
            return Err(mismatch());
        }
        Ok(())
    }

    pub(super) fn owned_write(&mut self, rule: &OwnerRule, op: Op) -> Result<Done, ApiError> {
        match op {
            Op::Insert { table, mut row, mut refs } => {
                self.owned_new(&mut row, rule)?;
                refresh_refs(&row, rule, &mut refs);
                self.apply(Op::Insert { table, row, refs })
            }
            Op::InsertMany { table, mut rows } => {
                for (i, new) in rows.iter_mut().enumerate() {
                    self.owned_new(&mut new.row, rule).map_err(|e| e.at_row(i))?;
                    let NewRow { row, refs } = new;
                    refresh_refs(row, rule, refs);
                }
                self.apply(Op::InsertMany { table, rows })
            }
            Op::Update { table, id, refs, change } => {
                let Some(bytes) = self.rows(&table)?.get(key(id)).map_err(StoreError::from)? else {
                    return Ok(Done::Missing);
                };
                let old = decode(&bytes)?;
                if !self.owned(&old, rule)? {
                    return Ok(Done::Missing);
                }
                let mut next = change(old.clone())?;
                self.check_refs(&refs)?;
                next.insert("id".into(), Value::from(id));
                if !self.owned(&next, rule)? {
                    return Err(mismatch());
                }
                self.put_row(&table, id, Some(&old), &next)?;
                Ok(Done::Row(next))
            }
            Op::Delete { table, id, referrers } => {
                let Some(bytes) = self.rows(&table)?.get(key(id)).map_err(StoreError::from)? else {
                    return Ok(Done::Missing);
                };
                if !self.owned(&decode(&bytes)?, rule)? {
                    return Ok(Done::Missing);
                }
                self.apply(Op::Delete { table, id, referrers })
            }
            // Nothing else is a client's write.
            _ => Err(ApiError::new(ErrorKind::Internal)),
        }
    }
}

/// The reference a filled-in owner column makes, for the writer's reference check.
fn refresh_refs(row: &Row, rule: &OwnerRule, refs: &mut Vec<super::RowRef>) {
    if let [(_, column)] = rule.path.as_slice() {
        if !refs.iter().any(|r| &r.column == column) {
            if let Some(id) = row.get(column).and_then(Value::as_u64) {
                refs.push(super::RowRef { column: column.clone(), table: rule.table.clone(), id });
            }
        }
    }
}
