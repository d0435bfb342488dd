//! Admin commands and the admin unix socket (`DATA_DIR/admin.sock`, mode 0600).
//!
//! The CLI's admin commands (`token …`, `audit tail`, `audit setup-keys`, locks) are one
//! [`AdminRequest`] enum executed by one function, [`execute`], against an `AppState`. While
//! the server runs the CLI sends the request over the socket, one JSON line each way, so
//! changes take effect at once in the live caches (and the live audit writer); without a
//! server it opens the store itself and calls the same function. Only the data dir's owner can reach the socket (dir 0700, socket 0600).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::checks::{lock_and_record, lock_event};
use crate::clock::rfc3339;
use crate::pipeline::client_ip::{normalise, tracking_address};
use crate::state::AppState;
use crate::store::locks::{LockKind, LockRecord};
use crate::tokens::{TokenRecord, TokenSpec};

/// The longest request line the socket accepts.
const MAX_LINE: usize = 1 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum AdminRequest {
    TokenCreate(TokenSpec),
    TokenList,
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
    LocksList,
}

/// What the socket answers: `{"ok": …}` or `{"error": "…"}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminResponse {
    Ok(Value),
    Error(String),
}

/// A token as listings show it: no hash, no secrets.
pub fn token_summary(r: &TokenRecord) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "scopes": r.scopes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "views": r.views,
        "origins": r.origins,
        "cidrs": r.cidrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "rate": r.rate,
        "window_secs": r.window_secs,
        "signed": r.sealed_signing_secret.is_some(),
        "sandbox": r.sandbox,
        "introspection": r.introspection,
        "allow_sensitive": r.allow_sensitive,
        "created_at": rfc3339(r.created_at_ms),
        "expires_at": r.expires_at_ms.map(rfc3339),
        "revoked": r.revoked,
    })
}

/// Runs one admin command.
pub fn execute(state: &AppState, request: AdminRequest) -> Result<Value, String> {
    let now = state.clock.now_ms();
    match request {
        AdminRequest::TokenCreate(spec) => {
            let created = state.tokens.create(&spec, state.schema(), now).map_err(|e| e.to_string())?;
            serde_json::to_value(created).map_err(|e| e.to_string())
        }
        AdminRequest::TokenList => {
            let tokens = state.tokens.list().map_err(|e| e.to_string())?;
            Ok(Value::Array(tokens.iter().map(token_summary).collect()))
        }
        AdminRequest::TokenRevoke { id } => {
            state.tokens.revoke(&id).map_err(|e| e.to_string())?;
            Ok(json!({"revoked": id}))
        }
        AdminRequest::AuditTail { n } => {
            let records = state.audit.tail(n).map_err(|e| e.to_string())?;
            serde_json::to_value(records).map_err(|e| e.to_string())
        }
        AdminRequest::SchemaCheck { schema_file } => {
            let schema = crate::schema::Schema::load(schema_file.as_deref()).map_err(|e| e.to_string())?;
            let report = crate::schema::migrate::check(&state.store, &schema).map_err(|e| e.to_string())?;
            serde_json::to_value(report).map_err(|e| e.to_string())
        }
        AdminRequest::SchemaPrune { dry_run } => {
            let pruned =
                crate::schema::migrate::prune(&state.store, state.schema(), dry_run).map_err(|e| e.to_string())?;
            let pruned: Vec<Value> = pruned
                .into_iter()
                .map(|(table, column, rows)| json!({"table": table, "column": column, "rows": rows}))
                .collect();
            Ok(json!({"dry_run": dry_run, "pruned": pruned}))
        }
        // Without a server nothing is held in memory: the files are the whole trail.
        AdminRequest::AuditFlush => Ok(json!({"flushed_workers": 0})),
        AdminRequest::AuditSetupKeys { force } => {
            // Through the live server, its writer seals from now on; the key is answered once.
            let epoch_secs = state.config.get().audit.seal_epoch_secs;
            let key = state.audit.setup_keys(now, epoch_secs, force).map_err(|e| e.to_string())?;
            Ok(json!({"verification_key": key.expose()}))
        }
        AdminRequest::Lock { kind, subject, secs, reason, force } => {
            if secs == 0 {
                return Err("--for must be positive".into());
            }
            if kind == LockKind::User && !force {
                let tokens = state.tokens.list().map_err(|e| e.to_string())?;
                if !tokens.iter().any(|t| t.name == subject) {
                    return Err(format!(
                        "no token is owned by {subject:?} (a typo would lock nobody); --force locks the name anyway"
                    ));
                }
            }
            let record = LockRecord {
                kind,
                subject: lock_subject(state, kind, &subject)?,
                created_at_ms: now,
                expires_at_ms: now.saturating_add(secs.saturating_mul(1000)),
                reason: reason.unwrap_or_else(|| "locked by an administrator".into()),
                sample: None,
            };
            let shown = lock_summary(&record);
            lock_and_record(&state.locks, &state.audit, record, now);
            Ok(shown)
        }
        AdminRequest::Unlock { kind, subject } => {
            let subject = lock_subject(state, kind, &subject)?;
            let record = LockRecord {
                kind,
                subject: subject.clone(),
                created_at_ms: now,
                expires_at_ms: now,
                reason: "unlocked by an administrator".into(),
                sample: None,
            };
            let existed = state.locks.unlock(kind, &subject).map_err(|e| e.to_string())?;
            state.audit.append_or_defer(lock_event("UNLOCK", &record, now));
            Ok(json!({"unlocked": existed, "key": record.key()}))
        }
        AdminRequest::LocksList => Ok(Value::Array(state.locks.list(now).iter().map(lock_summary).collect())),
    }
}

/// IPs are locked under their keyed hash (normalised first); users by name.
fn lock_subject(state: &AppState, kind: LockKind, subject: &str) -> Result<String, String> {
    match kind {
        LockKind::Ip => {
            let ip: IpAddr = subject.trim().parse().map_err(|_| format!("{subject:?} is not an IP address"))?;
            Ok(state.locks.ip_subject(&tracking_address(normalise(ip), state.config.get().checks.ipv6_prefix)))
        }
        _ if subject.trim().is_empty() => Err("a name is required".into()),
        _ => Ok(subject.to_string()),
    }
}

/// A lock as listings show it (IPs only hashed).
pub fn lock_summary(r: &LockRecord) -> Value {
    json!({
        "kind": r.kind,
        "subject": r.subject,
        "created_at": rfc3339(r.created_at_ms),
        "expires_at": rfc3339(r.expires_at_ms),
        "reason": r.reason,
        "sample": r.sample,
    })
}

/// Listens on the admin socket until the process ends.
pub fn listen(path: &Path, state: Arc<AppState>) -> std::io::Result<()> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    crate::store::restrict_permissions(path, 0o600)?;
    actix_rt::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let state = state.clone();
            actix_rt::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                let mut reader = BufReader::new(read.take(MAX_LINE as u64));
                let response = match reader.read_line(&mut line).await {
                    Ok(_) => match serde_json::from_str::<AdminRequest>(&line) {
                        Ok(AdminRequest::AuditFlush) => {
                            let workers = state.pipeline.audit_flush.flush().await;
                            AdminResponse::Ok(json!({ "flushed_workers": workers }))
                        }
                        Ok(request) => match execute(&state, request) {
                            Ok(v) => AdminResponse::Ok(v),
                            Err(e) => AdminResponse::Error(e),
                        },
                        Err(e) => AdminResponse::Error(format!("bad admin request: {e}")),
                    },
                    Err(e) => AdminResponse::Error(format!("cannot read admin request: {e}")),
                };
                let mut out = serde_json::to_vec(&response).unwrap_or_default();
                out.push(b'\n');
                let _ = write.write_all(&out).await;
                let _ = write.shutdown().await;
            });
        }
    });
    Ok(())
}
