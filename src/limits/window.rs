//! The fixed-window counter engine shared by the per-IP throttle, the per-token rate limiter,
//! the public views' per-client windows and per-endpoint limits. HTTP-free:
//! `hit(key, now, limit, window)` → decision; [`FixedWindows::hit_within`] counts a key inside
//! a wider one (an IPv6 /64 inside its /48) so that one allocation cannot pose as a million
//! clients.
//!
//! Each key's slot is updated under its DashMap shard lock, so concurrent hits on one key are
//! atomic: exactly `limit` are allowed per window, never one more. The map has a capacity;
//! when it is full, expired slots are evicted first, then, for per-IP maps built with
//! [`FixedWindows::sheddable`] (if that freed less than a tenth), live slots that counted a
//! single hit: a flood of one-shot keys (a million spoofed IPs)
//! cannot crowd out the keys that matter, the ones that hit repeatedly. Forgetting a one-hit
//! window costs at most one extra request for that key. Token windows are never shed: their
//! counts stay exact. Sweeps of a full map run at most once a second, or at once after a sweep
//! that freed a tenth of it ([`SweepGate`]); between them a full map tells the caller so, and
//! the caller must fail closed.

use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};

/// One key's current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Window start, ms since epoch.
    pub start_ms: u64,
    /// Window end, ms since epoch.
    pub end_ms: u64,
    pub count: u32,
}

/// The outcome of one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowDecision {
    pub allowed: bool,
    pub limit: u32,
    /// What is left after this hit.
    pub remaining: u32,
    /// Milliseconds until the window ends.
    pub reset_after_ms: u64,
}

impl WindowDecision {
    /// Whole seconds until the window ends, rounded up, at least 1 (for `Retry-After`).
    pub fn retry_after_secs(&self) -> u64 {
        self.reset_after_ms.div_ceil(1000).max(1)
    }
}

/// The map is full of live windows; the caller cannot decide and must fail closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowsFull;

/// Counts `n` hits on `slot` (held under its shard lock), starting `fresh` when the slot's
/// window ended or has another length. All `n` are counted or none.
fn count(slot: &mut Slot, fresh: Slot, now_ms: u64, limit: u32, n: u32) -> WindowDecision {
    if slot.end_ms <= now_ms || slot.start_ms > now_ms || slot.end_ms - slot.start_ms != fresh.end_ms - fresh.start_ms {
        *slot = fresh;
    }
    let allowed = slot.count.checked_add(n).is_some_and(|c| c <= limit);
    if allowed {
        slot.count += n;
    }
    WindowDecision { allowed, limit, remaining: limit.saturating_sub(slot.count), reset_after_ms: slot.end_ms - now_ms }
}

/// Lets one caller in per second to sweep a full table (the others go on without waiting).
/// A claim that loses the race leaves the mark alone, so callers arriving more often than
/// once a second cannot keep pushing the next sweep away. A sweep that freed at least a
/// tenth of the table lets the next caller sweep at once: under a flood of one-shot keys each
/// sweep pays for itself (at most ten entries visited per entry freed), and waiting out the
/// second would refuse new clients for no reason. A sweep that freed little waits.
#[derive(Debug, Default)]
pub struct SweepGate {
    last_ms: AtomicU64,
    productive: AtomicBool,
}

impl SweepGate {
    /// Whether this caller may sweep now.
    pub fn claim(&self, now_ms: u64) -> bool {
        if self.productive.swap(false, Ordering::AcqRel) {
            self.last_ms.store(now_ms.max(1), Ordering::Relaxed);
            return true;
        }
        let last = self.last_ms.load(Ordering::Relaxed);
        (last == 0 || now_ms >= last.saturating_add(1000))
            && self.last_ms.compare_exchange(last, now_ms.max(1), Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }

    /// Reports what the claimed sweep freed out of a table of `capacity`.
    pub fn swept(&self, freed: usize, capacity: usize) {
        self.productive.store(freed > 0 && freed >= capacity / 10, Ordering::Release);
    }
}

/// A wider key a hit is also counted under, with its own allowance (see
/// [`FixedWindows::hit_within`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outer<K> {
    pub key: K,
    pub limit: u32,
}

/// Fixed windows aligned to multiples of the window length since the epoch.
pub struct FixedWindows<K: Hash + Eq> {
    slots: DashMap<K, Slot>,
    capacity: usize,
    shed_one_hit: bool,
    sweeps: SweepGate,
}

impl<K: Hash + Eq + Clone> FixedWindows<K> {
    /// A map whose live windows are never evicted (exact counts; full means fail closed).
    pub fn new(capacity: usize) -> Self {
        Self { slots: DashMap::new(), capacity, shed_one_hit: false, sweeps: SweepGate::default() }
    }

    /// A map that, when full, sheds live one-hit windows (per-IP maps under a flood).
    pub fn sheddable(capacity: usize) -> Self {
        Self { shed_one_hit: true, ..Self::new(capacity) }
    }

    /// Counts one request for `key`; allowed while the window's count is below `limit`.
    /// A key already in the map is counted under its shard lock without looking at the
    /// map's size (which would visit every shard); only a new key checks the capacity.
    pub fn hit(&self, key: K, now_ms: u64, limit: u32, window_ms: u64) -> Result<WindowDecision, WindowsFull> {
        self.hit_n(key, now_ms, limit, window_ms, 1)
    }

    /// Counts `n` requests for `key` at once (a GraphQL document with `n` writes): allowed,
    /// and counted, only when all `n` fit in what is left of the window.
    pub fn hit_n(
        &self,
        key: K,
        now_ms: u64,
        limit: u32,
        window_ms: u64,
        n: u32,
    ) -> Result<WindowDecision, WindowsFull> {
        let window_ms = window_ms.max(1);
        let start_ms = now_ms - now_ms % window_ms;
        let fresh = Slot { start_ms, end_ms: start_ms + window_ms, count: 0 };
        if let Some(mut slot) = self.slots.get_mut(&key) {
            return Ok(count(&mut slot, fresh, now_ms, limit, n));
        }
        if self.slots.len() >= self.capacity {
            self.make_room(now_ms);
            if self.slots.len() >= self.capacity {
                return Err(WindowsFull);
            }
        }
        let mut slot = match self.slots.entry(key) {
            Entry::Occupied(o) => o.into_ref(),
            Entry::Vacant(v) => v.insert(fresh),
        };
        Ok(count(&mut slot, fresh, now_ms, limit, n))
    }

    /// Counts one hit for `key` that also counts against `outer` (its wider network), each
    /// with its own limit and the same window. The outer window is looked at first without
    /// counting: once it is spent, a request is refused before a window is made for `key`,
    /// so a flood from one network adds no entries. Then `key` is counted, and only a hit it
    /// allows is counted against `outer` (one busy client cannot spend its neighbours'
    /// allowance on requests it was refused anyway). The decision returned is the refusing
    /// one, else `key`'s.
    pub fn hit_within(
        &self,
        key: K,
        outer: Option<Outer<K>>,
        now_ms: u64,
        limit: u32,
        window_ms: u64,
    ) -> Result<WindowDecision, WindowsFull> {
        let Some(outer) = outer else { return self.hit(key, now_ms, limit, window_ms) };
        if let Some(spent) = self.spent(&outer.key, now_ms, outer.limit, window_ms) {
            return Ok(spent);
        }
        let inner = self.hit(key, now_ms, limit, window_ms)?;
        if !inner.allowed {
            return Ok(inner);
        }
        let wide = self.hit(outer.key, now_ms, outer.limit, window_ms)?;
        Ok(if wide.allowed { inner } else { wide })
    }

    /// The refusal `key`'s running window would give now, without counting; `None` while
    /// it has room (or has no window).
    fn spent(&self, key: &K, now_ms: u64, limit: u32, window_ms: u64) -> Option<WindowDecision> {
        let slot = *self.slots.get(key)?;
        let running =
            slot.start_ms <= now_ms && now_ms < slot.end_ms && slot.end_ms - slot.start_ms == window_ms.max(1);
        (running && slot.count >= limit).then(|| WindowDecision {
            allowed: false,
            limit,
            remaining: 0,
            reset_after_ms: slot.end_ms - now_ms,
        })
    }

    /// Drops windows that ended. `throttled` limits full sweeps to one per second.
    pub fn evict_expired(&self, now_ms: u64, throttled: bool) -> usize {
        if throttled && !self.sweeps.claim(now_ms) {
            return 0;
        }
        let before = self.slots.len();
        self.slots.retain(|_, slot| slot.end_ms > now_ms);
        before.saturating_sub(self.slots.len())
    }

    /// A full map's sweep: expired slots, then one-hit slots if still nearly full.
    fn make_room(&self, now_ms: u64) {
        if !self.sweeps.claim(now_ms) {
            return;
        }
        let before = self.slots.len();
        self.slots.retain(|_, slot| slot.end_ms > now_ms);
        if self.shed_one_hit && self.slots.len() >= self.capacity - self.capacity / 10 {
            self.slots.retain(|_, slot| slot.count > 1);
        }
        self.sweeps.swept(before.saturating_sub(self.slots.len()), self.capacity);
    }

    /// Current live slots (for snapshots).
    pub fn snapshot(&self) -> Vec<(K, Slot)> {
        self.slots.iter().map(|e| (e.key().clone(), *e.value())).collect()
    }

    /// Up to `max` slots that counted at least `min_count` hits (per-IP snapshots skip the
    /// one-hit windows a flood leaves behind: forgetting one costs one request).
    pub fn snapshot_where(&self, min_count: u32, max: usize) -> Vec<(K, Slot)> {
        self.slots.iter().filter(|e| e.count >= min_count).take(max).map(|e| (e.key().clone(), *e.value())).collect()
    }

    /// Restores slots from a snapshot, keeping those still running.
    pub fn restore(&self, slots: impl IntoIterator<Item = (K, Slot)>, now_ms: u64) {
        for (key, slot) in slots {
            if slot.end_ms > now_ms && self.slots.len() < self.capacity {
                self.slots.insert(key, slot);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn allows_exactly_limit_per_window_then_resets() {
        let w = FixedWindows::new(10);
        let now = 60_000 * 100 + 1_500;
        for i in 0..3 {
            let d = w.hit("k", now, 3, 60_000).unwrap();
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - i);
        }
        let d = w.hit("k", now + 10, 3, 60_000).unwrap();
        assert!(!d.allowed);
        assert_eq!(d.retry_after_secs(), 59);
        // The last millisecond of the window still belongs to it; the next one starts afresh.
        assert!(!w.hit("k", now - 1_500 + 59_999, 3, 60_000).unwrap().allowed);
        assert!(w.hit("k", now - 1_500 + 60_000, 3, 60_000).unwrap().allowed);
    }

    #[test]
    fn several_hits_at_once_count_all_or_none() {
        let w = FixedWindows::new(10);
        assert!(w.hit_n("k", 1_000, 5, 60_000, 3).unwrap().allowed);
        let refused = w.hit_n("k", 1_000, 5, 60_000, 3).unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 2, "a refused batch counts nothing");
        assert_eq!(w.hit_n("k", 1_000, 5, 60_000, 2).unwrap().remaining, 0);
        assert!(!w.hit_n("k", 1_000, 5, 60_000, u32::MAX).unwrap().allowed);
    }

    #[test]
    fn concurrent_hits_never_exceed_the_limit() {
        let w = Arc::new(FixedWindows::new(10));
        let allowed: usize = (0..8)
            .map(|_| {
                let w = w.clone();
                std::thread::spawn(move || {
                    (0..500).filter(|_| w.hit(1u8, 5_000, 1000, 60_000).unwrap().allowed).count()
                })
            })
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(allowed, 1000);
    }

    #[test]
    fn full_map_evicts_expired_then_reports_full() {
        let w = FixedWindows::new(2);
        w.hit(1, 0, 5, 10_000).unwrap();
        w.hit(1, 0, 5, 10_000).unwrap();
        w.hit(2, 0, 5, 10_000).unwrap();
        w.hit(2, 0, 5, 10_000).unwrap();
        // Both live and repeated: nothing can go, the caller must fail closed.
        assert_eq!(w.hit(3, 1_500, 5, 10_000), Err(WindowsFull));
        // A second later, still nothing to evict; once the windows end, room again.
        assert_eq!(w.hit(3, 2_600, 5, 10_000), Err(WindowsFull));
        assert!(w.hit(3, 10_000, 5, 10_000).is_ok());
    }

    #[test]
    fn a_flood_of_one_hit_keys_does_not_crowd_out_repeated_ones() {
        let w = FixedWindows::sheddable(100);
        for _ in 0..3 {
            w.hit(u32::MAX, 0, 10, 60_000).unwrap();
        }
        for k in 0..99 {
            w.hit(k, 0, 10, 60_000).unwrap();
        }
        // Full: the next new key makes room by forgetting the one-hit windows only.
        let d = w.hit(1_000, 1_000, 10, 60_000).unwrap();
        assert_eq!(d.remaining, 9);
        assert_eq!(w.len(), 2);
        // The repeated key kept its count.
        assert_eq!(w.hit(u32::MAX, 1_000, 10, 60_000).unwrap().remaining, 6);
    }

    #[test]
    fn a_key_inside_a_spent_outer_key_is_refused_without_a_window_of_its_own() {
        let w = FixedWindows::sheddable(1_000);
        let outer = Some(Outer { key: u32::MAX, limit: 5 });
        // Five clients of one network, one request each: the network's allowance.
        for k in 0..5 {
            assert!(w.hit_within(k, outer, 0, 3, 60_000).unwrap().allowed);
        }
        // A sixth is refused by the network's window and gets no window of its own.
        let d = w.hit_within(5, outer, 1_000, 3, 60_000).unwrap();
        assert!(!d.allowed);
        assert_eq!((d.limit, d.retry_after_secs()), (5, 59));
        assert_eq!(w.len(), 6);
        // A client past its own limit does not spend the network's allowance.
        let w = FixedWindows::sheddable(1_000);
        for _ in 0..10 {
            w.hit_within(0, outer, 0, 2, 60_000).unwrap();
        }
        assert!(w.hit_within(1, outer, 0, 2, 60_000).unwrap().allowed);
        assert_eq!(w.hit_within(1, outer, 0, 2, 60_000).unwrap().remaining, 0);
        // Without an outer key it is a plain hit.
        assert_eq!(w.hit_within(7, None, 0, 2, 60_000).unwrap().remaining, 1);
    }

    #[test]
    fn a_flood_faster_than_a_sweep_a_second_is_still_shed_as_it_comes() {
        let w = FixedWindows::sheddable(100);
        // A thousand one-shot keys within one millisecond: each sweep frees the table, so
        // the next may run at once and no key is refused.
        for k in 0..1_000u32 {
            assert!(w.hit(k, 5_000, 10, 60_000).is_ok(), "key {k}");
        }
        // A table of repeated keys frees nothing: then sweeps wait their second.
        let w = FixedWindows::sheddable(10);
        for k in 0..10u32 {
            w.hit(k, 5_000, 10, 60_000).unwrap();
            w.hit(k, 5_000, 10, 60_000).unwrap();
        }
        assert_eq!(w.hit(100, 6_000, 10, 60_000), Err(WindowsFull));
        assert_eq!(w.hit(101, 6_001, 10, 60_000), Err(WindowsFull));
    }
}
