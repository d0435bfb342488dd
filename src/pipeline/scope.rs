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

use super::{Decide, Rejection, StageMessage, StageName};
use crate::api::route::Route;
use crate::catalog::Catalog;
use crate::error::ErrorKind;
use crate::tokens::{Action, Principal};

pub struct ScopeState {
    pub catalog: Arc<Catalog>,
}

/// The request facts the scope stage decides on.
#[derive(Debug, Clone)]
pub struct Authorize {
    pub principal: Arc<Principal>,
    pub route: Route,
    pub method: Method,
    pub ip: IpAddr,
}

impl StageMessage for Authorize {
    type Output = ();
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

fn refuse(kind: ErrorKind, reason: impl Into<std::borrow::Cow<'static, str>>) -> Rejection {
    Rejection::new(StageName::Scope, kind, reason)
}

impl Decide<Authorize> for ScopeState {
    fn decide(&self, a: Authorize) -> Result<(), Rejection> {
        let record = &a.principal.record;
        if !record.cidrs.is_empty() && !record.cidrs.iter().any(|net| net.contains(&a.ip)) {
            return Err(refuse(ErrorKind::IpNotAllowed, "client address outside the token's CIDR list"));
        }
        let denied = |(error, reason): crate::catalog::Denied| Rejection::new(StageName::Scope, error, reason);
        match &a.route {
            Route::Table { table, .. } => {
                let Some(def) = self.catalog.table(table) else {
                    return Err(refuse(ErrorKind::NotFound, format!("table {table} not served")));
                };
                self.catalog.check_table(&a.principal, def, action_for(&a.method)).map_err(denied)
            }
            Route::View { view } => {
                let Some((v, t)) = self.catalog.view(view) else {
                    return Err(refuse(ErrorKind::NotFound, format!("view {view} not served")));
                };
                self.catalog.check_view(&a.principal, v, t).map_err(denied)
            }
            _ => Ok(()),
        }
    }
}
