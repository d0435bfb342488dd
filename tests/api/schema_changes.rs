//! Schema changes never leak or lose data (issue #23): what is served is exactly the file's
//! schema on every path; renames, defaults and type changes rewrite the stored rows once;
//! dropped data is kept hidden until `schema prune`; a change that cannot be applied stops
//! the start naming what to add, and changes nothing.

use palisade::api::admin::{execute, AdminRequest};
use palisade::schema::EMBEDDED_SCHEMA;
use serde_json::{json, Value};

use crate::support::TestApp;

const ADDRESS: &str = "address    = { type = \"string\", pii = \"street_address\" }\n";

fn without_address() -> String {
    assert!(EMBEDDED_SCHEMA.contains(ADDRESS));
    EMBEDDED_SCHEMA.replace(ADDRESS, "")
}

fn restart(app: TestApp, schema: &str) -> TestApp {
    let dir = app.stop();
    TestApp::builder().schema(schema).dir(dir).start()
}

fn gql(app: &TestApp, token: &str, query: &str) -> Value {
    app.req("POST", "/graphql").bearer(token).json(&json!({ "query": query })).send().json()
}

#[test]
fn a_dropped_column_is_served_nowhere_kept_on_disk_and_pruned() {
    let app = TestApp::start();
    let before = app.get("/api/v1/clients/2", &app.token(&["clients:r"])).json();
    let address = before["data"]["address"].as_str().expect("the demo client has an address").to_string();
    let app = restart(app, &without_address());
    let reader = app.token(&["*:r"]);
    let sandbox = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.sandbox = true;
    });
    let writer = app.token(&["clients:ru"]);
    let bodies = [
        app.get("/api/v1/clients/2", &reader).text(),
        app.get("/api/v1/clients?limit=500", &reader).text(),
        app.get("/api/v1/views/active_clients?limit=500", &reader).text(),
        app.get("/api/v1/clients/2", &sandbox.token).text(),
        app.get("/api/v1/openapi.json", &reader).text(),
        gql(&app, &reader, "{ clients(limit: 500) { id company } }").to_string(),
    ];
    for body in &bodies {
        assert!(!body.contains("\"address\"") && !body.contains(&address), "served: {}", &body[..body.len().min(300)]);
    }
    assert_eq!(
        gql(&app, &reader, "{ clients(limit: 1) { address } }")["errors"][0]["extensions"]["code"],
        "invalid_query"
    );
    assert_eq!(app.get("/api/v1/clients?address=x", &reader).status, 400, "no filter on a dropped column");
    // Kept on disk, and editing an old row does not trip over it.
    let stored = app.state.store.get_row("clients", 2).unwrap().unwrap();
    assert_eq!(stored["address"], address.as_str());
    for (method, body) in [("PATCH", json!({"status": "active"})), ("PATCH", json!({}))] {
        let r = app.req(method, "/api/v1/clients/2").bearer(&writer).json(&body).send();
        assert_eq!(r.status, 200, "{method}: {}", r.text());
        assert!(r.json()["data"].get("address").is_none());
    }
    assert_eq!(app.state.store.get_row("clients", 2).unwrap().unwrap()["address"], address.as_str(), "still kept");
    // Prune: a dry run changes nothing, the real one deletes the values.
    let dry = execute(&app.state, AdminRequest::SchemaPrune { dry_run: true }).unwrap();
    assert_eq!(dry["pruned"][0]["column"], "address", "{dry}");
    assert!(dry["pruned"][0]["rows"].as_u64().unwrap() > 10);
    assert!(app.state.store.get_row("clients", 2).unwrap().unwrap().contains_key("address"));
    let columns = || crate::support::pg_columns(app.dir.path(), "clients");
    assert!(columns().is_none_or(|c| c.contains(&"address".to_string())), "kept in its column until prune");
    execute(&app.state, AdminRequest::SchemaPrune { dry_run: false }).unwrap();
    assert!(!app.state.store.get_row("clients", 2).unwrap().unwrap().contains_key("address"));
    // On PostgreSQL the column itself goes, and the table still takes writes.
    assert!(columns().is_none_or(|c| !c.contains(&"address".to_string()) && c.contains(&"company".to_string())));
    let r = app.req("PATCH", "/api/v1/clients/2").bearer(&writer).json(&json!({"status": "inactive"})).send();
    assert_eq!(r.status, 200, "{}", r.text());
    let made = app
        .req("POST", "/api/v1/clients")
        .bearer(&app.token(&["clients:c"]))
        .json(&json!({"company": "After prune", "status": "active"}))
        .send();
    assert_eq!(made.status, 201, "{}", made.text());
    let again = execute(&app.state, AdminRequest::SchemaPrune { dry_run: true }).unwrap();
    assert_eq!(again["pruned"], json!([]));
}

#[test]
fn a_rename_moves_every_value_once() {
    let app = TestApp::start();
    let reader = app.token(&["leads:r"]);
    let before = app.get("/api/v1/leads?limit=500", &reader).json()["data"].clone();
    let renamed = EMBEDDED_SCHEMA.replace(
        "source      = { type = \"string\" }",
        "channel     = { type = \"string\", renamed_from = \"source\" }",
    );
    let app = restart(app, &renamed);
    let reader = app.token(&["leads:r"]);
    let after = app.get("/api/v1/leads?limit=500", &reader).json()["data"].clone();
    let (before, after) = (before.as_array().unwrap(), after.as_array().unwrap());
    assert_eq!(before.len(), after.len());
    assert!(before.iter().any(|r| r["source"].is_string()));
    for (b, a) in before.iter().zip(after) {
        assert_eq!((&a["id"], &a["channel"]), (&b["id"], &b["source"]));
        assert!(a.get("source").is_none());
        let stored = app.state.store.get_row("leads", a["id"].as_u64().unwrap()).unwrap().unwrap();
        assert!(!stored.contains_key("source"), "moved, not copied: {stored:?}");
    }
    // Starting again with the same file changes nothing more.
    let app = restart(app, &renamed);
    let again = app.get("/api/v1/leads?limit=500", &app.token(&["leads:r"])).json()["data"].clone();
    assert_eq!(&again.as_array().unwrap()[..], after);
}

const ITEMS: &str = "[tables.items.columns]\ncode = { type = \"string\" }\n";

#[test]
fn a_type_change_converts_every_value_or_refuses_naming_the_value() {
    let app = TestApp::builder().schema(ITEMS).no_seed().start();
    let t = app.token(&["items:rcu"]);
    for code in ["1", " 22", "x3"] {
        assert_eq!(app.req("POST", "/api/v1/items").bearer(&t).json(&json!({"code": code})).send().status, 201);
    }
    let as_int = ITEMS.replace("\"string\"", "\"int\"");
    let dir = app.stop();
    let (error, dir) = match TestApp::builder().schema(&as_int).no_seed().dir(dir).try_start() {
        Err(refused) => refused,
        Ok(_) => panic!("a value that does not convert must stop the start"),
    };
    assert!(
        error.contains("table items, row 3, column code")
            && error.contains("x3")
            && error.contains("nothing was changed"),
        "{error}"
    );
    // Nothing changed: the old schema still serves every value as it was.
    let app = TestApp::builder().schema(ITEMS).no_seed().dir(dir).start();
    let t = app.token(&["items:rcu"]);
    assert_eq!(app.get("/api/v1/items/2", &t).json()["data"]["code"], " 22");
    assert_eq!(app.req("PATCH", "/api/v1/items/3").bearer(&t).json(&json!({"code": "3"})).send().status, 200);
    let app = restart(app, &as_int);
    let t = app.token(&["items:r"]);
    let codes: Vec<Value> =
        app.get("/api/v1/items", &t).json()["data"].as_array().unwrap().iter().map(|r| r["code"].clone()).collect();
    assert_eq!(codes, vec![json!(1), json!(22), json!(3)]);
    assert_eq!(app.get("/api/v1/items?code=22", &t).json()["total"], 1);
}

#[test]
fn a_new_required_column_needs_a_default_that_fills_old_rows() {
    let app = TestApp::builder().schema(ITEMS).no_seed().start();
    let t = app.token(&["items:rc"]);
    assert_eq!(app.req("POST", "/api/v1/items").bearer(&t).json(&json!({"code": "a"})).send().status, 201);
    let dir = app.stop();
    let required = format!("{ITEMS}owner = {{ type = \"string\", required = true }}\n");
    let (error, dir) = match TestApp::builder().schema(&required).no_seed().dir(dir).try_start() {
        Err(refused) => refused,
        Ok(_) => panic!("a required column without a default must be refused"),
    };
    assert!(error.contains("items.owner") && error.contains("default"), "{error}");
    let with_default = format!("{ITEMS}owner = {{ type = \"string\", required = true, default = \"ops\" }}\n");
    let app = TestApp::builder().schema(&with_default).no_seed().dir(dir).start();
    let t = app.token(&["items:ru"]);
    assert_eq!(app.get("/api/v1/items/1", &t).json()["data"]["owner"], "ops");
    let r = app.req("PATCH", "/api/v1/items/1").bearer(&t).json(&json!({"code": "b"})).send();
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_dropped_table_keeps_its_rows_and_its_references() {
    let app = TestApp::start();
    let t = app.token(&["clients:rcd", "tickets:rc"]);
    let client = app
        .req("POST", "/api/v1/clients")
        .bearer(&t)
        .json(&json!({"company": "Solo Ltd", "status": "active"}))
        .send()
        .json()["data"]["id"]
        .as_u64()
        .unwrap();
    let ticket = json!({"client_id": client, "subject": "hello", "priority": "low", "status": "open",
                        "opened_at": "2026-01-02T10:00:00Z"});
    let r = app.req("POST", "/api/v1/tickets").bearer(&t).json(&ticket).send();
    assert_eq!(r.status, 201, "{}", r.text());
    let ticket_id = r.json()["data"]["id"].as_u64().unwrap();
    let start = EMBEDDED_SCHEMA.find("[tables.tickets.columns]").unwrap();
    let end = EMBEDDED_SCHEMA[start..].find("\n\n").unwrap() + start;
    let view = EMBEDDED_SCHEMA.find("[views.open_tickets]").unwrap();
    let view_end = EMBEDDED_SCHEMA[view..].find("\n\n").unwrap() + view;
    let dropped =
        format!("{}{}{}", &EMBEDDED_SCHEMA[..start], &EMBEDDED_SCHEMA[end..view], &EMBEDDED_SCHEMA[view_end..]);
    let app = restart(app, &dropped);
    let t = app.token(&["clients:rd"]);
    assert_eq!(app.get("/api/v1/tickets/1", &t).status, 404);
    let r = app.req("DELETE", &format!("/api/v1/clients/{client}")).bearer(&t).send();
    assert_eq!((r.status, r.code().as_str()), (409, "conflict"), "hidden rows still reference it: {}", r.text());
    let app = restart(app, EMBEDDED_SCHEMA);
    let t = app.token(&["tickets:r"]);
    let back = app.get(&format!("/api/v1/tickets/{ticket_id}"), &t).json();
    assert_eq!(back["data"]["subject"], "hello", "{back}");
    assert_eq!(back["data"]["client_id"], client);
}

const THINGS: &str = "[tables.things.columns]\nlabel = { type = \"string\" }\nsize = { type = \"string\" }\n";
const THINGS_AFTER: &str =
    "[tables.things.columns]\nname = { type = \"string\", renamed_from = \"label\" }\nsize = { type = \"int\" }\n";

/// A data dir of `n` rows written under [`THINGS`], its schema recorded, no server running.
fn things_dir(n: u64) -> tempfile::TempDir {
    use palisade::store::{Op, Store};
    let dir = tempfile::tempdir().unwrap();
    let mut schema = palisade::schema::Schema::parse(THINGS).unwrap();
    let store = Store::open(&dir.path().join("data"), &Default::default(), schema.index_plan()).unwrap();
    palisade::schema::migrate::apply(&store, &mut schema).unwrap();
    for chunk in (1..=n).collect::<Vec<_>>().chunks(10_000) {
        let rows = chunk
            .iter()
            .map(|id| json!({"id": id, "label": format!("thing {id}"), "size": id.to_string()}))
            .map(|v| v.as_object().unwrap().clone())
            .collect();
        store.write_blocking(Op::Load { table: "things".into(), rows }).unwrap();
    }
    drop(store);
    dir
}

#[test]
fn a_migration_killed_midway_finishes_on_the_next_start_with_nothing_lost_or_doubled() {
    let n = 100_000;
    let dir = things_dir(n);
    let (data, schema, config) = (dir.path().join("data"), dir.path().join("schema.toml"), dir.path().join("c.toml"));
    std::fs::write(&schema, THINGS_AFTER).unwrap();
    std::fs::write(&config, format!("[server]\nschema = {:?}\n", schema.display().to_string())).unwrap();
    // kill -9 while it migrates (the start prints its address only once the data follows).
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    child.kill().unwrap();
    child.wait().unwrap();
    let server = crate::support::Spawned::serve(&data, &config);
    assert_eq!(server.req("GET", "/health").send().status, 200);
    assert!(server.signal("TERM").success());
    let store = palisade::store::Store::open(
        &data,
        &Default::default(),
        palisade::schema::Schema::parse(THINGS_AFTER).unwrap().index_plan(),
    )
    .unwrap();
    let mut seen = 0;
    store
        .for_each_row("things", |row| {
            seen += 1;
            let id = row["id"].as_u64().unwrap();
            assert_eq!(row.get("name"), Some(&json!(format!("thing {id}"))), "{row:?}");
            assert_eq!(row.get("size"), Some(&json!(id)), "{row:?}");
            assert!(!row.contains_key("label"), "{row:?}");
        })
        .unwrap();
    assert_eq!(seen, n);
}

#[test]
fn schema_check_says_what_the_next_start_would_do() {
    use crate::support::Spawned;
    let dir = things_dir(50);
    let (data, schema, config) = (dir.path().join("data"), dir.path().join("schema.toml"), dir.path().join("c.toml"));
    std::fs::write(&config, format!("[server]\nschema = {:?}\n", schema.display().to_string())).unwrap();
    let check = |text: &str| {
        std::fs::write(&schema, text).unwrap();
        let out = Spawned::cli(&data, &config, &["schema", "check", "--json"]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{out:?}"));
        (out.status.code(), report)
    };
    let (code, report) = check(THINGS);
    assert_eq!((code, report["changes"].clone()), (Some(0), json!([])));
    let (code, report) = check(THINGS_AFTER);
    assert_eq!(code, Some(0), "{report}");
    let changes = report["changes"].as_array().unwrap();
    let rename = changes.iter().find(|c| c["column"] == "name").unwrap();
    assert_eq!(
        (rename["kind"].as_str(), rename["verdict"].as_str(), rename["rows"].as_u64()),
        (Some("rename"), Some("migrate"), Some(50))
    );
    let convert = changes.iter().find(|c| c["column"] == "size").unwrap();
    assert_eq!((convert["kind"].as_str(), convert["rows"].as_u64()), (Some("convert"), Some(50)));
    let (code, report) = check(&THINGS.replace("size = { type = \"string\" }", "size = { type = \"bool\" }"));
    assert_eq!(code, Some(1), "50 sizes are not booleans: {report}");
    assert!(report["error"].as_str().unwrap().contains("row 2, column size"), "{report}");
    let (code, report) = check("[tables.things.columns]\nlabel = { type = \"string\" }\n");
    assert_eq!(code, Some(0));
    assert_eq!(report["changes"][0]["kind"], "hide");
    let (code, report) = check(&format!("{THINGS}owner = {{ type = \"string\", required = true }}\n"));
    assert_eq!(code, Some(1));
    assert!(report["error"].as_str().unwrap().contains("default"), "{report}");
    // The text form, and check changes nothing.
    std::fs::write(&schema, THINGS_AFTER).unwrap();
    let out = Spawned::cli(&data, &config, &["schema", "check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("things.name") && text.contains("the next start would succeed"), "{text}");
    let (_, report) = check(THINGS_AFTER);
    assert_eq!(report["changes"].as_array().unwrap().len(), 2, "still planned: check wrote nothing");
}

#[test]
fn a_table_rename_moves_its_rows_and_ids() {
    let app = TestApp::builder().schema(ITEMS).no_seed().start();
    let t = app.token(&["items:rc"]);
    for code in ["a", "b"] {
        assert_eq!(app.req("POST", "/api/v1/items").bearer(&t).json(&json!({"code": code})).send().status, 201);
    }
    let renamed = "[tables.goods]\nrenamed_from = \"items\"\n[tables.goods.columns]\ncode = { type = \"string\" }\n";
    let app = restart(app, renamed);
    let t = app.token(&["goods:rc"]);
    let rows = app.get("/api/v1/goods", &t).json()["data"].clone();
    assert_eq!(rows, json!([{"id": 1, "code": "a"}, {"id": 2, "code": "b"}]));
    let r = app.req("POST", "/api/v1/goods").bearer(&t).json(&json!({"code": "c"})).send();
    assert_eq!(r.json()["data"]["id"], 3, "ids are never reused");
    assert_eq!(app.get("/api/v1/items", &t).status, 404);
}

#[test]
fn an_edited_demo_schema_starts_empty_instead_of_failing() {
    let app = TestApp::builder().schema(&without_address()).start();
    let r = app.get("/api/v1/clients", &app.token(&["clients:r"]));
    assert_eq!((r.status, r.json()["total"].clone()), (200, json!(0)));
}

#[test]
fn a_store_from_before_schema_records_hides_undeclared_keys() {
    if crate::support::on_postgres("rows written by sled before schema records") {
        return;
    }
    use palisade::store::{Op, Store};
    let dir = tempfile::tempdir().unwrap();
    let schema = palisade::schema::Schema::parse(ITEMS).unwrap();
    let store = Store::open(dir.path(), &Default::default(), schema.index_plan()).unwrap();
    let rows = vec![json!({"id": 1, "code": "a", "legacy": "secret stuff"}).as_object().unwrap().clone()];
    store.write_blocking(Op::Load { table: "items".into(), rows }).unwrap();
    drop(store);
    let app = TestApp::builder().schema(ITEMS).no_seed().dir(dir).start();
    let r = app.get("/api/v1/items/1", &app.token(&["items:r"]));
    assert_eq!(r.json()["data"], json!({"id": 1, "code": "a"}), "the stored bytes are not sent as they are");
    assert!(app.state.schema().table("items").unwrap().hidden_data);
}
