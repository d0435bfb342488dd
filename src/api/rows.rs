//! How a stored row leaves the server. Every row in every response passes through
//! [`present`]: `secret` columns are dropped (sensitive-table layer 5, in every mode), views
//! keep only their columns, and sandbox tokens get PII replaced by fakes (`sandbox`). This is
//! the one place where result rows are post-processed, for REST and GraphQL alike.
//! [`list`] is the one way a page of rows is read for a client: a filter on a value the
//! token is shown differently from what is stored (a redacted key/value secret, anything a
//! sandbox token sees faked) is judged on the shown value, so `?name=smtp_password&value=
//! <guess>` can no longer confirm a guess through `total`.
//! A token that may not read the table (a write-only scope such as `clients:u`) is shown
//! the row's `id` and nothing else: otherwise a `PATCH` with `{}` would read any row.
//! [`as_stored`] says when presenting would change nothing, so a row can leave as the
//! bytes it is stored as (no decode, no re-encode: the hot path of `GET /…/{id}`).

use serde_json::{Map, Value};

use super::owner;
use crate::error::{ApiError, ErrorKind};
use crate::sandbox;
use crate::schema::{ColumnType, Table};
use crate::state::AppState;
use crate::store::{After, ListQuery, Pager};
use crate::tokens::{Action, Principal};

/// Whether `present` would hand back a stored row of `table` unchanged: nothing to strip
/// (no secret column, no column subset, no dropped column whose values are still stored —
/// every stored row then holds only declared columns, of their declared types, which the
/// schema migration guarantees) and nothing to fake (not a sandbox token).
pub fn as_stored(table: &Table, principal: &Principal, columns: Option<&[String]>) -> bool {
    columns.is_none()
        && !table.hidden_data
        && may_read(table, principal)
        && !principal.record.sandbox
        && !table.columns.values().any(|c| c.secret)
        && table.key_value().is_none()
        && principal.record.owner.is_none()
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

/// Whether the token is shown `column` of `table` as something other than what is stored.
fn shown_differently(table: &Table, principal: &Principal, column: &str) -> bool {
    if table.key_value().is_some_and(|(_, value)| value == column) {
        return true;
    }
    // A sandbox token sees PII columns faked, and PII-shaped spans faked in any text.
    principal.record.sandbox
        && table
            .column(column)
            .is_some_and(|c| c.pii().is_some() || matches!(c.ty, ColumnType::String | ColumnType::Json))
}

/// One page of presented rows, the number of rows that match, and where the next page
/// starts (when this one is full).
pub struct Listed {
    pub rows: Vec<Value>,
    pub total: usize,
    pub next: Option<After>,
}

/// A page of `table` as the token sees it. Filters and order on stored values run in the
/// store (its indexes included); when one is on a value the token is shown differently, the
/// rows the other filters let through are read in id order a chunk at a time, presented,
/// and judged (and ranked) on what the token sees.
pub fn list(
    state: &AppState,
    table: &Table,
    q: &ListQuery,
    principal: &Principal,
    columns: Option<&[String]>,
) -> Result<Listed, ApiError> {
    // An owner-bound token lists only its owner's rows: one more filter, on stored values.
    let rule = match owner::rule(state, table, principal) {
        None => None,
        Some(Ok(rule)) => Some(rule),
        Some(Err(())) => return Err(ApiError::new(ErrorKind::NotFound)),
    };
    let bound;
    let q = match &rule {
        Some(rule) => {
            let owned = owner::filter(state, rule)?;
            bound = ListQuery { filters: q.filters.iter().cloned().chain([owned]).collect(), ..q.clone() };
            &bound
        }
        None => q,
    };
    // Two or more references from the owner, the filter names the owned ids of the table in
    // between as they were when it was made: a row moved to another owner since is dropped
    // by checking each listed row's chain as it is now.
    let recheck = rule.as_ref().filter(|r| r.path.len() > 1);
    let differs = |column: &str| shown_differently(table, principal, column);
    let next_of = |rows: &[Map<String, Value>]| {
        (q.limit > 0 && rows.len() >= q.limit).then(|| rows.last().map(|r| After::of(&q.order, r))).flatten()
    };
    // The common case, everything on stored values: straight to the store (no copies).
    if !q.filters.iter().any(|f| differs(&f.column)) && !q.order.iter().any(|o| differs(&o.column)) {
        let page = state.store.list_rows(&table.name, q)?;
        let next = next_of(&page.rows);
        let mut rows = Vec::with_capacity(page.rows.len());
        for row in page.rows {
            if let Some(rule) = recheck {
                if !owner::leads_to(state, rule, &row)? {
                    continue;
                }
            }
            rows.push(present(state, table, row, principal, columns));
        }
        return Ok(Listed { rows, total: page.total, next });
    }
    let (shown, stored): (Vec<_>, Vec<_>) = q.filters.iter().cloned().partition(|f| differs(&f.column));
    let judged = ListQuery { filters: shown, ..q.clone() };
    // Rows are presented with the order's columns too (a view may sort on one it hides).
    let working: Option<Vec<String>> = columns.map(|cols| {
        let mut all = cols.to_vec();
        all.extend(q.order.iter().map(|o| o.column.clone()).filter(|c| !cols.contains(c)));
        all
    });
    let mut pager = Pager::new(&judged, q.order.is_empty());
    let mut chunk = ListQuery { filters: stored, limit: SHOWN_CHUNK, skip_total: true, ..Default::default() };
    loop {
        let page = state.store.list_rows(&table.name, &chunk)?;
        let read = page.rows.len();
        chunk.after = page.rows.last().map(|r| After::of(&[], r));
        for row in page.rows {
            if let Value::Object(presented) = present(state, table, row, principal, working.as_deref()) {
                pager.offer(presented);
            }
        }
        // A page that needs no total is done once it is full.
        if read < SHOWN_CHUNK || (q.skip_total && pager.full()) {
            break;
        }
    }
    let mut page = pager.finish(None);
    let next = next_of(&page.rows);
    if let Some(rule) = recheck {
        let mut kept = Vec::with_capacity(page.rows.len());
        for row in page.rows {
            if owner::leads_to(state, rule, &row)? {
                kept.push(row);
            }
        }
        page.rows = kept;
    }
    let keep = |mut row: Map<String, Value>| {
        if let (Some(cols), Some(_)) = (columns, &working) {
            row.retain(|k, _| k == "id" || cols.contains(k));
        }
        Value::Object(row)
    };
    Ok(Listed { rows: page.rows.into_iter().map(keep).collect(), total: page.total, next })
}

/// Rows read at a time when filters must be judged on presented values.
const SHOWN_CHUNK: usize = 1000;

/// The columns a presented row of `table` can hold, in CSV order: `id` first, then the
/// view's columns or the table's visible ones (only `id` for a token that may not read).
pub fn shown_columns(table: &Table, principal: &Principal, columns: Option<&[String]>) -> Vec<String> {
    if let Some(cols) = columns {
        let mut out = vec!["id".to_string()];
        out.extend(cols.iter().filter(|c| *c != "id").cloned());
        return out;
    }
    if !may_read(table, principal) {
        return vec!["id".into()];
    }
    std::iter::once("id".to_string())
        .chain(table.columns.values().filter(|c| !c.secret).map(|c| c.name.clone()))
        .collect()
}
