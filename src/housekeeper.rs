//! The housekeeper actor: the one place where time-driven upkeep happens — expired
//! rate-limit, throttle and endpoint-limit windows are evicted, the replay cache is swept,
//! expired locks are deleted from sled, audit retention is enforced, and the in-memory
//! counters are snapshotted to sled — so no request path ever pays for it.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::pipeline::audit::{AuditWriter, Retry};
use crate::state::AppState;

/// How often windows and the replay cache are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
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

    /// One sweep of every expiring in-memory map.
    pub fn sweep(state: &AppState) {
        let now = state.clock.now_ms();
        state.stages.shield.throttle.evict_expired(now, false);
        state.stages.rate_limit.windows.evict_expired(now, false);
        state.stages.auth.replay.sweep(now);
        state.stages.checks.sweep(now);
        state.brute_force.sweep(now);
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
        ctx.run_interval(SWEEP_EVERY, |hk, _| Self::sweep(&hk.state));
        let every = Duration::from_millis(self.state.config.get().state.snapshot_interval_ms);
        ctx.run_interval(every, |hk, _| {
            Self::snapshot(&hk.state);
            hk.audit_writer.do_send(Retry);
        });
        ctx.run_interval(PRUNE_EVERY, |hk, _| {
            if let Err(e) = hk.state.audit.prune(hk.state.clock.now_ms()) {
                tracing::error!(error = %e, "audit retention failed");
            }
        });
    }
}
