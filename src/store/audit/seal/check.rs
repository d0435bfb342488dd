//! `palisade audit verify --key K`: checks the seals against the chain.
//!
//! From `k_0` every epoch's key is derived forward. The seals of K's key must start at
//! epoch 0, follow one another without a gap (`epoch` = the previous `next_epoch`), each
//! chain to the one before (`prev_seal`), carry a MAC made with their epoch's key, and
//! name a head the chain still has: the line at the sealed segment and line must hash to
//! the sealed hash. An edited record, even with every later `prev` and `head` recomputed,
//! changes that hash; a deleted record or segment moves or removes the line. The sealed
//! prefix of `pruned.jsonl` must hash as sealed, and a segment holding sealed records may
//! only be gone by a retention note a seal vouches for. Records after the last seal are the
//! unsealed tail: reported, not vouched for.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Serialize;

use super::{pruned_digest, Seal, SealKey, VerificationKey, SEALS_FILE};
use crate::store::audit::broken::Break;
use crate::store::audit::segments::{self, line_hash, Pruned, GENESIS, PRUNED_FILE};

/// What the chain walk learned, for the seals to be checked against.
#[derive(Debug, Default)]
pub struct Walked {
    /// Segments present, by number: file name and complete lines.
    pub segments: BTreeMap<u64, (String, usize)>,
    /// Line hashes at the positions [`Seals::positions`] asked for.
    pub hashes: std::collections::HashMap<(u64, usize), String>,
}

/// The seals file, read once.
pub struct Seals {
    lines: Vec<Vec<u8>>,
    key_id: String,
}

/// What the seals vouch for.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SealReport {
    pub key_id: String,
    /// Seals made with this key, all checked.
    pub seals: usize,
    /// Seals of other keys (before a `setup-keys --force`), not checked.
    pub other_key_seals: usize,
    /// The epoch of the last seal and when it was written.
    pub last_epoch: Option<u64>,
    pub last_seal: Option<String>,
    /// Records present up to the last sealed head: vouched for.
    pub sealed_records: usize,
    /// Records written after the last seal: not vouched for.
    pub unsealed_tail: usize,
    /// Retention notes after the last seal (for segments no seal covered).
    pub unsealed_pruned: usize,
    pub warning: Option<String>,
}

fn lines_of(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    match segments::read_lines(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        other => other,
    }
}

fn fail(segment: &str, line: usize, problem: String) -> Break {
    Break { segment: segment.into(), line, request_id: None, problem }
}

impl Seals {
    pub fn load(dir: &Path, key: &VerificationKey) -> std::io::Result<Self> {
        Ok(Self { lines: lines_of(&dir.join(SEALS_FILE))?, key_id: key.id() })
    }

    fn own(&self) -> impl Iterator<Item = (usize, &[u8], Option<Seal>)> {
        self.lines.iter().enumerate().filter_map(|(i, raw)| {
            let seal = serde_json::from_slice::<Seal>(raw).ok();
            match &seal {
                Some(s) if s.key_id != self.key_id => None,
                _ => Some((i + 1, raw.as_slice(), seal)),
            }
        })
    }

    /// The heads the walk must hash.
    pub fn positions(&self) -> HashSet<(u64, usize)> {
        self.own().filter_map(|(_, _, s)| s.map(|s| (s.segment, s.lines))).collect()
    }

    /// Checks every seal of `key` against the walk; the first failure names its file and line.
    pub fn check(&self, dir: &Path, key: &VerificationKey, walked: &Walked, now_ms: u64) -> Result<SealReport, Break> {
        let pruned_lines =
            lines_of(&dir.join(PRUNED_FILE)).map_err(|e| fail(PRUNED_FILE, 0, format!("cannot be read: {e}")))?;
        let first_present = walked.segments.keys().next().copied();
        let mut report = SealReport {
            key_id: self.key_id.clone(),
            seals: 0,
            other_key_seals: self.lines.len() - self.own().count(),
            last_epoch: None,
            last_seal: None,
            sealed_records: 0,
            unsealed_tail: 0,
            unsealed_pruned: 0,
            warning: None,
        };
        let (mut key_epoch, mut epoch_key): (u64, SealKey) = (0, key.seed.clone());
        let (mut expect_epoch, mut prev_seal, mut last) = (0u64, GENESIS.to_string(), None::<Seal>);
        for (n, raw, seal) in self.own() {
            let Some(seal) = seal else {
                return Err(fail(SEALS_FILE, n, "the line is not a seal".into()));
            };
            let at = |problem: String| fail(SEALS_FILE, n, problem);
            if seal.epoch != expect_epoch {
                return Err(at(if seal.epoch > expect_epoch {
                    format!(
                        "the seal of epoch {} follows epoch {expect_epoch}: seals in between were removed",
                        seal.epoch
                    )
                } else {
                    format!("the seal of epoch {} comes after epoch {expect_epoch} (out of order)", seal.epoch)
                }));
            }
            epoch_key = epoch_key.forward(seal.epoch - key_epoch);
            key_epoch = seal.epoch;
            if !seal.made_with(&epoch_key) {
                return Err(at(format!(
                    "the seal of epoch {} was not made with this key (forged or altered)",
                    seal.epoch
                )));
            }
            if seal.prev_seal != prev_seal {
                return Err(at(format!("the seal before the one of epoch {} was removed or altered", seal.epoch)));
            }
            // (Its `time_ms` is not held to the epoch: a wall clock stepped back must not
            // read as tampering, and the MAC already ties the seal to its epoch's key.)
            if seal.next_epoch < seal.epoch {
                return Err(at(format!("the seal of epoch {} goes back to epoch {}", seal.epoch, seal.next_epoch)));
            }
            let since = last.as_ref().map_or((0, 0), |l| (l.segment, l.lines));
            if (seal.segment, seal.lines) < since {
                return Err(at(format!(
                    "the seal of epoch {} names an earlier head than the seal before it",
                    seal.epoch
                )));
            }
            self.check_head(&seal, since, walked, first_present)?;
            if seal.pruned > pruned_lines.len() || pruned_digest(&pruned_lines[..seal.pruned]) != seal.pruned_hash {
                return Err(fail(
                    PRUNED_FILE,
                    seal.pruned.min(pruned_lines.len()),
                    format!(
                        "its first {} lines are not what the seal of epoch {} vouched for (a retention note was forged, changed or removed)",
                        seal.pruned, seal.epoch
                    ),
                ));
            }
            prev_seal = line_hash(raw).as_str().to_owned();
            expect_epoch = seal.next_epoch;
            report.seals += 1;
            last = Some(seal);
        }
        let Some(last) = last else {
            return Err(fail(
                SEALS_FILE,
                0,
                "no seal was made with this key (setup-keys never ran, the key is another trail's, or the seals were removed)"
                    .into(),
            ));
        };
        // Retention notes no seal vouches for may not explain sealed records away.
        for (i, raw) in pruned_lines.iter().enumerate().skip(last.pruned) {
            let note: Option<Pruned> = serde_json::from_slice(raw).ok();
            match note {
                Some(p) if p.number > last.segment => report.unsealed_pruned += 1,
                Some(p) => {
                    return Err(fail(
                        PRUNED_FILE,
                        i + 1,
                        format!(
                        "says {} was pruned, but no seal vouches for that note, and the segment held sealed records",
                        p.segment
                    ),
                    ))
                }
                None => return Err(fail(PRUNED_FILE, i + 1, "the line is not a retention note".into())),
            }
        }
        for (&number, (_, lines)) in &walked.segments {
            match number.cmp(&last.segment) {
                std::cmp::Ordering::Less => report.sealed_records += lines,
                std::cmp::Ordering::Equal => {
                    report.sealed_records += last.lines.min(*lines);
                    report.unsealed_tail += lines.saturating_sub(last.lines);
                }
                std::cmp::Ordering::Greater => report.unsealed_tail += lines,
            }
        }
        let now_epoch = key.epoch_at(now_ms);
        if now_epoch > last.next_epoch + 1 {
            report.warning = Some(format!(
                "no seal since epoch {} ({}), though epoch {now_epoch} is under way: either the server has not run since, \
                 or later seals were removed (compare with the seals in the system journal)",
                last.epoch,
                crate::clock::rfc3339(last.time_ms)
            ));
        }
        report.last_epoch = Some(last.epoch);
        report.last_seal = Some(crate::clock::rfc3339(last.time_ms));
        Ok(report)
    }

    /// The sealed head must still be in the chain, unless retention pruned its segment.
    fn check_head(
        &self,
        seal: &Seal,
        since: (u64, usize),
        walked: &Walked,
        first_present: Option<u64>,
    ) -> Result<(), Break> {
        let after = match since {
            (0, _) => "the start of the trail".to_string(),
            (segment, line) => match walked.segments.get(&segment) {
                Some((name, _)) => format!("{name} line {line}"),
                None => format!("segment {segment} line {line}"),
            },
        };
        if seal.segment == 0 {
            return match seal.lines == 0 && seal.head == GENESIS {
                true => Ok(()),
                false => Err(fail(SEALS_FILE, 0, format!("the seal of epoch {} names no record", seal.epoch))),
            };
        }
        if first_present.is_some_and(|first| seal.segment < first) {
            // Pruned: `verify` found its note, and the notes are checked against the seals.
            return Ok(());
        }
        let Some((name, lines)) = walked.segments.get(&seal.segment) else {
            return Err(fail(
                &format!("{:010}-*.jsonl", seal.segment),
                seal.lines,
                format!("records sealed in epoch {} are missing: the segment is gone", seal.epoch),
            ));
        };
        if seal.lines > *lines {
            return Err(fail(
                name,
                seal.lines,
                format!(
                    "records sealed in epoch {} are missing: the segment has {lines} lines, the seal vouches for {}",
                    seal.epoch, seal.lines
                ),
            ));
        }
        if walked.hashes.get(&(seal.segment, seal.lines)) != Some(&seal.head) {
            return Err(fail(
                name,
                seal.lines,
                format!(
                    "the chain no longer matches the seal of epoch {}: a record after {after}, up to this one, was rewritten \
                     or removed (the chain was recomputed to hide it)",
                    seal.epoch
                ),
            ));
        }
        Ok(())
    }
}
