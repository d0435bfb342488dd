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

mod parts;
mod schemas;

use parts::{
    body_ref, header_components, limited_headers, ok_json, ok_ref, operation, operators_text, parameters,
    security_headers, with_csv, with_errors, CSV_NOTE,
};

use serde_json::{json, Map, Value};

use crate::catalog::Catalog;
use crate::http::route::{GRAPHQL_PATH, OPENAPI_PATH};
use crate::schema::{Table, View};
use crate::tokens::{Action, Principal};

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
