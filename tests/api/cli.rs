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
    let list: Value = serde_json::from_str(&stdout(&palisade(dir.path(), &["token", "list", "--json"]))).unwrap();
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
    let rest: Vec<String> = lines.by_ref().take(2).map(Result::unwrap).collect();
    assert!(rest[0].contains("seeded"), "{rest:?}");
    assert!(rest[1].contains("token create"), "{rest:?}");

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
