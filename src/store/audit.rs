//! The audit trail in sled: key = big-endian (time ms, sequence), value = one JSON record.
//! Records arrive already redacted (see `pipeline::audit`). Retention is bounded by age
//! (`keep_days`) and count (`max_records`); [`AuditLog::prune`] runs from the housekeeper.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::config::AuditConfig;

/// One finished request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    /// RFC 3339 time the request entered.
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
    seq: AtomicU64,
    count: AtomicUsize,
    pub dropped: AtomicU64,
    config: AuditConfig,
}

impl AuditLog {
    pub fn new(tree: sled::Tree, config: AuditConfig) -> Self {
        let count = tree.len();
        Self { tree, seq: AtomicU64::new(0), count: AtomicUsize::new(count), dropped: AtomicU64::new(0), config }
    }

    fn key(&self, time_ms: u64) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&time_ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        k
    }

    /// Writes records in one batch.
    pub fn append(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for r in records {
            let bytes = serde_json::to_vec(r).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            batch.insert(&self.key(r.time_ms), bytes);
        }
        self.tree.apply_batch(batch)?;
        self.count.fetch_add(records.len(), Ordering::Relaxed);
        Ok(())
    }

    /// The last `n` records, oldest first.
    pub fn tail(&self, n: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let mut out = Vec::with_capacity(n.min(10_000));
        for item in self.tree.iter().rev().take(n) {
            let (_, bytes) = item?;
            out.push(serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("audit record: {e}")))?);
        }
        out.reverse();
        Ok(out)
    }

    /// Deletes records older than `keep_days` and the oldest beyond `max_records`.
    pub fn prune(&self, now_ms: u64) -> Result<usize, StoreError> {
        let cutoff = now_ms.saturating_sub(self.config.keep_days.saturating_mul(86_400_000));
        let excess = self.count.load(Ordering::Relaxed).saturating_sub(self.config.max_records);
        let mut removed = 0;
        let mut batch = sled::Batch::default();
        for item in self.tree.iter() {
            let (key, _) = item?;
            let t = u64::from_be_bytes(key[..8].try_into().unwrap_or([0; 8]));
            if t >= cutoff && removed >= excess {
                break;
            }
            batch.remove(key);
            removed += 1;
        }
        self.tree.apply_batch(batch)?;
        self.count.fetch_sub(removed.min(self.count.load(Ordering::Relaxed)), Ordering::Relaxed);
        Ok(removed)
    }

    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
