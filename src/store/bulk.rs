//! The writer's bulk operations: rewriting a table's rows in id order (schema migrations and
//! `schema prune`), moving a table's rows under a new name, and dropping a table's data.
//!
//! They run on the writer thread like every other write, in bounded batches the caller
//! loops over, so a migration never holds the writer for long and a concurrent client write
//! is never overwritten by a stale copy: each batch reads the rows it rewrites in the same
//! serial order as every other change. Each batch is made durable by the writer's group
//! commit before it is acknowledged; a crash between batches leaves every row either as it
//! was or as it should be, and the migrations built on these are idempotent, so running them
//! again finishes the job without doubling anything.
//!
//! [`Op::InsertMany`](super::Op::InsertMany) creates many rows at once (a REST array, an
//! import batch): it checks everything first and writes only when all rows pass, so one
//! group commit holds all of them or none. It and [`Op::Load`](super::Op::Load) write
//! their rows through `put_rows` (see `grouped`): batched, counts added up per group.

use std::collections::HashSet;

use serde_json::Value;

use super::codec::{decode, key, Row};
use super::op::{Done, NewRow, RowMap, RowRef};
use super::writer::Engine;
use super::StoreError;
use crate::error::{ApiError, ErrorKind};

impl Engine {
    pub(super) fn transform(
        &mut self,
        table: &str,
        after: u64,
        limit: usize,
        change: &RowMap,
    ) -> Result<Done, ApiError> {
        let tree = self.rows(table)?;
        let mut last = None;
        let mut changed: Vec<(u64, Row, Row)> = Vec::new();
        for item in tree.range(key(after.saturating_add(1))..).take(limit.max(1)) {
            let (k, bytes) = item.map_err(StoreError::from)?;
            let id = k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or_default();
            last = Some(id);
            let old = decode(&bytes)?;
            if let Some(new) = change(&old) {
                changed.push((id, old, new));
            }
        }
        for (id, old, new) in changed {
            self.put_row(table, id, Some(&old), &new)?;
        }
        Ok(Done::Progress(last))
    }

    pub(super) fn move_rows(&mut self, from: &str, to: &str, limit: usize) -> Result<Done, ApiError> {
        let source = self.rows(from)?;
        let batch: Vec<(u64, Row)> = source
            .iter()
            .take(limit.max(1))
            .map(|item| {
                let (k, bytes) = item.map_err(StoreError::from)?;
                Ok((k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or_default(), decode(&bytes)?))
            })
            .collect::<Result<_, ApiError>>()?;
        if batch.is_empty() {
            return Ok(Done::Progress(None));
        }
        let target = self.rows(to)?;
        // The new name's sequence starts past every moved id (ids are never reused).
        let last = batch.iter().map(|(id, _)| *id).max().unwrap_or_default();
        let next = self.next_id(to)?.saturating_sub(1).max(last);
        let seq = self.next_id(from)?.saturating_sub(1).max(next);
        self.set_seq(to, seq)?;
        for (id, row) in &batch {
            let old = target.get(key(*id)).map_err(StoreError::from)?.map(|b| decode(&b)).transpose()?;
            self.put_row(to, *id, old.as_ref(), row)?;
            self.remove_row(&source, from, *id, row)?;
        }
        Ok(Done::Progress(Some(batch.len() as u64)))
    }

    pub(super) fn drop_table(&mut self, table: &str) -> Result<Done, ApiError> {
        let rows = self.rows(table)?;
        let index = self.index(table)?;
        if self.capture.is_some() {
            for k in rows.iter().keys() {
                let k = k.map_err(StoreError::from)?;
                self.preserve(&rows, &format!("rows:{table}"), &k)?;
            }
        }
        self.observe(rows.clear())?;
        self.observe(index.clear())?;
        Ok(Done::Ok)
    }
}

impl Engine {
    pub(super) fn insert_many(&mut self, table: &str, rows: Vec<NewRow>) -> Result<Done, ApiError> {
        let tree = self.rows(table)?;
        // Every stored id is at most the table's sequence (each write path moves it past the
        // ids it stores), so only an id at or below it can clash with a stored row: an
        // import into a new table reads nothing here.
        let last = self.next_id(table)? - 1;
        let mut given = HashSet::new();
        for (i, new) in rows.iter().enumerate() {
            let Some(value) = new.row.get("id") else { continue };
            let id = value
                .as_u64()
                .filter(|id| *id > 0)
                .ok_or_else(|| ApiError::validation("column 'id' must be a positive row id").at_row(i))?;
            if !given.insert(id) || (id <= last && tree.contains_key(key(id)).map_err(StoreError::from)?) {
                let message = format!("column 'id': a {table} row with id {id} already exists");
                return Err(ApiError::with_message(ErrorKind::Conflict, message).at_row(i));
            }
        }
        // Imported rows mostly point at a few rows (their client, their status): each
        // referenced row is looked up once.
        let mut seen: HashSet<(&str, u64)> = HashSet::new();
        for (i, new) in rows.iter().enumerate() {
            let here: Vec<RowRef> = new
                .refs
                .iter()
                .filter(|r| !(r.table == table && given.contains(&r.id)))
                .filter(|r| seen.insert((r.table.as_str(), r.id)))
                .cloned()
                .collect();
            self.check_refs(&here).map_err(|e| e.at_row(i))?;
        }
        let mut next = last.max(given.iter().copied().max().unwrap_or(0));
        let unassigned = rows.iter().filter(|r| !r.row.contains_key("id")).count() as u64;
        self.set_seq(table, next + unassigned)?;
        let mut stored = Vec::with_capacity(rows.len());
        for NewRow { mut row, .. } in rows {
            let id = match row.get("id").and_then(Value::as_u64) {
                Some(id) => id,
                None => {
                    next += 1;
                    row.insert("id".into(), Value::from(next));
                    next
                }
            };
            stored.push((id, row));
        }
        self.put_rows(table, &stored, true)?;
        Ok(Done::Rows(stored.into_iter().map(|(_, row)| row).collect()))
    }
}

impl Engine {
    /// Restored rows (ids given) replace whatever is stored under their ids.
    pub(super) fn load(&mut self, table: &str, rows: Vec<Row>) -> Result<Done, ApiError> {
        let last = self.next_id(table)? - 1;
        let mut max = last;
        let mut with_ids = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.get("id").and_then(Value::as_u64).ok_or_else(|| {
                ApiError::with_message(ErrorKind::Validation, format!("a {table} row has no integer id"))
            })?;
            max = max.max(id);
            with_ids.push((id, row));
        }
        // Ids past the sequence cannot be stored (see `insert_many`): a restore into a new
        // table replaces nothing and writes as an import does.
        let mut distinct = HashSet::with_capacity(with_ids.len());
        let new = with_ids.iter().all(|(id, _)| *id > last && distinct.insert(*id));
        self.set_seq(table, max)?;
        self.put_rows(table, &with_ids, new)?;
        Ok(Done::Ok)
    }
}
