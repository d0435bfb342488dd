//! The audit trail in sled. Records arrive in batches (one per audit-actor flush); each batch
//! is stored as values of up to 64 JSON lines under key = big-endian (time ms of its first
//! record, sequence), in one sled batch, so writing costs a few inserts per batch, not one per
//! request. Records arrive already redacted (see `pipeline::audit`). Retention is bounded by
//! age (`keep_days`) and count (`max_records`); [`AuditLog::prune`] runs from the housekeeper.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::{Health, StoreError};
use crate::config::AuditConfig;

/// One finished request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    /// RFC 3339 time the request entered (filled in by the writer when left empty).
    pub time: String,
    #[serde(skip)]
    pub time_ms: u64,
    pub request_id: String,
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query: Option<String>,
    pub status: u16,
    pub duration_us: u64,
    pub token_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<String>,
    pub ip_hash: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

/// The audit tree and its counters.
pub struct AuditLog {
    tree: sled::Tree,
    health: Arc<Health>,
    seq: AtomicU64,
    count: AtomicUsize,
    /// Records finished but not yet stored (held by audit actors or the writer's backlog).
    pub queued: AtomicUsize,
    /// Records dropped because storage or the writer could not keep up.
    pub dropped: AtomicU64,
    /// Records written outside the writer (lock events) that storage refused; the writer
    /// stores them with its next batch.
    deferred: std::sync::Mutex<Vec<AuditRecord>>,
    config: AuditConfig,
}

/// Records stored per sled value. sled keeps large values in memory well beyond its cache
/// (1 024-record values grew a process by 120 MiB per million records; 64-record values by 6).
const RECORDS_PER_VALUE: usize = 64;

fn records_in(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

fn batch_time(key: &[u8]) -> u64 {
    u64::from_be_bytes(key.get(..8).and_then(|k| k.try_into().ok()).unwrap_or([0; 8]))
}

impl AuditLog {
    pub fn new(tree: sled::Tree, config: AuditConfig, health: Arc<Health>) -> Self {
        let count = tree.iter().values().flatten().map(|v| records_in(&v).count()).sum();
        let seq = tree
            .last()
            .ok()
            .flatten()
            .map(|(k, _)| u64::from_be_bytes(k.get(8..16).and_then(|k| k.try_into().ok()).unwrap_or([0; 8])) + 1);
        Self {
            tree,
            health,
            seq: AtomicU64::new(seq.unwrap_or(0)),
            count: AtomicUsize::new(count),
            queued: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            deferred: Default::default(),
            config,
        }
    }

    /// Bounds records held in memory while they cannot be stored to `max_pending`, keeping
    /// the oldest (the start of an incident); what goes is counted and logged.
    pub fn bound_held(&self, held: &mut Vec<AuditRecord>, why: &str) {
        let excess = held.len().saturating_sub(self.config.max_pending);
        if excess > 0 {
            held.truncate(self.config.max_pending);
            self.settled(0, excess);
            tracing::error!(dropped = excess, why, "audit records dropped: too many held");
        }
    }

    /// Stores one record now, or, while storage refuses, defers it to the writer (bounded by
    /// `max_pending`; beyond it the record is dropped and counted).
    pub fn append_or_defer(&self, record: AuditRecord) {
        match self.append(std::slice::from_ref(&record)) {
            Ok(()) => {}
            Err(e) => {
                let mut deferred = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
                if deferred.len() < self.config.max_pending {
                    deferred.push(record);
                } else {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, "audit record dropped: storage unavailable and the backlog is full");
                }
            }
        }
    }

    /// The deferred records, handed to the writer.
    pub fn take_deferred(&self) -> Vec<AuditRecord> {
        std::mem::take(&mut *self.deferred.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Accounts for queued records that were stored or dropped.
    pub fn settled(&self, stored: usize, dropped: usize) {
        let n = stored + dropped;
        let _ = self.queued.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| Some(q.saturating_sub(n)));
        self.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
    }

    /// Writes records as one batch.
    pub fn append(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for chunk in records.chunks(RECORDS_PER_VALUE) {
            let mut value = Vec::with_capacity(chunk.len() * 256);
            for r in chunk {
                let write = |value: &mut Vec<u8>, r: &AuditRecord| {
                    serde_json::to_writer(&mut *value, r).map_err(|e| StoreError::Corrupt(e.to_string()))
                };
                if r.time.is_empty() {
                    write(&mut value, &AuditRecord { time: crate::clock::rfc3339(r.time_ms), ..r.clone() })?;
                } else {
                    write(&mut value, r)?;
                }
                value.push(b'\n');
            }
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&chunk[0].time_ms.to_be_bytes());
            key[8..].copy_from_slice(&self.seq.fetch_add(1, Ordering::Relaxed).to_be_bytes());
            batch.insert(&key, value);
        }
        self.health.check_write()?;
        self.health.observe(self.tree.apply_batch(batch))?;
        self.count.fetch_add(records.len(), Ordering::Relaxed);
        Ok(())
    }

    /// The last `n` records, oldest first (by batch, then arrival).
    pub fn tail(&self, n: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for item in self.tree.iter().rev() {
            let (_, value) = item?;
            let mut batch = Vec::new();
            for line in records_in(&value) {
                batch
                    .push(serde_json::from_slice(line).map_err(|e| StoreError::Corrupt(format!("audit record: {e}")))?);
            }
            batch.append(&mut out);
            out = batch;
            if out.len() >= n {
                break;
            }
        }
        let skip = out.len().saturating_sub(n);
        let mut out: Vec<AuditRecord> = out.into_iter().skip(skip).collect();
        out.sort_by(|a, b| a.time.cmp(&b.time));
        Ok(out)
    }

    /// Deletes batches older than `keep_days`, and the oldest while over `max_records`.
    pub fn prune(&self, now_ms: u64) -> Result<usize, StoreError> {
        let cutoff = now_ms.saturating_sub(self.config.keep_days.saturating_mul(86_400_000));
        let mut removed = 0;
        for item in self.tree.iter() {
            let (key, value) = item?;
            let over = self.count.load(Ordering::Relaxed) > self.config.max_records;
            if batch_time(&key) >= cutoff && !over {
                break;
            }
            let n = records_in(&value).count();
            self.tree.remove(key)?;
            self.count.fetch_sub(n.min(self.count.load(Ordering::Relaxed)), Ordering::Relaxed);
            removed += n;
        }
        Ok(removed)
    }

    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time_ms: u64, path: &str) -> AuditRecord {
        AuditRecord {
            time: crate::clock::rfc3339(time_ms),
            time_ms,
            request_id: "r".into(),
            method: "GET".into(),
            path: path.into(),
            query: None,
            status: 200,
            duration_us: 1,
            token_id: None,
            user: None,
            ip_hash: "h".into(),
            stage: None,
            reason: None,
        }
    }

    #[test]
    fn batches_tail_and_prune() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let config = AuditConfig { keep_days: 1, max_records: 3, ..Default::default() };
        let log = AuditLog::new(db.open_tree("a").unwrap(), config, Arc::new(Health::new(&std::env::temp_dir(), 0)));
        log.append(&[record(1_000, "/a"), record(1_001, "/b")]).unwrap();
        log.append(&[record(2_000, "/c"), record(2_001, "/d")]).unwrap();
        assert_eq!(log.len(), 4);
        let paths: Vec<String> = log.tail(3).unwrap().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/b", "/c", "/d"]);
        // Over max_records: the oldest batch goes.
        assert_eq!(log.prune(3_000).unwrap(), 2);
        assert_eq!(log.len(), 2);
        // Older than keep_days: everything goes.
        assert_eq!(log.prune(2_000 + 86_400_000 + 1).unwrap(), 2);
        assert!(log.is_empty());
    }
}
