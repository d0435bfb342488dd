//! Stage 5, scope: may this token do this to this resource from this address?
//!
//! Order of checks: the token's CIDR allow-list (IPv4 and IPv6; IPv4-mapped addresses were
//! normalised when the client IP was resolved) → 403 `ip_not_allowed`; a table or view that
//! is not served → 404 (so unexposed sensitive tables look exactly like missing ones); then
//! the catalog's matrix (GET → read, POST → create, PUT/PATCH → update, DELETE → delete,
//! saved-view limits, sandbox read-only, sensitive flags) → 403 `forbidden`, with the exact
//! cause kept for the audit record. GraphQL requests pass here and are checked per table by
//! the resolvers against the same catalog.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::Method;

use super::stage::{Refusal, Stage, StageName};
use crate::catalog::Catalog;
use crate::error::ErrorKind;
use crate::http::route::Route;
use crate::tokens::{Action, Principal};

pub struct ScopeState {
    pub catalog: Arc<Catalog>,
}

/// What a route asks of the scope matrix. Exhaustive: a new route is a compile error here
/// until someone decides what it needs.
enum Needs<'r> {
    /// No table is touched at this level (health, index, explorer); GraphQL is checked per
    /// table by its resolvers against the same catalog.
    Nothing,
    Table(&'r str),
    View(&'r str),
}

fn needs(route: &Route) -> Needs<'_> {
    match route {
        Route::Health | Route::Index | Route::OpenApi | Route::Explorer { .. } | Route::GraphQl => Needs::Nothing,
        Route::Table { table, .. } => Needs::Table(table),
        Route::View { view } => Needs::View(view),
    }
}

/// The scope action an HTTP method asks for.
pub fn action_for(method: &Method) -> Action {
    match *method {
        Method::POST => Action::Create,
        Method::PUT | Method::PATCH => Action::Update,
        Method::DELETE => Action::Delete,
        _ => Action::Read,
    }
}

fn refuse(kind: ErrorKind, reason: impl Into<std::borrow::Cow<'static, str>>) -> Refusal {
    Refusal::new(StageName::Scope, kind, reason)
}

impl ScopeState {
    /// May this token do this to this resource from this address?
    pub fn authorize(&self, p: &Principal, route: &Route, method: &Method, ip: IpAddr) -> Result<(), Refusal> {
        let record = &p.record;
        if !record.cidrs.is_empty() && !record.cidrs.iter().any(|net| net.contains(&ip)) {
            return Err(refuse(ErrorKind::IpNotAllowed, "client address outside the token's CIDR list"));
        }
        let denied = |(error, reason): crate::catalog::Denied| Refusal::new(StageName::Scope, error, reason);
        match needs(route) {
            Needs::Nothing => Ok(()),
            Needs::Table(table) => {
                let Some(def) = self.catalog.table(table) else {
                    return Err(refuse(ErrorKind::NotFound, format!("table {table} not served")));
                };
                self.catalog.check_table(p, def, action_for(method)).map_err(denied)
            }
            Needs::View(view) => {
                let Some((v, t)) = self.catalog.view(view) else {
                    return Err(refuse(ErrorKind::NotFound, format!("view {view} not served")));
                };
                self.catalog.check_view(p, v, t).map_err(denied)
            }
        }
    }
}

impl Stage for ScopeState {
    const NAME: StageName = StageName::Scope;
    /// The matrix is fixed at start; nothing expires.
    fn upkeep(&self, _now_ms: u64) {}
}
