//! Sandbox tokens: every PII value of the demo data is replaced, consistently, everywhere.

use std::collections::HashSet;

use palisade::schema::Schema;
use palisade::seed::demo_rows;
use serde_json::{json, Value};

use crate::support::TestApp;

const SENSITIVE: [&str; 3] = ["contacts", "staff", "options"];

fn sandbox_app() -> (TestApp, String) {
    let app = TestApp::builder().config(|c| c.sensitive.expose = SENSITIVE.map(String::from).to_vec()).start();
    let t = app.token_with(|s| {
        s.sandbox = true;
        s.allow_sensitive = true;
        s.scopes = ["*:r", "contacts:r", "staff:r", "options:r"].map(String::from).to_vec();
    });
    (app, t.token)
}

/// Every real PII string of the demo data.
fn real_pii(schema: &Schema) -> HashSet<String> {
    let mut out = HashSet::new();
    for table in schema.tables.values() {
        for row in demo_rows(schema, &table.name).unwrap() {
            for column in table.columns.values().filter(|c| c.pii().is_some()) {
                if let Some(s) = row.get(&column.name).and_then(Value::as_str) {
                    out.insert(s.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn no_real_pii_reaches_a_sandbox_token() {
    let (app, t) = sandbox_app();
    let schema = app.state.schema().clone();
    let real = real_pii(&schema);
    assert!(real.len() > 1000, "{}", real.len());
    let mut bodies = Vec::new();
    let mut emails = 0;
    for table in schema.tables.values() {
        let r = app.get(&format!("/api/v1/{}?limit=500", table.name), &t);
        assert_eq!(r.status, 200, "{}", table.name);
        let list = r.json();
        let mut rows: Vec<Value> = list["data"].as_array().unwrap().clone();
        if list["total"].as_u64().unwrap() > 500 {
            rows.extend(
                app.get(&format!("/api/v1/{}?limit=500&offset=500", table.name), &t).json()["data"]
                    .as_array()
                    .unwrap()
                    .clone(),
            );
        }
        assert_eq!(rows.len() as u64, list["total"].as_u64().unwrap());
        for row in &rows {
            for column in table.columns.values().filter(|c| c.pii().is_some()) {
                if let Some(v) = row.get(&column.name).and_then(Value::as_str) {
                    assert!(!real.contains(v), "{}.{} leaked {v:?}", table.name, column.name);
                    if column.pii().unwrap().0 == palisade::schema::PiiKind::Email {
                        assert!(v.ends_with("@example.com"), "{v}");
                        emails += 1;
                    }
                }
            }
            assert!(row.get("password_hash").is_none());
        }
        bodies.push(r.text());
        bodies.push(app.get(&format!("/api/v1/{}/1", table.name), &t).text());
    }
    for view in schema.views.keys() {
        bodies.push(app.get(&format!("/api/v1/views/{view}?limit=500"), &t).text());
    }
    assert!(emails > 200);
    let all = bodies.join("\n");
    for value in real.iter().filter(|v| v.len() >= 8) {
        if let Some(at) = all.find(value.as_str()) {
            panic!("leaked {value:?} in …{}…", &all[at.saturating_sub(120)..(at + 60).min(all.len())]);
        }
    }
}

#[test]
fn fakes_are_stable_and_structure_is_kept() {
    let (app, t) = sandbox_app();
    let a = app.get("/api/v1/contacts/5", &t).json();
    let b = app.get("/api/v1/contacts/5", &t).json();
    assert_eq!(a, b);
    let in_list = app.get("/api/v1/contacts?limit=10", &t).json()["data"][4].clone();
    assert_eq!(in_list, a["data"]);
    // Non-PII passes unchanged: ids, references, amounts, statuses.
    let real = app.token(&["invoices:r"]);
    let with_notes = app.get("/api/v1/invoices?limit=500", &real).json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["notes"].is_string())
        .unwrap()["id"]
        .clone();
    let path = format!("/api/v1/invoices/{with_notes}");
    let (fake_inv, real_inv) = (app.get(&path, &t).json(), app.get(&path, &real).json());
    for key in ["id", "client_id", "total", "status", "issue_date", "number"] {
        assert_eq!(fake_inv["data"][key], real_inv["data"][key], "{key}");
    }
    assert_ne!(fake_inv["data"]["notes"], real_inv["data"]["notes"]);
    // Another sandbox token sees other fakes.
    let other = app.token_with(|s| {
        s.sandbox = true;
        s.allow_sensitive = true;
        s.scopes = vec!["contacts:r".into()];
    });
    assert_ne!(app.get("/api/v1/contacts/5", &other.token).json(), a);
}

#[test]
fn sandbox_tokens_are_read_only_and_cannot_probe_pii() {
    let (app, t) = sandbox_app();
    for (method, path) in [("POST", "/api/v1/clients"), ("PUT", "/api/v1/clients/1"), ("PATCH", "/api/v1/clients/1")] {
        let r = app.req(method, path).bearer(&t).json(&json!({"company": "X", "status": "active"})).send();
        assert_eq!((r.status, r.code().as_str()), (403, "sandbox_read_only"), "{method}");
    }
    assert_eq!(app.req("DELETE", "/api/v1/clients/1").bearer(&t).send().code(), "sandbox_read_only");
    let real_email = app.get("/api/v1/clients/1", &app.token(&["clients:r"])).json()["data"]["email"].clone();
    let r = app.get(&format!("/api/v1/clients?email={}", real_email.as_str().unwrap()), &t);
    assert_eq!(r.status, 400, "filtering on PII would confirm guesses");
    assert_eq!(app.get("/api/v1/clients?status=active", &t).status, 200);
}
