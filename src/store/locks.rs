//! Lock records: who is shut out, until when, and why.
//!
//! Stored in the `sys:locks` sled tree and mirrored in a DashMap, so a lookup — done on every
//! request by the `locked` check — is one hash-map probe and a flood from a locked address
//! costs almost nothing. IPs appear only as keyed hashes (`KeyRing::hash_ip`): the data dir
//! never holds a legible address. Expiry is automatic: lookups ignore expired records and
//! the housekeeper deletes them, so the tree does not grow without bound. The mirror is
//! rebuilt from sled on start.

use std::net::IpAddr;
use std::sync::Arc;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use super::{Health, KeyRing, StoreError};

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
    tree: sled::Tree,
    health: Arc<Health>,
    keys: KeyRing,
    mirror: DashMap<String, LockRecord>,
    /// Locks that hold in memory but storage refused to keep yet (retried by the housekeeper).
    unsaved: DashMap<String, ()>,
    created: std::sync::atomic::AtomicU64,
}

impl LockStore {
    /// Opens the tree and rebuilds the in-memory mirror.
    pub fn load(tree: sled::Tree, keys: KeyRing, health: Arc<Health>) -> Result<Self, StoreError> {
        let mirror = DashMap::new();
        for item in tree.iter() {
            let (key, value) = item?;
            let record: LockRecord =
                serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt(format!("lock record: {e}")))?;
            mirror.insert(String::from_utf8_lossy(&key).into_owned(), record);
        }
        Ok(Self { tree, health, keys, mirror, unsaved: DashMap::new(), created: Default::default() })
    }

    /// The subject under which an address is locked.
    pub fn ip_subject(&self, ip: &IpAddr) -> String {
        self.keys.hash_ip(ip)
    }

    /// The live lock on `kind`/`subject`, if any (expired ones are ignored).
    pub fn active(&self, kind: LockKind, subject: &str, now_ms: u64) -> Option<LockRecord> {
        let record = self.mirror.get(&lock_key(kind, subject))?;
        (record.expires_at_ms > now_ms).then(|| record.clone())
    }

    /// Stores a lock (replacing one on the same subject). Fails closed: the lock holds in
    /// memory from the start, even when storage refuses to keep it (the error says so).
    pub fn lock(&self, record: LockRecord) -> Result<(), StoreError> {
        let key = record.key();
        let bytes = serde_json::to_vec(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if self.mirror.insert(key.clone(), record).is_none() {
            self.created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let stored =
            self.health.check_write().and_then(|()| self.health.observe(self.tree.insert(key.as_bytes(), bytes)));
        match stored {
            Ok(_) => {
                self.unsaved.remove(&key);
                Ok(())
            }
            Err(e) => {
                self.unsaved.insert(key, ());
                Err(e)
            }
        }
    }

    /// Stores the locks storage refused earlier; returns how many are still unsaved.
    pub fn save_pending(&self) -> usize {
        let keys: Vec<String> = self.unsaved.iter().map(|e| e.key().clone()).collect();
        for key in keys {
            match self.mirror.get(&key).map(|r| r.clone()) {
                Some(record) => {
                    if self.lock(record).is_err() {
                        break;
                    }
                }
                None => {
                    self.unsaved.remove(&key);
                }
            }
        }
        self.unsaved.len()
    }

    /// Removes a lock; `false` when there was none. Fails closed: while storage refuses the
    /// removal, the lock stays.
    pub fn unlock(&self, kind: LockKind, subject: &str) -> Result<bool, StoreError> {
        let key = lock_key(kind, subject);
        self.health.check_write()?;
        let existed = self.health.observe(self.tree.remove(key.as_bytes()))?.is_some();
        self.mirror.remove(&key);
        Ok(existed)
    }

    /// Live locks.
    pub fn list(&self, now_ms: u64) -> Vec<LockRecord> {
        let mut out: Vec<LockRecord> =
            self.mirror.iter().filter(|e| e.expires_at_ms > now_ms).map(|e| e.value().clone()).collect();
        out.sort_by_key(|r| r.created_at_ms);
        out
    }

    /// Deletes expired locks from sled and memory; returns how many.
    pub fn sweep(&self, now_ms: u64) -> Result<usize, StoreError> {
        let expired: Vec<String> =
            self.mirror.iter().filter(|e| e.expires_at_ms <= now_ms).map(|e| e.key().clone()).collect();
        if !expired.is_empty() {
            self.health.check_write()?;
        }
        for key in &expired {
            self.health.observe(self.tree.remove(key.as_bytes()))?;
            self.mirror.remove(key);
        }
        Ok(expired.len())
    }

    /// Locks created since start (a metric).
    pub fn created(&self) -> u64 {
        self.created.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.mirror.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mirror.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_expire_and_are_swept() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let health = Arc::new(Health::new(&std::env::temp_dir(), 0));
        let store =
            LockStore::load(db.open_tree("l").unwrap(), KeyRing::from_master(&[3; 32]), health.clone()).unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let subject = store.ip_subject(&ip);
        store
            .lock(LockRecord {
                kind: LockKind::Ip,
                subject: subject.clone(),
                created_at_ms: 0,
                expires_at_ms: 1_000,
                reason: "test".into(),
                sample: None,
            })
            .unwrap();
        assert!(store.active(LockKind::Ip, &subject, 999).is_some());
        assert!(store.active(LockKind::Ip, &subject, 1_000).is_none());
        assert_eq!(store.sweep(1_000).unwrap(), 1);
        assert!(db.open_tree("l").unwrap().is_empty());
        let reloaded = LockStore::load(db.open_tree("l").unwrap(), KeyRing::from_master(&[3; 32]), health).unwrap();
        assert!(reloaded.is_empty());
    }
}
