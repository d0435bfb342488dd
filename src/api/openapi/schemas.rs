//! JSON Schemas of the document: a column's type, a table's row, write and patch bodies, the
//! page and item envelopes, and the error envelope. Written from the same facts the write path
//! checks (`schema::validate`), so a body the document allows is one the server parses.

use serde_json::{json, Map, Value};

use crate::error::ErrorKind;
use crate::schema::{Column, ColumnType, Table};

/// The JSON Schema of a column's values (`nullable` adds `null`).
pub fn column(c: &Column, nullable: bool) -> Value {
    let mut s = match c.ty {
        ColumnType::String => json!({"type": "string"}),
        ColumnType::Int => json!({"type": "integer", "format": "int64",
                                   "minimum": i64::MIN, "maximum": i64::MAX}),
        ColumnType::Float => json!({"type": "number"}),
        ColumnType::Bool => json!({"type": "boolean"}),
        ColumnType::Date => json!({"type": "string", "format": "date"}),
        ColumnType::Datetime => json!({"type": "string", "format": "date-time"}),
        ColumnType::Json => return json!({}),
    };
    if nullable {
        let ty = s["type"].clone();
        s["type"] = json!([ty, "null"]);
    }
    if c.server_managed() {
        s["readOnly"] = json!(true);
    }
    if let Some(target) = &c.references {
        s["description"] = json!(format!("the id of a row of {target} (no such row: 409 conflict)"));
        s["minimum"] = json!(1);
        // For tools (the explorer's lookup) that should not parse the description.
        s["x-references"] = json!(target);
    }
    s
}

/// A row as served: `id`, then the columns listed (secret ones never are).
pub fn row<'a>(table: &'a Table, columns: impl Iterator<Item = &'a Column>) -> Value {
    let mut props = Map::new();
    props.insert("id".into(), json!({"type": "integer", "format": "int64", "minimum": 1, "readOnly": true}));
    for c in columns.filter(|c| !c.secret) {
        props.insert(c.name.clone(), column(c, !c.required));
    }
    json!({"type": "object", "title": table.name, "properties": props, "required": ["id"]})
}

/// A body for POST and PUT (`full`: required columns required) or PATCH (nothing required).
/// Only client-writable columns; anything else is refused.
pub fn write_body(table: &Table, full: bool) -> Value {
    let writable: Vec<&Column> = table.columns.values().filter(|c| c.client_writable()).collect();
    let props: Map<String, Value> = writable.iter().map(|c| (c.name.clone(), column(c, !c.required))).collect();
    let mut s = json!({"type": "object", "properties": props, "additionalProperties": false});
    if full {
        let required: Vec<&str> = writable.iter().filter(|c| c.required).map(|c| c.name.as_str()).collect();
        s["required"] = json!(required);
    }
    s
}

/// The answer of an array create: `{"data": [row, …]}`.
pub fn rows(row_ref: &str) -> Value {
    json!({
        "type": "object",
        "properties": {"data": {"type": "array", "items": {"$ref": row_ref}, "minItems": 1}},
        "required": ["data"],
        "additionalProperties": false,
    })
}

/// `{"data": [rows], "total", "limit", "offset", "next"}`.
pub fn page(row_ref: &str) -> Value {
    let count = json!({"type": "integer", "minimum": 0});
    json!({
        "type": "object",
        "properties": {"data": {"type": "array", "items": {"$ref": row_ref}},
                       "total": count, "limit": count, "offset": count,
                       "next": {"type": ["string", "null"],
                                "description": "a full page's cursor: send it as `after` for the page after this one"}},
        "required": ["data", "total", "limit", "offset", "next"],
    })
}

/// `{"data": row}`.
pub fn item(row_ref: &str) -> Value {
    json!({"type": "object", "properties": {"data": {"$ref": row_ref}}, "required": ["data"]})
}

/// `{"error": {"code", "message"}}`, every code the server can give.
pub fn error() -> Value {
    let codes: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
    json!({
        "type": "object",
        "properties": {"error": {
            "type": "object",
            "properties": {"code": {"type": "string", "enum": codes}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }},
        "required": ["error"],
    })
}

/// The query parameter schema of an equality filter on `c` (`None`: not filterable).
/// The operators a filter on `id` takes.
pub const ID_OPERATORS: &[&str] = &["eq", "neq", "gt", "gte", "lt", "lte", "in"];

/// The operators a filter on a column of type `ty` takes.
pub fn operators(ty: ColumnType) -> &'static [&'static str] {
    match ty {
        ColumnType::Bool => &["eq", "neq", "in", "is"],
        ColumnType::Int | ColumnType::Float => &["eq", "neq", "gt", "gte", "lt", "lte", "in", "is"],
        ColumnType::String | ColumnType::Date | ColumnType::Datetime => {
            &["eq", "neq", "gt", "gte", "lt", "lte", "in", "like", "ilike", "is"]
        }
        ColumnType::Json => &[],
    }
}

pub fn filter(c: &Column) -> Option<Value> {
    Some(match c.ty {
        ColumnType::Json => return None,
        ColumnType::Bool => json!({"type": "string", "enum": ["true", "false"]}),
        ColumnType::Int => json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX}),
        ColumnType::Float => json!({"type": "number"}),
        ColumnType::String => json!({"type": "string"}),
        ColumnType::Date => json!({"type": "string", "format": "date"}),
        ColumnType::Datetime => json!({"type": "string", "format": "date-time"}),
    })
}
