//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 description generated from the schema and the
//! catalog, so a client generator, Postman or a contract fuzzer sees exactly what the server
//! serves.
//!
//! With a token, the document describes what *that token* may do: only the tables it may
//! read (and the methods its scopes allow), the views it may read, filters it may use (a
//! sandbox token cannot filter on personal data), and the signing headers when it must sign.
//! Without one it describes the public views and `/health`. `palisade schema openapi` prints
//! the whole document offline ([`Audience::Everyone`]). The catalog's own checks decide what
//! appears, so the document and the scope stage cannot disagree.

mod schemas;

use serde_json::{json, Map, Value};

use crate::catalog::Catalog;
use crate::http::route::{GRAPHQL_PATH, OPENAPI_PATH};
use crate::pipeline::headers::SECURITY_HEADERS;
use crate::schema::{Table, View};
use crate::tokens::{Action, Principal};

use super::rest::{DEFAULT_LIMIT, MAX_LIMIT};

/// Whom the document describes.
#[derive(Clone, Copy)]
pub enum Audience<'a> {
    /// Everything the server serves (the offline document).
    Everyone,
    /// What this token may do; the public principal sees the public views.
    Token(&'a Principal),
}

impl Audience<'_> {
    fn may(&self, catalog: &Catalog, table: &Table, action: Action) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Token(p) => !p.is_public() && catalog.check_table(p, table, action).is_ok(),
        }
    }

    fn may_read_view(&self, catalog: &Catalog, view: &View, table: &Table) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Token(p) => catalog.check_view(p, view, table).is_ok(),
        }
    }

    fn anonymous(&self) -> bool {
        matches!(self, Audience::Token(p) if p.is_public())
    }

    /// The row an owner-bound token is bound to (`TABLE:ID`): every answer holds only rows
    /// that belong to it.
    fn owner(&self) -> Option<String> {
        match self {
            Audience::Token(p) => p.record.owner.as_ref().map(ToString::to_string),
            _ => None,
        }
    }

    fn sandbox(&self) -> bool {
        matches!(self, Audience::Token(p) if p.record.sandbox)
    }

    /// Signing headers: required for a signing token, optional in the offline document.
    fn signing(&self) -> Option<bool> {
        match self {
            Audience::Everyone => Some(false),
            Audience::Token(p) if p.record.sealed_signing_secret.is_some() => Some(true),
            Audience::Token(_) => None,
        }
    }
}

/// The document for `audience`; `server_url` is `[server] public_url` when set.
pub fn document(catalog: &Catalog, audience: Audience<'_>, server_url: &str) -> Value {
    let mut doc = Doc { catalog, audience, paths: Map::new(), schemas: Map::new() };
    doc.fixed_paths();
    for table in catalog.schema.tables.values() {
        if catalog.table(&table.name).is_some() {
            doc.table(table);
        }
    }
    for name in catalog.schema.views.keys() {
        if let Some((view, table)) = catalog.view(name) {
            if audience.may_read_view(catalog, view, table) {
                doc.view(view, table);
            }
        }
    }
    let Doc { paths, mut schemas, .. } = doc;
    schemas.insert("error".into(), schemas::error());
    let server = if server_url.is_empty() { "/" } else { server_url.trim_end_matches('/') };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Palisade",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The business tables of this server over REST, behind Palisade's security \
                            pipeline. Generated from data/schema.toml for the token that asked.",
        },
        "servers": [{"url": server}],
        "x-palisade": {"sandbox": audience.sandbox(), "anonymous": audience.anonymous(), "owner": audience.owner()},
        "security": if audience.anonymous() { json!([{}]) } else { json!([{"bearer": []}]) },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A token from `palisade token create` (pal_…)"}},
            "parameters": parameters(audience.signing() == Some(true)),
            "responses": {"error": {
                "description": "A refusal: the code says which (see the README's error table).",
                "headers": security_headers(),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}},
            }},
            "headers": header_components(),
        },
    })
}

struct Doc<'a> {
    catalog: &'a Catalog,
    audience: Audience<'a>,
    paths: Map<String, Value>,
    schemas: Map<String, Value>,
}

impl Doc<'_> {
    fn fixed_paths(&mut self) {
        let mut health = operation("health", "Liveness: answers 200 while the store's writer answers", false);
        health["security"] = json!([]);
        health["responses"] = json!({
            "200": ok_json(json!({"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}), false),
            "503": {"$ref": "#/components/responses/error"},
        });
        // /health passes the shield and the checks like any request: a bad client address,
        // an oversized query, a locked client (403 `locked`) or the per-IP throttle (429).
        let shield = with_errors(json!({}));
        for status in ["400", "403", "408", "413", "429", "431"] {
            health["responses"][status] = shield[status].clone();
        }
        self.paths.insert("/health".into(), json!({"get": health}));

        let mut openapi = operation("openapi", "This document, for the token that asks (none: public views)", false);
        openapi["security"] = json!([{}, {"bearer": []}]);
        openapi["responses"] = with_errors(json!({"200": ok_json(json!({"type": "object"}), true)}));
        self.paths.insert(OPENAPI_PATH.into(), json!({"get": openapi}));

        if self.audience.anonymous() {
            return;
        }
        let mut index = operation("index", "The tables and views this token may read", false);
        let names = json!({"type": "array", "items": {"type": "string"}});
        index["responses"] = with_errors(json!({"200": ok_json(json!({
            "type": "object",
            "properties": {"tables": names, "views": names, "sandbox": {"type": "boolean"}},
            "required": ["tables", "views", "sandbox"],
        }), true)}));
        self.sign(&mut index);
        self.paths.insert("/api/v1".into(), json!({"get": index}));

        let mut graphql = operation("graphql", "GraphQL over the same tables (see the README)", false);
        graphql["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
            "type": "object",
            "properties": {"query": {"type": "string", "minLength": 1, "pattern": "\\S"}, "variables": {"type": ["object", "null"]},
                           "operationName": {"type": ["string", "null"]}},
            "required": ["query"],
        }}}});
        let answer = json!({"$ref": "#/components/schemas/graphql_response"});
        let mut responses = with_errors(json!({"200": ok_json(answer.clone(), true)}));
        // A query the GraphQL layer refuses answers in GraphQL's own shape; the pipeline's
        // refusals (body, JSON depth) in the error envelope.
        for status in ["400", "415"] {
            let either = json!({"anyOf": [answer, {"$ref": "#/components/schemas/error"}]});
            responses[status] = json!({"description": "Refused", "headers": security_headers(),
                                       "content": {"application/json": {"schema": either}}});
        }
        graphql["responses"] = responses;
        self.schemas.insert(
            "graphql_response".into(),
            json!({
                "type": "object",
                "properties": {
                    "data": {"type": ["object", "null"]},
                    "errors": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"message": {"type": "string"},
                                       "extensions": {"type": "object", "properties": {"code": {"type": "string"}}}},
                        "required": ["message"],
                    }},
                },
            }),
        );
        self.sign(&mut graphql);
        self.paths.insert(GRAPHQL_PATH.into(), json!({"post": graphql}));
    }

    fn table(&mut self, table: &Table) {
        let (catalog, audience) = (self.catalog, self.audience);
        let may = |action| audience.may(catalog, table, action);
        let (read, create, update, delete) =
            (may(Action::Read), may(Action::Create), may(Action::Update), may(Action::Delete));
        if !(read || create || update || delete) {
            return;
        }
        let t = &table.name;
        let row_ref = format!("#/components/schemas/{t}_row");
        self.schemas.insert(format!("{t}_row"), schemas::row(table, table.visible_columns()));
        let mut collection = Map::new();
        let mut single = Map::new();
        if read || create || update {
            self.schemas.insert(format!("{t}_item"), schemas::item(&row_ref));
        }
        if read {
            self.schemas.insert(format!("{t}_page"), schemas::page(&row_ref));
            let mut list = operation(&format!("list_{t}"), &format!("Rows of {t}, a page at a time"), false);
            list["parameters"] = self.list_parameters(table, None);
            list["responses"] = with_errors(json!({"200": with_csv(ok_ref(&format!("{t}_page")))}));
            list["description"] = json!(CSV_NOTE);
            collection.insert("get".into(), list);
            let mut get = operation(&format!("get_{t}"), &format!("One row of {t}"), true);
            get["responses"] = with_errors(json!({"200": ok_ref(&format!("{t}_item"))}));
            single.insert("get".into(), get);
        }
        if create || update {
            self.schemas.insert(format!("{t}_write"), schemas::write_body(table, true));
        }
        if create {
            let mut post = operation(&format!("create_{t}"), &format!("Adds a row to {t}"), false);
            let write = json!({"$ref": format!("#/components/schemas/{t}_write")});
            post["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"oneOf": [
                write.clone(),
                {"type": "array", "items": write, "minItems": 1,
                 "description": "Several rows, created all or none in one commit (at most [limits] max_batch_rows, 500 by default); each row counts against the token's rate limit; a refusal names the array index from 0 (`row 3: column 'total' …`)."}
            ]}}}});
            post["description"] = json!("A JSON object creates one row and answers it; a JSON array creates every row or none and answers `{\"data\": [row, …]}` in the order given.");
            // One row answers the item; an array answers `{"data": [row, …]}`.
            self.schemas.insert(
                format!("{t}_created"),
                json!({"anyOf": [{"$ref": format!("#/components/schemas/{t}_item")}, schemas::rows(&row_ref)]}),
            );
            let mut created = ok_ref(&format!("{t}_created"));
            created["description"] = json!("Created (durable before this answer)");
            created["headers"]["Location"] = json!({"$ref": "#/components/headers/Location"});
            created["links"] = self.links(t, read, update, delete);
            post["responses"] = with_errors(json!({"201": created}));
            collection.insert("post".into(), post);
        }
        if update {
            self.schemas.insert(format!("{t}_patch"), schemas::write_body(table, false));
            let mut put = operation(&format!("replace_{t}"), &format!("Replaces a row of {t}"), true);
            put["requestBody"] = body_ref(&format!("{t}_write"));
            put["responses"] = with_errors(json!({"200": ok_ref(&format!("{t}_item"))}));
            single.insert("put".into(), put);
            let mut patch = operation(&format!("update_{t}"), &format!("Changes some columns of a row of {t}"), true);
            patch["requestBody"] = body_ref(&format!("{t}_patch"));
            patch["responses"] = with_errors(json!({"200": ok_ref(&format!("{t}_item"))}));
            single.insert("patch".into(), patch);
        }
        if delete {
            let mut del = operation(&format!("delete_{t}"), &format!("Deletes a row of {t}"), true);
            del["responses"] = with_errors(json!({"204": {
                "description": "Deleted (durable before this answer)",
                "headers": limited_headers(),
            }}));
            single.insert("delete".into(), del);
        }
        for op in collection.values_mut().chain(single.values_mut()) {
            self.sign(op);
        }
        if !collection.is_empty() {
            self.paths.insert(format!("/api/v1/{t}"), Value::Object(collection));
        }
        if !single.is_empty() {
            self.paths.insert(format!("/api/v1/{t}/{{id}}"), Value::Object(single));
        }
    }

    fn view(&mut self, view: &View, table: &Table) {
        let name = format!("view_{}", view.name);
        let columns = view.columns.iter().filter_map(|c| table.column(c));
        self.schemas.insert(format!("{name}_row"), schemas::row(table, columns));
        self.schemas.insert(format!("{name}_page"), schemas::page(&format!("#/components/schemas/{name}_row")));
        let summary = format!("Saved view {} over {}", view.name, table.name);
        let mut get = operation(&format!("view_{}", view.name), &summary, false);
        get["parameters"] = self.list_parameters(table, Some(view));
        get["responses"] = with_errors(json!({"200": with_csv(ok_ref(&format!("{name}_page")))}));
        get["description"] = json!(CSV_NOTE);
        if view.public {
            get["security"] = json!([{}, {"bearer": []}]);
            get["description"] =
                json!(format!("Public: served without a token too, rate-limited per client address. {CSV_NOTE}"));
        } else {
            self.sign(&mut get);
        }
        self.paths.insert(format!("/api/v1/views/{}", view.name), json!({"get": get}));
    }

    /// `limit`, `offset`, `order`, `select`, `after`, and a filter per column that may be
    /// filtered on (its schema is the bare equality value; the operators it takes are in its
    /// description and in `x-operators`).
    fn list_parameters(&self, table: &Table, view: Option<&View>) -> Value {
        let mut params =
            vec![json!({"$ref": "#/components/parameters/limit"}), json!({"$ref": "#/components/parameters/offset"})];
        params.push(json!({"name": "id", "in": "query", "required": false,
                           "description": format!("rows with this id; also {}", operators_text(schemas::ID_OPERATORS)),
                           "x-operators": schemas::ID_OPERATORS,
                           "schema": {"type": "integer", "format": "int64", "minimum": 0, "maximum": i64::MAX}}));
        let sandbox = self.audience.sandbox();
        let mut sortable = vec!["id".to_string(), "-id".to_string()];
        let mut selectable = vec!["id".to_string()];
        for c in table.visible_columns() {
            if view.is_some_and(|v| !v.columns.contains(&c.name)) {
                continue;
            }
            selectable.push(c.name.clone());
            if sandbox && c.pii().is_some() {
                continue;
            }
            if let Some(schema) = schemas::filter(c) {
                let ops = schemas::operators(c.ty);
                params.push(json!({"name": c.name, "in": "query", "required": false,
                                   "description": format!("rows whose {} equals this; also {}", c.name, operators_text(ops)),
                                   "x-operators": ops, "schema": schema}));
                sortable.push(c.name.clone());
                sortable.push(format!("-{}", c.name));
            }
        }
        params.push(json!({"name": "order", "in": "query", "required": false,
            "description": "sort by a column (`-` before it: descending); several comma-separated keys sort by each in turn (`order=status,-total`); `id` breaks ties in the last key's direction; nulls come last. A view's own order is its default.",
            "schema": {"type": "string", "enum": sortable}}));
        params.push(json!({"name": "select", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "answer with these columns only (and `id`, always); a column named twice is refused",
            "schema": {"type": "array", "items": {"type": "string", "enum": selectable}, "minItems": 1, "uniqueItems": true}}));
        params.push(json!({"name": "after", "in": "query", "required": false,
            "description": "continue after the page whose answer held this `next` cursor (with the same filters and order; no `offset`); any other value is refused with 400",
            "schema": {"type": "string"}}));
        Value::Array(params)
    }

    /// Stateful links from a created row to what may be done with it next.
    fn links(&self, t: &str, read: bool, update: bool, delete: bool) -> Value {
        let id = json!({"id": "$response.body#/data/id"});
        let mut links = Map::new();
        for (on, name, op) in [
            (read, "get", "get"),
            (update, "replace", "replace"),
            (update, "update", "update"),
            (delete, "delete", "delete"),
        ] {
            if on {
                links.insert(name.into(), json!({"operationId": format!("{op}_{t}"), "parameters": id}));
            }
        }
        Value::Object(links)
    }

    /// Adds the signing headers to an operation when the audience signs.
    fn sign(&self, op: &mut Value) {
        if self.audience.signing().is_none() {
            return;
        }
        if let Some(params) = op["parameters"].as_array_mut() {
            params.push(json!({"$ref": "#/components/parameters/x_timestamp"}));
            params.push(json!({"$ref": "#/components/parameters/x_signature"}));
        }
    }
}

/// An operation skeleton; `on_row`: its path ends in `/{id}`.
/// How a filter's operators read, for its description.
fn operators_text(ops: &[&str]) -> String {
    let list: Vec<String> = ops.iter().map(|o| format!("`{o}`")).collect();
    format!("PostgREST operators: col=OP.value with OP one of {} (`in.(a,b)`, `is.null`; `not.` before any negates it; `*` is the like wildcard; a range may name its column twice: `col=gte.a&col=lt.b`)", list.join(", "))
}

/// What `Accept: text/csv` does on a list or a view.
const CSV_NOTE: &str = "With `Accept: text/csv` the whole filtered result is streamed as CSV (not one page: `limit` and `offset` are ignored): a header row (`id`, then the columns shown), then one record a row, quoted per RFC 4180; an empty cell is a missing value; scopes, sandbox fakes and audit are those of the JSON answer.";

/// A list answer that can also be CSV.
fn with_csv(mut ok: Value) -> Value {
    ok["content"]["text/csv"] = json!({"schema": {"type": "string"}});
    ok
}

fn operation(id: &str, summary: &str, on_row: bool) -> Value {
    let params: Vec<Value> = if on_row { vec![json!({"$ref": "#/components/parameters/row_id"})] } else { Vec::new() };
    json!({"operationId": id, "summary": summary, "parameters": params, "responses": {}})
}

fn body_ref(schema: &str) -> Value {
    json!({"required": true,
           "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn ok_ref(schema: &str) -> Value {
    ok_json(json!({"$ref": format!("#/components/schemas/{schema}")}), true)
}

/// A JSON answer; `limited`: the route counts against a rate-limit window.
fn ok_json(schema: Value, limited: bool) -> Value {
    let headers = if limited { limited_headers() } else { security_headers() };
    json!({"description": "OK", "headers": headers, "content": {"application/json": {"schema": schema}}})
}

/// Every error status an operation can answer, each the error envelope.
fn with_errors(mut responses: Value) -> Value {
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
fn security_headers() -> Value {
    let mut h = Map::new();
    for name in
        ["X-Request-Id", "X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Cache-Control"]
    {
        h.insert(name.into(), json!({"$ref": format!("#/components/headers/{name}")}));
    }
    Value::Object(h)
}

/// The security headers plus the rate-limit fields of a counted request.
fn limited_headers() -> Value {
    let mut h = security_headers();
    for name in ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"] {
        h[name] = json!({"$ref": format!("#/components/headers/{name}")});
    }
    h
}

fn header_components() -> Value {
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

fn parameters(signing_required: bool) -> Value {
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
