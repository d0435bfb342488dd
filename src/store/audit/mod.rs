//! The audit trail: append-only segment files under `DATA_DIR/audit/` (see [`segments`]),
//! one JSON line per record, each carrying `prev`, the SHA-256 of the line before it, so the
//! trail is tamper-evident ([`verify`]). Records arrive already redacted (see
//! `pipeline::audit`) in batches from the audit writer; a batch is one `write` and one
//! `fdatasync`, so a power cut loses at most the batch being written (one flush interval)
//! and nothing else. The trail never touches sled: it does not compete with row writes.
//! Retention ([`AuditLog::prune`], from the housekeeper) deletes whole segments by age
//! (`keep_days`) and total size (`max_bytes`). Once `audit setup-keys` ran, the trail is
//! also sealed with a forward-secure key at every epoch's end (see [`seal`]); the writer
//! thread asks for that between batches ([`AuditLog::seal_if_due`]), never a request.

mod broken;
pub mod read;
mod record;
pub mod seal;
pub mod segments;
pub mod verify;

pub use record::{AuditRecord, Chain, Entry, GraphqlFacts, Line, MutationFact, OperationKind, ReadRecord, WriteAction};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{Health, StoreError};
use crate::config::AuditConfig;
use segments::Appender;

/// The trail and its counters.
pub struct AuditLog {
    dir: PathBuf,
    /// `[audit] instance`: the name every stored line carries.
    instance: Option<String>,
    health: Arc<Health>,
    appender: Mutex<Appender>,
    /// Records stored since start.
    written: AtomicU64,
    /// Records finished but not yet stored (held by audit actors or the writer's backlog).
    pub queued: AtomicUsize,
    /// Records dropped because storage or the writer could not keep up.
    pub dropped: AtomicU64,
    /// Records written outside the writer (lock events) that storage refused; the writer
    /// stores them with its next batch.
    deferred: Mutex<Vec<AuditRecord>>,
    config: AuditConfig,
    /// Closed segments go here to be compressed (see [`compressor`]).
    compress: Mutex<std::sync::mpsc::Sender<segments::Segment>>,
    /// The sealing key and seal chain, once `setup-keys` ran (see [`seal`]).
    sealer: Mutex<Option<seal::sealer::Sealer>>,
    /// When the current epoch ends (`u64::MAX` while not sealing): one load per batch.
    seal_due_ms: AtomicU64,
}

/// The thread that compresses closed segments. It runs at the idle scheduling class, so it
/// takes only CPU time nothing else wants: under full load closed segments wait (the trail
/// stays bounded by `max_bytes`), and no request waits for a compression.
fn compressor() -> std::sync::mpsc::Sender<segments::Segment> {
    let (tx, rx) = std::sync::mpsc::channel::<segments::Segment>();
    let spawned = std::thread::Builder::new().name("audit-compress".into()).spawn(move || {
        use thread_priority::*;
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(e) = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle) {
            tracing::debug!(error = ?e, "audit compressor keeps the normal scheduling class");
        }
        for seg in rx {
            if let Err(e) = segments::compress(&seg) {
                tracing::warn!(error = %e, segment = %seg.file_name(), "audit segment left uncompressed");
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no audit compressor; closed segments stay plain");
    }
    tx
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AuditLog {
    /// Opens the trail in `data_dir/audit`.
    pub fn open(data_dir: &Path, config: AuditConfig, health: Arc<Health>) -> Result<Self, StoreError> {
        let dir = data_dir.join("audit");
        let io = |source| StoreError::Io { path: dir.clone(), source };
        let appender = Appender::open(&dir, config.segment_bytes).map_err(io)?;
        let compress = compressor();
        // A crash can leave closed segments plain.
        for seg in segments::uncompressed_closed(&dir).map_err(io)? {
            let _ = compress.send(seg);
        }
        // A key file that cannot be read stops sealing, not the server: `verify --key`
        // then reports no seal since, and the error is logged here.
        let sealer = seal::sealer::Sealer::open(&dir).unwrap_or_else(|e| {
            tracing::error!(error = %e, "audit sealing is off: the seal key file cannot be used");
            None
        });
        let seal_due_ms = AtomicU64::new(sealer.as_ref().map_or(u64::MAX, seal::sealer::Sealer::due_ms));
        Ok(Self {
            dir,
            instance: Some(config.instance.trim().to_string()).filter(|i| !i.is_empty()),
            health,
            appender: Mutex::new(appender),
            written: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            deferred: Default::default(),
            config,
            compress: Mutex::new(compress),
            sealer: Mutex::new(sealer),
            seal_due_ms,
        })
    }

    /// Where the segments live.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bounds records held in memory while they cannot be stored to `max_pending`, keeping
    /// the oldest (the start of an incident); what goes is counted and logged.
    pub fn bound_held<T>(&self, held: &mut Vec<T>, why: &str) {
        let excess = held.len().saturating_sub(self.config.max_pending);
        if excess > 0 {
            held.truncate(self.config.max_pending);
            self.settled(0, excess);
            tracing::error!(dropped = excess, why, "audit records dropped: too many held");
        }
    }

    /// Stores one record now, or, while storage refuses, defers it to the writer (bounded by
    /// `max_pending`; beyond it the record is dropped and counted).
    pub fn append_or_defer(&self, record: AuditRecord) {
        match self.append(std::slice::from_ref(&record), &()) {
            Ok(()) => {}
            Err(e) => {
                let mut deferred = lock(&self.deferred);
                if deferred.len() < self.config.max_pending {
                    deferred.push(record);
                } else {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, "audit record dropped: storage unavailable and the backlog is full");
                }
            }
        }
    }

    /// Stores the deferred records now if storage takes them (called by the writer).
    pub fn retry_deferred(&self) {
        let mut deferred = lock(&self.deferred);
        if !deferred.is_empty() && self.append(&deferred, &()).is_ok() {
            deferred.clear();
        }
    }

    /// Accounts for queued records that were stored or dropped.
    pub fn settled(&self, stored: usize, dropped: usize) {
        let n = stored + dropped;
        let _ = self.queued.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| Some(q.saturating_sub(n)));
        self.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
    }

    /// Appends entries as one durable write, chaining each to the one before.
    pub fn append<E: Entry>(&self, entries: &[E], cx: &E::Context) -> Result<(), StoreError> {
        let Some(first) = entries.first() else { return Ok(()) };
        self.health.check_write()?;
        let io = |source| StoreError::Io { path: self.dir.clone(), source };
        let mut appender = lock(&self.appender);
        let mut lines = Vec::with_capacity(entries.len() * 320);
        let mut hash = None;
        for e in entries {
            let start = lines.len();
            let prev = hash.as_ref().map_or(appender.prev.as_str(), crate::digits::Hex::as_str);
            let chain = Chain { instance: self.instance.as_deref(), prev };
            e.write_line(cx, chain, &mut lines).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            hash = Some(segments::line_hash(&lines[start..]));
            lines.push(b'\n');
        }
        let closed = appender.append(&lines, entries.len(), first.time_ms()).map_err(io)?;
        if let Some(hash) = hash {
            appender.prev = hash.as_str().to_owned();
        }
        if let Some(seg) = appender.current() {
            self.write_head(verify::Head { segment: seg.number, lines: appender.lines(), hash: appender.prev.clone() });
        }
        drop(appender);
        self.written.fetch_add(entries.len() as u64, Ordering::Relaxed);
        if let Some(seg) = closed {
            let _ = lock(&self.compress).send(seg);
        }
        Ok(())
    }

    /// The checkpoint `verify` compares the newest record with (best effort: a stale head
    /// after a power cut still names a stored record).
    fn write_head(&self, head: verify::Head) {
        if let Ok(bytes) = serde_json::to_vec(&head) {
            if let Err(e) = std::fs::write(self.dir.join(verify::HEAD_FILE), bytes) {
                tracing::warn!(error = %e, "audit head not written");
            }
        }
    }

    /// The last `n` records, oldest first.
    pub fn tail(&self, n: usize) -> Result<Vec<AuditRecord>, StoreError> {
        tail(&self.dir, n)
    }

    /// Walks the hash chain (see [`verify`]).
    pub fn verify(&self) -> Result<verify::Report, StoreError> {
        verify::verify(&self.dir).map_err(|source| StoreError::Io { path: self.dir.clone(), source })
    }

    /// Deletes closed segments older than `keep_days`, and the oldest while the trail is
    /// larger than `max_bytes`; returns how many segments went.
    pub fn prune(&self, now_ms: u64) -> Result<usize, StoreError> {
        let cutoff = now_ms.saturating_sub(self.config.keep_days.saturating_mul(86_400_000));
        self.health.check_write()?;
        let current = lock(&self.appender).current().map(|s| s.number);
        let gone = segments::prune(&self.dir, current, cutoff, self.config.max_bytes, now_ms)
            .map_err(|source| StoreError::Io { path: self.dir.clone(), source })?;
        for seg in &gone {
            tracing::info!(segment = %seg.file_name(), "audit segment pruned by retention");
        }
        if !gone.is_empty() {
            // At once: a retention note no seal vouches for is what a forger would write.
            self.seal(now_ms, true);
        }
        Ok(gone.len())
    }

    /// Seals the trail when the current epoch has ended (the writer calls this between
    /// batches; a plain load while the epoch lasts).
    pub fn seal_if_due(&self, now_ms: u64) {
        if now_ms >= self.seal_due_ms.load(Ordering::Relaxed) {
            self.seal(now_ms, false);
        }
    }

    /// Seals the trail now, inside the epoch if need be (graceful stop, retention).
    pub fn seal_now(&self, now_ms: u64) {
        self.seal(now_ms, true);
    }

    fn seal(&self, now_ms: u64, within: bool) {
        let mut sealer = lock(&self.sealer);
        let Some(s) = sealer.as_mut() else { return };
        if let Err(e) = self.health.check_write() {
            tracing::warn!(error = %e, "audit seal deferred: storage unavailable");
            return;
        }
        let head = {
            let appender = lock(&self.appender);
            let (segment, lines) = appender.position();
            seal::sealer::Position { segment, lines, hash: appender.prev.clone() }
        };
        if let Err(e) = s.seal(now_ms, &head, within) {
            tracing::error!(error = %e, "audit seal not written; trying again with the next batch");
        }
        self.seal_due_ms.store(s.due_ms(), Ordering::Relaxed);
    }

    /// Starts sealing with a fresh key and seals the trail as it is (epoch 0 begins now);
    /// returns the verification key, shown once. A sealed trail is refused without `force`.
    pub fn setup_keys(
        &self,
        now_ms: u64,
        epoch_secs: u64,
        force: bool,
    ) -> Result<seal::VerificationKey, seal::SealError> {
        let mut sealer = lock(&self.sealer);
        if !force && (sealer.is_some() || seal::sealer::is_sealed(&self.dir)) {
            let key_id = sealer.as_ref().map_or_else(|| "unknown: the key file is gone".into(), |s| s.key_id().into());
            return Err(seal::SealError::AlreadySealed { key_id });
        }
        let (new, verification) = seal::sealer::Sealer::create(&self.dir, now_ms, epoch_secs)?;
        tracing::warn!(key_id = %new.key_id(), epoch_secs, "audit sealing set up with a new key");
        *sealer = Some(new);
        drop(sealer);
        self.seal(now_ms, true);
        Ok(verification)
    }

    /// Records stored since start.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Bytes the trail takes on disk.
    pub fn disk_bytes(&self) -> u64 {
        segments::total_bytes(&self.dir)
    }
}

/// The last `n` records of the trail in `dir` (`DATA_DIR/audit`), by request time. Reading
/// needs no server and no database: the CLI calls it directly (see [`read`] for filters).
pub fn tail(dir: &Path, n: usize) -> Result<Vec<AuditRecord>, StoreError> {
    Ok(read::tail_matching(dir, n, &read::Filter::default())?.into_iter().map(|r| r.record).collect())
}

#[cfg(test)]
mod tests;
