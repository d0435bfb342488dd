//! Running under systemd: the unit file's sandbox (scored by `systemd-analyze security`
//! where it exists) and its template for several instances, readiness over `NOTIFY_SOCKET` (`Type=notify`), and SIGHUP reloads that
//! keep the server and its connections up and apply the live keys.

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::Spawned;

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/palisade.service");
/// The template for several instances on one box (`palisade@a`, `palisade@b`).
const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/palisade@.service");

#[test]
fn the_unit_file_sandboxes_the_service() {
    let unit = std::fs::read_to_string(UNIT).unwrap();
    for line in [
        "Type=notify",
        "DynamicUser=yes",
        "StateDirectory=palisade",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "UMask=0077",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "WatchdogSec=",
    ] {
        assert!(unit.contains(line), "the unit lacks {line:?}");
    }
    assert_exposure_at_most_1_5(UNIT);
}

/// The template is the unit with the instance's config, data dir and name put in: every
/// other setting, the whole sandbox, is the same line for line.
#[test]
fn the_template_is_the_unit_per_instance() {
    let settings = |path| -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect()
    };
    let (unit, template) = (settings(UNIT), settings(TEMPLATE));
    assert_eq!(unit.len(), template.len(), "the same settings");
    let exec = "ExecStart=/usr/local/bin/palisade --config /etc/palisade/%i.toml --data-dir /var/lib/palisade/%i serve --no-seed";
    for (ours, theirs) in unit.iter().zip(&template) {
        match ours.split_once('=').map(|(key, _)| key) {
            Some("ExecStart") => assert_eq!(theirs, exec),
            Some("StateDirectory") => assert_eq!(theirs, "StateDirectory=palisade/%i"),
            Some("Description") => assert!(theirs.starts_with("Description=Palisade instance %i: ")),
            _ => assert_eq!(ours, theirs),
        }
    }
    assert_exposure_at_most_1_5(TEMPLATE);
}

/// `systemd-analyze security` rates `unit` 1.5 or better, where it exists.
fn assert_exposure_at_most_1_5(unit: &str) {
    let out = match Command::new("systemd-analyze").args(["security", "--offline=yes", unit]).output() {
        Ok(out) => out,
        Err(_) => return eprintln!("systemd-analyze not found; exposure score not checked"),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for ").nth(1))
        .and_then(|rest| rest.split(": ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no score in: {text}{}", String::from_utf8_lossy(&out.stderr)));
    assert!(score <= 1.5, "{unit}: exposure {score} > 1.5:\n{text}");
}

/// The next datagram on the notify socket.
fn next_state(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).expect("a notification within the timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn wait_for_log(log: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "no {needle:?} in the log:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_notifies_readiness_and_sighup_reloads_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("palisade.toml");
    // An hour-long throttle window, so no window boundary falls inside the test.
    std::fs::write(&config, "[log]\nlevel = \"info\"\n[shield]\nip_window_secs = 3600\n").unwrap();
    let notify_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let log = dir.path().join("server.log");
    let server = Spawned::serve_with(
        &data,
        &config,
        std::fs::File::create(&log).unwrap(),
        &[("NOTIFY_SOCKET", notify_path.to_str().unwrap())],
    );
    let ready = next_state(&socket);
    assert!(ready.starts_with("READY=1\n"), "{ready}");
    assert!(ready.contains(&server.addr.to_string()), "{ready}");

    // A keep-alive connection opened before the reload serves requests after it.
    let mut conn = std::net::TcpStream::connect(server.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut health = || {
        conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("{\"status\":\"ok\"}") {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "connection closed");
            got.extend_from_slice(&buf[..n]);
        }
    };
    health();

    // A valid change: the level and the shield's limit apply live; the checks change is
    // named as restart-only.
    let reloaded =
        "[log]\nlevel = \"debug\"\n[shield]\nip_requests = 3\nip_window_secs = 3600\n[checks]\nlock_secs = 60\n";
    std::fs::write(&config, reloaded).unwrap();
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    assert!(next_state(&socket).starts_with("RELOADING=1\nMONOTONIC_USEC="));
    assert_eq!(next_state(&socket), "READY=1");
    let text = wait_for_log(&log, "change only on restart");
    assert!(text.contains("log level changed") && text.contains("checks"), "{text}");
    assert!(!text.contains("\"shield\""), "{text}");
    health();

    // An invalid file is refused; the server keeps running on what it has.
    std::fs::write(&config, "[shield]\nno_such_key = 1\n").unwrap();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    assert!(next_state(&socket).starts_with("RELOADING=1"));
    assert_eq!(next_state(&socket), "READY=1");
    let text = wait_for_log(&log, "reload refused");
    assert!(text.contains("no_such_key"), "{text}");
    health();
    // Three requests from this address so far in the window: the live limit of 3 holds.
    assert_eq!(server.req("GET", "/health").send().json()["error"]["code"], "ip_rate_limited");

    let status = server.signal("TERM");
    assert_eq!(next_state(&socket), "STOPPING=1");
    assert_eq!(status.code(), Some(0));
}

/// A served data dir under a 300 ms systemd watchdog, ready: (dir, data, config, the
/// notify socket, its path, the server).
fn watched_server(
) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf, UnixDatagram, std::path::PathBuf, Spawned) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("palisade.toml");
    std::fs::write(&config, "").unwrap();
    let notify_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let server = Spawned::serve_with(
        &data,
        &config,
        std::process::Stdio::null(),
        &[("NOTIFY_SOCKET", notify_path.to_str().unwrap()), ("WATCHDOG_USEC", "300000")],
    );
    assert!(next_state(&socket).starts_with("READY=1\n"));
    (dir, data, config, socket, notify_path, server)
}

#[test]
fn the_watchdog_beats_while_health_answers() {
    let (_dir, data, config, socket, notify_path, server) = watched_server();
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(next_state(&socket), "WATCHDOG=1");
    }
    // Five beats, each earned by a /health round trip, at most 200 ms apart.
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    // A WATCHDOG_PID naming another process means the watchdog is not ours.
    drop(server);
    let other = Spawned::serve_with(
        &data,
        &config,
        std::process::Stdio::null(),
        &[("NOTIFY_SOCKET", notify_path.to_str().unwrap()), ("WATCHDOG_USEC", "300000"), ("WATCHDOG_PID", "1")],
    );
    assert!(next_state(&socket).starts_with("READY=1\n"));
    socket.set_read_timeout(Some(Duration::from_millis(800))).unwrap();
    let mut buf = [0u8; 64];
    assert!(socket.recv(&mut buf).is_err(), "no beat for a watchdog that is not ours");
    assert_eq!(other.signal("TERM").code(), Some(0));
}

#[test]
fn health_and_so_the_watchdog_fail_while_the_store_writer_hangs() {
    if crate::support::on_postgres("the sled writer thread") {
        return;
    }
    let app = crate::support::TestApp::start();
    let probe = |deadline| {
        actix_rt::System::new().block_on(palisade::watchdog::healthy(app.addr, Duration::from_millis(deadline)))
    };
    assert!(probe(2000));
    // Hold the writer inside a write, as a deadlock would.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let op = palisade::store::Op::Update {
        table: "clients".into(),
        id: 1,
        refs: Vec::new(),
        change: Box::new(move |row| {
            let _ = held.recv();
            Ok(row)
        }),
    };
    app.state.store.submit(op, |_| {});
    assert!(!probe(1000), "a hung writer must fail the probe");
    let r = app.req("GET", "/health").send();
    assert_eq!((r.status, r.code().as_str()), (503, "storage_unavailable"));
    release.send(()).unwrap();
    assert!(probe(2000));
}

/// Issue #24, item 1: one lock on 127.0.0.1 (a scanner behind a same-host proxy) used to
/// stop the beats, and systemd restarted the service for as long as the lock lasted.
#[test]
fn the_watchdog_keeps_beating_while_127_0_0_1_is_locked() {
    let (_dir, data, config, socket, _, server) = watched_server();
    let locked = Spawned::cli(&data, &config, &["lock", "ip", "127.0.0.1", "--reason", "scanner"]);
    assert!(locked.status.success(), "{}", String::from_utf8_lossy(&locked.stderr));
    assert_eq!(server.req("GET", "/health").send().json()["error"]["code"], "locked", "clients are locked out");
    // Drain what was sent before the lock, then three intervals (3 × 300 ms) of beats.
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut buf = [0u8; 512];
    while socket.recv(&mut buf).is_ok() {}
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let started = Instant::now();
    let mut beats = 0;
    while started.elapsed() < Duration::from_millis(900) {
        if next_state(&socket) == "WATCHDOG=1" {
            beats += 1;
        }
    }
    assert!(beats >= 6, "only {beats} beats in three watchdog intervals while 127.0.0.1 is locked");
    assert_eq!(server.signal("TERM").code(), Some(0));
}
