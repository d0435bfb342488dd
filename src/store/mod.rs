//! Everything Palisade keeps on disk, in one sled database under the data dir.
//!
//! Trees: `rows:<table>` (one per schema table, key = big-endian id, value = JSON object),
//! `sys:meta` (id sequences, seed marker), `sys:tokens`, `sys:audit`, `sys:locks`. The `sys:` trees are
//! never reachable as API tables: table names cannot contain `:`. Secrets (the IP-hash key,
//! the key that seals signing secrets) live in `secret.key` beside the database, mode 0600.

pub mod audit;
pub mod health;
mod keys;
pub mod locks;
mod rows;
pub mod seed;
mod snapshot;
pub use snapshot::Counters;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use health::{Fault, Health};
pub use keys::{IpKey, KeyRing, SealError};
pub use rows::{ListQuery, Page};

use crate::config::StateConfig;
use crate::error::{ApiError, ErrorKind};

/// Failures of the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("data dir {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("storage unavailable: {0}")]
    Unavailable(Fault),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Unavailable(_) => tracing::warn!(error = %e, "write refused"),
            _ => tracing::error!(error = %e, "store failure"),
        }
        match e {
            StoreError::Corrupt(_) => ApiError::new(ErrorKind::Internal),
            _ => ApiError::new(ErrorKind::StorageUnavailable),
        }
    }
}

/// The opened store: sled database plus the key ring.
#[derive(Clone)]
pub struct Store {
    pub db: sled::Db,
    pub meta: sled::Tree,
    pub tokens: sled::Tree,
    pub audit: sled::Tree,
    pub locks: sled::Tree,
    pub keys: KeyRing,
    pub data_dir: PathBuf,
    /// Asked before every write (see `health`).
    pub health: Arc<Health>,
}

impl Store {
    /// Opens (creating if needed, mode 0700) the data dir and its database. Writes are refused
    /// while less than `state.min_free_bytes` are free on its disk.
    pub fn open(data_dir: &Path, state: &StateConfig) -> Result<Self, StoreError> {
        let io = |source| StoreError::Io { path: data_dir.to_path_buf(), source };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        restrict_permissions(data_dir, 0o700).map_err(io)?;
        let keys = KeyRing::load_or_create(&data_dir.join("secret.key")).map_err(io)?;
        let db = sled::Config::new()
            .path(data_dir.join("db"))
            .cache_capacity(state.cache_bytes)
            .flush_every_ms(Some(500))
            .open()?;
        Ok(Self {
            meta: db.open_tree("sys:meta")?,
            tokens: db.open_tree("sys:tokens")?,
            audit: db.open_tree("sys:audit")?,
            locks: db.open_tree("sys:locks")?,
            db,
            keys,
            data_dir: data_dir.to_path_buf(),
            health: Arc::new(Health::new(data_dir, state.min_free_bytes)),
        })
    }

    /// Where the admin socket lives.
    pub fn admin_socket_path(data_dir: &Path) -> PathBuf {
        data_dir.join("admin.sock")
    }

    /// Durably writes everything acknowledged so far.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.health.observe(self.db.flush_async().await)?;
        Ok(())
    }

    /// The same, blocking (for callers outside an async context).
    pub fn flush_sync(&self) -> Result<(), StoreError> {
        self.health.observe(self.db.flush())?;
        Ok(())
    }

    /// Maps a transaction's outcome, marking the store failed on a storage error.
    pub(crate) fn tx_error(&self, e: sled::transaction::TransactionError<ApiError>) -> ApiError {
        match e {
            sled::transaction::TransactionError::Abort(api) => api,
            sled::transaction::TransactionError::Storage(s) => self.health.fail(s).into(),
        }
    }
}

/// Sets unix permission bits (no-op elsewhere).
pub fn restrict_permissions(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    let _ = (path, mode);
    Ok(())
}
