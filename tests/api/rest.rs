//! REST semantics: envelopes, pagination, filters, validation, PUT vs PATCH, deletes.

use serde_json::json;

use crate::support::TestApp;

#[test]
fn list_get_and_pagination() {
    let app = TestApp::start();
    let t = app.token(&["*:r"]);
    let r = app.get("/api/v1/clients", &t);
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["limit"], 50);
    assert_eq!(body["offset"], 0);
    assert_eq!(body["total"], 60);
    assert_eq!(body["data"].as_array().unwrap().len(), 50);
    let page = app.get("/api/v1/clients?limit=10&offset=55", &t).json();
    assert_eq!(page["data"].as_array().unwrap().len(), 5);
    assert_eq!(page["data"][0]["id"], 56);
    assert_eq!(app.get("/api/v1/invoice_items?limit=100000", &t).json()["limit"], 500);
    for bad in ["limit=-1", "limit=abc", "offset=x", "nope=1", "client_id=abc", "limit=1&limit=2"] {
        let r = app.get(&format!("/api/v1/invoices?{bad}"), &t);
        assert_eq!(r.status, 400, "{bad}");
        r.assert_security_headers();
    }
    let filtered = app.get("/api/v1/invoices?client_id=3&limit=500", &t).json();
    assert!(filtered["data"].as_array().unwrap().iter().all(|r| r["client_id"] == 3));
    assert_eq!(filtered["total"].as_u64().unwrap() as usize, filtered["data"].as_array().unwrap().len());
    let spaced = app.get("/api/v1/clients?company=Fjellstad%20Bygg%20AS", &t).json();
    assert_eq!(spaced["total"], 1);
    let one = app.get("/api/v1/clients/1", &t).json();
    assert_eq!(one["data"]["id"], 1);
    assert_eq!(app.get("/api/v1/clients/99999", &t).code(), "not_found");
    assert_eq!(app.get("/api/v1/clients/abc", &t).status, 404);
    assert_eq!(app.get("/api/v1/unknown", &t).status, 404);
}

#[test]
fn writes_are_validated_and_name_the_column() {
    let app = TestApp::start();
    let t = app.token(&["invoices:rcu", "clients:rcud"]);
    let post = |body: serde_json::Value| app.req("POST", "/api/v1/invoices").bearer(&t).json(&body).send();
    let valid =
        json!({"client_id": 1, "number": "INV-T-1", "status": "draft", "issue_date": "2025-05-01", "total": 10.5});
    let created = post(valid.clone());
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["data"]["id"].as_u64().unwrap();
    assert_eq!(created.header("location"), Some(format!("/api/v1/invoices/{id}").as_str()));
    for (patch, column) in [
        (json!({"total": "ten"}), "total"),
        (json!({"issue_date": "2025-13-01"}), "issue_date"),
        (json!({"client_id": 1.5}), "client_id"),
        (json!({"bogus": 1}), "bogus"),
        (json!({"number": null}), "number"),
        (json!({"id": 5}), "id"),
    ] {
        let mut body = valid.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = post(body);
        assert_eq!(r.status, 422, "{patch} → {}", r.text());
        assert_eq!(r.code(), "validation_failed");
        assert!(r.json()["error"]["message"].as_str().unwrap().contains(column), "{}", r.text());
    }
    // A reference to a row that is not there: a conflict with the stored data, named.
    let mut dangling = valid.clone();
    dangling["client_id"] = json!(999_999);
    let r = post(dangling);
    assert_eq!((r.status, r.code().as_str()), (409, "conflict"), "{}", r.text());
    assert!(r.text().contains("client_id"));
    let mut missing = valid.clone();
    missing.as_object_mut().unwrap().remove("status");
    assert!(post(missing).text().contains("status"));
    // Nothing half-written: the failed posts left no rows.
    let total = app.get("/api/v1/invoices?number=INV-T-1", &t).json()["total"].clone();
    assert_eq!(total, 1);
    // Non-JSON bodies.
    let r =
        app.req("POST", "/api/v1/clients").bearer(&t).header("Content-Type", "text/plain").body(b"hi".to_vec()).send();
    assert_eq!((r.status, r.code().as_str()), (415, "unsupported_media_type"));
    let r = app.req("POST", "/api/v1/clients").bearer(&t).body(b"{}".to_vec()).send();
    assert_eq!(r.status, 415);
    let r = app.req("POST", "/api/v1/clients").bearer(&t).json(&json!([1, 2])).send();
    assert_eq!(r.status, 422);
}

#[test]
fn put_replaces_and_patch_merges() {
    let app = TestApp::start();
    let t = app.token(&["clients:rcu"]);
    let path = "/api/v1/clients/2";
    let before = app.get(path, &t).json()["data"].clone();
    assert!(before["city"].is_string());
    let r = app.req("PATCH", path).bearer(&t).json(&json!({"city": "Bergen"})).send();
    assert_eq!(r.status, 200);
    let after = r.json()["data"].clone();
    assert_eq!(after["city"], "Bergen");
    assert_eq!(after["company"], before["company"]);
    let r = app.req("PUT", path).bearer(&t).json(&json!({"company": "Replaced", "status": "inactive"})).send();
    assert_eq!(r.status, 200);
    // PUT replaces what a client may write; the server-managed created_at stays.
    let created_at = before["created_at"].clone();
    assert_eq!(
        r.json()["data"],
        json!({"id": 2, "company": "Replaced", "status": "inactive", "created_at": created_at})
    );
    assert_eq!(app.get(path, &t).json()["data"]["company"], "Replaced");
    let r = app.req("PUT", path).bearer(&t).json(&json!({"company": "No status"})).send();
    assert_eq!(r.status, 422);
    let r = app.req("PUT", path).bearer(&t).json(&json!({"id": 3, "company": "X", "status": "active"})).send();
    assert_eq!(r.status, 422);
    let r = app.req("PATCH", "/api/v1/clients/99999").bearer(&t).json(&json!({"city": "X"})).send();
    assert_eq!(r.status, 404);
    let r = app.req("PATCH", path).bearer(&t).json(&json!({"status": null})).send();
    assert_eq!(r.status, 422);
}

#[test]
fn deletes_refuse_referenced_rows() {
    let app = TestApp::start();
    let t = app.token(&["clients:rcd", "invoice_items:rd"]);
    let r = app.req("DELETE", "/api/v1/clients/1").bearer(&t).send();
    assert_eq!((r.status, r.code().as_str()), (409, "conflict"));
    assert_eq!(app.req("DELETE", "/api/v1/invoice_items/1").bearer(&t).send().status, 204);
    assert_eq!(app.req("DELETE", "/api/v1/invoice_items/1").bearer(&t).send().status, 404);
    assert_eq!(app.get("/api/v1/invoice_items/1", &t).status, 404);
}

#[test]
fn wrong_methods_get_405_with_allow() {
    let app = TestApp::start();
    let t = app.token(&["*:rcud"]);
    for (method, path, allow) in [
        ("PATCH", "/api/v1/clients", "GET, HEAD, POST"),
        ("DELETE", "/api/v1/clients", "GET, HEAD, POST"),
        ("POST", "/api/v1/clients/1", "GET, HEAD, PUT, PATCH, DELETE"),
        ("POST", "/health", "GET, HEAD"),
        ("DELETE", "/api/v1/views/active_clients", "GET, HEAD"),
    ] {
        let r = app.req(method, path).bearer(&t).send();
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some(allow));
        assert_eq!(r.code(), "method_not_allowed");
        r.assert_security_headers();
    }
}

#[test]
fn index_lists_what_the_token_may_read() {
    let app = TestApp::start();
    let t = app.token(&["clients:r", "invoices:r"]);
    let index = app.get("/api/v1", &t).json();
    assert_eq!(index["tables"], json!(["clients", "invoices"]));
    assert_eq!(index["views"], json!(["active_clients", "overdue_invoices"]));
}

#[test]
fn the_explorer_is_served_under_its_own_strict_policy() {
    let app = TestApp::start();
    let page = app.req("GET", "/explorer").send();
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"));
    assert!(!page.text().contains("<script>") && !page.text().contains("style=") && !page.text().contains("http"));
    page.assert_security_headers();
    assert_eq!(app.req("GET", "/explorer/app.js").send().status, 200);
    assert_eq!(app.req("GET", "/explorer/../Cargo.toml").send().status, 404);
    assert_eq!(app.req("POST", "/explorer").send().status, 405);
    // The API keeps default-src 'none'.
    let api = app.req("GET", "/health").send();
    assert_eq!(api.header("content-security-policy"), Some("default-src 'none'; frame-ancestors 'none'"));
}

#[test]
fn health_needs_no_token() {
    let app = TestApp::start();
    let r = app.req("GET", "/health").send();
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"status": "ok"}));
    r.assert_security_headers();
}

#[test]
fn a_table_added_to_the_schema_is_served_without_code() {
    let schema =
        "[tables.projects.columns]\nname = { type = \"string\", required = true }\nbudget = { type = \"float\" }\n";
    let app = TestApp::builder().schema(schema).no_seed().start();
    let t = app.token(&["projects:rc"]);
    assert_eq!(app.get("/api/v1/projects", &t).json()["total"], 0);
    let r = app.req("POST", "/api/v1/projects").bearer(&t).json(&json!({"name": "Apollo", "budget": 12.5})).send();
    assert_eq!(r.status, 201);
    assert_eq!(app.get("/api/v1/projects/1", &t).json()["data"], json!({"id": 1, "name": "Apollo", "budget": 12.5}));
    assert_eq!(app.get("/api/v1/clients", &t).status, 404);
}

/// Indexed filters and GraphQL relations give exactly the rows a full scan gives, also after
/// creates, moves between clients and deletes have changed the index.
#[test]
fn indexed_filters_and_relations_match_a_scan() {
    use serde_json::Value;
    let app = TestApp::start();
    let t = app.token(&["clients:r", "invoices:rcud"]);
    let ids = |v: &Value| -> Vec<u64> { v.as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect() };
    let scan = |app: &TestApp, f: &dyn Fn(&Value) -> bool| -> Vec<u64> {
        let all = app.get("/api/v1/invoices?limit=500", &t).json();
        assert!(all["total"].as_u64().unwrap() < 500);
        all["data"].as_array().unwrap().iter().filter(|r| f(r)).map(|r| r["id"].as_u64().unwrap()).collect()
    };
    let check = |app: &TestApp| {
        for client in [1u64, 7, 22, 60] {
            let page = app.get(&format!("/api/v1/invoices?client_id={client}&limit=500"), &t).json();
            let want = scan(app, &|r| r["client_id"] == client);
            assert_eq!(ids(&page["data"]), want, "client {client}");
            assert_eq!(page["total"].as_u64().unwrap() as usize, want.len());
            // Paging through the index: the second row alone, with the full total.
            let second = app.get(&format!("/api/v1/invoices?client_id={client}&limit=1&offset=1"), &t).json();
            assert_eq!(ids(&second["data"]), want.iter().skip(1).take(1).copied().collect::<Vec<_>>());
            assert_eq!(second["total"], page["total"]);
            let q = format!(r#"{{ clients_by_id(id: {client}) {{ invoices(limit: 500) {{ id }} }} }}"#);
            let r = app.req("POST", "/graphql").bearer(&t).json(&serde_json::json!({ "query": q })).send();
            assert_eq!(ids(&r.json()["data"]["clients_by_id"]["invoices"]), want, "relation of client {client}");
        }
        for status in ["paid", "overdue", "draft"] {
            let page = app.get(&format!("/api/v1/invoices?status={status}&client_id=22&limit=500"), &t).json();
            assert_eq!(ids(&page["data"]), scan(app, &|r| r["status"] == status && r["client_id"] == 22));
        }
        let view = app.get("/api/v1/views/overdue_invoices?limit=500", &t).json();
        let mut got = ids(&view["data"]);
        got.sort();
        assert_eq!(got, scan(app, &|r| r["status"] == "overdue"));
    };
    check(&app);
    // Change the index: new rows, a row moved to another client and status, a delete.
    for n in 0..3 {
        let body = serde_json::json!({"client_id": 7, "number": format!("IDX-{n}"), "status": "draft",
                                      "issue_date": "2026-12-01", "total": 1.0});
        assert_eq!(app.req("POST", "/api/v1/invoices").bearer(&t).json(&body).send().status, 201);
    }
    let moved = app.get("/api/v1/invoices?client_id=7&limit=1", &t).json()["data"][0]["id"].as_u64().unwrap();
    let patch = serde_json::json!({"client_id": 60, "status": "overdue"});
    assert_eq!(app.req("PATCH", &format!("/api/v1/invoices/{moved}")).bearer(&t).json(&patch).send().status, 200);
    let new = app.get("/api/v1/invoices?number=IDX-1", &t).json()["data"][0]["id"].as_u64().unwrap();
    assert_eq!(app.req("DELETE", &format!("/api/v1/invoices/{new}")).bearer(&t).send().status, 204);
    check(&app);
}
