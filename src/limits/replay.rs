//! The replay cache: signatures seen while their timestamp can still be accepted, each
//! accepted once. HTTP-free, like [`super::window`].
//!
//! An entry lives exactly as long as its request could be sent again: until its timestamp
//! leaves the replay window (the caller passes that instant, see `pipeline::auth`), not for
//! a span counted from when it was stored — a span from insertion can end up to a second
//! before the timestamp stops being accepted, letting one replay through.
//!
//! Bounded: the stage's actor sweeps it every few seconds, and an insert that finds it above
//! a high-water mark (nine tenths of its capacity) sweeps expired entries on the spot, at
//! most once a second across all callers unless the last such sweep freed a good share
//! ([`SweepGate`]). When it is still full the caller is
//! told so and must fail closed. The pipeline records a signature only once the request has
//! passed the rate limit and scope, so requests refused there cannot fill it.

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use super::window::SweepGate;

/// Why a signature was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayRefusal {
    /// Seen before, and its timestamp is still accepted.
    Replayed,
    /// The cache is full of live entries; the caller cannot decide and must fail closed.
    Full,
}

/// Signatures seen inside the replay window (bounded).
pub struct ReplayCache {
    seen: DashMap<[u8; 32], u64>,
    capacity: usize,
    sweeps: SweepGate,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        Self { seen: DashMap::new(), capacity, sweeps: SweepGate::default() }
    }

    /// Whether `sig` was recorded and is still live (no insert: auth refuses a replay before
    /// the rate limit counts it).
    pub fn seen(&self, sig: &[u8; 32], now_ms: u64) -> bool {
        self.seen.get(sig).is_some_and(|expires| *expires > now_ms)
    }

    /// Records a signature until `expires_ms` (the first instant its timestamp is refused).
    pub fn remember(&self, sig: [u8; 32], now_ms: u64, expires_ms: u64) -> Result<(), ReplayRefusal> {
        let len = self.seen.len();
        if len >= self.capacity - self.capacity / 10 && self.sweeps.claim(now_ms) {
            let freed = self.sweep(now_ms);
            self.sweeps.swept(freed, self.capacity);
        }
        if len >= self.capacity && self.seen.len() >= self.capacity {
            return Err(ReplayRefusal::Full);
        }
        match self.seen.entry(sig) {
            Entry::Occupied(mut o) => {
                if *o.get() > now_ms {
                    return Err(ReplayRefusal::Replayed);
                }
                o.insert(expires_ms);
            }
            Entry::Vacant(v) => {
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
        before.saturating_sub(self.seen.len())
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
        assert!(r.seen(&[1; 32], 99) && !r.seen(&[1; 32], 100));
        assert_eq!(r.remember([1; 32], 50, 150), Err(ReplayRefusal::Replayed));
        assert_eq!(r.remember([2; 32], 50, 150), Ok(()));
        assert_eq!(r.remember([3; 32], 60, 160), Err(ReplayRefusal::Full));
        assert_eq!(r.remember([3; 32], 2_000, 2_100), Ok(()));
    }

    /// Calls arriving more often than once a second used to push the in-call sweep away
    /// for ever (each one moved the mark): a cache full of entries that had long expired
    /// kept answering "full".
    #[test]
    fn the_in_call_sweep_runs_under_steady_load() {
        let r = ReplayCache::new(10);
        for i in 0..10u8 {
            r.remember([i; 32], 0, 5_000).unwrap();
        }
        // A request every 300 ms, all the time: refused while the entries live, let in
        // within a second of their expiry.
        let mut t = 0;
        let admitted = loop {
            match r.remember([200; 32], t, t + 5_000) {
                Ok(()) => break t,
                Err(ReplayRefusal::Full) => assert!(t < 8_000, "never swept under load"),
                Err(ReplayRefusal::Replayed) => panic!("not a replay"),
            }
            t += 300;
        };
        assert!((5_000..=6_300).contains(&admitted), "admitted at {admitted}");
        assert_eq!(r.len(), 1);
    }
}
