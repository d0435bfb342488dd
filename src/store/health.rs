//! Storage health: may the store be written to right now?
//!
//! sled does not survive a failed write: once a flush hits `ENOSPC` or `EROFS` it keeps the
//! error for good, later calls fail or stall, and the process must reopen the database. So
//! Palisade never lets sled meet a full or read-only disk: every write path asks
//! [`Health::check_write`] first, which looks at the data dir's file system (`statvfs`: read-only
//! flag, free space above `[state] min_free_bytes`) and at `access(W_OK)`. A refused write is a
//! 503 `storage_unavailable` and touches nothing; reads keep working; the first write after the
//! fault clears succeeds, with no restart.
//!
//! If sled fails anyway (the disk filled between the check and the flush), the store is marked
//! failed: every write is refused from then on, and the housekeeper stops the server with exit
//! status 75 so the service manager restarts it on the last durable state (acknowledged writes
//! were flushed before they were acknowledged, so none is lost).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::StoreError;

/// Why the store refuses writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    ReadOnly,
    Full { free: u64, reserve: u64 },
    NotWritable(String),
    Failed,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::ReadOnly => f.write_str("the data dir's file system is read-only"),
            Fault::Full { free, reserve } => {
                write!(f, "the data dir's disk is full ({free} bytes free, {reserve} kept in reserve)")
            }
            Fault::NotWritable(e) => write!(f, "the data dir is not writable: {e}"),
            Fault::Failed => f.write_str("a storage write failed; the server must restart"),
        }
    }
}

/// Shared by every writer of the store.
#[derive(Debug)]
pub struct Health {
    dir: PathBuf,
    reserve: u64,
    failed: AtomicBool,
    /// Writes refused since start (a metric).
    pub refused: AtomicU64,
    /// Whether the last check passed (a metric).
    writable: AtomicBool,
}

impl Health {
    pub fn new(dir: &Path, reserve: u64) -> Self {
        let dir = dir.to_path_buf();
        Self {
            dir,
            reserve,
            failed: AtomicBool::new(false),
            refused: AtomicU64::new(0),
            writable: AtomicBool::new(true),
        }
    }

    /// `Ok` when a write may go ahead now.
    pub fn check_write(&self) -> Result<(), StoreError> {
        let verdict = self.probe();
        self.writable.store(verdict.is_ok(), Ordering::Relaxed);
        verdict.map_err(|fault| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            StoreError::Unavailable(fault)
        })
    }

    fn probe(&self) -> Result<(), Fault> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(Fault::Failed);
        }
        use nix::sys::statvfs::{statvfs, FsFlags};
        let st = statvfs(&self.dir).map_err(|e| Fault::NotWritable(e.desc().to_string()))?;
        if st.flags().contains(FsFlags::ST_RDONLY) {
            return Err(Fault::ReadOnly);
        }
        let free = (st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64);
        if free < self.reserve {
            return Err(Fault::Full { free, reserve: self.reserve });
        }
        nix::unistd::access(&self.dir, nix::unistd::AccessFlags::W_OK)
            .map_err(|e| Fault::NotWritable(e.desc().to_string()))
    }

    /// Records the outcome of a sled write: an I/O error leaves sled unusable (see above).
    pub fn observe<T>(&self, result: Result<T, sled::Error>) -> Result<T, StoreError> {
        result.map_err(|e| self.fail(e))
    }

    /// Marks the store failed when `e` is an I/O error, and wraps it.
    pub fn fail(&self, e: sled::Error) -> StoreError {
        if matches!(e, sled::Error::Io(_)) && !self.failed.swap(true, Ordering::Relaxed) {
            tracing::error!(error = %e, "storage write failed; refusing writes until restart");
        }
        StoreError::Sled(e)
    }

    /// Whether sled has failed (the housekeeper then stops the server).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Whether the last check passed.
    pub fn writable(&self) -> bool {
        self.writable.load(Ordering::Relaxed) && !self.failed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_dir_passes_and_a_huge_reserve_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Health::new(dir.path(), 0).check_write().is_ok());
        let full = Health::new(dir.path(), u64::MAX);
        assert!(matches!(full.check_write(), Err(StoreError::Unavailable(Fault::Full { .. }))));
        assert!(!full.writable());
        assert_eq!(full.refused.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_missing_dir_is_not_writable() {
        let h = Health::new(Path::new("/nonexistent/palisade"), 0);
        assert!(matches!(h.check_write(), Err(StoreError::Unavailable(Fault::NotWritable(_)))));
    }

    #[test]
    fn an_io_error_marks_the_store_failed() {
        let dir = tempfile::tempdir().unwrap();
        let h = Health::new(dir.path(), 0);
        let err = sled::Error::Io(std::io::Error::other("disk gone"));
        assert!(h.observe::<()>(Err(err)).is_err());
        assert!(h.failed());
        assert!(matches!(h.check_write(), Err(StoreError::Unavailable(Fault::Failed))));
    }
}
