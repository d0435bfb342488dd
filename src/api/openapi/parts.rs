//! The document's building blocks: operation skeletons, answers with their headers, the error
//! responses every operation can give, and the shared components. Kept apart from the walk
//! over tables and views (`mod.rs`) so each says one thing.

use serde_json::{json, Map, Value};

use crate::api::rest::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::pipeline::headers::SECURITY_HEADERS;

/// How a filter's operators read, for its description.
pub(super) fn operators_text(ops: &[&str]) -> String {
    let list: Vec<String> = ops.iter().map(|o| format!("`{o}`")).collect();
    format!("PostgREST operators: col=OP.value with OP one of {} (`in.(a,b)`, `is.null`; `not.` before any negates it; `*` is the like wildcard; a range may name its column twice: `col=gte.a&col=lt.b`)", list.join(", "))
}

/// What `Accept: text/csv` does on a list or a view.
pub(super) const CSV_NOTE: &str = "With `Accept: text/csv` the whole filtered result is streamed as CSV (not one page: `limit` and `offset` are ignored): a header row (`id`, then the columns shown), then one record a row, quoted per RFC 4180; an empty cell is a missing value; scopes, sandbox fakes and audit are those of the JSON answer.";

/// A list answer that can also be CSV.
pub(super) fn with_csv(mut ok: Value) -> Value {
    ok["content"]["text/csv"] = json!({"schema": {"type": "string"}});
    ok
}

/// An operation skeleton; `on_row`: its path ends in `/{id}`.
pub(super) fn operation(id: &str, summary: &str, on_row: bool) -> Value {
    let params: Vec<Value> = if on_row { vec![json!({"$ref": "#/components/parameters/row_id"})] } else { Vec::new() };
    json!({"operationId": id, "summary": summary, "parameters": params, "responses": {}})
}

/// A required JSON body of a component schema.
pub(super) fn body_ref(schema: &str) -> Value {
    json!({"required": true,
           "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

/// A counted JSON answer of a component schema.
pub(super) fn ok_ref(schema: &str) -> Value {
    ok_json(json!({"$ref": format!("#/components/schemas/{schema}")}), true)
}

/// A JSON answer; `limited`: the route counts against a rate-limit window.
pub(super) fn ok_json(schema: Value, limited: bool) -> Value {
    let headers = if limited { limited_headers() } else { security_headers() };
    json!({"description": "OK", "headers": headers, "content": {"application/json": {"schema": schema}}})
}

/// Every error status an operation can answer, each the error envelope.
pub(super) fn with_errors(mut responses: Value) -> Value {
    for status in ["400", "401", "403", "404", "405", "408", "409", "413", "415", "422", "431", "503"] {
        responses[status] = json!({"$ref": "#/components/responses/error"});
    }
    responses["429"] = json!({
        "description": "The rate-limit window is exhausted: retry after Retry-After seconds.",
        "headers": {
            "Retry-After": {"$ref": "#/components/headers/Retry-After"},
            "X-RateLimit-Limit": {"$ref": "#/components/headers/X-RateLimit-Limit"},
            "X-RateLimit-Remaining": {"$ref": "#/components/headers/X-RateLimit-Remaining"},
        },
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}},
    });
    responses
}

/// The headers every response carries (by reference).
pub(super) fn security_headers() -> Value {
    let mut h = Map::new();
    for name in
        ["X-Request-Id", "X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Cache-Control"]
    {
        h.insert(name.into(), json!({"$ref": format!("#/components/headers/{name}")}));
    }
    Value::Object(h)
}

/// The security headers plus the rate-limit fields of a counted request.
pub(super) fn limited_headers() -> Value {
    let mut h = security_headers();
    for name in ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"] {
        h[name] = json!({"$ref": format!("#/components/headers/{name}")});
    }
    h
}

/// The document's `components.headers`: every response header it names, described once.
pub(super) fn header_components() -> Value {
    let text = |description: &str| json!({"required": true, "description": description, "schema": {"type": "string"}});
    let count = |description: &str| json!({"required": true, "description": description, "schema": {"type": "integer", "minimum": 0}});
    let mut h = Map::new();
    h.insert("X-Request-Id".into(), text("The request's id, also in the audit record"));
    for (title, name) in [
        ("X-Content-Type-Options", "x-content-type-options"),
        ("X-Frame-Options", "x-frame-options"),
        ("Cache-Control", "cache-control"),
    ] {
        let value = SECURITY_HEADERS.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| *v);
        h.insert(title.into(), json!({"required": true, "schema": {"type": "string", "const": value}}));
    }
    h.insert("Content-Security-Policy".into(), text("default-src 'none' (the explorer sets its own)"));
    h.insert("X-RateLimit-Limit".into(), count("Requests allowed in the window"));
    h.insert("X-RateLimit-Remaining".into(), count("Requests left in the window after this one"));
    h.insert("X-RateLimit-Reset".into(), count("Seconds until the window ends"));
    h.insert(
        "RateLimit-Policy".into(),
        text("IETF httpapi draft: \"token\";q=LIMIT;w=WINDOW (\"public\" for public views)"),
    );
    h.insert("RateLimit".into(), text("IETF httpapi draft: \"token\";r=REMAINING;t=RESET"));
    h.insert("Retry-After".into(), count("Seconds to wait"));
    // Sent for a one-row create; a JSON array creates several rows and has no one path.
    h.insert(
        "Location".into(),
        json!({"required": false, "description": "The created row's path (one-row creates)", "schema": {"type": "string"}}),
    );
    Value::Object(h)
}

/// The document's `components.parameters` (the signing headers required for a signing token).
pub(super) fn parameters(signing_required: bool) -> Value {
    json!({
        "limit": {"name": "limit", "in": "query", "required": false,
                  "description": format!("rows per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}; more is capped)"),
                  "schema": {"type": "integer", "minimum": 0, "maximum": u64::MAX}},
        "offset": {"name": "offset", "in": "query", "required": false, "description": "rows to skip",
                   "schema": {"type": "integer", "minimum": 0, "maximum": u64::MAX}},
        "row_id": {"name": "id", "in": "path", "required": true, "description": "the row's id",
                   "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": u64::MAX}},
        "x_timestamp": {"name": "X-Timestamp", "in": "header", "required": signing_required,
                        "description": "Unix seconds; within the replay window (signing tokens only)",
                        "schema": {"type": "string", "pattern": "^[0-9]+$"}},
        "x_signature": {"name": "X-Signature", "in": "header", "required": signing_required,
                        "description": "hex HMAC-SHA256 of method, path, query, body digest and timestamp (see the README)",
                        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
    })
}
