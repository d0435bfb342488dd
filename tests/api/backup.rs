//! Backup, verify and restore through the real binary and a real server: a backup taken
//! while writers and a /health watchdog run holds every write acknowledged before its
//! point and none sent after it; the restored server answers the same rows, tokens and
//! locks, and its audit trail verifies; a changed byte in any member is caught; restore
//! refuses a non-empty dir and a bad archive, changing nothing.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::support::{Spawned, TestApp};

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// The CLI with `PALISADE_BACKUP_PASSPHRASE` set (or removed), stdin not a terminal.
fn cli_pass(dir: &Path, config: &Path, pass: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.arg("--config").arg(config).arg("--data-dir").arg(dir).args(args);
    cmd.stdin(std::process::Stdio::null());
    match pass {
        Some(p) => cmd.env("PALISADE_BACKUP_PASSPHRASE", p),
        None => cmd.env_remove("PALISADE_BACKUP_PASSPHRASE"),
    };
    let out = cmd.output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn cli(dir: &Path, config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Spawned::cli(dir, config, args);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn empty_config(dir: &Path) -> PathBuf {
    let config = dir.join("palisade.toml");
    std::fs::write(&config, "").unwrap();
    config
}

/// A finished write: when it was sent and acknowledged, and the id it got.
struct Write {
    sent_ms: u64,
    acked_ms: u64,
    id: u64,
}

#[test]
fn a_backup_during_writes_restores_every_acknowledged_write_before_its_point() {
    let app = TestApp::start();
    let work = tempfile::tempdir().unwrap();
    let config = empty_config(work.path());
    let writer = app.token(&["clients:rcud"]);
    let lock = cli(app.dir.path(), &config, &["lock", "ip", "203.0.113.9", "--reason", "backup test"]);
    assert_eq!(lock.0, 0, "{}", lock.2);
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(Mutex::new(Vec::<Write>::new()));
    let mut threads = Vec::new();
    for w in 0..8 {
        let (stop, writes, req, token) =
            (stop.clone(), writes.clone(), app.req("POST", "/api/v1/clients"), writer.clone());
        threads.push(std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let sent_ms = now_ms();
                let body = json!({"company": format!("W{w}-{n}"), "status": "active"});
                let r = req.clone().bearer(&token).json(&body).send();
                assert_eq!(r.status, 201, "{}", r.text());
                let id = r.json()["data"]["id"].as_u64().unwrap();
                writes.lock().unwrap().push(Write { sent_ms, acked_ms: now_ms(), id });
            }
        }));
    }
    let worst_health = Arc::new(AtomicU64::new(0));
    let watchdog = {
        let (stop, worst, req) = (stop.clone(), worst_health.clone(), app.req("GET", "/health"));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                assert_eq!(req.send().status, 200, "/health missed");
                worst.fetch_max(t.elapsed().as_millis() as u64, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(400));
    let archive = work.path().join("b.tar.zst");
    let (code, out, err) = cli(app.dir.path(), &config, &["backup", archive.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("keep it private"), "{err}");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    watchdog.join().unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&archive).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(worst_health.load(Ordering::Relaxed) < 2000, "/health slow during the backup");

    let (code, out, err) = cli(app.dir.path(), &config, &["backup", "verify", archive.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let point_ms = report["manifest"]["point_ms"].as_u64().unwrap();
    assert!(report["audit_records"].as_u64().unwrap() > 0);

    let restored = tempfile::tempdir().unwrap();
    // Restored into the backend under test (on the PostgreSQL run, an empty database).
    let restore_config = work.path().join("restore.toml");
    std::fs::write(&restore_config, crate::support::backend_toml(restored.path())).unwrap();
    let (code, out, err) = cli(restored.path(), &restore_config, &["restore", archive.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cli(restored.path(), &restore_config, &["audit", "verify"]);
    assert_eq!(code, 0, "restored audit trail: {out}{err}");
    drop(app);
    let app2 = TestApp::builder().dir(restored).no_seed().start();
    let writes = writes.lock().unwrap();
    let (mut before, mut after) = (0, 0);
    for w in writes.iter() {
        let status = app2.get(&format!("/api/v1/clients/{}", w.id), &writer).status;
        if w.acked_ms < point_ms {
            assert_eq!(status, 200, "write {} acknowledged before the point is missing", w.id);
            before += 1;
        } else if w.sent_ms > point_ms {
            assert_eq!(status, 404, "write {} sent after the point is present", w.id);
            after += 1;
        }
    }
    assert!(before > 10 && after > 10, "writes on both sides of the point: {before} / {after}");
    // The token (hashed with the restored key) and the IP lock (keyed hash) carry over.
    let locked = app2.req("GET", "/api/v1/clients?limit=1").bearer(&writer).client_ip("203.0.113.9").send();
    assert_eq!(locked.code(), "locked");
    // The id sequence continues past every restored row.
    let r = app2.req("POST", "/api/v1/clients").bearer(&writer).json(&json!({"company": "n", "status": "x"})).send();
    let max_before = writes.iter().filter(|w| w.acked_ms < point_ms).map(|w| w.id).max().unwrap();
    assert!(r.json()["data"]["id"].as_u64().unwrap() > max_before);
}

/// The archive's decompressed tar bytes and each member's (name, data range).
fn members(archive: &Path) -> (Vec<u8>, Vec<(String, std::ops::Range<usize>)>) {
    let mut tar_bytes = Vec::new();
    zstd::Decoder::new(std::fs::File::open(archive).unwrap()).unwrap().read_to_end(&mut tar_bytes).unwrap();
    let mut out = Vec::new();
    let mut a = tar::Archive::new(&tar_bytes[..]);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let start = e.raw_file_position() as usize;
        out.push((e.path().unwrap().to_string_lossy().into_owned(), start..start + e.size() as usize));
    }
    (tar_bytes, out)
}

#[test]
fn verify_catches_a_changed_byte_and_restore_refuses_changing_nothing() {
    let app = TestApp::start();
    let work = tempfile::tempdir().unwrap();
    let config = empty_config(work.path());
    let t = app.token(&["clients:r"]);
    for _ in 0..5 {
        app.get("/api/v1/clients/1", &t);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.audit().len() < 5 {
        assert!(Instant::now() < deadline, "audit records written");
        std::thread::sleep(Duration::from_millis(50));
    }
    let archive = work.path().join("ok.tar.zst");
    assert_eq!(cli(app.dir.path(), &config, &["backup", archive.to_str().unwrap()]).0, 0);
    let (tar_bytes, list) = members(&archive);
    assert_eq!(list[0].0, "manifest.json");
    let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
    for want in ["secret.key", "sys/tokens.jsonl", "sys/meta.jsonl", "tables/clients.jsonl"] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    assert!(names.iter().any(|n| n.starts_with("audit/")), "{names:?}");
    for (name, range) in list.iter().skip(1).filter(|(_, r)| !r.is_empty()) {
        let mut changed = tar_bytes.clone();
        changed[range.start + range.len() / 2] ^= 0x01;
        let bad = work.path().join("bad.tar.zst");
        std::fs::write(&bad, zstd::encode_all(&changed[..], 3).unwrap()).unwrap();
        let (code, _, err) = cli(app.dir.path(), &config, &["backup", "verify", bad.to_str().unwrap()]);
        assert_eq!(code, 1, "a changed byte in {name} was not caught");
        assert!(err.contains(name.as_str()) && err.contains("checksum"), "{name}: {err}");
        // Restore refuses it and leaves the target as it was (absent).
        let target = work.path().join("never");
        let (code, _, err) = cli(&target, &config, &["restore", bad.to_str().unwrap()]);
        assert_eq!(code, 1, "{err}");
        assert!(!target.exists(), "restore of a bad archive created {}", target.display());
    }
    // Garbage is refused too.
    let junk = work.path().join("junk.tar.zst");
    std::fs::write(&junk, b"not an archive").unwrap();
    assert_eq!(cli(app.dir.path(), &config, &["backup", "verify", junk.to_str().unwrap()]).0, 1);
    // A non-empty dir is refused, untouched.
    let busy = work.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("keep.txt"), b"mine").unwrap();
    let (code, _, err) = cli(&busy, &config, &["restore", archive.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);
}

#[test]
fn scheduled_backups_run_are_kept_and_measured() {
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_path_buf();
    let app = TestApp::builder()
        .config(|c| {
            c.backup.dir = Some(dir.clone());
            c.backup.every = "1s".into();
            c.backup.keep = 2;
        })
        .start();
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.state.metrics.backup_last_success_ms.load(Ordering::Relaxed) == 0 || count(&dir) < 2 {
        assert!(Instant::now() < deadline, "no scheduled backups");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(2500));
    assert!(count(&dir) <= 2, "keep = 2");
    let audit = app.audit();
    assert!(audit.iter().any(|r| r.method == "BACKUP" && r.status == 200), "audited");
    let newest = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).max().unwrap();
    assert!(palisade::backup::verify(&newest, &Default::default()).is_ok());
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tar.zst"))
        .count()
}

/// Every table's rows as `export` prints them, from a stopped data dir.
fn exported(dir: &Path, config: &Path) -> String {
    let (code, out, err) = cli(dir, config, &["export", "clients", "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn an_encrypted_backup_verifies_and_restores_like_a_plain_one_and_a_wrong_passphrase_writes_nothing() {
    let app = TestApp::start();
    let work = tempfile::tempdir().unwrap();
    let config = empty_config(work.path());
    let plain = work.path().join("plain.tar.zst");
    let sealed = work.path().join("sealed.tar.zst.age");
    let (code, out, err) = cli(app.dir.path(), &config, &["backup", plain.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) =
        cli_pass(app.dir.path(), &config, Some("correct horse"), &["backup", sealed.to_str().unwrap(), "--encrypt"]);
    assert_eq!(code, 0, "{out}{err}");
    drop(app);
    let bytes = std::fs::read(&sealed).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"), "an age file");
    assert!(!bytes.windows(b"manifest.json".len()).any(|w| w == b"manifest.json"), "no plaintext inside");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&sealed).unwrap().permissions().mode() & 0o777, 0o600);

    // Verify: with the passphrase it passes; without one or with a wrong one it fails in one line.
    let file = sealed.to_str().unwrap();
    let (code, out, err) = cli_pass(work.path(), &config, Some("correct horse"), &["backup", "verify", file, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert!(report["manifest"]["rows"]["clients"].as_u64().unwrap() > 0);
    let (code, _, err) = cli_pass(work.path(), &config, None, &["backup", "verify", file]);
    assert_eq!(code, 1);
    assert!(err.contains("PALISADE_BACKUP_PASSPHRASE"), "{err}");
    let (code, _, err) = cli_pass(work.path(), &config, Some("wrong horse"), &["backup", "verify", file]);
    assert_eq!(code, 1);
    assert!(err.contains("wrong passphrase") && err.trim().lines().count() == 1, "{err}");
    assert!(!err.contains("correct horse") && !err.contains("wrong horse"), "{err}");

    // Restore: a wrong passphrase writes nothing; the right one gives what the plain archive gives.
    let never = work.path().join("never");
    let (code, _, err) = cli_pass(&never, &config, Some("wrong horse"), &["restore", file]);
    assert_eq!(code, 1, "{err}");
    assert!(err.trim().lines().count() == 1, "{err}");
    assert!(!never.exists(), "a failed restore created {}", never.display());
    let (from_plain, from_sealed) = (work.path().join("from-plain"), work.path().join("from-sealed"));
    let (code, out, err) = cli(&from_plain, &config, &["restore", plain.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cli_pass(&from_sealed, &config, Some("correct horse"), &["restore", file]);
    assert_eq!(code, 0, "{out}{err}");
    let rows = exported(&from_plain, &config);
    assert!(rows.lines().count() > 0);
    assert_eq!(rows, exported(&from_sealed, &config), "the encrypted archive restores the same rows");
    assert_eq!(
        std::fs::read(from_plain.join("secret.key")).unwrap(),
        std::fs::read(from_sealed.join("secret.key")).unwrap()
    );
}

#[test]
fn an_archive_encrypted_to_recipients_opens_with_their_identity_only() {
    let app = TestApp::start();
    let work = tempfile::tempdir().unwrap();
    let config = empty_config(work.path());
    let (ours, theirs) = (age::x25519::Identity::generate(), age::x25519::Identity::generate());
    use age::secrecy::ExposeSecret;
    let key_file = |name: &str, id: &age::x25519::Identity| {
        let path = work.path().join(name);
        std::fs::write(&path, format!("{}\n", id.to_string().expose_secret())).unwrap();
        path
    };
    let (ours_file, theirs_file) = (key_file("ours.key", &ours), key_file("theirs.key", &theirs));
    let sealed = work.path().join("to-keys.tar.zst.age");
    let recipient = ours.to_public().to_string();
    let args = ["backup", sealed.to_str().unwrap(), "--recipient", &recipient];
    let (code, out, err) = cli_pass(app.dir.path(), &config, None, &args);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = cli(app.dir.path(), &config, &["backup", "x.age", "--recipient", "age1typo"]);
    assert_eq!(code, 1);
    assert!(err.contains("age1typo"), "{err}");
    drop(app);
    let file = sealed.to_str().unwrap();
    let (code, out, err) =
        cli(work.path(), &config, &["backup", "verify", file, "--identity", ours_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) =
        cli(work.path(), &config, &["backup", "verify", file, "--identity", theirs_file.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    let restored = work.path().join("restored");
    let (code, out, err) = cli(&restored, &config, &["restore", file, "--identity", ours_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn scheduled_backups_with_a_passphrase_file_are_encrypted() {
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_path_buf();
    let secret = backups.path().join("pass");
    std::fs::write(&secret, "scheduled secret\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let app = TestApp::builder()
        .config(|c| {
            c.backup.dir = Some(out.clone());
            c.backup.every = "1s".into();
            c.backup.passphrase_file = Some(secret.clone());
        })
        .start();
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.state.metrics.backup_last_success_ms.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "no scheduled backups");
        std::thread::sleep(Duration::from_millis(200));
    }
    let newest = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).max().unwrap();
    assert!(newest.to_string_lossy().ends_with(".tar.zst.age"), "{}", newest.display());
    let keys = palisade::backup::Keys {
        passphrase: Some(palisade::backup::Passphrase::new("scheduled secret".into()).unwrap()),
        identity: None,
    };
    assert!(palisade::backup::verify(&newest, &keys).is_ok());
    assert!(palisade::backup::verify(&newest, &Default::default()).is_err());
}
