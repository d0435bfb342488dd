//! The replay cache: signatures seen inside the replay window, each accepted once. Bounded:
//! when full it sweeps expired entries (at most once a second) and otherwise says so, and the
//! caller must fail closed. HTTP-free, like [`super::window`].

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

/// Signatures seen inside the replay window (bounded).
pub struct ReplayCache {
    seen: DashMap<[u8; 32], u64>,
    capacity: usize,
    last_sweep_ms: AtomicU64,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        Self { seen: DashMap::new(), capacity, last_sweep_ms: AtomicU64::new(0) }
    }

    /// Records a signature; `Err(true)` if it was already seen, `Err(false)` if full.
    pub fn remember(&self, sig: [u8; 32], now_ms: u64, expires_ms: u64) -> Result<(), bool> {
        if self.seen.len() >= self.capacity {
            let last = self.last_sweep_ms.swap(now_ms, Ordering::Relaxed);
            if now_ms >= last + 1000 {
                self.sweep(now_ms);
            }
            if self.seen.len() >= self.capacity {
                return Err(false);
            }
        }
        match self.seen.entry(sig) {
            dashmap::mapref::entry::Entry::Occupied(mut o) => {
                if *o.get() > now_ms {
                    return Err(true);
                }
                o.insert(expires_ms);
            }
            dashmap::mapref::entry::Entry::Vacant(v) => {
                v.insert(expires_ms);
            }
        }
        Ok(())
    }

    /// Live entries (signature digest, expiry) for snapshots.
    pub fn snapshot(&self) -> Vec<([u8; 32], u64)> {
        self.seen.iter().map(|e| (*e.key(), *e.value())).collect()
    }

    /// Restores entries that have not expired yet.
    pub fn restore(&self, entries: impl IntoIterator<Item = ([u8; 32], u64)>, now_ms: u64) {
        for (sig, expires) in entries {
            if expires > now_ms && self.seen.len() < self.capacity {
                self.seen.insert(sig, expires);
            }
        }
    }

    /// Drops expired entries; returns how many.
    pub fn sweep(&self, now_ms: u64) -> usize {
        let before = self.seen.len();
        self.seen.retain(|_, exp| *exp > now_ms);
        before - self.seen.len()
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_accepts_once_and_is_bounded() {
        let r = ReplayCache::new(2);
        assert_eq!(r.remember([1; 32], 0, 100), Ok(()));
        assert_eq!(r.remember([1; 32], 50, 150), Err(true));
        assert_eq!(r.remember([2; 32], 50, 150), Ok(()));
        assert_eq!(r.remember([3; 32], 60, 160), Err(false));
        assert_eq!(r.remember([3; 32], 2_000, 2_100), Ok(()));
    }
}
