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

use ipnet::IpNet;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::checks::{lock_and_record, lock_event};
use crate::clock::rfc3339;
use crate::pipeline::client_ip::{normalise, tracking_address};
use crate::state::AppState;
use crate::store::locks::{LockKind, LockRecord, LockSource};
use crate::tokens::TokenRecord;

pub use super::admin_data::execute_stream;
pub use super::admin_request::{AdminRequest, AdminResponse};

/// The longest request line the socket accepts.
const MAX_LINE: usize = 1 << 20;

/// A token as listings show it: no hash, no secrets.
pub fn token_summary(r: &TokenRecord, last_used_hour: Option<u64>) -> Value {
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
        "last_used": last_used_hour.map(rfc3339),
        "revoked": r.revoked,
        "owner": r.owner.as_ref().map(ToString::to_string),
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
        AdminRequest::TokenList { all } => {
            let tokens = state.tokens.list().map_err(|e| e.to_string())?;
            let shown = tokens.iter().filter(|t| all || !t.revoked);
            Ok(Value::Array(shown.map(|t| token_summary(t, state.tokens.last_used_hour(&t.id))).collect()))
        }
        AdminRequest::TokenUpdate { id, change } => {
            let record = state.tokens.update(&id, &change, state.schema(), now).map_err(|e| e.to_string())?;
            let mut changed = Vec::new();
            for (name, given) in [
                ("rate", change.rate.is_some()),
                ("window", change.window.is_some()),
                ("expires", change.expires.is_some()),
                ("origins", change.origins.is_some()),
                ("cidrs", change.cidrs.is_some()),
            ] {
                if given {
                    changed.push(name);
                }
            }
            let event = crate::store::audit::AuditRecord {
                time: String::new(),
                time_ms: now,
                request_id: String::new(),
                method: "TOKEN_UPDATE".into(),
                path: format!("token:{id}"),
                query: None,
                status: 0,
                duration_us: 0,
                token_id: Some(id.clone()),
                user: Some(record.name.clone()),
                owner: None,
                ip_hash: String::new(),
                stage: None,
                reason: Some(format!("changed by an administrator: {}", changed.join(", "))),
                instance: None,
                prev: String::new(),
            };
            state.audit.append_or_defer(event);
            Ok(token_summary(&record, state.tokens.last_used_hour(&id)))
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
            let (subject, prefix_len) = lock_subject(state, kind, &subject)?;
            let mut record = LockRecord::new(
                kind,
                subject,
                LockSource::Manual,
                now,
                now.saturating_add(secs.saturating_mul(1000)),
                reason.unwrap_or_else(|| "locked by an administrator".into()),
            );
            record.prefix_len = prefix_len;
            record.rule = Some("manual".into());
            let shown = lock_summary(&record);
            lock_and_record(&state.locks, &state.audit, record, now);
            Ok(shown)
        }
        AdminRequest::Unlock { kind, subject } => {
            let (subject, _) = lock_subject(state, kind, &subject)?;
            let reason = "unlocked by an administrator".to_string();
            let record = LockRecord::new(kind, subject.clone(), LockSource::Manual, now, now, reason);
            let existed = state.locks.unlock(kind, &subject).map_err(|e| e.to_string())?;
            state.audit.append_or_defer(lock_event("UNLOCK", &record, now));
            Ok(json!({"unlocked": existed, "key": record.key()}))
        }
        AdminRequest::UnlockId { id } => {
            let id = id.trim().to_ascii_lowercase();
            let found = state.locks.list(now).into_iter().find(|r| r.id() == id);
            let Some(record) = found else {
                return Err(format!("no lock has the id {id:?} (see palisade locks list)"));
            };
            let existed = state.locks.unlock(record.kind, &record.subject).map_err(|e| e.to_string())?;
            let mut event = record.clone();
            event.reason = "unlocked by an administrator".into();
            state.audit.append_or_defer(lock_event("UNLOCK", &event, now));
            Ok(json!({"unlocked": existed, "id": id, "key": record.key()}))
        }
        AdminRequest::LocksList => Ok(Value::Array(state.locks.list(now).iter().map(lock_summary).collect())),
        AdminRequest::Backup { dest, encryption } => {
            let created = super::admin_data::backup(state, &dest, encryption.as_ref())?;
            serde_json::to_value(created).map_err(|e| e.to_string())
        }
        AdminRequest::Export { table, format, dir } => super::admin_data::export(state, table, format, dir),
        AdminRequest::Import { table, file, dir, skip_bad } => {
            super::admin_data::import(state, table, file, dir, skip_bad, now)
        }
    }
}

/// IPs are locked under their keyed hash (normalised first), networks (the ones automatic
/// locks escalate into: an IPv6 `ipv6_wide_prefix`, an IPv4 /24) under theirs with their
/// prefix length; users by name.
fn lock_subject(state: &AppState, kind: LockKind, subject: &str) -> Result<(String, Option<u8>), String> {
    let subject = subject.trim();
    match kind {
        LockKind::Ip if subject.contains('/') => {
            let net: IpNet = subject.parse().map_err(|_| format!("{subject:?} is not an IP network"))?;
            let (hashed, len) = state.locks.network_subject(&net.network());
            if len != net.prefix_len() {
                return Err(format!(
                    "only whole /{len} networks can be locked for {subject}: automatic locks escalate into those"
                ));
            }
            Ok((hashed, Some(len)))
        }
        LockKind::Ip => {
            let ip: IpAddr = subject.parse().map_err(|_| format!("{subject:?} is not an IP address"))?;
            Ok((state.locks.ip_subject(&tracking_address(normalise(ip), state.config.get().checks.ipv6_prefix)), None))
        }
        _ if subject.is_empty() => Err("a name is required".into()),
        _ => Ok((subject.to_string(), None)),
    }
}

/// A lock as listings show it (IPs only hashed).
/// A network lock shows its prefix length (`"prefix": "/48"`) beside its hashed subject; an
/// address lock shows `null` there.
pub fn lock_summary(r: &LockRecord) -> Value {
    json!({
        "id": r.id(),
        "kind": r.kind,
        "subject": r.subject,
        "prefix": r.prefix_len.map(|len| format!("/{len}")),
        "source": r.source,
        "rule": r.rule,
        "route": r.route,
        "owner": r.owner,
        "created": rfc3339(r.created_at_ms),
        "expires": rfc3339(r.expires_at_ms),
        "created_at": rfc3339(r.created_at_ms),
        "expires_at": rfc3339(r.expires_at_ms),
        "reason": r.reason,
        "sample": r.sample,
    })
}

/// Writes the one-line answer and closes.
async fn answer(stream: &mut tokio::net::UnixStream, response: AdminResponse) {
    let mut out = serde_json::to_vec(&response).unwrap_or_default();
    out.push(b'\n');
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
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
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                let read = (&mut reader).take(MAX_LINE as u64).read_line(&mut line).await;
                let request = match read {
                    Ok(_) => serde_json::from_str::<AdminRequest>(&line).map_err(|e| format!("bad admin request: {e}")),
                    Err(e) => Err(format!("cannot read admin request: {e}")),
                };
                let mut stream = reader.into_inner();
                let request = match request {
                    Ok(AdminRequest::AuditFlush) => {
                        // Every worker hands over its audit batch; answered once stored.
                        let workers = state.pipeline.audit_flush.flush().await;
                        return answer(&mut stream, AdminResponse::Ok(json!({ "flushed_workers": workers }))).await;
                    }
                    Ok(r) => r,
                    Err(e) => return answer(&mut stream, AdminResponse::Error(e)).await,
                };
                if request.streams() {
                    // Long and blocking (a whole table): off the async workers, on a plain socket.
                    let Ok(std_stream) = stream.into_std() else { return };
                    let _ = actix_rt::task::spawn_blocking(move || {
                        super::admin_data::serve_stream(&state, request, std_stream)
                    })
                    .await;
                    return;
                }
                // Commands that run long (an import, a backup) never hold an async worker.
                let done = match request.long() {
                    true => actix_rt::task::spawn_blocking(move || execute(&state, request)).await,
                    false => Ok(execute(&state, request)),
                };
                let response = match done {
                    Ok(Ok(v)) => AdminResponse::Ok(v),
                    Ok(Err(e)) => AdminResponse::Error(e),
                    Err(_) => AdminResponse::Error("the admin command failed".into()),
                };
                answer(&mut stream, response).await;
            });
        }
    });
    Ok(())
}
