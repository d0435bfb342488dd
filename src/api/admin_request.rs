//! The admin socket's language: one [`AdminRequest`] per line in, one [`AdminResponse`] out.
//! Types only, below both the executor (`admin`) and the streamed commands (`admin_data`),
//! so neither imports the other for them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::locks::LockKind;
use crate::tokens::TokenSpec;
use crate::transfer::Format;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum AdminRequest {
    TokenCreate(TokenSpec),
    TokenList {
        /// Revoked tokens too.
        #[serde(default)]
        all: bool,
    },
    /// Changes a live token (audited).
    TokenUpdate {
        id: String,
        change: crate::tokens::TokenUpdate,
    },
    TokenRevoke {
        id: String,
    },
    AuditTail {
        n: usize,
    },
    /// Stores the audit records the workers still hold (answered once they are on disk), so
    /// `audit tail` reading the files next sees the newest requests.
    AuditFlush,
    AuditSetupKeys {
        force: bool,
    },
    /// What the next start would do with this schema file (`None`: the embedded schema).
    SchemaCheck {
        schema_file: Option<std::path::PathBuf>,
    },
    /// Deletes the kept data of dropped columns and tables.
    SchemaPrune {
        dry_run: bool,
    },
    Lock {
        kind: LockKind,
        subject: String,
        secs: u64,
        reason: Option<String>,
        /// Lock a user name that no token carries (yet).
        #[serde(default)]
        force: bool,
    },
    Unlock {
        kind: LockKind,
        subject: String,
    },
    /// Lifts the lock with this id (as `locks list` shows it).
    UnlockId {
        id: String,
    },
    LocksList,
    /// Every row of one table, streamed to the caller (see [`execute_stream`]), or of every
    /// table (or one) into files under `dir`.
    Export {
        table: Option<String>,
        format: Format,
        dir: Option<std::path::PathBuf>,
    },
    /// A consistent archive of the store and the audit trail at `dest` (see `backup`).
    Backup {
        dest: std::path::PathBuf,
        /// Encrypt the archive (a passphrase travels only over the owner-only socket).
        #[serde(default)]
        encryption: Option<crate::backup::Encryption>,
    },

    /// Rows from `file` into `table`, or from every `<table>.csv|jsonl` under `dir`.
    Import {
        table: Option<String>,
        file: Option<std::path::PathBuf>,
        dir: Option<std::path::PathBuf>,
        skip_bad: bool,
    },
}

impl AdminRequest {
    /// Whether the answer is a stream of bytes before the summary (see [`execute_stream`]).
    pub fn streams(&self) -> bool {
        matches!(self, AdminRequest::Export { dir: None, .. })
    }

    /// Whether the command may run for long (it then runs on a blocking thread).
    pub fn long(&self) -> bool {
        matches!(self, AdminRequest::Export { .. } | AdminRequest::Import { .. } | AdminRequest::Backup { .. })
    }
}

/// What the socket answers: `{"ok": …}` or `{"error": "…"}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminResponse {
    Ok(Value),
    Error(String),
}
