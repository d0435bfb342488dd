//! `palisade audit verify`: walks the hash chain of the audit trail.
//!
//! Every record's `prev` is the SHA-256 of the line before it (the first record ever has
//! [`GENESIS`]), across segment boundaries. Changing one byte of a line breaks the link to
//! the next record; deleting, inserting or reordering lines breaks a link too; a segment
//! missing from the middle breaks the numbering. Segments deleted by retention are listed in
//! `pruned.jsonl`: the chain then starts at the oldest remaining record, which is reported,
//! not refused. The newest record has no successor to vouch for it; `head` (written after
//! each durable batch) holds its hash, so an edit there is found as well.
//!
//! The chain has no key, so on its own it cannot vouch that nobody with write access to
//! `DATA_DIR/audit` rewrote a record and recomputed every hash after it; the report says so.
//! With the verification key of `audit setup-keys`, the seals are checked as well (see
//! [`super::seal::check`]). A segment that cannot be read (a damaged compressed file) is a
//! break named by its file, not an error without a name.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

pub use super::broken::Break;
use super::seal::check::{SealReport, Seals, Walked};
use super::seal::{sealer::is_sealed, VerificationKey};
use super::segments::{self, line_hash, GENESIS};

/// The outcome of a walk.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub ok: bool,
    pub records: usize,
    pub segments: usize,
    /// Segments deleted by retention before the oldest one present (not tampering).
    pub pruned: Vec<String>,
    pub first_break: Option<Break>,
    /// True only when a verification key was given and the seals vouch for the records.
    pub sealed: bool,
    /// What this verification can and cannot vouch for.
    pub note: String,
    /// What the seals vouch for (with a verification key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seals: Option<SealReport>,
}

impl Report {
    /// Marks the walk failed at `at`.
    fn broken(&mut self, at: Break) {
        self.ok = false;
        self.first_break = Some(at);
    }
}

/// The file holding the newest record's position and hash.
pub const HEAD_FILE: &str = "head";

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Head {
    pub segment: u64,
    pub lines: usize,
    pub hash: String,
}

fn request_id(line: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    v.get("request_id")?.as_str().map(str::to_string)
}

const UNKEYED: &str = "checked without the verification key: the chain cannot show that nobody who can write \
DATA_DIR/audit rewrote records and recomputed every hash after them; run with --key to check the seals";
const UNSEALED: &str = "the trail is not sealed (palisade audit setup-keys was never run): the chain cannot show \
that nobody who can write DATA_DIR/audit rewrote records and recomputed every hash after them";

/// Walks the trail in `dir` (without a key: the chain only).
pub fn verify(dir: &Path) -> std::io::Result<Report> {
    verify_with(dir, None, 0)
}

/// Walks the trail in `dir`, and with `key` checks the seals too (`now_ms` tells how
/// recent the last seal should be).
pub fn verify_with(dir: &Path, key: Option<&VerificationKey>, now_ms: u64) -> std::io::Result<Report> {
    let seals = key.map(|k| Seals::load(dir, k)).transpose()?;
    let wanted = seals.as_ref().map(Seals::positions).unwrap_or_default();
    let mut walked = Walked::default();
    let mut report = walk(dir, &wanted, &mut walked)?;
    match (key, seals) {
        (Some(key), Some(seals)) if report.ok => match seals.check(dir, key, &walked, now_ms) {
            Ok(vouched) => {
                report.sealed = true;
                report.note = format!(
                    "the seals vouch for {} records; {} written after the last seal are not vouched for",
                    vouched.sealed_records, vouched.unsealed_tail
                );
                report.seals = Some(vouched);
            }
            Err(b) => {
                report.broken(b);
                report.note = "the seals do not match the trail".into();
            }
        },
        (Some(_), _) => report.note = "the chain is broken; the seals were not checked".into(),
        (None, _) => report.note = if is_sealed(dir) { UNKEYED } else { UNSEALED }.into(),
    }
    Ok(report)
}

/// A segment's lines, or the break that names it when it cannot be read.
fn lines_or_break(seg: &segments::Segment) -> Result<Vec<Vec<u8>>, Break> {
    segments::read_lines(&seg.path).map_err(|e| Break {
        segment: seg.file_name(),
        line: 0,
        request_id: None,
        problem: format!("the segment cannot be read ({e})"),
    })
}

/// The chain walk; notes what the seals are checked against in `walked`.
fn walk(dir: &Path, wanted: &HashSet<(u64, usize)>, walked: &mut Walked) -> std::io::Result<Report> {
    let segments = segments::list(dir)?;
    let pruned = segments::pruned(dir);
    let mut report = Report {
        ok: true,
        records: 0,
        segments: segments.len(),
        pruned: Vec::new(),
        first_break: None,
        sealed: false,
        note: String::new(),
        seals: None,
    };
    let first_number = segments.first().map_or(1, |s| s.number);
    // Segments before the first present one must all be recorded as pruned.
    for n in 1..first_number {
        match pruned.iter().find(|p| p.number == n) {
            Some(p) => report.pruned.push(p.segment.clone()),
            None => {
                report.broken(Break {
                    segment: format!("{n:010}-*.jsonl"),
                    line: 0,
                    request_id: None,
                    problem: "segment is missing and was not pruned by retention".into(),
                });
                return Ok(report);
            }
        }
    }
    let mut prev: Option<String> = (first_number == 1).then(|| GENESIS.to_string());
    for (i, seg) in segments.iter().enumerate() {
        let broken = |line: usize, raw: Option<&[u8]>, problem: String| Break {
            segment: seg.file_name(),
            line,
            request_id: raw.and_then(request_id),
            problem,
        };
        if i > 0 && seg.number != segments[i - 1].number + 1 {
            report.broken(broken(0, None, format!("segment {} is missing before it", segments[i - 1].number + 1)));
            return Ok(report);
        }
        let lines = match lines_or_break(seg) {
            Ok(lines) => lines,
            Err(b) => {
                report.broken(b);
                return Ok(report);
            }
        };
        walked.segments.insert(seg.number, (seg.file_name(), lines.len()));
        for (n, line) in lines.iter().enumerate() {
            let v: Option<serde_json::Value> = serde_json::from_slice(line).ok();
            let Some(got) = v.as_ref().and_then(|v| v.get("prev")).and_then(|p| p.as_str()) else {
                report.broken(broken(n + 1, Some(line), "the line is not an audit record".into()));
                return Ok(report);
            };
            if let Some(want) = &prev {
                if got != want {
                    let problem = if n == 0 {
                        "its prev does not match the last record of the previous segment (that record or this one was altered)"
                            .to_string()
                    } else {
                        format!("its prev does not match line {n} (that record or this one was altered)")
                    };
                    report.broken(broken(n + 1, Some(line), problem));
                    return Ok(report);
                }
            }
            prev = Some(line_hash(line).as_str().to_owned());
            if wanted.contains(&(seg.number, n + 1)) {
                walked.hashes.insert((seg.number, n + 1), prev.clone().unwrap_or_default());
            }
            report.records += 1;
        }
    }
    // The newest records have no successor: compare with the head checkpoint.
    if let Some(head) = std::fs::read(dir.join(HEAD_FILE)).ok().and_then(|b| serde_json::from_slice::<Head>(&b).ok()) {
        let Some(seg) = segments.iter().find(|s| s.number == head.segment) else {
            if head.segment >= first_number {
                report.broken(Break {
                    segment: format!("{:010}-*.jsonl", head.segment),
                    line: head.lines,
                    request_id: None,
                    problem: "the newest segment is missing".into(),
                });
            }
            return Ok(report);
        };
        let lines = match lines_or_break(seg) {
            Ok(lines) => lines,
            Err(b) => {
                report.broken(b);
                return Ok(report);
            }
        };
        let at = head.lines.checked_sub(1).and_then(|i| lines.get(i));
        let matches = at.is_some_and(|l| line_hash(l).as_str() == head.hash);
        if !matches {
            report.broken(Break {
                segment: seg.file_name(),
                line: head.lines,
                request_id: at.and_then(|l| request_id(l)),
                problem: match at {
                    Some(_) => "the newest checkpointed record was altered".into(),
                    None => "records are missing at the end of the trail".into(),
                },
            });
        }
    }
    Ok(report)
}
