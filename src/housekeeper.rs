//! The housekeeper actor: the store's side of time — the in-memory counters are snapshotted
//! to sled, locks storage refused are stored again, and audit retention is enforced — so no
//! request path ever pays for it. Each stage's own upkeep (expired windows, the replay cache,
//! expired locks) is its stage actor's (see `pipeline::stage`). Scheduled backups
//! (`[backup] dir`, `every`, `keep`) start here too, each on its own thread so serving and
//! the other upkeep never wait for one; a failure is logged, counted and audited.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::pipeline::audit::{AuditWriter, Retry};
use crate::state::AppState;

/// How often audit retention runs.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub struct Housekeeper {
    state: Arc<AppState>,
    audit_writer: Addr<AuditWriter>,
}

impl Housekeeper {
    pub fn new(state: Arc<AppState>, audit_writer: Addr<AuditWriter>) -> Self {
        Self { state, audit_writer }
    }

    /// Every stage's upkeep now, as their actors run it on their own interval (tests).
    pub fn sweep(state: &AppState) {
        state.stages().upkeep(state.clock.now_ms());
    }
}

impl Housekeeper {
    /// Writes the counter snapshot (see `store::snapshot`) and any lock storage refused.
    pub fn snapshot(state: &AppState) {
        state.locks.save_pending();
        let started = std::time::Instant::now();
        let result = state.store.snapshot_counters(&state.counters(), state.clock.now_ms());
        state.metrics.snapshot(started.elapsed(), result.is_ok());
        match result {
            Ok(()) => {}
            Err(e @ (crate::store::StoreError::Unavailable(_) | crate::store::StoreError::Refused(_))) => {
                tracing::warn!(error = %e, "counter snapshot deferred")
            }
            Err(e) => tracing::error!(error = %e, "counter snapshot failed"),
        }
    }
}

impl Actor for Housekeeper {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let every = Duration::from_millis(self.state.config.get().state.snapshot_interval_ms);
        ctx.run_interval(every, |hk, _| {
            Self::snapshot(&hk.state);
            hk.audit_writer.do_send(Retry);
        });
        let backup = self.state.config.get().backup.clone();
        if let (Some(dir), Ok(every)) = (backup.dir.clone(), backup.interval()) {
            let running = Arc::new(std::sync::atomic::AtomicBool::new(false));
            ctx.run_interval(every, move |hk, _| {
                if running.swap(true, std::sync::atomic::Ordering::AcqRel) {
                    return; // the previous one is still being written
                }
                let (state, dir, keep, running) = (hk.state.clone(), dir.clone(), backup.keep, running.clone());
                let spawned = std::thread::Builder::new().name("backup".into()).spawn(move || {
                    scheduled_backup(&state, &dir, keep);
                    running.store(false, std::sync::atomic::Ordering::Release);
                });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "scheduled backup not started");
                }
            });
        }
        ctx.run_interval(PRUNE_EVERY, |hk, _| {
            if let Err(e) = hk.state.audit.prune(hk.state.clock.now_ms()) {
                tracing::error!(error = %e, "audit retention failed");
            }
        });
    }
}

/// One scheduled backup into `dir`, then the oldest beyond `keep` deleted.
fn scheduled_backup(state: &AppState, dir: &std::path::Path, keep: usize) {
    if let Err(e) = std::fs::create_dir_all(dir) {
        tracing::error!(error = %e, dir = %dir.display(), "scheduled backup failed");
        state.metrics.backup(0, Duration::ZERO, false);
        return;
    }
    // Read at each backup, so a changed passphrase file applies without a restart.
    let passphrase_file = state.config.get().backup.passphrase_file.clone();
    let encryption = match passphrase_file.as_deref().map(crate::backup::Passphrase::from_file) {
        None => None,
        Some(Ok(p)) => Some(crate::backup::Encryption::Passphrase(p)),
        Some(Err(e)) => {
            tracing::error!(error = %e, "scheduled backup failed: backup.passphrase_file");
            state.metrics.backup(0, Duration::ZERO, false);
            return;
        }
    };
    match crate::api::admin_data::backup(state, dir, encryption.as_ref()) {
        Ok(created) => {
            tracing::info!(path = %created.path.display(), bytes = created.bytes, "scheduled backup written");
            if let Err(e) = crate::backup::prune_scheduled(dir, keep) {
                tracing::error!(error = %e, "old backups not pruned");
            }
        }
        Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
    }
}
