//! Stage 5: the scope matrix, views, CIDR lists, and the six sensitive-table layers.

use serde_json::{json, Value};

use crate::support::TestApp;

#[test]
fn methods_map_to_permissions() {
    let app = TestApp::start();
    let read = app.token(&["clients:r"]);
    let write = app.token(&["clients:cud"]);
    let body = json!({"company": "Scope Ltd", "status": "active"});
    assert_eq!(app.get("/api/v1/clients/1", &read).status, 200);
    let r = app.req("POST", "/api/v1/clients").bearer(&read).json(&body).send();
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
    r.assert_security_headers();
    assert_eq!(app.get("/api/v1/clients/1", &write).code(), "forbidden");
    let created = app.req("POST", "/api/v1/clients").bearer(&write).json(&body).send();
    assert_eq!(created.status, 201);
    let id = created.json()["data"]["id"].as_u64().unwrap();
    let path = format!("/api/v1/clients/{id}");
    assert_eq!(app.req("PUT", &path).bearer(&read).json(&body).send().status, 403);
    assert_eq!(app.req("PATCH", &path).bearer(&read).json(&json!({"city": "X"})).send().status, 403);
    assert_eq!(app.req("DELETE", &path).bearer(&read).send().status, 403);
    assert_eq!(app.req("PATCH", &path).bearer(&write).json(&json!({"city": "X"})).send().status, 200);
    assert_eq!(app.req("DELETE", &path).bearer(&write).send().status, 204);
    // Other tables are out of scope.
    assert_eq!(app.get("/api/v1/invoices/1", &read).code(), "forbidden");
    // Wildcard covers every non-sensitive table.
    let all = app.token(&["*:r"]);
    assert_eq!(app.get("/api/v1/invoices/1", &all).status, 200);
}

#[test]
fn view_limited_tokens_reach_only_their_views() {
    let app = TestApp::start();
    // A view-limited token reads its views and nothing else (a --scope beside --view is
    // refused at create, see tokens_admin).
    let t = app.token_with(|s| s.views = vec!["overdue_invoices".into()]);
    let r = app.get("/api/v1/views/overdue_invoices?limit=5", &t.token);
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["limit"], 5);
    assert!(body["total"].as_u64().unwrap() >= 15);
    for row in body["data"].as_array().unwrap() {
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["client_id", "currency", "due_date", "id", "number", "total"]);
    }
    // Ordered by due_date descending.
    let dates: Vec<&str> = body["data"].as_array().unwrap().iter().map(|r| r["due_date"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    assert_eq!(app.get("/api/v1/views/open_tickets", &t.token).code(), "forbidden");
    // Descending order keeps rows without a value last.
    let leads = app.token(&["leads:r"]);
    let values: Vec<Value> = app.get("/api/v1/views/hot_leads?limit=500", &leads).json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].clone())
        .collect();
    let first_null = values.iter().position(Value::is_null).unwrap_or(values.len());
    assert!(values[first_null..].iter().all(Value::is_null), "{values:?}");
    assert!(values[0].is_f64());
    assert_eq!(app.get("/api/v1/invoices/1", &t.token).code(), "forbidden");
    assert_eq!(app.get("/api/v1/views/nope", &t.token).status, 404);
    let index = app.get("/api/v1", &t.token).json();
    assert_eq!(index, json!({"tables": [], "views": ["overdue_invoices"], "sandbox": false}));
}

#[test]
fn cidr_allow_lists_cover_ipv4_ipv6_and_mapped_addresses() {
    let app = TestApp::start();
    let t = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.cidrs = vec!["10.0.0.0/8".into(), "2001:db8::/32".into()];
    });
    let from = |ip: &str| app.req("GET", "/api/v1/clients/1").bearer(&t.token).client_ip(ip).send();
    assert_eq!(from("10.1.2.3").status, 200);
    assert_eq!(from("::ffff:10.9.9.9").status, 200);
    assert_eq!(from("2001:db8::7").status, 200);
    let r = from("192.0.2.1");
    assert_eq!((r.status, r.code().as_str()), (403, "ip_not_allowed"));
    assert_eq!(from("2001:db9::1").code(), "ip_not_allowed");
    // Without a forwarded address the client is the loopback peer itself: outside the list.
    assert_eq!(app.get("/api/v1/clients/1", &t.token).code(), "ip_not_allowed");
}

#[test]
fn sensitive_layer_1_unexposed_tables_are_not_served() {
    let app = TestApp::start();
    let t = app.token_with(|s| {
        s.scopes = vec!["staff:r".into()];
        s.allow_sensitive = true;
    });
    let r = app.get("/api/v1/staff/1", &t.token);
    assert_eq!(r.status, 404);
    assert_eq!(r.body, app.get("/api/v1/no_such_table/1", &t.token).body);
}

#[test]
fn sensitive_layer_2_wildcards_never_include_them() {
    let app = TestApp::builder().config(|c| c.sensitive.expose = vec!["staff".into(), "contacts".into()]).start();
    let t = app.token_with(|s| {
        s.scopes = vec!["*:r".into()];
        s.allow_sensitive = true;
    });
    assert_eq!(app.get("/api/v1/clients/1", &t.token).status, 200);
    assert_eq!(app.get("/api/v1/staff/1", &t.token).code(), "forbidden");
    assert_eq!(app.get("/api/v1/contacts/1", &t.token).code(), "forbidden");
}

#[test]
fn sensitive_layer_3_naming_one_needs_allow_sensitive() {
    let app = TestApp::start();
    let spec = palisade::tokens::TokenSpec { name: "x".into(), scopes: vec!["staff:r".into()], ..Default::default() };
    let err = app.state.tokens.create(&spec, app.state.schema(), 0).unwrap_err();
    assert!(err.to_string().contains("--allow-sensitive"), "{err}");
}

#[test]
fn sensitive_layer_4_the_flag_is_rechecked_on_every_request() {
    let app = TestApp::builder().config(|c| c.sensitive.expose = vec!["staff".into()]).start();
    let t = app.token_with(|s| {
        s.scopes = vec!["staff:r".into()];
        s.allow_sensitive = true;
    });
    assert_eq!(app.get("/api/v1/staff/1", &t.token).status, 200);
    // A record that names a sensitive table without the flag (e.g. edited on disk) is refused
    // by the scope stage itself, whatever the stored scopes say.
    let key = t.id.as_bytes();
    let mut record: serde_json::Value =
        serde_json::from_slice(&app.state.store.sys_get(palisade::store::SysTree::Tokens, key).unwrap().unwrap())
            .unwrap();
    record["allow_sensitive"] = json!(false);
    let entries = vec![(key.to_vec(), serde_json::to_vec(&record).unwrap())];
    app.state
        .store
        .write_blocking(palisade::store::Op::Put { tree: palisade::store::SysTree::Tokens, entries })
        .unwrap();
    let dir = app.stop();
    let app = TestApp::builder().config(|c| c.sensitive.expose = vec!["staff".into()]).dir(dir).start();
    let r = app.get("/api/v1/staff/1", &t.token);
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
}

#[test]
fn sensitive_layer_5_secret_columns_never_leave() {
    let app = TestApp::builder().config(|c| c.sensitive.expose = vec!["staff".into()]).start();
    let t = app.token_with(|s| {
        s.scopes = vec!["staff:rcu".into()];
        s.allow_sensitive = true;
    });
    let one = app.get("/api/v1/staff/1", &t.token).json();
    assert!(one["data"]["email"].is_string());
    assert!(one["data"].get("password_hash").is_none());
    let list = app.get("/api/v1/staff?limit=500", &t.token);
    assert!(!list.text().contains("password_hash") && !list.text().contains("$argon2"));
    // Not even as a filter (that would be an oracle).
    assert_eq!(app.get("/api/v1/staff?password_hash=x", &t.token).status, 400);
    // Clients cannot write it either (the penetration test's finding 1); the refusal names
    // the column and echoes no value.
    let r =
        app.req("PATCH", "/api/v1/staff/1").bearer(&t.token).json(&json!({"password_hash": "$argon2id$new"})).send();
    assert_eq!(r.status, 422);
    assert!(!r.text().contains("argon2"));
}

#[test]
fn sensitive_layer_6_the_token_store_is_never_a_table() {
    let app = TestApp::builder().config(|c| c.sensitive.expose = vec!["api_tokens".into(), "tokens".into()]).start();
    let t = app.token_with(|s| {
        s.scopes = vec!["*:rcud".into()];
        s.allow_sensitive = true;
    });
    for path in ["/api/v1/api_tokens", "/api/v1/tokens", "/api/v1/sys:tokens", "/api/v1/api_tokens/1"] {
        assert_eq!(app.get(path, &t.token).status, 404, "{path}");
    }
    let schema = "[tables.api_tokens.columns]\nhash = { type = \"string\" }\n";
    assert!(palisade::schema::Schema::parse(schema).is_err());
}
