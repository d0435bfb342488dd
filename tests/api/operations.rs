//! Operating Palisade day to day (issue #24): an audit trail that answers "who did what"
//! for GraphQL too, `audit tail` filters and follow mode against a live server, admin
//! commands that refuse a directory without a store, clean start-up errors, a prompt
//! SIGTERM under load.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{Spawned, TestApp};
use palisade::store::audit::read::{tail_matching, Filter};
use palisade::store::audit::{OperationKind, WriteAction};

fn gql(addr: std::net::SocketAddr, token: &str, query: &str) -> crate::support::Resp {
    crate::support::Req::to(addr, "POST", "/graphql").bearer(token).json(&json!({ "query": query })).send()
}

fn lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The GraphQL facts of each request, in-process: operation, name, tables (fragments
/// included), and each mutation field's table, action, row id and error code.
#[test]
fn graphql_records_carry_operation_tables_and_each_write() {
    let app = TestApp::start();
    let writer = app.token(&["leads:rcud", "clients:r", "invoices:r"]);
    let reader = app.token(&["leads:r"]);
    let query = "query Who { clients(limit: 1) { ...C } } fragment C on Clients { invoices(limit: 1) { id } }";
    let r = gql(app.addr, &writer, query);
    assert!(r.json()["errors"].is_null(), "{}", r.text());
    let r = gql(app.addr, &writer, r#"mutation Add { create_leads(name: "Ada", status: "new") { id } }"#);
    let created = r.json()["data"]["create_leads"]["id"].as_u64().unwrap();
    assert_eq!(gql(app.addr, &reader, &format!("mutation {{ delete_leads(id: {created}) }}")).status, 200);
    std::thread::sleep(Duration::from_millis(150));
    let path = Filter { path_prefix: Some("/graphql".into()), ..Default::default() };
    let found = tail_matching(&app.dir.path().join("audit"), 10, &path).unwrap();
    assert_eq!(found.len(), 3, "{found:#?}");
    let facts: Vec<_> = found.iter().map(|r| r.graphql.clone().expect("graphql facts")).collect();
    assert_eq!((facts[0].operation, facts[0].name.as_deref()), (OperationKind::Query, Some("Who")));
    assert_eq!(facts[0].tables, ["clients", "invoices"], "a fragment's fields count where they land");
    assert!(facts[0].mutations.is_empty());
    assert_eq!((facts[1].operation, facts[1].name.as_deref()), (OperationKind::Mutation, Some("Add")));
    let add = &facts[1].mutations[0];
    assert_eq!(
        (add.table.as_str(), add.action, add.id, add.error.as_deref()),
        ("leads", WriteAction::Create, Some(created), None)
    );
    let refused = &facts[2].mutations[0];
    assert_eq!(
        (refused.action, refused.id, refused.error.as_deref()),
        (WriteAction::Delete, Some(created), Some("forbidden"))
    );
    assert_eq!(facts[2].name, None);
}

/// Through the real binary: a GraphQL delete is found by `audit tail --path /graphql --user
/// …` at once, although the server would hold it for ten minutes (the tail asks it to
/// flush); the text form names the owner and the write; `-f` prints what comes next and
/// stops on SIGINT.
#[test]
fn audit_tail_finds_a_graphql_delete_by_user_and_follows_new_records() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("palisade.toml");
    std::fs::write(&config, "[audit]\nflush_interval_ms = 600000\n").unwrap();
    let server = Spawned::serve(dir.path(), &config);
    let alice = Spawned::create_token(dir.path(), &config, &["--name", "alice", "--scope", "leads:rcud"]);
    let bob = Spawned::create_token(dir.path(), &config, &["--name", "bob", "--scope", "leads:r"]);
    assert_eq!(server.req("GET", "/api/v1/leads/90").bearer(&bob).send().status, 200);
    let r = gql(server.addr, &alice, "mutation DropLead { delete_leads(id: 90) }");
    assert_eq!(r.json()["data"]["delete_leads"], true, "{}", r.text());

    let tail = |args: &[&str]| Spawned::cli(dir.path(), &config, &[&["audit", "tail"], args].concat());
    let out = tail(&["--path", "/graphql", "--user", "alice", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let found = lines(&out);
    assert_eq!(found.len(), 1, "{found:?}");
    let g = &found[0]["graphql"];
    assert_eq!(g["operation"], "mutation");
    assert_eq!(g["name"], "DropLead");
    assert_eq!(g["tables"], json!(["leads"]));
    assert_eq!(g["mutations"], json!([{"table": "leads", "action": "delete", "id": 90}]));
    for field in ["time", "method", "path", "status", "duration_us", "token_id", "ip_hash", "prev"] {
        assert!(found[0].get(field).is_some(), "{field} missing: {}", found[0]);
    }
    let text = String::from_utf8_lossy(&tail(&["--user", "alice"]).stdout).into_owned();
    assert!(
        text.contains("user=alice") && text.contains("graphql: mutation DropLead [leads] delete leads#90"),
        "{text}"
    );
    assert_eq!(lines(&tail(&["--user", "bob", "--json"])).len(), 1);
    assert_eq!(lines(&tail(&["--status", "200", "--path", "/api/v1/leads", "--json"])).len(), 1);
    let token_id = found[0]["token_id"].as_str().unwrap();
    assert_eq!(lines(&tail(&["--token", token_id, "--json"])).len(), 1);
    assert!(lines(&tail(&["--since", "4000000000", "--json"])).is_empty());
    assert_eq!(lines(&tail(&["--until", "2100-01-01T00:00:00Z", "--user", "bob", "--json"])).len(), 1);
    assert_eq!(tail(&["--since", "yesterday"]).status.code(), Some(2));

    // Follow: the last /graphql record first, then the next one (not /health).
    let mut follower = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_palisade"))
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["audit", "tail", "-f", "-n", "1", "--json", "--path", "/graphql"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follower.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first: Value = serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(first["graphql"]["name"], "DropLead", "{first}");
    assert_eq!(server.req("GET", "/health").send().status, 200);
    assert_eq!(gql(server.addr, &bob, "query Peek { leads(limit: 1) { id } }").status, 200);
    // Any tail makes the server store what it holds; the follower then sees it.
    assert!(tail(&["-n", "0"]).status.success());
    let next: Value = serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(next["graphql"]["name"], "Peek", "{next}");
    let pid = follower.0.id().to_string();
    assert!(Command::new("kill").args(["-s", "INT", &pid]).status().unwrap().success());
    assert_eq!(follower.0.wait().unwrap().code(), Some(0));
}

/// A child process that is killed when the test ends, failed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stderr_line(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err.trim_end().to_string()
}

/// An admin command run where there is no store (`data/state` missing under the current
/// directory, or a `--data-dir` without one) exits 1 naming the place and creates nothing;
/// commands that need no store still run there.
#[test]
fn admin_commands_refuse_a_directory_without_a_store_and_create_nothing() {
    let cwd = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_palisade")).current_dir(cwd.path()).args(args).output().unwrap()
    };
    let expected = format!(
        "palisade: no Palisade data dir at {} — start the server once or pass --data-dir",
        cwd.path().join("data/state").display()
    );
    for args in [
        &["token", "create", "--name", "x", "--scope", "clients:r"][..],
        &["token", "list"],
        &["audit", "tail"],
        &["locks", "list"],
        &["lock", "ip", "203.0.113.9"],
        &["schema", "check"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr_line(&out), expected, "{args:?}");
    }
    let empty = cwd.path().join("elsewhere");
    std::fs::create_dir(&empty).unwrap();
    let out = run(&["--data-dir", "elsewhere", "token", "list"]);
    assert_eq!(
        stderr_line(&out),
        format!("palisade: no Palisade data dir at {} — start the server once or pass --data-dir", empty.display())
    );
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "nothing created in the given dir");
    assert!(run(&["check-injection", "O'Brien"]).status.success());
    assert!(run(&["sign", "--secret", "s", "--method", "GET", "--url", "/api/v1"]).status.success());
    let left: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["elsewhere"], "nothing created in the current directory");
}

/// Start-up errors are one line each, with no panic output: a port in use, a data dir
/// another server holds (named by its pid), an unreadable config.
#[test]
fn start_up_errors_are_one_clean_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("palisade.toml");
    std::fs::write(&config, "").unwrap();
    let serve = |data: &std::path::Path, listen: &str| {
        Command::new(env!("CARGO_BIN_EXE_palisade"))
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--listen", listen])
            .output()
            .unwrap()
    };
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = serve(&dir.path().join("a"), &format!("127.0.0.1:{port}"));
    assert_eq!(out.status.code(), Some(1));
    let line = stderr_line(&out);
    assert!(line.contains(&format!("cannot listen on 127.0.0.1:{port}")) && line.contains("already in use"), "{line}");
    assert!(!dir.path().join("a").exists(), "a start refused for its port creates no data dir");

    let data = dir.path().join("b");
    let server = Spawned::serve(&data, &config);
    let out = serve(&data, "127.0.0.1:0");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_line(&out),
        format!("palisade: another palisade is serving {} (pid {})", data.display(), server.child.id())
    );
    drop(server);

    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("--config")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("cannot read config"));
}

/// `--listen localhost:0` is resolved; the banner names the explorer and how to stop; a log
/// that is not a terminal carries no colour codes; a crash's `*.tmp` files in the audit dir
/// are gone after the start.
#[test]
fn host_names_listen_the_banner_guides_and_logs_are_plain_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("audit")).unwrap();
    let stale = data.join("audit/0000000001-1700000000000.jsonl.zst.tmp");
    std::fs::write(&stale, b"half a compression").unwrap();
    let log = dir.path().join("server.log");
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_palisade"))
            .arg("--data-dir")
            .arg(&data)
            .args(["serve", "--listen", "localhost:0"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.strip_prefix("listening on http://").unwrap_or_else(|| panic!("{first}")).to_string();
    let banner: Vec<String> = lines.by_ref().take_while(|l| l.is_ok()).map(Result::unwrap).take(6).collect();
    assert!(banner.iter().any(|l| l == &format!("API explorer: http://{addr}/explorer")), "{banner:?}");
    assert!(banner.iter().any(|l| l.contains("Ctrl-C") && l.contains("SIGTERM")), "{banner:?}");
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    assert!(addr.ip().is_loopback());
    assert_eq!(crate::support::Req::to(addr, "GET", "/health").send().status, 200);
    assert!(!stale.exists(), "stale temporary file removed at start");
    let pid = child.0.id().to_string();
    assert!(Command::new("kill").args(["-s", "TERM", &pid]).status().unwrap().success());
    assert!(child.0.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("palisade started"), "{text}");
    assert!(!text.contains('\u{1b}'), "colour codes in a log that is no terminal: {text:?}");
}

/// SIGTERM while clients keep writing over keep-alive connections: the server stops
/// accepting, lets in-flight requests finish, and exits within 5 s; every acknowledged write
/// is there after a restart.
#[test]
fn sigterm_under_a_write_load_exits_within_five_seconds_keeping_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("palisade.toml");
    std::fs::write(&config, "[shield]\nip_requests = 100000000\n").unwrap();
    let server = Spawned::serve(&data, &config);
    let token = Spawned::create_token(&data, &config, &["--name", "w", "--scope", "clients:rc", "--rate", "100000000"]);
    let addr = server.addr;
    let writers: Vec<_> = (0..4)
        .map(|i| {
            let token = token.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                let Some(mut conn) = crate::support::KeepAlive::try_connect(addr, Duration::from_secs(10)) else {
                    return acknowledged;
                };
                let headers = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
                let body = format!(r#"{{"company":"Load {i}","status":"active"}}"#);
                while let Some((status, body)) = conn.send("POST", "/api/v1/clients", &headers, body.as_bytes()) {
                    if status == 201 {
                        let row: Value = serde_json::from_slice(&body).unwrap();
                        acknowledged.push(row["data"]["id"].as_u64().unwrap());
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let started = std::time::Instant::now();
    let status = server.signal("TERM");
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
    let acknowledged: Vec<u64> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert!(acknowledged.len() > 10, "the load ran: {}", acknowledged.len());

    let server = Spawned::serve(&data, &config);
    let mut conn = crate::support::KeepAlive::connect(server.addr);
    let headers = format!("Authorization: Bearer {token}\r\n");
    for id in acknowledged {
        assert_eq!(conn.get(&format!("/api/v1/clients/{id}"), &headers), Some(200), "client {id}");
    }
}
