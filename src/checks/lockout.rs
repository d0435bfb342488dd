//! Locking a client out, and saying so: every lock a check makes (injection, honeypot, too
//! many failed authentications) is logged and written to the audit trail in one place, with
//! the network lock it may have become.

use std::net::IpAddr;
use std::sync::Arc;

use crate::config::BruteForceConfig;
use crate::limits::window::FixedWindows;
use crate::store::audit::{AuditLog, AuditRecord};
use crate::store::locks::{LockKind, LockOutcome, LockRecord, LockSource, LockStore};
use crate::store::IpKey;

/// Failed authentications per IP; past the limit the IP is locked.
pub struct BruteForceGuard {
    pub failures: FixedWindows<IpKey>,
    config: BruteForceConfig,
    locks: Arc<LockStore>,
    audit: Arc<AuditLog>,
}

impl BruteForceGuard {
    pub fn new(config: BruteForceConfig, capacity: usize, locks: Arc<LockStore>, audit: Arc<AuditLog>) -> Self {
        Self { failures: FixedWindows::sheddable(capacity), config, locks, audit }
    }

    /// The limits it counts against.
    pub fn config(&self) -> &BruteForceConfig {
        &self.config
    }

    /// Counts one failed authentication from `ip` (keyed `ip_key`).
    pub fn failed(&self, ip: &IpAddr, ip_key: IpKey, now_ms: u64, reason: &str, route: String) {
        let c = &self.config;
        match self.failures.hit(ip_key, now_ms, c.max_failures, c.window_secs * 1000) {
            Ok(d) if d.allowed => {}
            // Over the limit, or unable to count: lock (fail closed).
            _ => self.lock_out(ip, ip_key, now_ms, reason, route),
        }
    }

    /// Locks `ip` for `lock_secs`: it failed more than `max_failures` times in the window
    /// (counted here or by the shared counters).
    pub fn lock_out(&self, ip: &IpAddr, ip_key: IpKey, now_ms: u64, reason: &str, route: String) {
        let c = &self.config;
        let mut record = LockRecord::new(
            LockKind::Ip,
            ip_key.to_string(),
            LockSource::Automatic,
            now_ms,
            now_ms + c.lock_secs * 1000,
            format!("brute force: more than {} failed authentications", c.max_failures),
        );
        record.sample = Some(reason.to_string());
        record.rule = Some("brute_force".into());
        record.route = Some(route);
        lock_client_and_record(&self.locks, &self.audit, ip, record, now_ms);
    }

    pub fn sweep(&self, now_ms: u64) {
        self.failures.evict_expired(now_ms, false);
    }
}

/// Stores a lock and writes the event to the audit log.
pub fn lock_and_record(locks: &LockStore, audit: &AuditLog, record: LockRecord, now_ms: u64) {
    let event = lock_event("LOCK", &record, now_ms);
    log_lock(&record);
    let outcome = locks.lock(record);
    record_outcome(audit, event, outcome, now_ms);
}

/// Stores an automatic lock on the client at `ip` (it counts towards its network's
/// escalation) and writes the event, and the network lock it may have become, to the audit
/// log.
pub fn lock_client_and_record(locks: &LockStore, audit: &AuditLog, ip: &IpAddr, record: LockRecord, now_ms: u64) {
    let event = lock_event("LOCK", &record, now_ms);
    log_lock(&record);
    let outcome = locks.lock_client(ip, record);
    record_outcome(audit, event, outcome, now_ms);
}

fn log_lock(record: &LockRecord) {
    tracing::warn!(kind = ?record.kind, subject = %record.subject, reason = %record.reason, until_ms = record.expires_at_ms, "locked");
}

fn record_outcome(audit: &AuditLog, event: AuditRecord, outcome: LockOutcome, now_ms: u64) {
    match outcome {
        LockOutcome::Locked => audit.append_or_defer(event),
        LockOutcome::Escalated(network) => {
            tracing::warn!(subject = %network.subject, reason = %network.reason, until_ms = network.expires_at_ms, "network locked");
            audit.append_or_defer(event);
            audit.append_or_defer(lock_event("LOCK", &network, now_ms));
        }
        // Nothing changed (covered), or nothing could be kept (logged by the store).
        LockOutcome::Covered | LockOutcome::Dropped => {}
    }
}

/// The audit record of a lock or unlock.
pub fn lock_event(action: &str, record: &LockRecord, now_ms: u64) -> AuditRecord {
    AuditRecord {
        time: String::new(),
        time_ms: now_ms,
        request_id: String::new(),
        method: action.to_string(),
        path: record.key(),
        query: None,
        status: 0,
        duration_us: 0,
        token_id: None,
        user: (record.kind == LockKind::User).then(|| record.subject.clone()),
        owner: None,
        ip_hash: if record.kind == LockKind::Ip { record.subject.clone() } else { String::new() },
        stage: Some("checks".into()),
        reason: Some(record.reason.clone()),
        instance: None,
        prev: String::new(),
    }
}
