//! What can be written: the one vocabulary of changes both stores apply. The sled writer
//! (`writer`) runs an [`Op`] in its serial order, the PostgreSQL store (`pg::write`) in one
//! transaction; callers build the same ops either way and never see which.

use std::sync::Arc;

use serde_json::Value;

use super::codec::Row;
use super::point::PointCapture;
use crate::error::ApiError;

/// A reference a written row makes: `column` holds `id` of `table`, which must exist.
#[derive(Debug, Clone)]
pub struct RowRef {
    pub column: String,
    pub table: String,
    pub id: u64,
}

/// Computes a row's next state from its stored one (validation included); runs on the
/// writer thread, so it must not block.
pub type Change = Box<dyn FnOnce(Row) -> Result<Row, ApiError> + Send>;

/// The store's own trees that hold no table rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SysTree {
    Meta,
    Tokens,
    Locks,
    Counters,
}

impl SysTree {
    pub fn name(self) -> &'static str {
        match self {
            SysTree::Meta => "sys:meta",
            SysTree::Tokens => "sys:tokens",
            SysTree::Locks => "sys:locks",
            SysTree::Counters => "sys:counters",
        }
    }
}

/// One change.
pub enum Op {
    /// A new row with the table's next id (the row must not carry `id`).
    Insert { table: String, row: Row, refs: Vec<RowRef> },
    /// Replaces a row with `change(stored)`; `Done::Missing` when there is none.
    Update { table: String, id: u64, refs: Vec<RowRef>, change: Change },
    /// Deletes a row unless a column in `referrers` (table, column) still points at it.
    Delete { table: String, id: u64, referrers: Vec<(String, String)> },
    /// Stores rows with their own ids (seeding) and moves the sequence past them.
    Load { table: String, rows: Vec<Row> },
    /// Creates rows all or none (a REST array, an import): every given id and reference is
    /// checked before the first row is written. A row with an `id` keeps it (refused when
    /// taken), the others get the next ids; the sequence moves past all of them. References
    /// may name rows given in the same op. Answers `Done::Rows`; a refusal names the row's
    /// position in `rows` (see `ApiError::at_row`).
    InsertMany { table: String, rows: Vec<NewRow> },
    /// Sets keys of a system tree.
    Put { tree: SysTree, entries: Vec<(Vec<u8>, Vec<u8>)> },
    /// Removes a key of a system tree.
    Remove { tree: SysTree, key: Vec<u8> },
    /// Rewrites up to `limit` rows of `table` with ids above `after`, in id order, through
    /// `change` (`None`: the row stays as it is); answers `Done::Progress` with the last id
    /// read, `None` past the end. Run in the writer's order, so a concurrent write is never
    /// overwritten with a stale copy (schema migrations and prune).
    Transform { table: String, after: u64, limit: usize, change: RowMap },
    /// Moves up to `limit` rows from table `from` into `to` (a table rename); answers
    /// `Done::Progress(Some(n))` with how many moved, `None` when none were left.
    MoveRows { from: String, to: String, limit: usize },
    /// Deletes every row and index entry of a table (`schema prune` of a dropped table).
    DropTable { table: String },
    /// Removes dropped columns from a table that has columns (`schema prune`, after a
    /// [`Op::Transform`] emptied them): PostgreSQL's `DROP COLUMN`. A sled row is a map, which
    /// that transform left without the keys, so here it does nothing.
    DropColumns { table: String, columns: Vec<String> },
    /// Names a consistent point: from here on the writer preserves what it changes in
    /// `capture` (see `point`), until [`Op::EndPoint`].
    BeginPoint { capture: Arc<PointCapture> },
    /// Ends the capture of [`Op::BeginPoint`].
    EndPoint,
    /// A client write of an owner-bound token: `op` (an insert, bulk insert, update or
    /// delete) only inside the owner `rule` names (see `owned`).
    Owned { rule: OwnerRule, op: Box<Op> },
    /// Does nothing: proves the writer answers (the watchdog's probe).
    Ping,
}

/// Whose rows an [`Op::Owned`] write may touch (see `owned`): the chain of (table, column) from the written table to the
/// owner table (empty for the owner table itself) and the owner row's id.
#[derive(Debug, Clone)]
pub struct OwnerRule {
    pub path: Vec<(String, String)>,
    pub table: String,
    pub id: u64,
}

impl OwnerRule {
    /// Whether `row` (of the chain's first table) leads to the owner, reading each row on
    /// the way with `fetch(table, id)`: the one walk, for the writer's checks and readers'.
    pub fn leads_to(
        &self,
        row: &Row,
        mut fetch: impl FnMut(&str, u64) -> Result<Option<Row>, ApiError>,
    ) -> Result<bool, ApiError> {
        if self.path.is_empty() {
            return Ok(row.get("id").and_then(Value::as_u64) == Some(self.id));
        }
        let mut current = row.clone();
        for (i, (_, column)) in self.path.iter().enumerate() {
            let Some(next) = current.get(column).and_then(Value::as_u64) else { return Ok(false) };
            let Some((table, _)) = self.path.get(i + 1) else { return Ok(next == self.id) };
            let Some(row) = fetch(table, next)? else { return Ok(false) };
            current = row;
        }
        Ok(false)
    }
}

/// One row of [`Op::InsertMany`] and the references it makes.
#[derive(Debug, Clone)]
pub struct NewRow {
    pub row: Row,
    pub refs: Vec<RowRef>,
}

/// A row rewrite for [`Op::Transform`].
pub type RowMap = Arc<dyn Fn(&Row) -> Option<Row> + Send + Sync>;

/// What an op did.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    Row(Row),
    /// The rows an [`Op::InsertMany`] stored, ids included, in the order given.
    Rows(Vec<Row>),
    /// Update or delete of a row that does not exist.
    Missing,
    /// Delete of a row; `Remove`: whether the key was there.
    Removed(bool),
    /// A bulk op's position (see [`Op::Transform`], [`Op::MoveRows`]).
    Progress(Option<u64>),
    Ok,
}
