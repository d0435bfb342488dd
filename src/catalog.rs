//! The catalog: which tables and views are served, and what a token may do with them.
//!
//! This is the one authority on access. The scope stage asks it for REST routes, GraphQL
//! resolvers ask it for every table a query touches (relations included), and the index
//! route lists what it allows. It holds four of the six sensitive-table layers:
//! (1) a sensitive table is not served unless `[sensitive] expose` lists it; (2) a `*` scope
//! never covers a sensitive table and (3) a named one counts only for tokens created with
//! `--allow-sensitive` (both in `Principal::perms_for`); (4) every check re-reads the
//! table's flag. Layer 5 (secret columns) is the serializer's (`api::rows`), layer 6 (the
//! token store is never a table) the schema's reserved names and separate `sys:` trees.

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::{ApiError, ErrorKind};
use crate::schema::{Schema, Table, View};
use crate::tokens::{Action, Principal};

/// Why access was refused: the client's error and the audit reason.
pub type Denied = (ApiError, String);

pub struct Catalog {
    pub schema: Arc<Schema>,
    expose: HashSet<String>,
}

impl Catalog {
    pub fn new(schema: Arc<Schema>, expose: &[String]) -> Self {
        Self { schema, expose: expose.iter().cloned().collect() }
    }

    /// A served table (layer 1).
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.schema.table(name).filter(|t| !t.sensitive || self.expose.contains(name))
    }

    /// A view over a served table.
    pub fn view(&self, name: &str) -> Option<(&View, &Table)> {
        let view = self.schema.view(name)?;
        Some((view, self.table(&view.table)?))
    }

    /// May `p` perform `action` on `table`?
    pub fn check_table(&self, p: &Principal, table: &Table, action: Action) -> Result<(), Denied> {
        if !p.record.views.is_empty() {
            return Err(forbidden("token is limited to saved views".into()));
        }
        if table.sensitive && !p.record.allow_sensitive {
            return Err(forbidden(format!("{} is sensitive and the token lacks --allow-sensitive", table.name)));
        }
        if p.record.sandbox && action != Action::Read {
            return Err((ApiError::new(ErrorKind::SandboxReadOnly), "sandbox token attempted a write".into()));
        }
        if !p.perms_for(&table.name, table.sensitive).allows(action) {
            return Err(forbidden(format!("no {} scope on {}", action.name(), table.name)));
        }
        Ok(())
    }

    /// May `p` read `view`?
    pub fn check_view(&self, p: &Principal, view: &View, table: &Table) -> Result<(), Denied> {
        if !p.record.views.is_empty() {
            return if p.record.views.iter().any(|v| v == &view.name) {
                if table.sensitive && !p.record.allow_sensitive {
                    Err(forbidden(format!("view {} is over a sensitive table", view.name)))
                } else {
                    Ok(())
                }
            } else {
                Err(forbidden(format!("view {} not in the token's list", view.name)))
            };
        }
        self.check_table(p, table, Action::Read)
    }

    /// The public views that are served (their table is), by name.
    pub fn public_views(&self) -> Vec<String> {
        self.schema.public_views().filter(|v| self.table(&v.table).is_some()).map(|v| v.name.clone()).collect()
    }

    /// Tables `p` may read, by name.
    pub fn readable_tables(&self, p: &Principal) -> Vec<String> {
        self.schema
            .tables
            .values()
            .filter(|t| self.table(&t.name).is_some() && self.check_table(p, t, Action::Read).is_ok())
            .map(|t| t.name.clone())
            .collect()
    }

    /// Views `p` may read, by name.
    pub fn readable_views(&self, p: &Principal) -> Vec<String> {
        self.schema
            .views
            .keys()
            .filter(|name| self.view(name).is_some_and(|(v, t)| self.check_view(p, v, t).is_ok()))
            .cloned()
            .collect()
    }
}

fn forbidden(reason: String) -> Denied {
    (ApiError::new(ErrorKind::Forbidden), reason)
}
