//! Forward-secure sealing of the audit trail, attacked through the front door: the key is
//! set up through the live server's admin socket, epochs roll on the injected clock, the
//! server stops gracefully, and then an intruder rewrites the files the way the finding
//! describes (edit, recompute every `prev` and `head`, forge seals and retention notes).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use palisade::clock::Clock;
use palisade::store::audit::seal::{Seal, SealKey};
use palisade::store::audit::segments::{self, line_hash, GENESIS};
use serde_json::Value;

use crate::support::{Spawned, TestApp};

const EPOCH_SECS: u64 = 60;

fn cli(data: &Path, args: &[&str]) -> std::process::Output {
    let config = data.join("empty.toml");
    std::fs::write(&config, "").unwrap();
    Spawned::cli(data, &config, args)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `audit setup-keys --json` (through the admin socket when the app runs): the key.
fn setup_keys(data: &Path) -> String {
    let out = cli(data, &["audit", "setup-keys", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let object = answer.as_object().unwrap();
    assert_eq!(object.len(), 1, "exactly {{\"verification_key\": …}}: {answer}");
    object["verification_key"].as_str().unwrap().to_string()
}

fn verify(data: &Path, key: Option<&str>, json: bool) -> std::process::Output {
    let mut args = vec!["audit", "verify"];
    args.extend(key.map(|k| ["--key", k]).into_iter().flatten());
    if json {
        args.push("--json");
    }
    cli(data, &args)
}

fn sealed_app() -> TestApp {
    TestApp::builder().manual_clock().config(|c| c.audit.seal_epoch_secs = EPOCH_SECS).start()
}

/// Requests, flushed to the trail.
fn traffic(app: &TestApp, token: &str, n: usize) {
    for i in 1..=n {
        assert_eq!(app.get(&format!("/api/v1/clients/{i}"), token).status, 200);
    }
    app.audit();
}

fn the_segment(audit: &Path) -> PathBuf {
    let segs = segments::list(audit).unwrap();
    assert_eq!(segs.len(), 1, "{segs:?}");
    segs[0].path.clone()
}

/// The intruder's rewrite: every `prev` and `head` recomputed. Returns each line's new hash
/// by (segment, line), for resealing.
fn rechain(audit: &Path) -> HashMap<(u64, usize), String> {
    let (mut prev, mut hashes, mut last) = (GENESIS.to_string(), HashMap::new(), None);
    for seg in segments::list(audit).unwrap() {
        let text = std::fs::read_to_string(&seg.path).unwrap();
        let mut out = String::new();
        for (n, line) in text.lines().enumerate() {
            let new = format!("{}{prev}\"}}", &line[..line.len() - 66]);
            prev = line_hash(new.as_bytes()).as_str().to_owned();
            hashes.insert((seg.number, n + 1), prev.clone());
            last = Some(serde_json::json!({"segment": seg.number, "lines": n + 1, "hash": prev}));
            out.push_str(&new);
            out.push('\n');
        }
        std::fs::write(&seg.path, out).unwrap();
    }
    std::fs::write(audit.join("head"), last.unwrap().to_string()).unwrap();
    hashes
}

fn seals(audit: &Path) -> Vec<Seal> {
    let text = std::fs::read_to_string(audit.join("seals.jsonl")).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Writes `seals`, re-signing (with new heads) those from epoch `from` on with the key the
/// intruder found in the key file; the seals chain as the server would chain them.
fn write_resealed(audit: &Path, mut seals: Vec<Seal>, from: u64, hashes: &HashMap<(u64, usize), String>) {
    let file: Value = serde_json::from_slice(&std::fs::read(audit.join("seal.key")).unwrap()).unwrap();
    let (current, epoch) = (SealKey::from_hex(file["key"].as_str().unwrap()).unwrap(), file["epoch"].as_u64().unwrap());
    let mut prev = GENESIS.to_string();
    let mut out = String::new();
    for seal in &mut seals {
        if seal.epoch >= from {
            seal.head = hashes.get(&(seal.segment, seal.lines)).cloned().unwrap_or(seal.head.clone());
            seal.prev_seal = prev.clone();
            seal.sign(&current.forward(seal.epoch.saturating_sub(epoch)));
        }
        let line = serde_json::to_string(seal).unwrap();
        prev = line_hash(line.as_bytes()).as_str().to_owned();
        out.push_str(&line);
        out.push('\n');
    }
    std::fs::write(audit.join("seals.jsonl"), out).unwrap();
}

/// (a) The finding itself: a sealed record edited and every hash after it recomputed.
#[test]
fn a_sealed_record_rewritten_with_a_recomputed_chain_is_found_with_the_key() {
    let app = sealed_app();
    let data = app.dir.path().to_path_buf();
    let t = app.token(&["clients:r"]);
    let key = setup_keys(&data);
    // Shown once: a second run is refused and prints no key.
    let again = cli(&data, &["audit", "setup-keys", "--json"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already sealed") && stderr(&again).contains("--force"), "{}", stderr(&again));
    assert!(again.stdout.is_empty());
    traffic(&app, &t, 4);
    app.manual_clock().advance_ms(EPOCH_SECS * 1000 + 1_000);
    traffic(&app, &t, 1); // its batch rolls epoch 0 first
    let audit = data.join("audit");
    let k0 = key.split('/').next().unwrap().to_string();
    let key_file = std::fs::read_to_string(audit.join("seal.key")).unwrap();
    assert!(!key_file.contains(&k0), "the key file still holds k_0 after the roll");
    let dir = app.stop();
    let data = dir.path();
    let audit = data.join("audit");
    let epochs: Vec<(u64, u64)> = seals(&audit).iter().map(|s| (s.epoch, s.next_epoch)).collect();
    assert_eq!(epochs, [(0, 0), (0, 1), (1, 1)], "setup, the epoch's end, the graceful stop");
    let ok = verify(data, Some(&key), false);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(text.contains("intact: 5 records") && text.contains("unsealed tail: 0 records"), "{text}");

    // The intruder: one byte of the second record, then every prev and head recomputed.
    let segment = the_segment(&audit);
    let name = segment.file_name().unwrap().to_string_lossy().into_owned();
    let original = std::fs::read_to_string(&segment).unwrap();
    std::fs::write(&segment, original.replacen("\"path\":\"/api/v1/clients/2\"", "\"path\":\"/api/v1/clients/7\"", 1))
        .unwrap();
    rechain(&audit);

    let unkeyed = verify(data, None, false);
    assert!(unkeyed.status.success(), "the chain alone is fooled: {}", stderr(&unkeyed));
    let text = String::from_utf8_lossy(&unkeyed.stdout);
    assert!(text.contains("intact") && text.contains("without the verification key"), "{text}");
    let report: Value = serde_json::from_slice(&verify(data, None, true).stdout).unwrap();
    assert_eq!((report["ok"].as_bool(), report["sealed"].as_bool()), (Some(true), Some(false)), "{report}");
    assert!(report["note"].as_str().unwrap().contains("cannot show"), "{report}");

    let keyed = verify(data, Some(&key), false);
    assert_eq!(keyed.status.code(), Some(1));
    assert!(stderr(&keyed).contains(&name) && stderr(&keyed).contains("epoch 0"), "{}", stderr(&keyed));
    let report: Value = serde_json::from_slice(&verify(data, Some(&key), true).stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_break"]["segment"], name.as_str(), "{report}");
    assert_eq!(report["first_break"]["line"], 4, "{report}");
}

/// (b) The intruder holds the current key file: they can seal the current epoch, not the
/// ones before it.
#[test]
fn an_intruder_with_the_current_key_cannot_reseal_earlier_epochs() {
    let app = sealed_app();
    let data = app.dir.path().to_path_buf();
    let t = app.token(&["clients:r"]);
    let key = setup_keys(&data);
    traffic(&app, &t, 3);
    for _ in 0..2 {
        app.manual_clock().advance_ms(EPOCH_SECS * 1000);
        traffic(&app, &t, 2);
    }
    let dir = app.stop();
    let audit = dir.path().join("audit");
    let epochs: Vec<u64> = seals(&audit).iter().map(|s| s.epoch).collect();
    assert_eq!(epochs, [0, 0, 1, 2]);
    assert!(verify(dir.path(), Some(&key), false).status.success());

    let segment = the_segment(&audit);
    let original = std::fs::read_to_string(&segment).unwrap();
    std::fs::write(&segment, original.replacen("\"status\":200", "\"status\":404", 1)).unwrap();
    let hashes = rechain(&audit);
    let sealed = seals(&audit);
    let variants: [(&str, Vec<Seal>, u64); 3] = [
        ("only the current epoch resealed", sealed.clone(), 2),
        ("every seal resealed with the current key", sealed.clone(), 0),
        ("earlier seals dropped", sealed.iter().filter(|s| s.epoch >= 2).cloned().collect(), 2),
    ];
    for (what, seals, from) in variants {
        write_resealed(&audit, seals, from, &hashes);
        assert!(verify(dir.path(), None, false).status.success(), "{what}: the chain alone is fooled");
        let out = verify(dir.path(), Some(&key), false);
        assert_eq!(out.status.code(), Some(1), "{what}: not found");
        eprintln!("{what}: {}", stderr(&out));
    }
}

/// (c) A segment deleted and passed off as retention with a forged `pruned.jsonl` line.
#[test]
fn a_forged_retention_note_is_found_and_real_retention_is_not() {
    let app = TestApp::builder()
        .manual_clock()
        .config(|c| {
            c.audit.seal_epoch_secs = EPOCH_SECS;
            c.audit.segment_bytes = 1_000;
            c.audit.keep_days = 1;
        })
        .start();
    let data = app.dir.path().to_path_buf();
    let t = app.token(&["clients:r"]);
    let key = setup_keys(&data);
    traffic(&app, &t, 12);
    app.manual_clock().advance_ms(2 * 86_400_000);
    traffic(&app, &t, 2);
    let pruned = app.state.audit.prune(app.manual_clock().now_ms()).unwrap();
    assert!(pruned >= 1);
    let dir = app.stop();
    let (data, audit) = (dir.path(), dir.path().join("audit"));
    let ok = verify(data, Some(&key), false);
    assert!(ok.status.success(), "real retention: {}", stderr(&ok));

    let victim = segments::list(&audit).unwrap().remove(0);
    let note = segments::Pruned {
        segment: victim.file_name(),
        number: victim.number,
        pruned_at_ms: 1_800_000_000_000 + 2 * 86_400_000,
        why: "older than keep_days".into(),
    };
    segments::note_pruned(&audit, &note).unwrap();
    std::fs::remove_file(&victim.path).unwrap();
    let unkeyed = verify(data, None, false);
    assert!(unkeyed.status.success(), "the chain alone takes the note: {}", stderr(&unkeyed));
    assert!(String::from_utf8_lossy(&unkeyed.stdout).contains(&victim.file_name()));
    let keyed = verify(data, Some(&key), false);
    assert_eq!(keyed.status.code(), Some(1));
    let message = stderr(&keyed);
    assert!(message.contains("pruned.jsonl") && message.contains(&victim.file_name()), "{message}");
}

/// (d) L-5: a damaged compressed segment is named.
#[test]
fn a_corrupt_compressed_segment_is_named() {
    let app = TestApp::builder().config(|c| c.audit.segment_bytes = 1_000).start();
    let t = app.token(&["clients:r"]);
    traffic(&app, &t, 12);
    let audit = app.dir.path().join("audit");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let zst = loop {
        let segs = segments::list(&audit).unwrap();
        if let Some(s) = segs.iter().find(|s| s.compressed) {
            break s.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no segment compressed: {segs:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let dir = app.stop();
    let report: Value = serde_json::from_slice(&verify(dir.path(), None, true).stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["note"].as_str().unwrap().contains("not sealed"), "before setup-keys: {report}");
    let path = dir.path().join("audit").join(zst.file_name());
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let out = verify(dir.path(), None, false);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&zst.file_name()), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&verify(dir.path(), None, true).stdout).unwrap();
    assert_eq!(report["first_break"]["segment"], zst.file_name().as_str(), "{report}");
}

/// The real binary: setup-keys through a running `serve`'s admin socket starts sealing;
/// each seal's head goes to the log (the journal) under `palisade::audit::seal`, the key
/// never does; SIGTERM seals what was stored.
#[test]
fn a_running_server_seals_logs_the_head_and_never_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("palisade.toml");
    std::fs::write(&config, "[audit]\nseal_epoch_secs = 1\nflush_interval_ms = 20\n").unwrap();
    crate::support::init_store(&data);
    let token = Spawned::create_token(&data, &config, &["--name", "sealer", "--scope", "clients:r"]);
    let log = dir.path().join("server.log");
    let server = Spawned::serve_logging_to(&data, &config, std::fs::File::create(&log).unwrap());
    let out = Spawned::cli(&data, &config, &["audit", "setup-keys"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    let key = shown.lines().map(str::trim).find(|l| l.matches('/').count() == 2).unwrap().to_string();
    for _ in 0..3 {
        assert_eq!(server.req("GET", "/api/v1/clients").bearer(&token).send().status, 200);
        std::thread::sleep(std::time::Duration::from_millis(700));
    }
    assert!(server.signal("TERM").success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("palisade::audit::seal") && text.contains("audit trail sealed"), "{text}");
    assert!(!text.contains(key.split('/').next().unwrap()), "the key reached the log");
    let sealed = seals(&data.join("audit"));
    assert!(sealed.iter().any(|s| s.next_epoch > s.epoch), "no epoch rolled: {sealed:?}");
    let last = sealed.last().unwrap();
    assert_eq!(last.epoch, last.next_epoch, "the stop's seal");
    let ok = Spawned::cli(&data, &config, &["audit", "verify", "--key", &key]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("unsealed tail: 0 records"));
}
