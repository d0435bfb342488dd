//! Storage faults, for real: the data dir on a tiny tmpfs filled to its last byte (disk
//! full), and a read-only bind mount laid over the data dir (the file system turns read-only
//! under the running server). Writes must answer 503 `storage_unavailable` and change
//! nothing; reads, the rate limiter and the checks keep deciding (never open); audit records
//! are held and stored once the fault clears; the server recovers with no restart; and a
//! restart afterwards finds every acknowledged write and nothing else.
//!
//! Both faults need mount(2), i.e. root or CAP_SYS_ADMIN (CI runs as root). Without it the
//! tests say so on stderr and end early: no fault can be made without privileges here.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use palisade::tokens::TokenSpec;
use serde_json::json;

use crate::support::{Resp, TestApp};

/// A mount that is undone when dropped.
struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&str]) -> bool {
        Command::new("mount").args(args).output().map(|o| o.status.success()).unwrap_or(false)
    }

    /// A tmpfs of `size` at `at`, or `None` without the privilege to mount.
    fn tmpfs(at: &Path, size: &str) -> Option<Self> {
        let opts = format!("size={size},mode=0700");
        Self::run(&["-t", "tmpfs", "-o", &opts, "tmpfs", at.to_str()?]).then(|| Self(at.into()))
    }

    /// `dir` bound over itself, read-only.
    fn read_only(dir: &Path) -> Option<Self> {
        let d = dir.to_str()?;
        if !Self::run(&["--bind", d, d]) {
            return None;
        }
        let mount = Self(dir.into());
        assert!(Self::run(&["-o", "remount,bind,ro", d]), "remount read-only");
        Some(mount)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn no_privilege(what: &str) {
    eprintln!("faults: cannot mount a {what} here (needs root or CAP_SYS_ADMIN); fault not exercised");
}

fn post(app: &TestApp, t: &str, name: &str) -> Resp {
    app.req("POST", "/api/v1/clients").bearer(t).json(&json!({"company": name, "status": "active"})).send()
}

fn assert_unavailable(r: &Resp) {
    assert_eq!((r.status, r.code().as_str()), (503, "storage_unavailable"), "{}", r.text());
    r.assert_security_headers();
}

/// Fills the file system holding `dir` until it refuses another byte.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    while f.write_all(&chunk[..512]).is_ok() {}
    let _ = f.sync_all();
    path
}

/// Retries `f` until it is true (the audit backlog is retried every snapshot interval).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_limits_and_recovers_by_itself() {
    if crate::support::on_postgres("rows do not live on the data dir's disk") {
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let Some(_mount) = Mount::tmpfs(outer.path(), "40m") else { return no_privilege("tmpfs") };
    let dir = tempfile::tempdir_in(outer.path()).unwrap();
    let small_disk = |c: &mut palisade::config::Config| {
        c.state.min_free_bytes = 4 * 1024 * 1024;
        c.state.snapshot_interval_ms = 200;
    };
    let app = TestApp::builder().config(small_disk).dir(dir).start();
    let t = app.token(&["clients:rc", "leads:rc"]);
    let limited = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.rate = Some(3);
        s.window = Some(3600);
    });
    let before = post(&app, &t, "Before the fault");
    assert_eq!(before.status, 201);
    let before_id = before.json()["data"]["id"].as_u64().unwrap();
    let total = |app: &TestApp| app.get("/api/v1/clients?limit=1", &t).json()["total"].as_u64().unwrap();
    let total_before = total(&app);

    let filler = fill(outer.path());
    assert_unavailable(&post(&app, &t, "During the fault"));
    // Refused token creation, too (the admin path).
    let spec = TokenSpec { name: "during".into(), ..Default::default() };
    assert!(app.state.tokens.create(&spec, app.state.schema(), 0).is_err());
    // Reads keep working, and the refused write left nothing behind.
    let r = app.get(&format!("/api/v1/clients/{before_id}"), &t);
    assert_eq!(r.status, 200);
    assert_eq!(total(&app), total_before);
    // The limiter still decides, and never opens: 3 pass, the 4th is refused.
    let statuses: Vec<u16> = (0..4).map(|_| app.get("/api/v1/clients/1", &limited.token).status).collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
    // The checks still refuse, and the lock holds although it cannot be stored yet.
    let attack = app
        .req("POST", "/api/v1/leads")
        .bearer(&t)
        .client_ip("203.0.113.9")
        .json(&json!({"name": "x' OR '1'='1", "status": "new"}))
        .send();
    assert_eq!(attack.code(), "injection_detected");
    assert_eq!(app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip("203.0.113.9").send().code(), "locked");
    assert!(!app.state.store.health.failed(), "sled never met the full disk");

    // The fault clears: the next write succeeds, no restart.
    std::fs::remove_file(filler).unwrap();
    let after = post(&app, &t, "After the fault");
    assert_eq!(after.status, 201, "{}", after.text());
    let after_id = after.json()["data"]["id"].as_u64().unwrap();
    // The audit records of the fault are stored once storage is back, none dropped.
    eventually("the refused write's audit record", || {
        app.state.audit.tail(1000).unwrap().iter().any(|r| r.status == 503 && r.path == "/api/v1/clients")
    });
    eventually("the lock event made during the fault", || {
        app.state.audit.tail(1000).unwrap().iter().any(|r| r.method == "LOCK")
    });
    assert_eq!(app.state.audit.dropped.load(std::sync::atomic::Ordering::Relaxed), 0);

    // A restart finds both acknowledged writes, nothing of the refused one, and the lock.
    let dir = app.stop();
    let app = TestApp::builder().config(small_disk).dir(dir).start();
    let t = app.token(&["clients:r"]);
    assert_eq!(app.get(&format!("/api/v1/clients/{before_id}"), &t).status, 200);
    assert_eq!(app.get(&format!("/api/v1/clients/{after_id}"), &t).status, 200);
    assert_eq!(total(&app), total_before + 1);
    let r = app.req("GET", "/api/v1/clients/1").bearer(&t).client_ip("203.0.113.9").send();
    assert_eq!(r.code(), "locked", "{} {}", r.status, r.text());
}

#[test]
fn a_read_only_data_dir_refuses_writes_and_recovers_when_writable_again() {
    if crate::support::on_postgres("rows do not live on the data dir's disk") {
        return;
    }
    let app = TestApp::builder()
        .config(|c| {
            c.audit.max_pending = 10;
            c.state.snapshot_interval_ms = 100;
        })
        .start();
    let t = app.token(&["clients:rcud"]);
    let created = post(&app, &t, "Writable");
    assert_eq!(created.status, 201);
    let id = created.json()["data"]["id"].as_u64().unwrap();
    let Some(ro) = Mount::read_only(app.dir.path()) else { return no_privilege("read-only bind") };

    assert_unavailable(&post(&app, &t, "Read-only"));
    assert_unavailable(&app.req("DELETE", &format!("/api/v1/clients/{id}")).bearer(&t).send());
    assert_eq!(app.get("/api/v1/clients/1", &t).status, 200);
    let gql = app
        .req("POST", "/graphql")
        .bearer(&t)
        .json(&json!({"query": "mutation { create_clients(company: \"Ro\", status: \"active\") { id } }"}))
        .send();
    assert_eq!(gql.json()["errors"][0]["extensions"]["code"], "storage_unavailable", "{}", gql.text());

    // The audit writer holds what it can (10 records here) and counts what it must drop.
    for _ in 0..40 {
        assert_eq!(app.get("/health", &t).status, 200);
    }
    eventually("audit drops counted", || app.state.audit.dropped.load(std::sync::atomic::Ordering::Relaxed) > 0);

    drop(ro);
    assert_eq!(post(&app, &t, "Writable again").status, 201);
    // The held records are stored once storage is back.
    eventually("the refused writes' audit records", || {
        app.state.audit.tail(1000).unwrap().iter().any(|r| r.status == 503)
    });
    assert_eq!(app.req("DELETE", &format!("/api/v1/clients/{id}")).bearer(&t).send().status, 204);
}
