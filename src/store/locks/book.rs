//! The lock table's bounds: every change to the mirror goes through here, under one mutex,
//! so the count of records, of network locks and of automatic locks per network always
//! agree with the mirror.
//!
//! Why: before these bounds, each injection attempt from a new address made a 24 h lock in
//! memory and in sled, and rotating through IPv6 /64s made a hundred thousand of them in
//! under a minute (RSS 30 → 116 MB, the database 4.6 → 59 MB); a /40 holds 16 M /64s.
//! Now:
//!
//! - `prefix_lock_after` automatic locks in one network (an IPv6 `ipv6_wide_prefix`, an IPv4
//!   /24) become one lock on the network, lasting as long as the longest of them; they are
//!   removed, and any address inside the network matches the new lock (its subject is the
//!   network's keyed hash, never the prefix in clear). An automatic lock inside a locked
//!   network is not made at all.
//! - At `max_locks`, expired records go first, then automatic locks closest to expiry —
//!   single-address locks before network locks (one record standing for many attacks), a
//!   hundredth of the table at once, so a full table is scanned once per many new locks,
//!   not on each. Locks an administrator made are never evicted: with nothing else left, a
//!   new automatic lock is dropped (its request was refused anyway) and a manual one is
//!   kept beyond the cap.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use super::{LockKind, LockOutcome, LockRecord, LockSource, LockStore};

/// Automatic single-address locks per network (keyed hash) — what escalation counts.
#[derive(Debug, Default)]
pub(super) struct Book {
    per_network: HashMap<String, u32>,
}

/// Whether a record counts towards its network's escalation.
fn counts_towards_network(r: &LockRecord) -> Option<&str> {
    match (r.source, r.prefix_len) {
        (LockSource::Automatic, None) => r.network.as_deref(),
        (LockSource::Automatic, Some(_)) | (LockSource::Manual, _) => None,
    }
}

impl Book {
    fn add(&mut self, r: &LockRecord) {
        if let Some(net) = counts_towards_network(r) {
            *self.per_network.entry(net.to_string()).or_default() += 1;
        }
    }

    fn sub(&mut self, r: &LockRecord) {
        if let Some(net) = counts_towards_network(r) {
            if let Some(n) = self.per_network.get_mut(net) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_network.remove(net);
                }
            }
        }
    }
}

impl LockStore {
    /// Puts a record in the mirror and counts it (not in sled: see `persist`).
    pub(super) fn insert(&self, book: &mut Book, key: String, record: LockRecord) {
        self.changes.fetch_add(1, Ordering::AcqRel);
        book.add(&record);
        let network = record.prefix_len.is_some();
        match self.mirror.insert(key, record) {
            Some(old) => {
                book.sub(&old);
                if old.prefix_len.is_some() {
                    self.networks.fetch_sub(1, Ordering::Relaxed);
                }
            }
            None => {
                self.held.fetch_add(1, Ordering::Relaxed);
            }
        }
        if network {
            self.networks.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes a record out of the mirror when `keep_not` holds for it, and uncounts it.
    pub(super) fn remove_if(
        &self,
        book: &mut Book,
        key: &str,
        keep_not: impl FnOnce(&LockRecord) -> bool,
    ) -> Option<LockRecord> {
        let (_, old) = self.mirror.remove_if(key, |_, r| keep_not(r))?;
        self.changes.fetch_add(1, Ordering::AcqRel);
        book.sub(&old);
        self.held.fetch_sub(1, Ordering::Relaxed);
        if old.prefix_len.is_some() {
            self.networks.fetch_sub(1, Ordering::Relaxed);
        }
        Some(old)
    }

    /// [`LockStore::lock`] and [`LockStore::lock_client`]; `network_len` is the prefix
    /// length of `record.network` for a client lock.
    pub(super) fn lock_in(&self, record: LockRecord, network_len: Option<u8>) -> LockOutcome {
        let key = record.key();
        let now = record.created_at_ms;
        let mut book = self.book();
        let automatic = record.source == LockSource::Automatic;
        if automatic {
            let manual = self.mirror.get(&key).is_some_and(|r| r.source == LockSource::Manual && r.expires_at_ms > now);
            let network_locked = record.network.as_deref().is_some_and(|n| self.active(LockKind::Ip, n, now).is_some());
            if manual || network_locked {
                return LockOutcome::Covered;
            }
        }
        let fresh = !self.mirror.contains_key(&key);
        if fresh && self.len() >= self.policy.max_locks && !self.make_room(&mut book, now) {
            if automatic {
                tracing::warn!(
                    max_locks = self.policy.max_locks,
                    "lock table full of manual locks: automatic lock not kept"
                );
                return LockOutcome::Dropped;
            }
            tracing::warn!(max_locks = self.policy.max_locks, "lock table full of manual locks: kept beyond the cap");
        }
        let network = record.network.clone();
        if fresh {
            self.created.fetch_add(1, Ordering::Relaxed);
        }
        self.persist(key.clone(), &record);
        self.insert(&mut book, key, record);
        let threshold = self.policy.prefix_lock_after;
        match (network, network_len) {
            (Some(net), Some(len)) if automatic && threshold > 0 && book.per_network.get(&net) >= Some(&threshold) => {
                LockOutcome::Escalated(self.escalate(&mut book, net, len, now))
            }
            _ => LockOutcome::Locked,
        }
    }

    /// Makes room for one more record; `false` when only manual locks are left to evict.
    fn make_room(&self, book: &mut Book, now: u64) -> bool {
        let expired: Vec<String> =
            self.mirror.iter().filter(|e| e.expires_at_ms <= now).map(|e| e.key().clone()).collect();
        for key in expired {
            if self.remove_if(book, &key, |r| r.expires_at_ms <= now).is_some() {
                self.forget(&key);
            }
        }
        let max = self.policy.max_locks;
        if self.len() < max {
            return true;
        }
        // Single-address locks before network locks (one record standing for many attacks),
        // then by expiry. One pass finds the n-th smallest rank without copying a key, a
        // second takes the keys up to it.
        let rank = |r: &LockRecord| (r.prefix_len.is_some(), r.expires_at_ms);
        let automatic = |r: &LockRecord| r.source == LockSource::Automatic;
        let mut ranks: Vec<(bool, u64)> = self.mirror.iter().filter(|e| automatic(e)).map(|e| rank(&e)).collect();
        let n = (self.len() + 1 - max).max(max / 100).min(ranks.len());
        if n == 0 {
            return false;
        }
        let (_, last, _) = ranks.select_nth_unstable(n - 1);
        let last = *last;
        let mut victims: Vec<String> =
            self.mirror.iter().filter(|e| automatic(e) && rank(e) < last).map(|e| e.key().clone()).collect();
        let ties = self.mirror.iter().filter(|e| automatic(e) && rank(e) == last).map(|e| e.key().clone());
        victims.extend(ties.take(n.saturating_sub(victims.len())));
        for key in &victims {
            if self.remove_if(book, key, automatic).is_some() {
                self.forget(key);
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.len() < max
    }

    /// Folds the automatic locks of `network` into one lock on it.
    fn escalate(&self, book: &mut Book, network: String, prefix_len: u8, now: u64) -> LockRecord {
        let members: Vec<(String, u64)> = self
            .mirror
            .iter()
            .filter(|e| counts_towards_network(e.value()) == Some(network.as_str()))
            .map(|e| (e.key().clone(), e.expires_at_ms))
            .collect();
        let expires = members.iter().map(|(_, at)| *at).max().unwrap_or(now);
        for (key, _) in &members {
            if self.remove_if(book, key, |r| r.source == LockSource::Automatic).is_some() {
                self.forget(key);
            }
        }
        let reason = format!("{} automatic locks in one /{prefix_len}", members.len());
        let mut record = LockRecord::new(LockKind::Ip, network, LockSource::Automatic, now, expires, reason);
        record.prefix_len = Some(prefix_len);
        record.rule = Some("network".into());
        self.escalated.fetch_add(1, Ordering::Relaxed);
        self.persist(record.key(), &record);
        self.insert(book, record.key(), record.clone());
        record
    }
}
