//! Lock records: who is shut out, until when, and why.
//!
//! Stored in the `sys:locks` sled tree (written through the store's writer) and mirrored in a
//! DashMap, so a lookup — done on every
//! request by the `locked` check — is one hash-map probe and a flood from a locked address
//! costs almost nothing. IPs appear only as keyed hashes (`KeyRing::hash_ip`): the data dir
//! never holds a legible address. Expiry is automatic: lookups ignore expired records and
//! the housekeeper deletes them, so the tree does not grow without bound. The mirror is
//! rebuilt from sled on start.

use std::net::IpAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use super::{Done, Op, Store, StoreError, SysTree};

/// What a lock shuts out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    Ip,
    User,
    Custom,
}

/// One lock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockRecord {
    pub kind: LockKind,
    /// Keyed IP hash, user name, or custom id.
    pub subject: String,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    pub reason: String,
    /// A redacted, truncated sample of the request that caused it.
    #[serde(default)]
    pub sample: Option<String>,
}

impl LockRecord {
    pub fn key(&self) -> String {
        lock_key(self.kind, &self.subject)
    }
}

fn lock_key(kind: LockKind, subject: &str) -> String {
    let prefix = match kind {
        LockKind::Ip => "ip",
        LockKind::User => "user",
        LockKind::Custom => "id",
    };
    format!("{prefix}:{subject}")
}

pub struct LockStore {
    store: Store,
    mirror: Arc<DashMap<String, LockRecord>>,
    /// Locks that hold in memory but storage refused to keep yet (retried by the housekeeper).
    unsaved: Arc<DashMap<String, ()>>,
    created: std::sync::atomic::AtomicU64,
    /// How many records the mirror holds, kept beside it: the request path asks whether any
    /// lock exists, and a DashMap's own `len` visits every shard.
    /// (Signed: a removal racing the insert it undoes may land first.)
    held: AtomicIsize,
}

impl LockStore {
    /// Reads the stored locks into the in-memory mirror.
    pub fn load(store: Store) -> Result<Self, StoreError> {
        let mirror = DashMap::new();
        for item in store.locks.iter() {
            let (key, value) = item?;
            let record: LockRecord =
                serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt(format!("lock record: {e}")))?;
            mirror.insert(String::from_utf8_lossy(&key).into_owned(), record);
        }
        let held = AtomicIsize::new(mirror.len() as isize);
        Ok(Self { store, mirror: Arc::new(mirror), unsaved: Default::default(), created: Default::default(), held })
    }

    /// The subject under which an address is locked.
    pub fn ip_subject(&self, ip: &IpAddr) -> String {
        self.store.keys.hash_ip(ip)
    }

    /// The live lock on `kind`/`subject`, if any (expired ones are ignored).
    pub fn active(&self, kind: LockKind, subject: &str, now_ms: u64) -> Option<LockRecord> {
        let record = self.mirror.get(&lock_key(kind, subject))?;
        (record.expires_at_ms > now_ms).then(|| record.clone())
    }

    /// Sets a lock (replacing one on the same subject). It holds in memory at once — the
    /// request path never waits for the disk — and is stored by the writer; while storage
    /// refuses, it is kept as unsaved and stored again by [`LockStore::save_pending`].
    pub fn lock(&self, record: LockRecord) {
        let key = record.key();
        let bytes = match serde_json::to_vec(&record) {
            Ok(b) => b,
            Err(e) => return tracing::error!(error = %e, "lock record not serialisable"),
        };
        if self.mirror.insert(key.clone(), record).is_none() {
            self.held.fetch_add(1, Ordering::Relaxed);
            self.created.fetch_add(1, Ordering::Relaxed);
        }
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

    /// Stores again the locks storage refused earlier; returns how many were still unsaved.
    pub fn save_pending(&self) -> usize {
        let keys: Vec<String> = self.unsaved.iter().map(|e| e.key().clone()).collect();
        for key in &keys {
            match self.mirror.get(key).map(|r| r.clone()) {
                Some(record) => self.lock(record),
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
        let in_memory = self.mirror.remove(&key).is_some();
        if in_memory {
            self.held.fetch_sub(1, Ordering::Relaxed);
        }
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
                if self.mirror.remove_if(&key, |_, rec| rec.expires_at_ms <= now_ms).is_some() {
                    self.held.fetch_sub(1, Ordering::Relaxed);
                }
                removed += 1;
            }
        }
        removed
    }

    /// Locks created since start (a metric).
    pub fn created(&self) -> u64 {
        self.created.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.held.load(Ordering::Relaxed).max(0) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_expire_and_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &Default::default(), Default::default()).unwrap();
        let locks = LockStore::load(store.clone()).unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let subject = locks.ip_subject(&ip);
        locks.lock(LockRecord {
            kind: LockKind::Ip,
            subject: subject.clone(),
            created_at_ms: 0,
            expires_at_ms: 1_000,
            reason: "test".into(),
            sample: None,
        });
        assert!(locks.active(LockKind::Ip, &subject, 999).is_some());
        assert!(locks.active(LockKind::Ip, &subject, 1_000).is_none());
        // The count beside the mirror follows it: a second lock on the same subject
        // replaces the first; another subject adds one; an unlock takes one away.
        let record = |subject: &str| LockRecord {
            kind: LockKind::Ip,
            subject: subject.into(),
            created_at_ms: 0,
            expires_at_ms: 1_000,
            reason: "test".into(),
            sample: None,
        };
        locks.lock(record(&subject));
        assert_eq!(locks.len(), 1);
        locks.lock(record("other"));
        assert_eq!(locks.len(), 2);
        assert!(locks.unlock(LockKind::Ip, "other").unwrap());
        assert!(!locks.unlock(LockKind::Ip, "other").unwrap());
        assert_eq!(locks.len(), 1);
        store.write_blocking(Op::Ping).unwrap();
        assert_eq!(LockStore::load(store.clone()).unwrap().len(), 1, "stored");
        assert_eq!(locks.sweep(1_000), 1);
        assert!(locks.is_empty());
        assert!(LockStore::load(store).unwrap().is_empty());
    }
}
