//! Snapshots of the in-memory counters, so a restart (or `systemctl restart`) does not hand
//! anyone a fresh quota. The housekeeper writes them every `[state] snapshot_interval_ms`
//! and the server once more on graceful stop; they are restored on start, keeping only
//! windows and replay entries that are still running. After a crash at most one interval of
//! counter updates is lost.
//!
//! Snapshotted: per-token rate-limit windows and the replay cache (keyed by token id and
//! signature digest). Per-IP counters are not, because the data dir never holds a legible IP.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::pipeline::auth::ReplayCache;
use crate::pipeline::window::{FixedWindows, Slot};

const RATE: &str = "rate_limit";
const REPLAY: &str = "replay";

#[derive(Serialize, Deserialize)]
struct Snapshot<K> {
    taken_at_ms: u64,
    entries: Vec<(K, Slot)>,
}

impl Store {
    fn counters(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree("sys:counters")?)
    }

    /// Writes the token windows and the replay cache in one batch.
    pub fn snapshot_counters(
        &self,
        windows: &FixedWindows<String>,
        replay: &ReplayCache,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let rate = Snapshot { taken_at_ms: now_ms, entries: windows.snapshot() };
        let replayed = Snapshot {
            taken_at_ms: now_ms,
            entries: replay
                .snapshot()
                .into_iter()
                .map(|(sig, exp)| (hex::encode(sig), Slot { start_ms: now_ms, end_ms: exp, count: 1 }))
                .collect(),
        };
        let mut batch = sled::Batch::default();
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        batch.insert(RATE, serde_json::to_vec(&rate).map_err(corrupt)?);
        batch.insert(REPLAY, serde_json::to_vec(&replayed).map_err(corrupt)?);
        self.health.check_write()?;
        self.health.observe(self.counters()?.apply_batch(batch))?;
        // Flushed at once, so a crash loses at most one interval of counter updates.
        self.flush_sync()
    }

    /// Restores what a previous run snapshotted (ignoring anything unreadable).
    pub fn restore_counters(
        &self,
        windows: &FixedWindows<String>,
        replay: &ReplayCache,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let tree = self.counters()?;
        if let Some(bytes) = tree.get(RATE)? {
            if let Ok(s) = serde_json::from_slice::<Snapshot<String>>(&bytes) {
                windows.restore(s.entries, now_ms);
            }
        }
        if let Some(bytes) = tree.get(REPLAY)? {
            if let Ok(s) = serde_json::from_slice::<Snapshot<String>>(&bytes) {
                let entries = s.entries.into_iter().filter_map(|(sig, slot)| {
                    let mut key = [0u8; 32];
                    hex::decode_to_slice(sig, &mut key).ok().map(|_| (key, slot.end_ms))
                });
                replay.restore(entries, now_ms);
            }
        }
        Ok(())
    }
}
