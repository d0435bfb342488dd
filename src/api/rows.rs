//! How a stored row leaves the server. Every row in every response passes through
//! [`present`]: `secret` columns are dropped (sensitive-table layer 5, in every mode), views
//! keep only their columns, and sandbox tokens get PII replaced by fakes (`sandbox`). This is
//! the one place where result rows are post-processed, for REST and GraphQL alike.
//! A token that may not read the table (a write-only scope such as `clients:u`) is shown
//! the row's `id` and nothing else: otherwise a `PATCH` with `{}` would read any row.
//! [`as_stored`] says when presenting would change nothing, so a row can leave as the
//! bytes it is stored as (no decode, no re-encode: the hot path of `GET /…/{id}`).

use serde_json::{Map, Value};

use crate::sandbox;
use crate::schema::Table;
use crate::state::AppState;
use crate::tokens::{Action, Principal};

/// Whether `present` would hand back a stored row of `table` unchanged: nothing to strip
/// (no secret column, no column subset) and nothing to fake (not a sandbox token).
pub fn as_stored(table: &Table, principal: &Principal, columns: Option<&[String]>) -> bool {
    columns.is_none()
        && may_read(table, principal)
        && !principal.record.sandbox
        && !table.columns.values().any(|c| c.secret)
        && table.key_value().is_none()
}

/// Whether the token's scopes let it read the table's rows (views were checked by name).
fn may_read(table: &Table, principal: &Principal) -> bool {
    principal.perms_for(&table.name, table.sensitive).allows(Action::Read)
}

/// Whether a key/value row's key names a secret.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "passwd", "secret", "token", "api_key", "apikey", "private_key", "credential"]
        .iter()
        .any(|s| k.contains(s))
}

/// The client's view of a stored row.
pub fn present(
    state: &AppState,
    table: &Table,
    row: Map<String, Value>,
    principal: &Principal,
    columns: Option<&[String]>,
) -> Value {
    if columns.is_none() && !may_read(table, principal) {
        let mut only_id = Map::new();
        only_id.insert("id".into(), row.get("id").cloned().unwrap_or(Value::Null));
        return Value::Object(only_id);
    }
    let mut out = Map::new();
    for (key, value) in row {
        let visible = key == "id" || table.column(&key).is_some_and(|c| !c.secret);
        let wanted = columns.is_none_or(|cols| cols.iter().any(|c| c == &key));
        if visible && wanted {
            out.insert(key, value);
        }
    }
    if let Some((key, value)) = table.key_value() {
        if out.get(key).and_then(Value::as_str).is_some_and(secret_key) && out.get(value).is_some_and(|v| !v.is_null())
        {
            out.insert(value.to_string(), Value::from(crate::redact::REDACTED));
        }
    }
    if principal.record.sandbox {
        sandbox::fake_row(&state.store.keys, &state.real_values, principal.id(), table, &mut out);
    }
    Value::Object(out)
}
