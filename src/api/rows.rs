//! How a stored row leaves the server. Every row in every response passes through
//! [`present`]: `secret` columns are dropped (sensitive-table layer 5, in every mode), views
//! keep only their columns, and this is the one place where responses are post-processed
//! (the sandbox replaces PII here).

use serde_json::{Map, Value};

use crate::schema::Table;
use crate::tokens::Principal;

/// The client's view of a stored row.
pub fn present(table: &Table, row: Map<String, Value>, _principal: &Principal, columns: Option<&[String]>) -> Value {
    let mut out = Map::new();
    for (key, value) in row {
        let visible = key == "id" || table.column(&key).is_some_and(|c| !c.secret);
        let wanted = columns.is_none_or(|cols| cols.iter().any(|c| c == &key));
        if visible && wanted {
            out.insert(key, value);
        }
    }
    Value::Object(out)
}
