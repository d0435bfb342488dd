//! Stage 6, the audit log. A record is opened when the request enters (time, method, path,
//! redacted query, keyed hash of the client IP) and finished after the handler or the
//! refusing stage with status, duration, token, and for refusals the stage and exact reason.
//! Every request is recorded, refused ones included.
//!
//! The pipeline hands finished records to its worker's [`AuditActor`] with a fire-and-forget
//! message; the actor batches them and every `flush_interval_ms` (and when a batch is full,
//! and when it is dropped at shutdown) hands the batch to the one [`AuditWriter`], which
//! stores it on its own thread as a single sled value. Disk work stays off the hot path. Nothing
//! secret reaches a record: headers are never copied, and query strings and paths pass
//! through `redact` first.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::dev::ServiceRequest;

use super::stage::Refusal;
use crate::redact::{self, truncate};
use crate::store::audit::{AuditLog, AuditRecord};
use crate::store::{IpKey, StoreError};
use crate::tokens::Principal;

/// Records buffered before an early flush.
const BATCH: usize = 1024;

/// A record opened at entry.
pub struct AuditDraft {
    pub time_ms: u64,
    request_id: String,
    method: String,
    path: String,
    query: Option<String>,
    ip_hash: String,
}

impl AuditDraft {
    pub fn open(
        now_ms: u64,
        req: &ServiceRequest,
        ip_key: IpKey,
        request_id: String,
        plain: &std::collections::HashSet<String>,
    ) -> Self {
        let query = req.query_string();
        Self {
            time_ms: now_ms,
            request_id,
            method: req.method().as_str().to_string(),
            path: redact::redact_text(&truncate(req.path(), 512)),
            query: (!query.is_empty()).then(|| redact::redact_query(&truncate(query, 1024), |k| plain.contains(k))),
            ip_hash: ip_key.to_string(),
        }
    }

    pub fn finish(
        self,
        status: u16,
        elapsed: Duration,
        principal: Option<&Principal>,
        rejection: Option<&Refusal>,
    ) -> AuditRecord {
        AuditRecord {
            time: String::new(),
            time_ms: self.time_ms,
            request_id: self.request_id,
            method: self.method,
            path: self.path,
            query: self.query,
            status,
            duration_us: elapsed.as_micros() as u64,
            token_id: principal.map(|p| p.id().to_string()),
            user: principal.map(|p| p.record.name.clone()),
            ip_hash: self.ip_hash,
            stage: rejection.map(|r| r.stage.as_str().to_string()),
            reason: rejection.map(|r| redact::redact_text(&r.reason)),
            prev: String::new(),
        }
    }
}

/// A finished record for the audit actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Finish(pub AuditRecord);

/// A batch of records for the writer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WriteBatch(pub Vec<AuditRecord>);

/// Asks the writer to try its backlog again (sent by the housekeeper).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retry;

/// Answered once everything sent to the writer before it is on disk; the writer then lets
/// go of the store (so the data dir can be reopened at once) and stops.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// The single sled writer, on its own thread (a `SyncArbiter`), so serialising and writing
/// batches never stalls an HTTP worker. While storage refuses writes it keeps what it was
/// given (up to `[audit] max_pending` records) and stores it when storage is back; only
/// beyond that bound are records dropped, counted in `AuditLog::dropped` and logged.
pub struct AuditWriter {
    log: Option<Arc<AuditLog>>,
    backlog: Vec<AuditRecord>,
}

impl AuditWriter {
    /// Starts the writer thread; call inside an actix `System`.
    pub fn start(log: Arc<AuditLog>) -> Addr<AuditWriter> {
        SyncArbiter::start(1, move || AuditWriter { log: Some(log.clone()), backlog: Vec::new() })
    }

    fn store(&mut self) {
        let Some(log) = &self.log else { return };
        let deferred = log.take_deferred();
        if !deferred.is_empty() {
            log.queued.fetch_add(deferred.len(), std::sync::atomic::Ordering::Relaxed);
            self.backlog.extend(deferred);
        }
        if self.backlog.is_empty() {
            return;
        }
        match log.append(&self.backlog) {
            Ok(()) => log.settled(std::mem::take(&mut self.backlog).len(), 0),
            Err(StoreError::Unavailable(_)) => log.bound_held(&mut self.backlog, "storage unavailable"),
            Err(e) => {
                let n = std::mem::take(&mut self.backlog).len();
                log.settled(0, n);
                tracing::error!(error = %e, dropped = n, "audit write failed; records dropped");
            }
        }
    }
}

impl Actor for AuditWriter {
    type Context = SyncContext<Self>;
}

impl Handler<WriteBatch> for AuditWriter {
    type Result = ();
    fn handle(&mut self, batch: WriteBatch, _: &mut SyncContext<Self>) {
        self.backlog.extend(batch.0);
        self.store();
    }
}

impl Handler<Retry> for AuditWriter {
    type Result = ();
    fn handle(&mut self, _: Retry, _: &mut SyncContext<Self>) {
        self.store();
    }
}

impl Handler<Shutdown> for AuditWriter {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut SyncContext<Self>) {
        self.store();
        if let Some(log) = self.log.take() {
            if !self.backlog.is_empty() {
                log.settled(0, self.backlog.len());
                tracing::error!(dropped = self.backlog.len(), "storage unavailable at shutdown; audit records dropped");
            }
        }
        ctx.stop();
    }
}

/// One worker's audit batcher. It hands a batch to the writer only when the writer's mailbox
/// has room; otherwise it keeps the records and tries again on the next tick (back-pressure),
/// dropping (and counting) the newest only beyond `[audit] max_pending`, as the writer does.
pub struct AuditActor {
    writer: Addr<AuditWriter>,
    log: Arc<AuditLog>,
    buffer: Vec<AuditRecord>,
    interval: Duration,
}

impl AuditActor {
    pub fn new(writer: Addr<AuditWriter>, log: Arc<AuditLog>, flush_interval_ms: u64) -> Self {
        Self { writer, log, buffer: Vec::new(), interval: Duration::from_millis(flush_interval_ms) }
    }

    fn flush(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        match self.writer.try_send(WriteBatch(std::mem::take(&mut self.buffer))) {
            Ok(()) => {}
            Err(SendError::Full(WriteBatch(held)) | SendError::Closed(WriteBatch(held))) => {
                self.buffer = held;
                self.log.bound_held(&mut self.buffer, "audit writer overloaded");
            }
        }
    }

    /// At shutdown the batch is handed over whatever the mailbox holds.
    fn hand_over(&mut self) {
        if !self.buffer.is_empty() {
            self.writer.do_send(WriteBatch(std::mem::take(&mut self.buffer)));
        }
    }
}

impl Actor for AuditActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.interval, |actor, _| actor.flush());
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.hand_over();
    }
}

impl Drop for AuditActor {
    fn drop(&mut self) {
        self.hand_over();
    }
}

impl Handler<Finish> for AuditActor {
    type Result = ();
    fn handle(&mut self, msg: Finish, _: &mut Context<Self>) {
        self.buffer.push(msg.0);
        self.log.queued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.buffer.len() >= BATCH {
            self.flush();
        }
    }
}
