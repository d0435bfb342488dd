//! The binary as users run it: serve, admin commands over the socket and without a server,
//! exit codes, config errors, the signing helper.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

fn palisade(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_palisade")).arg("--data-dir").arg(dir).args(args).output().unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn token_commands_work_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::init_store(dir.path());
    let out = palisade(dir.path(), &["token", "create", "--name", "ci", "--scope", "clients:r", "--sign", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(created["token"].as_str().unwrap().starts_with("pal_"));
    assert!(created["signing_secret"].is_string());
    let out = palisade(dir.path(), &["token", "create", "--name", "plain", "--scope", "*:r"]);
    let lines: Vec<String> = stdout(&out).lines().map(String::from).collect();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("pal_"));
    let list: Value = serde_json::from_str(&stdout(&palisade(dir.path(), &["token", "list", "--json"]))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(created["token"].as_str().unwrap()));
    assert!(!list.to_string().contains("hash"));
    let id = created["id"].as_str().unwrap();
    assert!(palisade(dir.path(), &["token", "revoke", id]).status.success());
    let live: Value = serde_json::from_str(&stdout(&palisade(dir.path(), &["token", "list", "--json"]))).unwrap();
    assert!(live.as_array().unwrap().iter().all(|t| t["id"] != id), "revoked tokens are hidden without --all");
    let list: Value =
        serde_json::from_str(&stdout(&palisade(dir.path(), &["token", "list", "--all", "--json"]))).unwrap();
    assert!(list.as_array().unwrap().iter().any(|t| t["id"] == id && t["revoked"] == true));
    let bad = palisade(dir.path(), &["token", "revoke", "nope"]);
    assert_eq!(bad.status.code(), Some(1));
    let bad = palisade(dir.path(), &["token", "create", "--name", "x", "--scope", "staff:r"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--allow-sensitive"));
    assert_eq!(palisade(dir.path(), &["token", "frobnicate"]).status.code(), Some(2));
}

#[test]
fn config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[shield]\nmax_body_byts = 1\n").unwrap();
    let out = palisade(dir.path(), &["--config", config.to_str().unwrap(), "serve"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_body_byts"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn sign_prints_the_two_header_lines() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, "{}").unwrap();
    let args = ["sign", "--secret", "s", "--method", "post", "--url", "http://h:1/api/v1/clients?b=2&a=1"];
    let out =
        palisade(dir.path(), &[&args[..], &["--body", body.to_str().unwrap(), "--timestamp", "1700000000"]].concat());
    let text = stdout(&out);
    let canonical = palisade::pipeline::auth::canonical("POST", "/api/v1/clients", "b=2&a=1", b"{}", "1700000000");
    let expected = palisade::pipeline::auth::sign("s", &canonical);
    assert_eq!(text, format!("X-Timestamp: 1700000000\nX-Signature: {expected}\n"));
}

#[test]
fn serve_prints_its_address_takes_live_tokens_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.strip_prefix("listening on http://").expect(&first).to_string();
    let rest: Vec<String> = lines.by_ref().take(3).map(Result::unwrap).collect();
    // The files in use, as absolute paths.
    let data_dir = std::fs::canonicalize(dir.path()).unwrap();
    assert!(rest[0].starts_with("config ") && rest[0].contains("schema "), "{rest:?}");
    assert!(
        rest[0].contains(&format!("data dir {}", dir.path().display()))
            || rest[0].contains(&data_dir.display().to_string()),
        "{rest:?}"
    );
    assert!(rest[1].contains("seeded"), "{rest:?}");
    assert!(rest[2].contains("token create"), "{rest:?}");

    // Through the admin socket while the server runs; usable at once.
    let out = palisade(dir.path(), &["token", "create", "--name", "live", "--scope", "clients:r"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = stdout(&out).trim().to_string();
    let get = |t: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        use std::io::Write;
        write!(
            s,
            "GET /api/v1/clients/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        crate::support::read_response(&mut s).status
    };
    assert_eq!(get(&token), 200);
    let id = serde_json::from_str::<Value>(&stdout(&palisade(dir.path(), &["token", "list", "--json"]))).unwrap()[0]
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(palisade(dir.path(), &["token", "revoke", &id]).status.success());
    assert_eq!(get(&token), 401);

    // Locks through the socket take effect at once.
    let out = palisade(dir.path(), &["token", "create", "--name", "second", "--scope", "clients:r"]);
    let token2 = stdout(&out).trim().to_string();
    assert_eq!(get(&token2), 200);
    let out = palisade(dir.path(), &["lock", "ip", "127.0.0.1", "--for", "60", "--reason", "test"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(get(&token2), 403);
    let locks = stdout(&palisade(dir.path(), &["locks", "list", "--json"]));
    assert_eq!(locks.lines().count(), 1);
    assert!(!locks.contains("127.0.0.1") && locks.contains("\"reason\":\"test\""), "{locks}");
    assert!(palisade(dir.path(), &["unlock", "ip", "127.0.0.1"]).status.success());
    assert_eq!(get(&token2), 200);
    assert_eq!(palisade(dir.path(), &["lock", "ip", "not-an-ip"]).status.code(), Some(1));

    let socket = dir.path().join("admin.sock");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");

    // After a graceful stop the audit trail is on disk and readable without the server.
    let out = palisade(dir.path(), &["audit", "tail", "-n", "20", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let requests: Vec<&Value> = records.iter().filter(|r| r["method"] == "GET").collect();
    assert_eq!(requests.len(), 5);
    for key in ["time", "method", "path", "status", "duration_us", "token_id", "ip_hash"] {
        assert!(requests[0].get(key).is_some(), "{key} missing in {}", requests[0]);
    }
    assert_eq!(requests[1]["stage"], "auth");
    assert_eq!(requests[3]["stage"], "checks");
    assert!(records.iter().any(|r| r["method"] == "LOCK") && records.iter().any(|r| r["method"] == "UNLOCK"));
    assert!(!stdout(&out).contains(&token[20..]));
}

/// Runs the binary with `input` on stdin; returns its output.
fn palisade_with_stdin(dir: &std::path::Path, args: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn output_survives_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::init_store(dir.path());
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        assert!(palisade(dir.path(), &["lock", "ip", ip]).status.success());
    }
    // `palisade locks list | head -0`: the reader is gone before the first line.
    let child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["locks", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !err.contains("panicked"), "{:?} {err}", out.status);
    // And mid-stream: a long batch whose reader stops after one line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["check-injection"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all("hello world\n".repeat(200_000).as_bytes());
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("clean"), "{first}");
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn check_injection_judges_each_stdin_line_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        palisade_with_stdin(dir.path(), &["check-injection", "--json"], b"1' OR 1=1--\n\xff\xfe\r\nhello there\n");
    assert_eq!(out.status.code(), Some(1), "one line could not be judged");
    let lines: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{}", stdout(&out));
    assert_eq!(lines[0]["verdict"], "attack");
    assert_eq!((lines[1]["line"].as_u64(), lines[1]["verdict"].is_null()), (Some(2), true));
    assert_eq!(lines[2]["verdict"], "clean");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));
}

#[test]
fn locking_an_unknown_user_says_so_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::init_store(dir.path());
    let out = palisade(dir.path(), &["lock", "user", "nosuchuser"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert!(palisade(dir.path(), &["lock", "user", "nosuchuser", "--force"]).status.success());
    assert!(palisade(dir.path(), &["token", "create", "--name", "ada", "--scope", "clients:r"]).status.success());
    assert!(palisade(dir.path(), &["lock", "user", "ada"]).status.success());
}

#[test]
fn schema_documents_need_no_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let out = palisade(&missing, &["schema", "openapi"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("\"openapi\""));
    assert!(palisade(&missing, &["schema", "pii"]).status.success());
    let out = palisade(&missing, &["schema", "check"]);
    assert_eq!(out.status.code(), Some(1), "check reads the data dir");
    assert!(!missing.exists(), "nothing was created");
}
