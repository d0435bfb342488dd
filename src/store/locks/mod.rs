//! Lock records: who is shut out, until when, and why.
//!
//! Stored in the `sys:locks` sled tree (written through the store's writer) and mirrored in a
//! DashMap, so a lookup — done on every request by the `locked` check — is one hash-map probe
//! (two while a network lock is held) and a flood from a locked address costs almost
//! nothing. IPs appear only as keyed hashes (`KeyRing::ip_key`, `KeyRing::net_key`): the data
//! dir never holds a legible address. Expiry is automatic: lookups ignore expired records and
//! the checks stage's actor deletes them. The mirror is rebuilt from sled on start.
//!
//! The table is bounded, because every attack from a new address makes a lock and an IPv6
//! holder has millions of addresses (see [`book`]): at most `[checks] max_locks` records;
//! `prefix_lock_after` automatic locks inside one network (an IPv6 /48, an IPv4 /24) become
//! one lock on the network, which every address inside it matches; past the cap, automatic
//! locks are evicted, single-address ones closest to expiry first. A lock an administrator made
//! (`palisade lock ip`) is never evicted, folded or replaced by an automatic one.

mod book;
mod record;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use dashmap::DashMap;

use super::keys::network_of;
use super::{Done, IpKey, Op, Store, StoreError, SysTree};
use crate::config::ChecksConfig;
use book::Book;
use record::lock_key;
pub use record::{LockKind, LockRecord, LockSource};

/// The table's bounds (from `[checks]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockPolicy {
    pub max_locks: usize,
    /// Automatic locks in one network that become one network lock; 0 = never.
    pub prefix_lock_after: u32,
    /// The IPv6 network locks escalate into (IPv4: a /24).
    pub ipv6_network_prefix: u8,
}

impl LockPolicy {
    pub fn from_config(c: &ChecksConfig) -> Self {
        Self { max_locks: c.max_locks, prefix_lock_after: c.prefix_lock_after, ipv6_network_prefix: c.ipv6_wide_prefix }
    }
}

impl Default for LockPolicy {
    fn default() -> Self {
        Self::from_config(&ChecksConfig::default())
    }
}

/// What became of a lock asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum LockOutcome {
    /// Stored (replacing one on the same subject).
    Locked,
    /// Stored, and with it its network's automatic locks were folded into this one.
    Escalated(LockRecord),
    /// Already covered (a manual lock on the subject, or a lock on its network): unchanged.
    Covered,
    /// Not stored: the table is full of locks an administrator made.
    Dropped,
}

pub struct LockStore {
    store: Store,
    mirror: Arc<DashMap<String, LockRecord>>,
    /// Locks that hold in memory but storage refused to keep yet (retried by the housekeeper).
    unsaved: Arc<DashMap<String, ()>>,
    /// Locks gone from memory (evicted, folded) whose removal storage has not made yet, with
    /// how many removals are on their way: a re-read must not bring them back meanwhile.
    forgetting: Arc<DashMap<String, usize>>,
    created: AtomicU64,
    /// How many records the mirror holds, kept beside it: the request path asks whether any
    /// lock exists, and a DashMap's own `len` visits every shard.
    held: AtomicUsize,
    /// Moves on with every change to the mirror (see [`LockStore::reload`]).
    changes: AtomicU64,
    /// How many of them lock a whole network (lookups probe the network only while any do).
    networks: AtomicUsize,
    evicted: AtomicU64,
    escalated: AtomicU64,
    policy: LockPolicy,
    /// Serialises every change to the mirror (locks are made on the attack path, never on
    /// the lookup path, which stays lock-free) and counts automatic locks per network.
    book: Mutex<Book>,
}

impl LockStore {
    /// Reads the stored locks into the in-memory mirror.
    pub fn load(store: Store, policy: LockPolicy) -> Result<Self, StoreError> {
        let locks = Self {
            store,
            mirror: Default::default(),
            unsaved: Default::default(),
            forgetting: Default::default(),
            created: Default::default(),
            held: Default::default(),
            changes: Default::default(),
            networks: Default::default(),
            evicted: Default::default(),
            escalated: Default::default(),
            policy,
            book: Mutex::new(Book::default()),
        };
        {
            let mut book = locks.book();
            for (key, value) in locks.store.sys_scan(SysTree::Locks)? {
                let record: LockRecord =
                    serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt(format!("lock record: {e}")))?;
                locks.insert(&mut book, String::from_utf8_lossy(&key).into_owned(), record);
            }
        }
        Ok(locks)
    }

    /// Reads every stored lock again and brings the mirror to it (another instance locked
    /// or unlocked; see `store::pg::watch`). A lock whose write from this process is still on
    /// its way (made or changed but not stored yet, evicted or folded but not removed yet)
    /// keeps what this process made of it: the read may predate the write, and the write's
    /// own notice brings a newer read.
    pub fn reload(&self) -> Result<(), StoreError> {
        let began = self.changes.load(Ordering::Acquire);
        let mut stored = std::collections::HashMap::new();
        for (key, value) in self.store.sys_scan(SysTree::Locks)? {
            let record: LockRecord =
                serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt(format!("lock record: {e}")))?;
            stored.insert(String::from_utf8_lossy(&key).into_owned(), record);
        }
        let mut book = self.book();
        // Changed here meanwhile: the read may predate it; its own notice brings a newer read.
        if self.changes.load(Ordering::Acquire) != began {
            return Ok(());
        }
        let pending = |key: &String| self.unsaved.contains_key(key) || self.forgetting.contains_key(key);
        let gone: Vec<String> =
            self.mirror.iter().map(|e| e.key().clone()).filter(|k| !stored.contains_key(k) && !pending(k)).collect();
        for key in gone {
            self.remove_if(&mut book, &key, |_| true);
        }
        for (key, record) in stored {
            if pending(&key) {
                continue;
            }
            if self.mirror.get(&key).is_none_or(|held| *held != record) {
                self.insert(&mut book, key, record);
            }
        }
        Ok(())
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The subject under which an address is locked.
    pub fn ip_subject(&self, ip: &IpAddr) -> String {
        self.store.keys.hash_ip(ip)
    }

    /// The network `ip` belongs to (its subject and prefix length).
    pub fn network_subject(&self, ip: &IpAddr) -> (String, u8) {
        let net = network_of(*ip, self.policy.ipv6_network_prefix);
        (self.store.keys.net_key(&net).to_string(), net.prefix_len())
    }

    /// The live lock on `kind`/`subject`, if any (expired ones are ignored).
    pub fn active(&self, kind: LockKind, subject: &str, now_ms: u64) -> Option<LockRecord> {
        let record = self.mirror.get(&lock_key(kind, subject))?;
        (record.expires_at_ms > now_ms).then(|| record.clone())
    }

    /// The live lock shutting out the client at `ip` (keyed `ip_key`): on the address, or
    /// on its network.
    pub fn active_client(&self, ip: &IpAddr, ip_key: IpKey, now_ms: u64) -> Option<LockRecord> {
        if let Some(lock) = self.active(LockKind::Ip, &ip_key.to_string(), now_ms) {
            return Some(lock);
        }
        if self.networks.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.active(LockKind::Ip, &self.network_subject(ip).0, now_ms)
    }

    /// Sets a lock (replacing one on the same subject, unless an automatic lock would
    /// replace a manual one). It holds in memory at once — the request path never waits for
    /// the disk — and is stored by the writer; while storage refuses, it is kept as unsaved
    /// and stored again by [`LockStore::save_pending`].
    pub fn lock(&self, record: LockRecord) -> LockOutcome {
        self.lock_in(record, None)
    }

    /// Sets an automatic lock on the client at `ip`: it counts towards its network's
    /// escalation, and is not made when the network is locked already.
    pub fn lock_client(&self, ip: &IpAddr, mut record: LockRecord) -> LockOutcome {
        let (network, prefix_len) = self.network_subject(ip);
        record.network = Some(network);
        self.lock_in(record, Some(prefix_len))
    }

    /// Writes a record to sled (see [`LockStore::lock`]).
    fn persist(&self, key: String, record: &LockRecord) {
        let bytes = match serde_json::to_vec(record) {
            Ok(b) => b,
            Err(e) => return tracing::error!(error = %e, "lock record not serialisable"),
        };
        self.unsaved.insert(key.clone(), ());
        let unsaved = self.unsaved.clone();
        let op = Op::Put { tree: SysTree::Locks, entries: vec![(key.clone().into_bytes(), bytes)] };
        self.store.submit(op, move |result| match result {
            Ok(_) => {
                unsaved.remove(&key);
            }
            Err(e) => tracing::warn!(error = %e.message, "lock holds in memory; stored when storage is back"),
        });
    }

    /// Deletes a record from sled without waiting (evicted and folded locks: were the
    /// delete refused, the record would come back at the next start and expire there).
    fn forget(&self, key: &str) {
        self.unsaved.remove(key);
        *self.forgetting.entry(key.to_string()).or_default() += 1;
        let (forgetting, key) = (self.forgetting.clone(), key.to_string());
        let op = Op::Remove { tree: SysTree::Locks, key: key.as_bytes().to_vec() };
        self.store.submit(op, move |result| {
            forgetting.remove_if_mut(&key, |_, n| {
                *n -= 1;
                *n == 0
            });
            if let Err(e) = result {
                tracing::warn!(error = %e.message, "an evicted lock stays on disk until it expires");
            }
        });
    }

    /// Stores again the locks storage refused earlier; returns how many were still unsaved.
    pub fn save_pending(&self) -> usize {
        let keys: Vec<String> = self.unsaved.iter().map(|e| e.key().clone()).collect();
        for key in &keys {
            match self.mirror.get(key).map(|r| r.clone()) {
                Some(record) => self.persist(key.clone(), &record),
                None => {
                    self.unsaved.remove(key);
                }
            }
        }
        keys.len()
    }

    /// Removes a lock; `false` when there was none. Fails closed: while storage refuses the
    /// removal, the lock stays.
    pub fn unlock(&self, kind: LockKind, subject: &str) -> Result<bool, StoreError> {
        let key = lock_key(kind, subject);
        let done = self
            .store
            .write_blocking(Op::Remove { tree: SysTree::Locks, key: key.clone().into_bytes() })
            .map_err(StoreError::refused)?;
        self.unsaved.remove(&key);
        let in_memory = self.remove_if(&mut self.book(), &key, |_| true).is_some();
        Ok(done == Done::Removed(true) || in_memory)
    }

    /// Live locks.
    pub fn list(&self, now_ms: u64) -> Vec<LockRecord> {
        let mut out: Vec<LockRecord> =
            self.mirror.iter().filter(|e| e.expires_at_ms > now_ms).map(|e| e.value().clone()).collect();
        out.sort_by_key(|r| r.created_at_ms);
        out
    }

    /// Deletes expired locks from sled, then from memory; returns how many. A lock whose
    /// removal storage refuses stays (expired locks are ignored by lookups anyway).
    pub fn sweep(&self, now_ms: u64) -> usize {
        let expired: Vec<String> =
            self.mirror.iter().filter(|e| e.expires_at_ms <= now_ms).map(|e| e.key().clone()).collect();
        let mut removed = 0;
        for key in expired {
            let op = Op::Remove { tree: SysTree::Locks, key: key.clone().into_bytes() };
            if self.store.write_blocking(op).is_ok() {
                // Only if no new lock took the subject meanwhile.
                self.remove_if(&mut self.book(), &key, |rec| rec.expires_at_ms <= now_ms);
                removed += 1;
            }
        }
        removed
    }

    /// Locks created since start (a metric).
    pub fn created(&self) -> u64 {
        self.created.load(Ordering::Relaxed)
    }

    /// Automatic locks evicted to keep the table within `max_locks` since start (a metric).
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Network locks made from many automatic ones since start (a metric).
    pub fn escalated(&self) -> u64 {
        self.escalated.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
