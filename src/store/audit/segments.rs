//! The audit trail's files: append-only segments under `DATA_DIR/audit/`, one JSON line per
//! record, named `<number>-<first record's time ms>.jsonl` so their order and age are known
//! without opening them. A segment is closed when it reaches `[audit] segment_bytes` or
//! holds a day, and is then compressed with zstd (`.jsonl.zst`, level 1; `zstdcat` reads it):
//! a record's line is about 350 bytes, most of them hex digests, which zstd packs tighter
//! than gzip (≈ 45 bytes a record instead of ≈ 58) at about twice its speed in the server
//! (≈ 0.65 µs of compressor CPU a request under load instead of ≈ 1.26). Segments
//! gzip-compressed by earlier versions (`.jsonl.gz`) are still read. The chain is over the
//! uncompressed lines, so compression changes nothing `verify` sees.
//! Retention deletes whole closed segments and notes each in `pruned.jsonl`, so
//! `audit verify` can tell pruning from a deleted segment.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The `prev` of the very first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A segment close to the newest: closed once its first record is this old.
const MAX_SEGMENT_AGE_MS: u64 = 86_400_000;

/// One segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub number: u64,
    pub first_ms: u64,
    pub path: PathBuf,
    /// Closed and compressed (`.jsonl.zst`, or `.jsonl.gz` from earlier versions).
    pub compressed: bool,
}

impl Segment {
    pub fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

fn name(number: u64, first_ms: u64) -> String {
    format!("{number:010}-{first_ms}.jsonl")
}

/// Every segment in `dir`, oldest first.
pub fn list(dir: &Path) -> std::io::Result<Vec<Segment>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else { continue };
        let (stem, compressed) = match COMPRESSED.iter().find_map(|suffix| file_name.strip_suffix(suffix)) {
            Some(stem) => (stem, true),
            None => match file_name.strip_suffix(".jsonl") {
                Some(stem) => (stem, false),
                None => continue,
            },
        };
        let Some((number, first)) = stem.split_once('-') else { continue };
        if let (Ok(number), Ok(first_ms)) = (number.parse(), first.parse()) {
            out.push(Segment { number, first_ms, path: entry.path(), compressed });
        }
    }
    // A crash between compressing a segment and removing its plain file leaves both: the
    // compressed one is complete (it was renamed into place last).
    out.sort_by_key(|s| (s.number, !s.compressed));
    out.dedup_by_key(|s| s.number);
    Ok(out)
}

/// The names a compressed segment can end in: what [`compress`] writes, then the legacy form.
const COMPRESSED: [&str; 2] = [".jsonl.zst", ".jsonl.gz"];

/// zstd's level for closed segments: its fastest regular level, already smaller than gzip's.
const ZSTD_LEVEL: i32 = 1;

/// Hex SHA-256 of one line (without its newline): the next record's `prev`.
pub fn line_hash(line: &[u8]) -> crate::digits::Hex<64> {
    crate::digits::Hex::of(&Sha256::digest(line))
}

/// The complete lines of a segment (a torn last line, from a power cut, is left out).
pub fn read_lines(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let bytes = read_plain(path)?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |at| at + 1);
    Ok(bytes[..complete].split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect())
}

/// A segment's bytes as written, decompressed when it is compressed (torn tail included).
pub fn read_plain(path: &Path) -> std::io::Result<Vec<u8>> {
    let bytes = std::fs::read(path)?;
    // A damaged compressed file is named: the decoder's own message names nothing.
    let named = |e: std::io::Error| {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        std::io::Error::new(e.kind(), format!("{name}: {e}"))
    };
    Ok(match path.extension().and_then(|e| e.to_str()) {
        Some("zst") => zstd::stream::decode_all(&bytes[..]).map_err(named)?,
        Some("gz") => {
            let mut plain = Vec::with_capacity(bytes.len() * 8);
            flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut plain).map_err(named)?;
            plain
        }
        _ => bytes,
    })
}

/// The segment being appended to.
pub struct Appender {
    dir: PathBuf,
    current: Option<(Segment, File, u64)>,
    /// Complete lines in the current segment.
    lines: usize,
    next_number: u64,
    /// Hash of the last stored line.
    pub prev: String,
    /// Segment number and line (1-based) of the last stored line; (0, 0) when none.
    position: (u64, usize),
    segment_bytes: u64,
}

/// Opening an audit file (a segment, the seals), created readable by the owner only (mode 0600).
pub(crate) fn owner_only() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn create_file(path: &Path) -> std::io::Result<File> {
    owner_only().append(true).open(path)
}

impl Appender {
    /// Opens the trail in `dir` (mode 0700), dropping a torn last line, and finds the hash
    /// the next record chains to.
    pub fn open(dir: &Path, segment_bytes: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        crate::store::restrict_permissions(dir, 0o700)?;
        let segments = list(dir)?;
        let next_number = segments.last().map_or(1, |s| s.number + 1);
        let (mut current, mut lines) = (None, 0);
        if let Some(last) = segments.last().filter(|s| !s.compressed) {
            let mut file = OpenOptions::new().read(true).write(true).open(&last.path)?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |at| at + 1);
            if complete < bytes.len() {
                tracing::warn!(segment = %last.file_name(), bytes = bytes.len() - complete, "audit: torn last line dropped");
                file.set_len(complete as u64)?;
                file.sync_data()?;
            }
            file.seek(SeekFrom::End(0))?;
            lines = bytes[..complete].iter().filter(|&&b| b == b'\n').count();
            current = Some((last.clone(), file, complete as u64));
        }
        let (mut prev, mut position) = (None, (0, 0));
        for seg in list(dir)?.iter().rev() {
            let mut lines = read_lines(&seg.path)?;
            if let Some(last) = lines.pop() {
                prev = Some(line_hash(&last).as_str().to_owned());
                position = (seg.number, lines.len() + 1);
                break;
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            current,
            lines,
            next_number,
            prev: prev.unwrap_or_else(|| GENESIS.into()),
            position,
            segment_bytes,
        })
    }

    /// Appends complete lines (each ending in `\n`) and makes them durable. On failure the
    /// segment is cut back to where it was, so no torn record stays behind. Returns the
    /// segment this append closed, for the caller to [`compress`] outside its lock.
    pub fn append(&mut self, lines: &[u8], count: usize, first_ms: u64) -> std::io::Result<Option<Segment>> {
        let rotate = match &self.current {
            None => true,
            Some((seg, _, size)) => {
                *size >= self.segment_bytes || first_ms.saturating_sub(seg.first_ms) >= MAX_SEGMENT_AGE_MS
            }
        };
        let mut closed = None;
        if rotate {
            let path = self.dir.join(name(self.next_number, first_ms));
            let seg = Segment { number: self.next_number, first_ms, path, compressed: false };
            let file = create_file(&seg.path)?;
            self.next_number += 1;
            closed = self.current.replace((seg, file, 0)).map(|(s, _, _)| s);
            self.lines = 0;
        }
        let Some((_, file, size)) = self.current.as_mut() else { return Ok(closed) };
        let written = file.write_all(lines).and_then(|()| file.sync_data());
        if let Err(e) = written {
            let _ = file.set_len(*size);
            let _ = file.seek(SeekFrom::End(0));
            return Err(e);
        }
        *size += lines.len() as u64;
        self.lines += count;
        if let Some((seg, _, _)) = &self.current {
            self.position = (seg.number, self.lines);
        }
        Ok(closed)
    }

    /// The segment records go to now.
    pub fn current(&self) -> Option<&Segment> {
        self.current.as_ref().map(|(s, _, _)| s)
    }

    /// Complete lines in the current segment.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Segment number and line of the last stored line; (0, 0) while the trail is empty.
    pub fn position(&self) -> (u64, usize) {
        self.position
    }
}

/// Replaces a closed segment by its compressed copy (written aside, synced, renamed into
/// place, then the plain file removed: a crash at any point leaves one complete copy). The
/// frame carries a checksum, so a damaged file reads as an error rather than as other lines.
pub fn compress(seg: &Segment) -> std::io::Result<()> {
    if seg.compressed {
        return Ok(());
    }
    let plain = std::fs::read(&seg.path)?;
    let zst = seg.path.with_extension("jsonl.zst");
    let tmp = seg.path.with_extension("jsonl.zst.tmp");
    // In one piece: the streaming encoder's window over earlier chunks is a slower path.
    let mut compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
    compressor.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
    let packed = compressor.compress(&plain)?;
    // Truncated: a crash may have left part of an earlier attempt here.
    let mut file = owner_only().write(true).truncate(true).open(&tmp)?;
    file.write_all(&packed)?;
    file.sync_all()?;
    let _swap = FILE_SWAP.lock().unwrap_or_else(|p| p.into_inner());
    if !seg.path.exists() {
        // Pruned meanwhile: it must not come back.
        return std::fs::remove_file(&tmp);
    }
    std::fs::rename(&tmp, &zst)?;
    std::fs::remove_file(&seg.path)
}

/// Held while a compressed copy replaces its plain segment, and while retention deletes
/// segments, so neither acts on a file the other just replaced.
static FILE_SWAP: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Removes the `*.tmp` files a crash left behind (a compression or a key write cut short);
/// called at start, before anything writes here. Returns how many went.
pub fn remove_stale_tmp(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "tmp") && std::fs::remove_file(&path).is_ok() {
            tracing::info!(file = %path.display(), "stale audit temporary file removed");
            removed += 1;
        }
    }
    removed
}

/// Closed segments still waiting for compression.
pub fn uncompressed_closed(dir: &Path) -> std::io::Result<Vec<Segment>> {
    let mut segments = list(dir)?;
    segments.pop();
    Ok(segments.into_iter().filter(|s| !s.compressed).collect())
}

/// A segment deleted by retention, as `pruned.jsonl` records it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Pruned {
    pub segment: String,
    pub number: u64,
    pub pruned_at_ms: u64,
    pub why: String,
}

pub const PRUNED_FILE: &str = "pruned.jsonl";

/// Notes a pruned segment (before its file is deleted).
pub fn note_pruned(dir: &Path, pruned: &Pruned) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(pruned).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut file = create_file(&dir.join(PRUNED_FILE))?;
    file.write_all(&line)?;
    file.sync_data()
}

/// The segments retention has deleted, by number.
pub fn pruned(dir: &Path) -> Vec<Pruned> {
    let Ok(lines) = read_lines(&dir.join(PRUNED_FILE)) else { return Vec::new() };
    lines.iter().filter_map(|l| serde_json::from_slice(l).ok()).collect()
}

/// Deletes closed segments older than `cutoff_ms` (their successor began before it) and the
/// oldest closed ones while the trail is larger than `max_bytes`. Returns the segments gone.
pub fn prune(
    dir: &Path,
    current: Option<u64>,
    cutoff_ms: u64,
    max_bytes: u64,
    now_ms: u64,
) -> std::io::Result<Vec<Segment>> {
    let _swap = FILE_SWAP.lock().unwrap_or_else(|p| p.into_inner());
    let segments = list(dir)?;
    let sizes: Vec<u64> = segments.iter().map(|s| std::fs::metadata(&s.path).map_or(0, |m| m.len())).collect();
    let mut total: u64 = sizes.iter().sum();
    let mut gone = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let Some(next) = segments.get(i + 1) else { break };
        if Some(seg.number) == current {
            break;
        }
        let why = if next.first_ms < cutoff_ms {
            "older than keep_days"
        } else if total > max_bytes {
            "over max_bytes"
        } else {
            break;
        };
        note_pruned(
            dir,
            &Pruned { segment: seg.file_name(), number: seg.number, pruned_at_ms: now_ms, why: why.into() },
        )?;
        std::fs::remove_file(&seg.path)?;
        total -= sizes[i];
        gone.push(seg.clone());
    }
    Ok(gone)
}

/// Total bytes of the segments.
pub fn total_bytes(dir: &Path) -> u64 {
    list(dir).unwrap_or_default().iter().map(|s| std::fs::metadata(&s.path).map_or(0, |m| m.len())).sum()
}
