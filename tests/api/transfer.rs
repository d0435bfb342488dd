//! Import and export: `Accept: text/csv` on lists and views (whole filtered result, same
//! scopes and sandbox fakes as JSON), `palisade export`, and `palisade import` with ids,
//! references, bad lines (all or nothing, `--skip-bad`), CSV quoting and UTF-8 — offline
//! and through a running server's admin socket.

use std::path::Path;

use palisade::transfer::csv::cell;
use serde_json::{json, Value};

use crate::support::{Spawned, TestApp};

/// The records of a CSV text (header first).
fn records(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    reader.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect()
}

/// JSON rows as the CSV records they should be, in `header`'s order.
fn as_records(header: &[String], rows: &[Value]) -> Vec<Vec<String>> {
    rows.iter().map(|r| header.iter().map(|c| cell(r.get(c)).into_owned()).collect()).collect()
}

fn all_json(app: &TestApp, path: &str, token: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    loop {
        let page = app.get(&format!("{path}{sep}limit=500&offset={}", out.len()), token).json();
        let rows = page["data"].as_array().unwrap().clone();
        if rows.is_empty() {
            return out;
        }
        out.extend(rows);
    }
}

fn csv_get(app: &TestApp, path: &str, token: &str) -> String {
    let r = app.req("GET", path).bearer(token).header("Accept", "text/csv").send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    r.assert_security_headers();
    r.text()
}

#[test]
fn csv_of_a_filtered_list_equals_the_json_rows() {
    let app = TestApp::start();
    let t = app.token(&["*:rc"]);
    // More rows than one streamed page, so the keyset paging is crossed.
    let rows: Vec<Value> = (0..500)
        .map(|i| {
            json!({"client_id": 2, "number": format!("C-{i}"), "status": "sent",
                        "issue_date": "2025-01-02", "total": 1.25, "notes": "a, \"quoted\"\nnote ✓"})
        })
        .collect();
    for _ in 0..3 {
        let r = app.req("POST", "/api/v1/invoices").bearer(&t).json(&Value::Array(rows.clone())).send();
        assert_eq!(r.status, 201);
    }
    for path in ["/api/v1/invoices?client_id=2", "/api/v1/invoices?status=sent", "/api/v1/invoices", "/api/v1/clients"]
    {
        let text = csv_get(&app, path, &t);
        let got = records(&text);
        let header = got[0].clone();
        assert_eq!(header[0], "id");
        let json_rows = all_json(&app, path, &t);
        assert!(json_rows.len() > 10, "{path}");
        assert_eq!(got[1..].to_vec(), as_records(&header, &json_rows), "{path}");
    }
    // Views too, with their columns.
    let index = app.get("/api/v1", &t).json();
    let view = index["views"][0].as_str().unwrap().to_string();
    let path = format!("/api/v1/views/{view}");
    let got = records(&csv_get(&app, &path, &t));
    assert_eq!(got[1..].to_vec(), as_records(&got[0], &all_json(&app, &path, &t)));
    // Refusals keep the JSON error shape.
    let r = app.req("GET", "/api/v1/invoices?nope=1").bearer(&t).header("Accept", "text/csv").send();
    assert_eq!((r.status, r.code().as_str()), (400, "bad_request"));
}

#[test]
fn a_sandbox_tokens_csv_holds_fakes_only() {
    let app = TestApp::start();
    let real = app.token(&["clients:r"]);
    let sandbox = app.token_with(|s| {
        s.sandbox = true;
        s.scopes = vec!["clients:r".into()];
    });
    let real_rows = all_json(&app, "/api/v1/clients", &real);
    let text = csv_get(&app, "/api/v1/clients", &sandbox.token);
    for row in &real_rows {
        for column in ["company", "email", "phone", "vat_number"] {
            if let Some(s) = row[column].as_str().filter(|s| s.len() > 3) {
                assert!(!text.contains(s), "real {column} {s:?} in a sandbox CSV");
            }
        }
    }
    let got = records(&text);
    assert_eq!(got[1..].to_vec(), as_records(&got[0], &all_json(&app, "/api/v1/clients", &sandbox.token)));
    assert_eq!(got.len() - 1, real_rows.len());
}

fn cli(dir: &Path, config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Spawned::cli(dir, config, args);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const CLIENTS: &str = "id,company,status,city,email,created_at\n\
    100,\"Ærø Fisk, \"\"Havn\"\" AS\",active,Tromsø,,2020-01-02T03:04:05Z\n\
    101,\"Multi\nLine Ltd\",lead,,b@example.com,\n";

#[test]
fn import_keeps_ids_and_references_and_reports_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (data, files, config) = (dir.path().join("data"), dir.path().join("in"), dir.path().join("palisade.toml"));
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(&config, "").unwrap();
    // Admin commands need a data dir a server made (an empty store will do).
    crate::support::init_store(&data);
    std::fs::write(files.join("clients.csv"), CLIENTS).unwrap();
    std::fs::write(
        files.join("invoices.jsonl"),
        "{\"id\": 7, \"client_id\": 100, \"number\": \"I-7\", \"status\": \"paid\", \"issue_date\": \"2021-02-03\", \"total\": 9.5}\n\
         {\"client_id\": 101, \"number\": \"I-8\", \"status\": \"sent\", \"issue_date\": \"2021-02-04\", \"total\": 1}\n",
    )
    .unwrap();
    let (code, out, err) = cli(&data, &config, &["import", "--dir", files.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("clients: 2 rows imported") && out.contains("invoices: 2 rows imported"), "{out}");
    let (_, exported, _) = cli(&data, &config, &["export", "clients", "--format", "jsonl"]);
    let clients = jsonl(&exported);
    assert_eq!(clients.len(), 2);
    assert_eq!(clients[0]["id"], 100);
    assert_eq!(clients[0]["company"], "Ærø Fisk, \"Havn\" AS");
    assert_eq!(clients[0]["city"], "Tromsø");
    assert_eq!(clients[0]["created_at"], "2020-01-02T03:04:05Z", "created_at kept");
    assert!(clients[0].get("email").is_none(), "an empty cell is a missing value");
    assert_eq!(clients[1]["company"], "Multi\nLine Ltd");
    assert!(clients[1]["created_at"].is_string(), "stamped when not given");
    let (_, exported, _) = cli(&data, &config, &["export", "invoices", "--format", "jsonl"]);
    let invoices = jsonl(&exported);
    assert_eq!(
        (invoices[0]["id"].as_u64(), invoices[1]["id"].as_u64()),
        (Some(7), Some(8)),
        "the sequence moved past 7"
    );
    // CSV export round-trips through the csv crate with the same cells.
    let (_, csv_text, _) = cli(&data, &config, &["export", "clients"]);
    let recs = records(&csv_text);
    assert_eq!(recs[1][recs[0].iter().position(|c| c == "company").unwrap()], "Ærø Fisk, \"Havn\" AS");

    // Bad lines: nothing is imported, every bad line is named.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "client_id,number,status,issue_date,total,id\n\
         100,I-20,paid,2022-01-01,5,\n\
         999,I-21,paid,2022-01-01,5,\n\
         101,I-22,paid,2022-01-01,ten,\n\
         101,I-23,paid,2022-01-01,5,7\n\
         101,I-24,paid,2022-01-01,5,\n",
    )
    .unwrap();
    let (code, out, err) = cli(&data, &config, &["import", "invoices", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("bad.csv:3: column client_id: no clients row with id 999"), "{out}");
    assert!(out.contains("bad.csv:4: column total:"), "{out}");
    assert!(out.contains("bad.csv:5: column id: a invoices row with id 7 already exists"), "{out}");
    assert!(err.contains("3 bad lines; nothing was imported"), "{err}");
    let (_, exported, _) = cli(&data, &config, &["export", "invoices", "--format", "jsonl"]);
    assert_eq!(jsonl(&exported).len(), 2);
    // --skip-bad: the good two go in.
    let (code, out, _) = cli(&data, &config, &["import", "invoices", bad.to_str().unwrap(), "--skip-bad"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("invoices: 2 rows imported") && out.contains("3 bad lines skipped"), "{out}");
    let (_, exported, _) = cli(&data, &config, &["export", "invoices", "--format", "jsonl"]);
    let numbers: Vec<Value> = jsonl(&exported).iter().map(|r| r["number"].clone()).collect();
    assert_eq!(numbers, [json!("I-7"), json!("I-8"), json!("I-20"), json!("I-24")]);
    // An unknown column in the header stops the file.
    std::fs::write(&bad, "company,colour\nX,red\n").unwrap();
    let (code, _, err) = cli(&data, &config, &["import", "clients", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown column \"colour\""), "{err}");
}

#[test]
fn import_and_export_go_through_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let (data, config) = (dir.path().join("data"), dir.path().join("palisade.toml"));
    std::fs::write(&config, "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n").unwrap();
    let server = Spawned::serve(&data, &config);
    let token = Spawned::create_token(&data, &config, &["--name", "r", "--scope", "clients:r"]);
    let file = dir.path().join("clients.csv");
    std::fs::write(&file, CLIENTS).unwrap();
    let (code, out, err) = cli(&data, &config, &["import", "clients", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    // The live server serves the imported row at once.
    let r = server.req("GET", "/api/v1/clients/100").bearer(&token).send();
    assert_eq!(r.json()["data"]["company"], "Ærø Fisk, \"Havn\" AS");
    let (code, exported, err) = cli(&data, &config, &["export", "clients", "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let rows = jsonl(&exported);
    let total = server.req("GET", "/api/v1/clients?limit=1").bearer(&token).send().json()["total"].as_u64().unwrap();
    assert_eq!(rows.len() as u64, total);
    let out_dir = dir.path().join("out");
    let (code, out, err) = cli(&data, &config, &["export", "--dir", out_dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("clients: {total} rows")), "{out}");
    assert_eq!(records(&std::fs::read_to_string(out_dir.join("clients.csv")).unwrap()).len() as u64, total + 1);
    let (code, _, err) = cli(&data, &config, &["export", "nosuch"]);
    assert_eq!(code, 1);
    assert!(err.contains("no table named"), "{err}");
    server.signal("TERM");
}
