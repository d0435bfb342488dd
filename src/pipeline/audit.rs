//! Stage 6, the audit log. A record is opened when the request enters (time, request id,
//! method, URI, keyed hash of the client IP) and finished after the handler or the refusing
//! stage with status, duration, token, and for refusals the stage and exact reason. Every
//! request is recorded, refused ones included.
//!
//! On the request's thread a record stays integers, `Arc`s and the request's own URI: no
//! string is built there. Each worker's pipeline pushes finished records straight onto its
//! [`AuditBatch`] (no message per request); the worker's [`AuditActor`] owns that batch's
//! time and every `flush_interval_ms` (and when a batch is full, and at shutdown) hands it
//! to the one [`AuditWriter`], which formats, redacts, chains and stores it on its own
//! thread. Disk work stays off the hot path. Between batches (and on the housekeeper's
//! retry tick, and at shutdown) the writer also seals the trail when an epoch has ended
//! (see `store::audit::seal`): one clock read and one comparison per batch otherwise. Nothing secret reaches a record: headers are
//! never copied, and paths, query strings and reasons pass through `redact` on the writer.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use actix_web::dev::ServiceRequest;
use actix_web::http::{Method, Uri};

use super::headers::RequestId;
use super::stage::StageName;
use crate::clock::SharedClock;
use crate::digits::Hex;
use crate::redact::{truncate, AuditNames};
use crate::store::audit::{AuditLog, Chain, Entry, GraphqlFacts, Line};
use crate::store::{IpKey, StoreError};
use crate::tokens::Principal;

/// Records buffered before an early flush.
const BATCH: usize = 1024;

/// A record opened at entry.
pub struct AuditDraft {
    time_ms: u64,
    request_id: RequestId,
    method: Method,
    uri: Uri,
    ip_key: IpKey,
}

impl AuditDraft {
    pub fn open(now_ms: u64, request_id: RequestId, req: &ServiceRequest, ip_key: IpKey) -> Self {
        Self { time_ms: now_ms, request_id, method: req.method().clone(), uri: req.uri().clone(), ip_key }
    }

    /// The finished record; `reason` is the refusal's, or what the checks noticed.
    pub fn finish(
        self,
        status: u16,
        elapsed: Duration,
        principal: Option<Arc<Principal>>,
        stage: Option<StageName>,
        reason: Option<Cow<'static, str>>,
    ) -> AuditEntry {
        AuditEntry {
            draft: self,
            status,
            duration_us: elapsed.as_micros() as u64,
            principal,
            stage,
            reason,
            graphql: None,
        }
    }
}

/// One finished request, as the writer receives it.
pub struct AuditEntry {
    draft: AuditDraft,
    status: u16,
    duration_us: u64,
    principal: Option<Arc<Principal>>,
    stage: Option<StageName>,
    reason: Option<Cow<'static, str>>,
    /// What a GraphQL request did; boxed, so other records stay one pointer larger.
    graphql: Option<Box<GraphqlFacts>>,
}

impl AuditEntry {
    /// Adds what the GraphQL handler learnt (see `GraphqlFacts`).
    pub fn with_graphql(mut self, facts: Option<Box<GraphqlFacts>>) -> Self {
        self.graphql = facts;
        self
    }
}

impl Entry for AuditEntry {
    /// The names kept in clear (see `redact::AuditNames`).
    type Context = AuditNames;

    fn time_ms(&self) -> u64 {
        self.draft.time_ms
    }

    fn write_line(&self, names: &AuditNames, chain: Chain<'_>, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let d = &self.draft;
        let path = truncate(d.uri.path(), 512);
        let query = d.uri.query().filter(|q| !q.is_empty());
        let query = query.map(|q| names.query(path, truncate(q, 1024)));
        let reason = self.reason.as_deref().map(|r| names.reason(r));
        let (request_id, ip_hash) = (d.request_id.hex(), Hex::<32>::of(&d.ip_key.0));
        let stamp = crate::clock::Stamp::of(d.time_ms);
        let owner = self.principal.as_deref().and_then(|p| p.record.owner.as_ref()).map(ToString::to_string);
        let line = Line {
            time: stamp.as_str(),
            request_id: request_id.as_str(),
            method: d.method.as_str(),
            path: &names.path(path),
            query: query.as_deref(),
            status: self.status,
            duration_us: self.duration_us,
            token_id: self.principal.as_deref().map(Principal::id),
            user: self.principal.as_deref().map(|p| p.record.name.as_str()),
            owner: owner.as_deref(),
            ip_hash: ip_hash.as_str(),
            stage: self.stage.map(StageName::as_str),
            reason: reason.as_deref(),
            graphql: self.graphql.as_deref(),
            instance: chain.instance,
            prev: chain.prev,
        };
        serde_json::to_writer(out, &line)
    }
}

/// One worker's finished records, shared by its pipeline service (which pushes) and its
/// [`AuditActor`] (which hands them on); both live on the worker's thread. Whatever is left
/// when the last of them goes (shutdown) is handed to the writer.
pub struct AuditBatch {
    entries: RefCell<Vec<AuditEntry>>,
    /// How many of `entries` are already counted in `AuditLog::queued`.
    counted: std::cell::Cell<usize>,
    writer: Addr<AuditWriter>,
}

impl AuditBatch {
    pub fn new(writer: Addr<AuditWriter>) -> Rc<Self> {
        Rc::new(Self { entries: RefCell::new(Vec::new()), counted: Default::default(), writer })
    }

    /// Adds a finished record; true when the batch has just filled (time for an early flush).
    pub fn push(&self, entry: AuditEntry) -> bool {
        let mut entries = self.entries.borrow_mut();
        entries.push(entry);
        entries.len() % BATCH == 0
    }
}

impl Drop for AuditBatch {
    fn drop(&mut self) {
        let entries = std::mem::take(self.entries.get_mut());
        if !entries.is_empty() {
            self.writer.do_send(WriteBatch(entries));
        }
    }
}

/// Asks a worker's audit actor to flush now (its batch is full).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Flush;

/// Asks a worker's audit actor to hand its batch to the writer now, answering once it has
/// (an admin `audit tail` wants the newest records on disk).
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlushNow;

/// Every worker's audit actor and the one writer, so an admin request can make the records
/// still held in batches readable at once (`audit tail` asks before it reads).
#[derive(Default)]
pub struct AuditFlushers {
    actors: Mutex<Vec<Addr<AuditActor>>>,
    writer: Mutex<Option<Addr<AuditWriter>>>,
}

impl AuditFlushers {
    /// Called once per worker, when its pipeline is built.
    pub fn register(&self, actor: Addr<AuditActor>, writer: &Addr<AuditWriter>) {
        let mut actors = self.actors.lock().unwrap_or_else(|p| p.into_inner());
        actors.retain(Addr::connected);
        actors.push(actor);
        *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(writer.clone());
    }

    /// Hands every batch to the writer and waits until the writer has stored what it was
    /// given; returns how many workers answered.
    pub async fn flush(&self) -> usize {
        let actors: Vec<_> = self.actors.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut answered = 0;
        for actor in actors {
            answered += usize::from(actor.send(FlushNow).await.is_ok());
        }
        // The batches are in the writer's mailbox ahead of this message.
        if let Some(writer) = writer {
            let _ = writer.send(Retry).await;
        }
        answered
    }
}

/// A batch of records for the writer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WriteBatch(pub Vec<AuditEntry>);

/// Asks the writer to try its backlog again (sent by the housekeeper).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retry;

/// Answered once everything sent to the writer before it is on disk; the writer then lets
/// go of the store (so the data dir can be reopened at once) and stops.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// The single audit writer, on its own thread (a `SyncArbiter`), so formatting, chaining
/// and writing batches never stalls an HTTP worker. While storage refuses writes it keeps
/// what it was given (up to `[audit] max_pending` records) and stores it when storage is
/// back; only beyond that bound are records dropped, counted in `AuditLog::dropped` and
/// logged.
pub struct AuditWriter {
    log: Option<Arc<AuditLog>>,
    /// The names kept in clear.
    names: Arc<AuditNames>,
    backlog: Vec<AuditEntry>,
    /// Tells when a sealing epoch ends.
    clock: SharedClock,
}

impl AuditWriter {
    /// Starts the writer thread; call inside an actix `System`.
    pub fn start(log: Arc<AuditLog>, names: Arc<AuditNames>, clock: SharedClock) -> Addr<AuditWriter> {
        SyncArbiter::start(1, move || AuditWriter {
            log: Some(log.clone()),
            names: names.clone(),
            backlog: Vec::new(),
            clock: clock.clone(),
        })
    }

    fn store(&mut self) {
        let Some(log) = &self.log else { return };
        // Before the batch: what was stored before the epoch ended is that epoch's.
        log.seal_if_due(self.clock.now_ms());
        log.retry_deferred();
        if self.backlog.is_empty() {
            return;
        }
        match log.append(&self.backlog, &self.names) {
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
            // Like journald closing a file: what was stored is sealed with this epoch's key.
            log.seal_now(self.clock.now_ms());
            if !self.backlog.is_empty() {
                log.settled(0, self.backlog.len());
                tracing::error!(dropped = self.backlog.len(), "storage unavailable at shutdown; audit records dropped");
            }
        }
        ctx.stop();
    }
}

/// One worker's audit batcher: owns the time of the worker's [`AuditBatch`]. It hands the
/// batch to the writer only when the writer's mailbox has room; otherwise the records stay
/// and it tries again on the next tick (back-pressure), dropping (and counting) the newest
/// only beyond `[audit] max_pending`, as the writer does.
pub struct AuditActor {
    batch: Rc<AuditBatch>,
    log: Arc<AuditLog>,
    interval: Duration,
}

impl AuditActor {
    pub fn new(batch: Rc<AuditBatch>, log: Arc<AuditLog>, flush_interval_ms: u64) -> Self {
        Self { batch, log, interval: Duration::from_millis(flush_interval_ms) }
    }

    fn flush(&mut self) {
        let batch = &self.batch;
        let mut entries = batch.entries.borrow_mut();
        if entries.is_empty() {
            return;
        }
        let fresh = entries.len().saturating_sub(batch.counted.get());
        self.log.queued.fetch_add(fresh, std::sync::atomic::Ordering::Relaxed);
        match batch.writer.try_send(WriteBatch(std::mem::take(&mut *entries))) {
            Ok(()) => batch.counted.set(0),
            Err(SendError::Full(WriteBatch(held)) | SendError::Closed(WriteBatch(held))) => {
                *entries = held;
                self.log.bound_held(&mut entries, "audit writer overloaded");
                batch.counted.set(entries.len());
            }
        }
    }

    /// At shutdown the batch is handed over whatever the mailbox holds.
    fn hand_over(&mut self) {
        let held = std::mem::take(&mut *self.batch.entries.borrow_mut());
        if !held.is_empty() {
            self.batch.counted.set(0);
            self.batch.writer.do_send(WriteBatch(held));
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

impl Handler<Flush> for AuditActor {
    type Result = ();
    fn handle(&mut self, _: Flush, _: &mut Context<Self>) {
        self.flush();
    }
}

impl Handler<FlushNow> for AuditActor {
    type Result = ();
    fn handle(&mut self, _: FlushNow, _: &mut Context<Self>) {
        self.flush();
    }
}
