//! Sealing through `AuditLog` and `verify_with`: what a key proves, and what it cannot.

use std::path::Path;

use super::{SealKey, VerificationKey, SEALS_FILE};
use crate::config::AuditConfig;
use crate::store::audit::segments::{self, line_hash, GENESIS, PRUNED_FILE};
use crate::store::audit::tests::{log, record};
use crate::store::audit::verify::{verify_with, Head, Report, HEAD_FILE};
use crate::store::audit::AuditLog;

const T0: u64 = 1_800_000_000_000;
const EPOCH_MS: u64 = 60_000;

/// An intruder's rewrite: every `prev` after an edit, and `head`, recomputed.
fn rechain(dir: &Path) {
    let mut prev = GENESIS.to_string();
    let mut head = None;
    for seg in segments::list(dir).unwrap() {
        assert!(!seg.compressed);
        let text = std::fs::read_to_string(&seg.path).unwrap();
        let mut out = String::new();
        for (n, line) in text.lines().enumerate() {
            let new = format!("{}{prev}\"}}", &line[..line.len() - 66]);
            prev = line_hash(new.as_bytes()).as_str().to_owned();
            out.push_str(&new);
            out.push('\n');
            head = Some(Head { segment: seg.number, lines: n + 1, hash: prev.clone() });
        }
        std::fs::write(&seg.path, out).unwrap();
    }
    std::fs::write(dir.join(HEAD_FILE), serde_json::to_vec(&head.unwrap()).unwrap()).unwrap();
}

/// A trail sealed through epoch 0 (records /r0../r2) with /r3, /r4 written in epoch 1.
fn sealed_trail(dir: &Path) -> (AuditLog, VerificationKey) {
    let a = log(dir, AuditConfig::default());
    let vk = a.setup_keys(T0, 60, false).unwrap();
    a.append(&(0..3).map(|i| record(T0 + i, &format!("/r{i}"))).collect::<Vec<_>>(), &()).unwrap();
    a.seal_if_due(T0 + EPOCH_MS - 1);
    a.seal_if_due(T0 + EPOCH_MS);
    a.append(&(3..5).map(|i| record(T0 + EPOCH_MS + i, &format!("/r{i}"))).collect::<Vec<_>>(), &()).unwrap();
    (a, vk)
}

fn keyed(a: &AuditLog, vk: &VerificationKey) -> Report {
    verify_with(a.dir(), Some(vk), T0 + EPOCH_MS + 1).unwrap()
}

#[test]
fn a_sealed_trail_verifies_and_names_its_unsealed_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (a, vk) = sealed_trail(dir.path());
    let report = keyed(&a, &vk);
    assert!(report.ok && report.sealed, "{report:?}");
    let seals = report.seals.unwrap();
    // setup's seal of the empty trail, then epoch 0's.
    assert_eq!((seals.seals, seals.sealed_records, seals.unsealed_tail), (2, 3, 2));
    assert_eq!(seals.last_epoch, Some(0));
    let plain = verify_with(a.dir(), None, 0).unwrap();
    assert!(plain.ok && !plain.sealed && plain.note.contains("without the verification key"), "{plain:?}");
    // Setting up again would hide the old key's seals: refused without force.
    let again = a.setup_keys(T0 + 2 * EPOCH_MS, 60, false).unwrap_err().to_string();
    assert!(again.contains("already sealed") && again.contains("--force"), "{again}");
    // Another trail's key vouches for nothing here.
    let other = VerificationKey { seed: SealKey::generate(), ..vk.clone() };
    let report = keyed(&a, &other);
    assert!(!report.ok && report.first_break.unwrap().problem.contains("no seal was made with this key"));
}

#[test]
fn a_rewrite_with_a_recomputed_chain_is_found_by_the_seal_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let (a, vk) = sealed_trail(dir.path());
    let seg = segments::list(a.dir()).unwrap().remove(0);
    let text = std::fs::read_to_string(&seg.path).unwrap();
    std::fs::write(&seg.path, text.replacen("\"path\":\"/r1\"", "\"path\":\"/rX\"", 1)).unwrap();
    rechain(a.dir());
    let plain = verify_with(a.dir(), None, 0).unwrap();
    assert!(plain.ok, "the chain alone is fooled: {plain:?}");
    let report = keyed(&a, &vk);
    assert!(!report.ok && !report.sealed);
    let b = report.first_break.unwrap();
    assert_eq!((b.segment.as_str(), b.line), (seg.file_name().as_str(), 3), "{b:?}");
    assert!(b.problem.contains("epoch 0") && b.problem.contains("rewritten"), "{b:?}");
}

#[test]
fn a_removed_or_recomputed_seal_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let (a, vk) = sealed_trail(dir.path());
    a.seal_if_due(T0 + 2 * EPOCH_MS);
    let path = a.dir().join(SEALS_FILE);
    let original = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    assert_eq!(lines.len(), 3);
    // The middle seal removed.
    std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    let b = keyed(&a, &vk).first_break.unwrap();
    assert_eq!((b.segment.as_str(), b.line), (SEALS_FILE, 2), "{b:?}");
    // A seal recomputed without the key (any key but its epoch's).
    let mut forged: super::Seal = serde_json::from_str(lines[1]).unwrap();
    forged.lines = 2;
    forged.sign(&SealKey::generate());
    let forged = serde_json::to_string(&forged).unwrap();
    std::fs::write(&path, format!("{}\n{forged}\n{}\n", lines[0], lines[2])).unwrap();
    let b = keyed(&a, &vk).first_break.unwrap();
    assert!(b.problem.contains("not made with this key"), "{b:?}");
    std::fs::write(&path, &original).unwrap();
    assert!(keyed(&a, &vk).ok);
}

#[test]
fn retention_notes_are_sealed_and_a_forged_one_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuditConfig { segment_bytes: 300, keep_days: 1, max_bytes: u64::MAX, ..Default::default() };
    let a = log(dir.path(), config);
    let vk = a.setup_keys(T0, 60, false).unwrap();
    for i in 0..6 {
        a.append(&[record(T0 + i, &format!("/r{i}"))], &()).unwrap();
    }
    a.seal_if_due(T0 + EPOCH_MS);
    let segs = segments::list(a.dir()).unwrap();
    assert!(segs.len() >= 3, "{segs:?}");
    // Retention a day later: the notes are sealed at once.
    let later = T0 + 86_400_000 + 10;
    a.append(&[record(later, "/late")], &()).unwrap();
    let gone = a.prune(later).unwrap();
    assert!(gone >= 2);
    let report = verify_with(a.dir(), Some(&vk), later).unwrap();
    assert!(report.ok, "{report:?}");
    // A deleted segment passed off as retention, with a note no seal vouches for.
    let present = segments::list(a.dir()).unwrap();
    let victim = &present[0];
    let note = segments::Pruned {
        segment: victim.file_name(),
        number: victim.number,
        pruned_at_ms: later,
        why: "older than keep_days".into(),
    };
    segments::note_pruned(a.dir(), &note).unwrap();
    // The compressor may be replacing the plain file with its compressed one at this very
    // moment: remove whichever is there until none has been for a while.
    let mut quiet = 0;
    while quiet < 3 {
        let left: Vec<_> = segments::list(a.dir()).unwrap().into_iter().filter(|s| s.number == victim.number).collect();
        quiet = if left.is_empty() { quiet + 1 } else { 0 };
        for seg in left {
            let _ = std::fs::remove_file(&seg.path);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(verify_with(a.dir(), None, 0).unwrap().ok, "the chain alone takes the note");
    let b = verify_with(a.dir(), Some(&vk), later).unwrap().first_break.unwrap();
    assert_eq!((b.segment.as_str(), b.line), (PRUNED_FILE, gone + 1), "{b:?}");
    // A sealed note changed.
    let notes = std::fs::read_to_string(a.dir().join(PRUNED_FILE)).unwrap();
    std::fs::write(a.dir().join(PRUNED_FILE), notes.replacen("older", "OLDER", 1)).unwrap();
    let b = verify_with(a.dir(), Some(&vk), later).unwrap().first_break.unwrap();
    assert_eq!(b.segment, PRUNED_FILE, "{b:?}");
    assert!(b.problem.contains("forged, changed or removed"), "{b:?}");
}
