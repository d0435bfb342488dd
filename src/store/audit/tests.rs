//! The trail through `AuditLog`: chaining, reopening, tampering, rotation, retention.

use super::*;

pub(super) fn record(time_ms: u64, path: &str) -> AuditRecord {
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
        owner: None,
        ip_hash: "h".into(),
        stage: None,
        reason: None,
        instance: None,
        prev: String::new(),
    }
}

pub(super) fn log(dir: &Path, config: AuditConfig) -> AuditLog {
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
