//! Backups: one archive holding a consistent point of everything a data dir is — the rows of
//! every table, tokens, locks, counter snapshots and the store's meta (id sequences, the
//! applied schema record), the install key `secret.key`, and the audit trail's segments and
//! seals — with a manifest (format version, Palisade version, point in time, row counts and
//! a SHA-256 per member).
//!
//! The format is logical, not sled's files: `tables/<table>.jsonl` holds each row as its
//! JSON object, `sys/<tree>.jsonl` each key and value of a system tree in hex, so an archive
//! survives a sled upgrade and could be loaded into another store. The archive is a tar
//! stream compressed with zstd, `manifest.json` first; it is written beside the destination
//! and renamed into place once complete, mode 0600 (it holds the install key and every
//! row). The point is named through the store's single writer ([`crate::store::point`]):
//! writes and reads go on while the archive is written.
//!
//! With an [`Encryption`] the whole stream is an age file (see [`crypt`]); readers tell
//! one by its header and decrypt it with the [`Keys`] they are given.
//!
//! [`create`] writes one, [`verify`] checks one (manifest, every checksum, the audit chain
//! inside), [`restore`] rebuilds a data dir from one (empty dir only; the archive is
//! verified before anything is written).

mod archive;
mod create;
pub mod crypt;
mod restore;

pub use archive::{verify, Manifest, Member, VerifyReport};
pub use create::{create, prune_scheduled, Created};
pub use crypt::{Encryption, Keys, Passphrase};
pub use restore::restore;

use std::path::PathBuf;

/// The archive format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Why a backup, a verification or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the store refused the restore: {0}")]
    Refused(String),
    /// The archive is not one this build can use, or it was changed.
    #[error("bad archive: {0}")]
    BadArchive(String),
    /// Encrypting or decrypting failed (a wrong passphrase or key, a bad recipient).
    #[error("{0}")]
    Crypt(String),
    #[error("{0} is not empty: restore only into a new or empty data dir")]
    NotEmpty(PathBuf),
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.into();
    move |source| BackupError::Io { path, source }
}

/// The system trees an archive carries, by their member name.
pub(crate) const SYS_TREES: [(&str, crate::store::SysTree); 4] = [
    ("meta", crate::store::SysTree::Meta),
    ("tokens", crate::store::SysTree::Tokens),
    ("locks", crate::store::SysTree::Locks),
    ("counters", crate::store::SysTree::Counters),
];

/// Meta keys that describe this copy of sled, not the data: rebuilt on the restored store.
pub(crate) fn local_meta_key(key: &[u8]) -> bool {
    key == b"open" || key.starts_with(b"index:")
}
