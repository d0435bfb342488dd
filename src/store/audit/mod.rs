//! The audit trail: append-only segment files under `DATA_DIR/audit/` (see [`segments`]),
//! one JSON line per record, each carrying `prev`, the SHA-256 of the line before it, so the
//! trail is tamper-evident ([`verify`]). Records arrive already redacted (see
//! `pipeline::audit`) in batches from the audit writer; a batch is one `write` and one
//! `fdatasync`, so a power cut loses at most the batch being written (one flush interval)
//! and nothing else. The trail never touches sled: it does not compete with row writes.
//! Retention ([`AuditLog::prune`], from the housekeeper) deletes whole segments by age
//! (`keep_days`) and total size (`max_bytes`).

pub mod segments;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::{Health, StoreError};
use crate::config::AuditConfig;
use segments::Appender;

/// One finished request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    /// RFC 3339 time the request entered (filled in by the writer when left empty).
    pub time: String,
    #[serde(skip)]
    pub time_ms: u64,
    pub request_id: String,
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query: Option<String>,
    pub status: u16,
    pub duration_us: u64,
    pub token_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<String>,
    pub ip_hash: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// SHA-256 (hex) of the previous record's line; set by the log when stored.
    #[serde(default)]
    pub prev: String,
}

/// One line of the trail, borrowed: the one place the trail's field order is written.
/// `time` comes first and `prev` last; optional fields are left out when empty.
#[derive(Serialize)]
pub struct Line<'a> {
    pub time: &'a str,
    pub request_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<&'a str>,
    pub status: u16,
    pub duration_us: u64,
    pub token_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    pub ip_hash: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    pub prev: &'a str,
}

/// Anything the trail stores: it knows its time and writes itself as one [`Line`]. Finished
/// requests implement it in the pipeline, where they are kept as integers and `Arc`s until
/// the writer thread formats them; lock events are plain [`AuditRecord`]s.
pub trait Entry {
    /// What writing needs besides the entry (for requests: the query names kept in clear).
    type Context: ?Sized;
    fn time_ms(&self) -> u64;
    /// Appends the entry's JSON object (no newline) to `out`, with `prev` as given.
    fn write_line(&self, cx: &Self::Context, prev: &str, out: &mut Vec<u8>) -> serde_json::Result<()>;
}

impl Entry for AuditRecord {
    type Context = ();
    fn time_ms(&self) -> u64 {
        self.time_ms
    }
    fn write_line(&self, _: &(), prev: &str, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let time: std::borrow::Cow<str> =
            if self.time.is_empty() { crate::clock::rfc3339(self.time_ms).into() } else { self.time.as_str().into() };
        let line = Line {
            time: &time,
            request_id: &self.request_id,
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            status: self.status,
            duration_us: self.duration_us,
            token_id: self.token_id.as_deref(),
            user: self.user.as_deref(),
            ip_hash: &self.ip_hash,
            stage: self.stage.as_deref(),
            reason: self.reason.as_deref(),
            prev,
        };
        serde_json::to_writer(out, &line)
    }
}

/// The trail and its counters.
pub struct AuditLog {
    dir: PathBuf,
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
        Ok(Self {
            dir,
            health,
            appender: Mutex::new(appender),
            written: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            deferred: Default::default(),
            config,
            compress: Mutex::new(compress),
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
            e.write_line(cx, prev, &mut lines).map_err(|e| StoreError::Corrupt(e.to_string()))?;
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
        Ok(gone.len())
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
/// needs no server and no database: the CLI calls it directly.
pub fn tail(dir: &Path, n: usize) -> Result<Vec<AuditRecord>, StoreError> {
    let io = |source| StoreError::Io { path: dir.to_path_buf(), source };
    let mut out: Vec<AuditRecord> = Vec::new();
    for seg in segments::list(dir).map_err(io)?.iter().rev() {
        if out.len() >= n {
            break;
        }
        let lines = segments::read_lines(&seg.path).map_err(io)?;
        for line in lines.iter().rev().take(n - out.len()) {
            out.push(serde_json::from_slice(line).map_err(|e| StoreError::Corrupt(format!("audit record: {e}")))?);
        }
    }
    out.reverse();
    // Workers hand over their batches independently, so the file order (the chain's) is
    // arrival order; readers get the records in the order the requests came in.
    out.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time_ms: u64, path: &str) -> AuditRecord {
        AuditRecord {
            time: String::new(),
            time_ms,
            request_id: format!("req-{path}"),
            method: "GET".into(),
            path: path.into(),
            query: None,
            status: 200,
            duration_us: 1,
            token_id: None,
            user: None,
            ip_hash: "h".into(),
            stage: None,
            reason: None,
            prev: String::new(),
        }
    }

    fn log(dir: &Path, config: AuditConfig) -> AuditLog {
        AuditLog::open(dir, config, Arc::new(Health::new(dir, 0))).unwrap()
    }

    #[test]
    fn records_chain_tail_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let a = log(dir.path(), AuditConfig::default());
        a.append(&[record(1_000, "/a"), record(1_001, "/b")], &()).unwrap();
        a.append(&[record(2_000, "/c")], &()).unwrap();
        drop(a);
        let a = log(dir.path(), AuditConfig::default());
        a.append(&[record(3_000, "/d")], &()).unwrap();
        let tail = a.tail(3).unwrap();
        let paths: Vec<&str> = tail.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/b", "/c", "/d"]);
        assert_eq!(tail[0].time, crate::clock::rfc3339(1_001));
        let all = a.tail(10).unwrap();
        assert_eq!(all[0].prev, segments::GENESIS);
        let report = a.verify().unwrap();
        assert!(report.ok, "{report:?}");
        assert_eq!(report.records, 4);
    }

    #[test]
    fn one_changed_byte_is_found_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = log(dir.path(), AuditConfig::default());
        let batch: Vec<AuditRecord> = (0..5).map(|i| record(1_000 + i, &format!("/r{i}"))).collect();
        a.append(&batch, &()).unwrap();
        let seg = segments::list(a.dir()).unwrap().remove(0);
        let text = std::fs::read_to_string(&seg.path).unwrap();
        for (target, named_line) in [("/r2", 4), ("/r4", 5)] {
            let tampered = text.replacen(&format!("\"path\":\"{target}\""), &format!("\"path\":\"{target}x\""), 1);
            std::fs::write(&seg.path, &tampered).unwrap();
            let report = a.verify().unwrap();
            assert!(!report.ok);
            let b = report.first_break.unwrap();
            assert_eq!(b.line, named_line, "{b:?}");
        }
    }

    #[test]
    fn rotation_and_pruning_keep_the_chain_verifiable() {
        let dir = tempfile::tempdir().unwrap();
        let config = AuditConfig { segment_bytes: 300, keep_days: 1, max_bytes: u64::MAX, ..Default::default() };
        let a = log(dir.path(), config);
        for i in 0..6 {
            a.append(&[record(1_000 + i, &format!("/r{i}"))], &()).unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !segments::uncompressed_closed(a.dir()).unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "closed segments not compressed");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let segs = segments::list(a.dir()).unwrap();
        assert!(segs.len() >= 3);
        assert!(segs[..segs.len() - 1].iter().all(|s| s.compressed), "closed segments are compressed");
        assert!(a.verify().unwrap().ok);
        // A changed byte inside a compressed segment is found as well.
        let original = std::fs::read(&segs[0].path).unwrap();
        let lines = segments::read_lines(&segs[0].path).unwrap();
        let text: String = lines.iter().map(|l| String::from_utf8_lossy(l) + "\n").collect();
        assert!(segs[0].file_name().ends_with(".jsonl.zst"), "{}", segs[0].file_name());
        let changed = text.replacen("\"status\":200", "\"status\":201", 1);
        std::fs::write(&segs[0].path, zstd::encode_all(changed.as_bytes(), 1).unwrap()).unwrap();
        assert!(!a.verify().unwrap().ok);
        // A damaged frame is an error (its checksum), not a shorter segment.
        let mut damaged = original.clone();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0xff;
        std::fs::write(&segs[0].path, &damaged).unwrap();
        assert!(segments::read_lines(&segs[0].path).is_err());
        assert!(a.verify().map_or(true, |report| !report.ok));
        std::fs::write(&segs[0].path, &original).unwrap();
        assert!(a.verify().unwrap().ok);
        // A segment gzip-compressed by an earlier version still reads and verifies.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
        let legacy = segs[0].path.with_extension("gz");
        std::fs::write(&legacy, gz.finish().unwrap()).unwrap();
        std::fs::remove_file(&segs[0].path).unwrap();
        assert_eq!(segments::list(a.dir()).unwrap()[0].path, legacy);
        assert!(a.verify().unwrap().ok);
        // A day later every closed segment is past keep_days; the newest stays.
        let gone = a.prune(1_000 + 86_400_000 + 10).unwrap();
        assert!(gone >= 2);
        let report = a.verify().unwrap();
        assert!(report.ok, "{report:?}");
        assert_eq!(report.pruned.len(), gone);
        // Deleting a segment by hand is not pruning.
        a.append(&[record(90_000_000, "/late")], &()).unwrap();
        a.append(&[record(90_000_001, "/later")], &()).unwrap();
        let segs = segments::list(a.dir()).unwrap();
        std::fs::remove_file(&segs[0].path).unwrap();
        assert!(!a.verify().unwrap().ok);
    }
}
