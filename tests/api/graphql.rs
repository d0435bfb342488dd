//! GraphQL: guards at their boundaries, relations and mutations under scopes, schema from
//! `data/schema.toml`, sandbox fakes, and the HTTP rules (POST + JSON only, no batching).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{Resp, TestApp};

fn gql(app: &TestApp, token: &str, query: &str) -> Resp {
    app.req("POST", "/graphql").bearer(token).json(&json!({ "query": query })).send()
}

fn code(r: &Resp) -> String {
    r.json()["errors"][0]["extensions"]["code"].as_str().unwrap_or_default().to_string()
}

#[test]
fn depth_five_passes_six_fails() {
    let app = TestApp::start();
    let t = app.token(&["*:r"]);
    let five = "{ invoice_items(limit: 1) { invoice { client { invoices(limit: 1) { id } } } } }";
    let r = gql(&app, &t, five);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["data"]["invoice_items"][0]["invoice"]["client"]["invoices"][0]["id"].is_i64());
    let six = "{ invoice_items(limit: 1) { invoice { client { invoices(limit: 1) { client { id } } } } } }";
    let r = gql(&app, &t, six);
    assert_eq!((r.status, code(&r).as_str()), (400, "depth_exceeded"));
    assert_eq!(r.json()["errors"].as_array().unwrap().len(), 1);
    r.assert_security_headers();
    // Fragments add no level of their own, but their fields count where they land.
    let via_fragment = "query { invoice_items(limit: 1) { ...I } } fragment I on InvoiceItems { invoice { client { invoices(limit: 1) { client { id } } } } }";
    assert_eq!(code(&gql(&app, &t, via_fragment)), "depth_exceeded");
    let inline =
        "{ invoice_items(limit: 1) { ... on InvoiceItems { invoice { client { invoices(limit: 1) { id } } } } } }";
    assert_eq!(gql(&app, &t, inline).status, 200);
}

#[test]
fn fragment_cycles_and_fan_out_are_cheap() {
    let app = TestApp::start();
    let t = app.token(&["*:r"]);
    let cycle =
        "{ clients(limit: 1) { ...A } } fragment A on Clients { id ...B } fragment B on Clients { company ...A }";
    let r = gql(&app, &t, cycle);
    assert_eq!((r.status, code(&r).as_str()), (400, "fragment_cycle"));
    // One fragment reached along 2^20 paths: measured once each, refused in milliseconds.
    let mut q = String::from("{ clients(limit: 1) { ...F0 } }");
    for i in 0..20 {
        q.push_str(&format!(" fragment F{i} on Clients {{ id ...F{} ...F{} }}", i + 1, i + 1));
    }
    q.push_str(" fragment F20 on Clients { invoices(limit: 1) { id } }");
    let started = Instant::now();
    let r = gql(&app, &t, &q);
    assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
    assert_eq!((r.status, code(&r).as_str()), (400, "complexity_exceeded"));
}

#[test]
fn complexity_counts_list_limits() {
    let app = TestApp::start();
    let t = app.token(&["*:r"]);
    // 10 × (1 + 5 × (1 + 0)) = 60.
    assert_eq!(gql(&app, &t, "{ clients(limit: 10) { invoices(limit: 5) { total } } }").status, 200);
    // Default pages: 50 × (1 + 50 × 1) = 2550 > 1000.
    assert_eq!(code(&gql(&app, &t, "{ clients { invoices { total } } }")), "complexity_exceeded");
    // 20 × (1 + 49 × 1) = 1000 passes; 1 more row does not.
    assert_eq!(gql(&app, &t, "{ clients(limit: 20) { invoices(limit: 49) { id } } }").status, 200);
    assert_eq!(code(&gql(&app, &t, "{ clients(limit: 20) { invoices(limit: 50) { id } } }")), "complexity_exceeded");
    let vars = json!({"query": "query($n: Int) { clients(limit: $n) { invoices(limit: $n) { id } } }", "variables": {"n": 40}});
    let r = app.req("POST", "/graphql").bearer(&t).json(&vars).send();
    assert_eq!(code(&r), "complexity_exceeded", "40 × 41 = 1640");
}

#[test]
fn aliases_directives_tokens_and_size_are_capped() {
    let app = TestApp::start();
    let t = app.token(&["*:r"]);
    let aliases =
        |n: usize| format!("{{ {} }}", (0..n).map(|i| format!("a{i}: __typename")).collect::<Vec<_>>().join(" "));
    assert_eq!(gql(&app, &t, &aliases(15)).status, 200);
    let r = gql(&app, &t, &aliases(16));
    assert_eq!((r.status, code(&r).as_str()), (400, "too_many_aliases"));
    let directives = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n).map(|i| format!("f{i}: __typename @include(if: true)")).collect::<Vec<_>>().join(" ")
        )
    };
    assert_eq!(gql(&app, &t, &directives(10)).status, 200);
    assert_eq!(code(&gql(&app, &t, &directives(11))), "too_many_directives");
    let tokens = format!("{{ {} }}", "a ".repeat(3000));
    assert_eq!(code(&gql(&app, &t, &tokens)), "too_many_tokens");
    let huge = format!("{{ __typename }} #{}", "x".repeat(20_000));
    assert_eq!(code(&gql(&app, &t, &huge)), "query_too_large");
    // Deep nesting is refused before anything recurses.
    let deep = format!("{}{}", "{ a ".repeat(100), "}".repeat(100));
    assert_eq!(code(&gql(&app, &t, &deep)), "depth_exceeded");
}

#[test]
fn batching_get_and_non_json_are_refused() {
    let app = TestApp::start();
    let t = app.token(&["*:r"]);
    let batch: Vec<Value> = (0..10).map(|_| json!({"query": "{ __typename }"})).collect();
    let r = app.req("POST", "/graphql").bearer(&t).json(&Value::Array(batch)).send();
    assert_eq!((r.status, code(&r).as_str()), (400, "batching_not_allowed"));
    let r = app.req("GET", "/graphql?query=%7B__typename%7D").bearer(&t).send();
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    for ct in ["application/x-www-form-urlencoded", "text/plain"] {
        let r = app
            .req("POST", "/graphql")
            .bearer(&t)
            .header("Content-Type", ct)
            .body(b"query={__typename}".to_vec())
            .send();
        assert_eq!(r.status, 415, "{ct}");
        r.assert_security_headers();
    }
    // Pipeline refusals keep the REST error shape.
    let r = app.req("POST", "/graphql").json(&json!({"query": "{ __typename }"})).send();
    assert_eq!((r.status, r.code().as_str()), (401, "missing_token"));
}

#[test]
fn introspection_only_for_tokens_that_may() {
    let app = TestApp::start();
    let plain = app.token(&["*:r"]);
    let q = "{ __schema { queryType { name } } }";
    assert_eq!(code(&gql(&app, &plain, q)), "introspection_disabled");
    assert_eq!(code(&gql(&app, &plain, "{ __type(name: \"Clients\") { name } }")), "introspection_disabled");
    let hidden = "query { ...Q } fragment Q on Query { __schema { types { name } } }";
    assert_eq!(code(&gql(&app, &plain, hidden)), "introspection_disabled");
    let allowed = app.token_with(|s| {
        s.scopes = vec!["*:r".into()];
        s.introspection = true;
    });
    let r = gql(&app, &allowed.token, q);
    assert_eq!(r.json()["data"]["__schema"]["queryType"]["name"], "Query");
}

#[test]
fn scopes_apply_to_every_table_a_query_touches() {
    let app = TestApp::builder().config(|c| c.sensitive.expose = vec!["contacts".into()]).start();
    let t = app.token(&["clients:r"]);
    let r = gql(&app, &t, "{ clients(limit: 2) { company invoices(limit: 2) { id } } }");
    let body = r.json();
    assert!(body["data"]["clients"][0]["company"].is_string());
    assert!(body["data"]["clients"][0]["invoices"].is_null());
    assert_eq!(body["errors"][0]["extensions"]["code"], "forbidden");
    // A sensitive table is reachable through a relation only with its own read scope.
    let r = gql(&app, &t, "{ clients(limit: 1) { contacts(limit: 1) { email } } }");
    assert_eq!(r.json()["errors"][0]["extensions"]["code"], "forbidden");
    assert!(!r.text().contains('@'));
    let full = app.token_with(|s| {
        s.scopes = vec!["clients:r".into(), "contacts:r".into()];
        s.allow_sensitive = true;
    });
    let r = gql(&app, &full.token, "{ clients(limit: 1) { contacts(limit: 1) { email } } }");
    assert!(r.json()["data"]["clients"][0]["contacts"][0]["email"].is_string(), "{}", r.text());
    assert_eq!(code(&gql(&app, &t, "{ staff { id } }")), "invalid_query", "unexposed tables are not in the schema");
}

#[test]
fn mutations_create_update_delete_under_scope() {
    let app = TestApp::start();
    let writer = app.token(&["leads:rcud"]);
    let reader = app.token(&["leads:r"]);
    let create = r#"mutation { create_leads(name: "Ada Lovelace", status: "new", value: 1200.5) { id name value } }"#;
    let r = gql(&app, &writer, create);
    let id = r.json()["data"]["create_leads"]["id"].as_i64().unwrap_or_else(|| panic!("{}", r.text()));
    let r =
        gql(&app, &writer, &format!(r#"mutation {{ update_leads(id: {id}, status: "qualified") {{ status name }} }}"#));
    assert_eq!(r.json()["data"]["update_leads"], json!({"status": "qualified", "name": "Ada Lovelace"}));
    let r = gql(&app, &reader, &format!("mutation {{ delete_leads(id: {id}) }}"));
    assert_eq!(r.json()["errors"][0]["extensions"]["code"], "forbidden");
    let r = gql(&app, &writer, r#"mutation { create_leads(name: "No status") { id } }"#);
    assert_eq!(r.json()["errors"][0]["extensions"]["code"], "validation_failed");
    assert!(r.text().contains("status"));
    let r = gql(&app, &writer, &format!("mutation {{ delete_leads(id: {id}) }}"));
    assert_eq!(r.json()["data"]["delete_leads"], true);
    assert_eq!(app.get(&format!("/api/v1/leads/{id}"), &reader).status, 404);
}

#[test]
fn a_schema_change_appears_without_code() {
    let schema = "[tables.projects.columns]\nname = { type = \"string\", required = true }\nowner_id = { type = \"int\", references = \"people\" }\n[tables.people.columns]\nfull_name = { type = \"string\" }\n";
    let app = TestApp::builder().schema(schema).no_seed().start();
    let t = app.token(&["*:rc"]);
    let r = gql(&app, &t, r#"mutation { create_people(full_name: "Grace Hopper") { id } }"#);
    assert_eq!(r.json()["data"]["create_people"]["id"], 1, "{}", r.text());
    gql(&app, &t, r#"mutation { create_projects(name: "COBOL", owner_id: 1) { id } }"#);
    let r = gql(&app, &t, "{ people(limit: 5) { full_name projects(limit: 5) { name owner { full_name } } } }");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["data"],
        json!({"people": [{"full_name": "Grace Hopper", "projects": [{"name": "COBOL", "owner": {"full_name": "Grace Hopper"}}]}]})
    );
}

#[test]
fn sandbox_tokens_see_fakes_in_graphql_too() {
    let app = TestApp::builder().config(|c| c.sensitive.expose = vec!["contacts".into()]).start();
    let t = app.token_with(|s| {
        s.scopes = vec!["*:r".into(), "contacts:r".into()];
        s.allow_sensitive = true;
        s.sandbox = true;
    });
    let real = app.token_with(|s| {
        s.scopes = vec!["*:r".into(), "contacts:r".into()];
        s.allow_sensitive = true;
    });
    let q = "{ invoices(limit: 20) { total client { email company contacts(limit: 3) { email last_name } } } }";
    let fake = gql(&app, &t.token, q).json();
    assert!(fake["errors"].is_null(), "{fake}");
    let truth = gql(&app, &real.token, q).json();
    assert_eq!(fake["data"]["invoices"][3]["total"], truth["data"]["invoices"][3]["total"]);
    for (f, r) in fake["data"]["invoices"].as_array().unwrap().iter().zip(truth["data"]["invoices"].as_array().unwrap())
    {
        assert!(f["client"]["email"].as_str().is_none_or(|e| e.ends_with("@example.com")));
        assert_ne!(f["client"]["company"], r["client"]["company"]);
        for (fc, rc) in
            f["client"]["contacts"].as_array().unwrap().iter().zip(r["client"]["contacts"].as_array().unwrap())
        {
            assert_ne!(fc["last_name"], rc["last_name"]);
        }
    }
    let r = gql(&app, &t.token, r#"mutation { create_leads(name: "x", status: "new") { id } }"#);
    assert_eq!(r.json()["errors"][0]["extensions"]["code"], "sandbox_read_only");
}

/// The standard introspection query (as GraphiQL and graphql-cop send it) runs for a token
/// that may introspect: introspection nesting has its own limit, data depth stays at 5.
/// And an explicit `null` for an optional argument means "not given".
#[test]
fn the_standard_introspection_query_runs_and_null_means_not_given() {
    const INTROSPECTION: &str = r#"query IntrospectionQuery { __schema { queryType { name } mutationType { name }
      subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
    fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description
      args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue }
      interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
      possibleTypes { ...TypeRef } }
    fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
    fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
      ofType { kind name ofType { kind name ofType { kind name } } } } } } } }"#;
    let app = TestApp::builder().config(|c| c.graphql.max_tokens = 5000).start();
    let allowed = app.token_with(|s| {
        s.scopes = vec!["*:r".into()];
        s.introspection = true;
    });
    let r = gql(&app, &allowed.token, INTROSPECTION);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["data"]["__schema"]["types"].as_array().is_some_and(|t| !t.is_empty()));
    // Data depth is still limited.
    let deep = "{ clients { invoices { client { invoices { client { id } } } } } }";
    assert_eq!(code(&gql(&app, &allowed.token, deep)), "depth_exceeded");

    let r = gql(&app, &allowed.token, "{ clients(limit: null, offset: null) { id } }");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json().get("errors").is_none(), "{}", r.text());
    assert_eq!(r.json()["data"]["clients"].as_array().unwrap().len(), 50);
}
