//! The store's single writer: one thread owns every change to the database.
//!
//! sled 0.34 deadlocks under concurrent transactions and `flush_async` (seen in production
//! shape: workers in `ConcurrencyControl::write`/`read`, the audit writer and sled's own I/O
//! threads all waiting). So no code path here uses either. Callers (REST, GraphQL, tokens,
//! locks, counter snapshots, seeding) send an [`Op`] and wait for its answer; the writer
//! takes every op waiting in its mailbox, applies them one after another with plain
//! inserts and removes — the serial order replaces transactions: an id sequence, a reference
//! check and the write it guards cannot interleave with another write —, makes the whole
//! group durable with one blocking `flush()`, and only then answers each op (group commit).
//! A write is acknowledged only once it is on disk.
//!
//! Reads never come here: they run on the workers against sled directly.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use serde_json::Value;

use super::codec::{decode, encode, key, Row};
use super::index::{self, IndexPlan};
use super::op::{Change, Done, Op, RowRef, SysTree};
use super::point::PointCapture;
use super::{Health, StoreError};
use crate::error::{ApiError, ErrorKind};

/// Most ops applied under one flush.
const MAX_GROUP: usize = 1024;

type Reply = Box<dyn FnOnce(Result<Done, ApiError>) + Send>;

struct Job {
    op: Op,
    reply: Reply,
}

/// The handle callers hold. Dropping the last one lets the thread finish what it holds,
/// mark the store cleanly closed and exit; the drop waits for that.
pub struct Writer {
    tx: Option<Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    pub(super) fn start(engine: Engine) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new().name("store-writer".into()).spawn(move || engine.run(rx))?;
        Ok(Self { tx: Some(tx), thread: Some(thread) })
    }

    /// Queues an op; `reply` runs on the writer thread once it is durable (or failed).
    pub fn submit(&self, op: Op, reply: impl FnOnce(Result<Done, ApiError>) + Send + 'static) {
        let job = Job { op, reply: Box::new(reply) };
        let sent = self.tx.as_ref().map(|tx| tx.send(job));
        if let Some(Err(std::sync::mpsc::SendError(job))) = sent {
            (job.reply)(Err(stopped()));
        }
    }

    /// Sends an op and waits for its answer without blocking the async worker.
    pub async fn write(&self, op: Op) -> Result<Done, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(op, move |r| {
            let _ = tx.send(r);
        });
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// The same, blocking the calling thread (CLI, admin commands, GraphQL's blocking pool).
    pub fn write_blocking(&self, op: Op) -> Result<Done, ApiError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(op, move |r| {
            let _ = tx.send(r);
        });
        rx.recv().unwrap_or_else(|_| Err(stopped()))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

fn stopped() -> ApiError {
    tracing::error!("the store writer has stopped");
    ApiError::new(ErrorKind::StorageUnavailable)
}

/// What the writer thread owns.
pub(super) struct Engine {
    pub db: sled::Db,
    pub health: Arc<Health>,
    pub indexes: Arc<IndexPlan>,
    /// Last id handed out, per table.
    pub seqs: HashMap<String, u64>,
    pub trees: HashMap<String, sled::Tree>,
    /// The point being read, if any (see `point`).
    pub capture: Option<Arc<PointCapture>>,
}

/// The meta key that is present while a process has the store open (see `Store::open`).
pub(super) const OPEN_MARKER: &[u8] = b"open";

impl Engine {
    fn run(mut self, rx: Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            self.commit(group);
        }
        // Every handle is gone: the store closes cleanly, so the next start need not rebuild
        // its indexes.
        if !self.health.failed() && self.health.check_write().is_ok() {
            let closed = self.tree(SysTree::Meta.name()).and_then(|m| Ok(m.remove(OPEN_MARKER)?));
            if let Err(e) = closed.and_then(|_| Ok(self.db.flush()?)) {
                tracing::warn!(error = %e, "store not marked closed; indexes will be rebuilt at next start");
            }
        }
    }

    /// Applies a group, makes it durable with one flush, then answers every op in it.
    fn commit(&mut self, group: Vec<Job>) {
        if let Err(e) = self.health.check_write() {
            let err: ApiError = e.into();
            for job in group {
                match job.op {
                    Op::Ping => (job.reply)(Ok(Done::Ok)),
                    _ => (job.reply)(Err(err.clone())),
                }
            }
            return;
        }
        let mut answers = Vec::with_capacity(group.len());
        let pings = group.iter().filter(|j| matches!(j.op, Op::Ping)).count();
        for job in group {
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.apply(job.op))).unwrap_or_else(|_| {
                    tracing::error!("a store write panicked; refused");
                    Err(ApiError::new(ErrorKind::Internal))
                });
            answers.push((job.reply, outcome));
        }
        // A group of pings has nothing to make durable (earlier groups were flushed before
        // they were answered).
        let flushed = if answers.len() == pings { Ok(0) } else { self.health.observe(self.db.flush()) };
        for (reply, outcome) in answers {
            match &flushed {
                Ok(_) => reply(outcome),
                Err(e) => {
                    tracing::error!(error = %e, "store flush failed");
                    reply(Err(ApiError::new(ErrorKind::StorageUnavailable)))
                }
            }
        }
    }

    fn tree(&mut self, name: &str) -> Result<sled::Tree, StoreError> {
        if let Some(t) = self.trees.get(name) {
            return Ok(t.clone());
        }
        let t = self.db.open_tree(name)?;
        self.trees.insert(name.to_string(), t.clone());
        Ok(t)
    }

    pub(super) fn rows(&mut self, table: &str) -> Result<sled::Tree, StoreError> {
        self.tree(&format!("rows:{table}"))
    }

    pub(super) fn index(&mut self, table: &str) -> Result<sled::Tree, StoreError> {
        self.tree(&format!("idx:{table}"))
    }

    pub(super) fn apply(&mut self, op: Op) -> Result<Done, ApiError> {
        match op {
            Op::Insert { table, row, refs } => self.insert(&table, row, &refs),
            Op::Update { table, id, refs, change } => self.update(&table, id, &refs, change),
            Op::Delete { table, id, referrers } => self.delete(&table, id, &referrers),
            Op::Load { table, rows } => self.load(&table, rows),
            Op::InsertMany { table, rows } => self.insert_many(&table, rows),
            Op::Put { tree, entries } => {
                let t = self.tree(tree.name())?;
                let mut batch = sled::Batch::default();
                for (k, _) in &entries {
                    self.preserve(&t, tree.name(), k)?;
                }
                for (k, v) in entries {
                    batch.insert(k, v);
                }
                self.observe(t.apply_batch(batch))?;
                Ok(Done::Ok)
            }
            Op::Remove { tree, key } => {
                let t = self.tree(tree.name())?;
                self.preserve(&t, tree.name(), &key)?;
                Ok(Done::Removed(self.observe(t.remove(key))?.is_some()))
            }
            Op::Transform { table, after, limit, change } => self.transform(&table, after, limit, &change),
            Op::MoveRows { from, to, limit } => self.move_rows(&from, &to, limit),
            Op::DropTable { table } => self.drop_table(&table),
            Op::DropColumns { .. } => Ok(Done::Ok),
            Op::BeginPoint { capture } => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                capture.mark(now.as_millis() as u64);
                self.capture = Some(capture);
                Ok(Done::Ok)
            }
            Op::EndPoint => {
                self.capture = None;
                Ok(Done::Ok)
            }
            Op::Owned { rule, op } => self.owned_write(&rule, *op),
            Op::Ping => Ok(Done::Ok),
        }
    }

    /// Keeps `tree[key]` as it was at the point being read, if one is (see `point`).
    pub(super) fn preserve(&self, tree: &sled::Tree, name: &str, key: &[u8]) -> Result<(), ApiError> {
        match &self.capture {
            Some(c) => self.observe(c.preserve(tree, name, key)),
            None => Ok(()),
        }
    }

    pub(super) fn preserve_row(&self, rows: &sled::Tree, table: &str, id: u64) -> Result<(), ApiError> {
        match &self.capture {
            Some(c) => self.observe(c.preserve(rows, &format!("rows:{table}"), &key(id))),
            None => Ok(()),
        }
    }

    pub(super) fn observe<T>(&self, r: Result<T, sled::Error>) -> Result<T, ApiError> {
        Ok(self.health.observe(r)?)
    }

    pub(super) fn check_refs(&mut self, refs: &[RowRef]) -> Result<(), ApiError> {
        for r in refs {
            if !self.rows(&r.table)?.contains_key(key(r.id)).map_err(StoreError::from)? {
                // A reference to a row that is not there conflicts with the stored data (as
                // a foreign-key violation does: PostgREST answers 409 too); the body was
                // well formed.
                return Err(ApiError::with_message(
                    ErrorKind::Conflict,
                    format!("column '{}': no {} row with id {}", r.column, r.table, r.id),
                ));
            }
        }
        Ok(())
    }

    /// The table's next id: one past the larger of the stored sequence and the last row.
    pub(super) fn next_id(&mut self, table: &str) -> Result<u64, ApiError> {
        if let Some(last) = self.seqs.get(table) {
            return Ok(last + 1);
        }
        let stored = self.tree(SysTree::Meta.name())?.get(seq_key(table)).map_err(StoreError::from)?;
        let stored = stored.and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)).unwrap_or(0);
        let last_row = self.rows(table)?.last().map_err(StoreError::from)?;
        let last_row = last_row.and_then(|(k, _)| k.as_ref().try_into().ok().map(u64::from_be_bytes)).unwrap_or(0);
        let last = stored.max(last_row);
        self.seqs.insert(table.to_string(), last);
        Ok(last + 1)
    }

    pub(super) fn set_seq(&mut self, table: &str, last: u64) -> Result<(), ApiError> {
        // The sequence is stored before the row it covers: a crash between the two leaves a
        // gap in ids, never a reused one.
        let meta = self.tree(SysTree::Meta.name())?;
        self.preserve(&meta, SysTree::Meta.name(), &seq_key(table))?;
        self.observe(meta.insert(seq_key(table), &last.to_be_bytes()))?;
        self.seqs.insert(table.to_string(), last);
        Ok(())
    }

    fn insert(&mut self, table: &str, mut row: Row, refs: &[RowRef]) -> Result<Done, ApiError> {
        self.check_refs(refs)?;
        let id = self.next_id(table)?;
        self.set_seq(table, id)?;
        row.insert("id".into(), Value::from(id));
        self.put_row(table, id, None, &row)?;
        Ok(Done::Row(row))
    }

    fn update(&mut self, table: &str, id: u64, refs: &[RowRef], change: Change) -> Result<Done, ApiError> {
        let Some(bytes) = self.rows(table)?.get(key(id)).map_err(StoreError::from)? else {
            return Ok(Done::Missing);
        };
        let old = decode(&bytes)?;
        let mut next = change(old.clone())?;
        self.check_refs(refs)?;
        next.insert("id".into(), Value::from(id));
        self.put_row(table, id, Some(&old), &next)?;
        Ok(Done::Row(next))
    }

    /// Writes a row and moves its index entries (new ones after the row, stale ones removed);
    /// `old`: the row stored under `id`, if any (none: the table gains a row).
    pub(super) fn put_row(&mut self, table: &str, id: u64, old: Option<&Row>, row: &Row) -> Result<(), ApiError> {
        let rows = self.rows(table)?;
        self.preserve_row(&rows, table, id)?;
        self.observe(rows.insert(key(id), encode(row)))?;
        let idx = self.index(table)?;
        if old.is_none() {
            self.add_to_count(&idx, index::ROWS_KEY, 1)?;
        }
        let indexes = self.indexes.clone();
        let columns = indexes.columns(table);
        let fresh: Vec<Vec<u8>> = index::entries(columns, row, id).collect();
        if let Some(old) = old {
            for stale in index::entries(columns, old, id).filter(|e| !fresh.contains(e)) {
                self.remove_entry(&idx, &stale)?;
            }
        }
        for e in fresh {
            if self.observe(idx.insert(&e, &[]))?.is_none() {
                self.add_to_count(&idx, &index::count_key(&e), 1)?;
            }
        }
        Ok(())
    }

    /// Removes a stored row and its index entries (entries first).
    pub(super) fn remove_row(&mut self, rows: &sled::Tree, table: &str, id: u64, old: &Row) -> Result<(), ApiError> {
        let indexes = self.indexes.clone();
        let idx = self.index(table)?;
        for e in index::entries(indexes.columns(table), old, id) {
            self.remove_entry(&idx, &e)?;
        }
        self.preserve_row(rows, table, id)?;
        if self.observe(rows.remove(key(id)))?.is_some() {
            self.add_to_count(&idx, index::ROWS_KEY, -1)?;
        }
        Ok(())
    }

    pub(super) fn remove_entry(&self, idx: &sled::Tree, entry: &[u8]) -> Result<(), ApiError> {
        if self.observe(idx.remove(entry))?.is_some() {
            self.add_to_count(idx, &index::count_key(entry), -1)?;
        }
        Ok(())
    }

    /// Moves a count (a value's entries, a table's rows); the key goes at zero.
    pub(super) fn add_to_count(&self, idx: &sled::Tree, key: &[u8], delta: i64) -> Result<(), ApiError> {
        let now = index::count_value(idx.get(key).map_err(StoreError::from)?.as_deref());
        match now.saturating_add_signed(delta) {
            0 => self.observe(idx.remove(key))?,
            n => self.observe(idx.insert(key, &n.to_be_bytes()))?,
        };
        Ok(())
    }

    fn delete(&mut self, table: &str, id: u64, referrers: &[(String, String)]) -> Result<Done, ApiError> {
        let rows = self.rows(table)?;
        let Some(bytes) = rows.get(key(id)).map_err(StoreError::from)? else { return Ok(Done::Missing) };
        for (other, column) in referrers {
            if self.is_referenced(other, column, id)? {
                return Err(ApiError::with_message(
                    ErrorKind::Conflict,
                    "the row is still referenced by other rows; delete those first",
                ));
            }
        }
        let old = decode(&bytes)?;
        self.remove_row(&rows, table, id, &old)?;
        Ok(Done::Removed(true))
    }

    fn is_referenced(&mut self, table: &str, column: &str, id: u64) -> Result<bool, ApiError> {
        let want = Value::from(id);
        if let Some(kind) = self.indexes.kind(table, column) {
            let prefix = index::prefix(column, kind, Some(&want));
            return Ok(self.index(table)?.contains_key(index::count_key_of(&prefix)).map_err(StoreError::from)?);
        }
        for item in self.rows(table)?.iter() {
            let (_, bytes) = item.map_err(StoreError::from)?;
            if decode(&bytes)?.get(column).and_then(Value::as_u64) == Some(id) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

pub(super) fn seq_key(table: &str) -> Vec<u8> {
    format!("seq:{table}").into_bytes()
}
