//! Owner-bound tokens (issue #28): `token create --owner clients:22` binds a token to one row
//! of an owner table; in every table its scopes name it then sees only the rows whose chain
//! of references (`schema::owner`) leads to that row, and writes only inside it (checked by
//! the store's writer: `store::owned`). Checked here, when the token is made: every named
//! table (or view's table) must reach the owner table by exactly one chain.

use serde::{Deserialize, Serialize};

use super::{ScopeEntry, TokenError};
use crate::schema::Schema;

/// The row a token is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub table: String,
    pub id: u64,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.table, self.id)
    }
}

/// Reads and checks `--owner TABLE:ID` against the token's scopes and views.
pub fn validate(raw: &str, scopes: &[ScopeEntry], views: &[String], schema: &Schema) -> Result<Owner, TokenError> {
    let invalid = |m: String| TokenError::Invalid(m);
    let (table, id) = raw
        .rsplit_once(':')
        .and_then(|(t, id)| Some((t, id.parse::<u64>().ok().filter(|id| *id > 0 && *id <= i64::MAX as u64)?)))
        .ok_or_else(|| invalid(format!("--owner {raw:?}: expected TABLE:ID, e.g. clients:22")))?;
    if schema.table(table).is_none() {
        return Err(invalid(format!("--owner {raw:?}: unknown table {table:?}")));
    }
    for s in scopes {
        if s.table == "*" {
            return Err(invalid("--owner: name each table in --scope (`*` would take in tables with no owner)".into()));
        }
        schema.owner_path(&s.table, table).map_err(|e| invalid(format!("--scope {}: {e}", s.table)))?;
    }
    for v in views {
        let Some(view) = schema.view(v) else { continue };
        schema.owner_path(&view.table, table).map_err(|e| invalid(format!("--view {v}: {e}")))?;
    }
    Ok(Owner { table: table.to_string(), id })
}
