//! The OpenAPI document (`GET /api/v1/openapi.json`) and public views. The document's
//! validity against the OpenAPI 3.1 meta-schema and its agreement with every response are
//! checked by the pinned tools in `tests/contract/run.sh` (openapi-spec-validator,
//! schemathesis); these tests pin down what each audience is shown.

use serde_json::{json, Value};

use palisade::api::openapi;
use palisade::tokens::BearerToken;

use crate::support::TestApp;

fn document(app: &TestApp, token: Option<&str>) -> Value {
    let mut req = app.req("GET", "/api/v1/openapi.json");
    if let Some(t) = token {
        req = req.bearer(t);
    }
    let r = req.send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.assert_security_headers();
    r.json()
}

fn methods(doc: &Value, path: &str) -> Vec<String> {
    doc["paths"][path].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// Every `$ref` in the document points at something that exists.
fn assert_refs_resolve(doc: &Value, node: &Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("external ref {r}"));
                assert!(doc.pointer(pointer).is_some(), "dangling {r}");
            }
            map.values().for_each(|v| assert_refs_resolve(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| assert_refs_resolve(doc, v)),
        _ => {}
    }
}

#[test]
fn each_token_sees_exactly_what_it_may_do() {
    let app = TestApp::start();
    let reader = app.token(&["clients:r", "services:r"]);
    let doc = document(&app, Some(&reader));
    assert_eq!(doc["openapi"], "3.1.0");
    assert_refs_resolve(&doc, &doc);
    assert_eq!(methods(&doc, "/api/v1/clients"), ["get"]);
    assert_eq!(methods(&doc, "/api/v1/clients/{id}"), ["get"]);
    assert!(doc["paths"]["/api/v1/invoices"].is_null(), "no invoices:r, no invoices path");
    assert!(doc["paths"]["/api/v1/views/overdue_invoices"].is_null());
    assert!(doc["paths"]["/api/v1/views/active_clients"].is_object());
    assert!(doc["paths"]["/api/v1/staff"].is_null(), "sensitive and not exposed");

    // Columns: types, formats, read-only id and created_at; secret columns never appear.
    let row = &doc["components"]["schemas"]["clients_row"]["properties"];
    assert_eq!(row["id"]["readOnly"], true);
    assert_eq!(row["created_at"]["format"], "date-time");
    assert_eq!(row["created_at"]["readOnly"], true);
    assert_eq!(row["company"]["type"], "string");
    let codes = doc["components"]["schemas"]["error"]["properties"]["error"]["properties"]["code"]["enum"].clone();
    assert!(codes.as_array().unwrap().contains(&json!("rate_limited")));
    assert!(codes.as_array().unwrap().contains(&json!("headers_too_large")));

    // A writer gets the write operations, bodies without server-managed columns, and links.
    let writer = app.token(&["invoices:crud", "clients:r"]);
    let doc = document(&app, Some(&writer));
    assert_eq!(methods(&doc, "/api/v1/invoices"), ["get", "post"]);
    assert_eq!(methods(&doc, "/api/v1/invoices/{id}"), ["delete", "get", "patch", "put"]);
    let write = &doc["components"]["schemas"]["invoices_write"];
    assert_eq!(write["additionalProperties"], false);
    assert!(write["required"].as_array().unwrap().contains(&json!("client_id")));
    let links = &doc["paths"]["/api/v1/invoices"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["get"]["operationId"], "get_invoices");
    assert_eq!(links["delete"]["parameters"]["id"], "$response.body#/data/id");

    // A sandbox token cannot filter on personal data, so its document offers no such filter.
    let sandbox = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.sandbox = true;
    });
    let doc = document(&app, Some(&sandbox.token));
    let names: Vec<String> = doc["paths"]["/api/v1/clients"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect();
    assert!(names.contains(&"status".to_string()) && !names.contains(&"email".to_string()), "{names:?}");
    assert!(methods(&doc, "/api/v1/clients").iter().all(|m| m == "get"));

    // A signing token is told to sign.
    let signer = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.sign = true;
    });
    // (It must sign the request for its document too; built here in-process instead.)
    let principal = app.state.tokens.authenticate(BearerToken::new(&signer.token), app.state.clock.now_ms()).unwrap();
    let doc = openapi::document(&app.state.catalog, openapi::Audience::Token(&principal), "");
    assert_eq!(doc["components"]["parameters"]["x_signature"]["required"], true);
    let params = doc["paths"]["/api/v1/clients"]["get"]["parameters"].to_string();
    assert!(params.contains("x_timestamp") && params.contains("x_signature"), "{params}");

    // A bad token gets no document at all.
    assert_eq!(app.req("GET", "/api/v1/openapi.json").bearer("pal_nope").send().status, 401);
}

#[test]
fn the_anonymous_document_lists_public_views_and_health_only() {
    let app = TestApp::start();
    let doc = document(&app, None);
    assert_refs_resolve(&doc, &doc);
    let mut paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    paths.sort();
    assert_eq!(paths, ["/api/v1/openapi.json", "/api/v1/views/service_list", "/health"]);
    let schema = &doc["components"]["schemas"]["view_service_list_row"]["properties"];
    assert_eq!(schema["unit_price"]["type"], "number");
    assert!(schema["active"].is_null(), "only the view's columns");
}

#[test]
fn the_document_follows_the_schema_file() {
    let schema = "[tables.gadgets.columns]\nlabel = { type = \"string\", required = true }\n\
                  made_on = { type = \"date\" }\n\
                  [tables.parts.columns]\nlabel = { type = \"string\" }\n\
                  gadget_id = { type = \"int\", references = \"gadgets\" }\n\
                  [views.gadget_list]\ntable = \"gadgets\"\ncolumns = [\"label\"]\n";
    let app = TestApp::builder().schema(schema).no_seed().start();
    let t = app.token(&["*:r"]);
    let doc = document(&app, Some(&t));
    assert_eq!(doc["components"]["schemas"]["gadgets_row"]["properties"]["made_on"]["format"], "date");
    // A reference names its table in a field of its own (the explorer's lookup reads it).
    let parts = &doc["components"]["schemas"]["parts_row"]["properties"];
    assert_eq!(parts["gadget_id"]["x-references"], "gadgets");
    assert!(parts["label"].get("x-references").is_none());
    assert!(doc["paths"]["/api/v1/clients"].is_null());
    // `public` is off: the anonymous document does not show the view, and it is not served.
    let anonymous = document(&app, None);
    assert!(anonymous["paths"]["/api/v1/views/gadget_list"].is_null());
    assert_eq!(app.req("GET", "/api/v1/views/gadget_list").send().status, 401);
}

#[test]
fn public_views_are_served_without_a_token_read_only_and_rate_limited_per_address() {
    let app = TestApp::builder()
        .config(|c| {
            c.public.requests = 3;
            c.public.window_secs = 60;
        })
        .start();
    let r = app.req("GET", "/api/v1/views/service_list").client_ip("198.51.100.7").send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.assert_security_headers();
    let rows = r.json()["data"].as_array().unwrap().clone();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|row| row.get("active").is_none() && row["unit_price"].is_number()));
    assert_eq!(r.header("x-ratelimit-limit"), Some("3"));
    assert_eq!(r.header("ratelimit-policy"), Some("\"public\";q=3;w=60"));

    // Read-only: no write method is served on a view, token or not.
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let r = app.req(method, "/api/v1/views/service_list").client_ip("198.51.100.7").json(&json!({})).send();
        assert_eq!(r.status, 405, "{method}");
    }
    // A presented token is checked as always: a bad one is refused, not ignored.
    let r = app.req("GET", "/api/v1/views/service_list").bearer("pal_forged").client_ip("198.51.100.7").send();
    assert_eq!(r.status, 401);
    // Other views and tables still need a token.
    assert_eq!(app.req("GET", "/api/v1/views/active_clients").client_ip("198.51.100.7").send().status, 401);
    assert_eq!(app.req("GET", "/api/v1/services").client_ip("198.51.100.7").send().status, 401);

    // Per address: the fourth anonymous request in the window is refused, another address is
    // not (refusals before the limiter — 405, 401 — did not count).
    for _ in 0..2 {
        assert_eq!(app.req("GET", "/api/v1/views/service_list").client_ip("198.51.100.7").send().status, 200);
    }
    let fourth = app.req("GET", "/api/v1/views/service_list").client_ip("198.51.100.7").send();
    assert_eq!((fourth.status, fourth.code().as_str()), (429, "rate_limited"));
    assert!(fourth.header("retry-after").is_some());
    assert_eq!(app.req("GET", "/api/v1/views/service_list").client_ip("198.51.100.8").send().status, 200);
    // A token keeps working on it, counted against the token instead.
    let t = app.token(&["services:r"]);
    let r = app.req("GET", "/api/v1/views/service_list").bearer(&t).client_ip("198.51.100.7").send();
    assert_eq!(r.status, 200);
    assert!(r.header("ratelimit-policy").unwrap().starts_with("\"token\""));

    // The checks chain still applies, and the audit trail says who it was.
    let r = app.req("GET", "/api/v1/views/service_list?name=x'%20OR%201=1--").client_ip("198.51.100.9").send();
    assert_eq!(r.status, 403, "{}", r.text());
    let records = app.audit();
    let public: Vec<_> = records.iter().filter(|r| r.path == "/api/v1/views/service_list" && r.status == 200).collect();
    assert!(public.iter().any(|r| r.token_id.as_deref() == Some("public")), "{public:?}");
}

#[test]
fn a_public_view_showing_personal_data_is_refused_at_start() {
    let schema = "[tables.people.columns]\nemail = { type = \"string\" }\n\
                  [views.everyone]\ntable = \"people\"\npublic = true\n";
    let e = palisade::schema::Schema::parse(schema).unwrap_err().to_string();
    assert!(e.contains("view everyone") && e.contains("email") && e.contains("public_pii"), "{e}");
    let opted_in = format!("{schema}public_pii = true\n");
    assert!(palisade::schema::Schema::parse(&opted_in).is_ok());
}
