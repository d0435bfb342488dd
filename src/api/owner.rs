//! An owner-bound token's binding (issue #28) as the API applies it: the writer's
//! [`OwnerRule`] for a table, worked out once per call from the schema's chain of
//! references, and what each consumer needs of it — the list filter, the check of one row,
//! the write wrapper, the owner column a create may leave out. Lists are in `rows::list`,
//! which asks this file; nothing here reads the query string.

use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorKind};
use crate::schema::Table;
use crate::state::AppState;
use crate::store::{Cmp, Filter, Kind, ListQuery, Op, OwnerRule};
use crate::tokens::Principal;

/// The token's binding seen from `table`: `None` when the token is not bound; `Some(Err)`
/// when `table` has no single chain to the owner (nothing in it is the token's).
pub fn rule(state: &AppState, table: &Table, principal: &Principal) -> Option<Result<OwnerRule, ()>> {
    let owner = principal.record.owner.as_ref()?;
    let rule = state.catalog.schema.owner_path(&table.name, &owner.table).map(|path| OwnerRule {
        path: path.into_iter().map(|h| (h.table, h.column)).collect(),
        table: owner.table.clone(),
        id: owner.id,
    });
    Some(rule.map_err(|_| ()))
}

/// The filter that keeps a bound token's lists inside its owner. A table one reference away
/// filters on that column (its index serves it); further away, the owned ids of the next
/// table down the chain are gathered first.
pub fn filter(state: &AppState, rule: &OwnerRule) -> Result<Filter, ApiError> {
    let Some(((_, first), rest)) = rule.path.split_first() else {
        return Ok(Filter::eq("id", Kind::Number, Value::from(rule.id)));
    };
    // From the owner down: the ids each table of the chain owns.
    let mut ids = vec![Value::from(rule.id)];
    for (table, column) in rest.iter().rev() {
        let q = ListQuery {
            filters: vec![Filter::new(column.clone(), Kind::Number, Cmp::In, false, ids)],
            limit: usize::MAX,
            skip_total: true,
            ..Default::default()
        };
        ids = state.store.list_rows(table, &q)?.rows.iter().filter_map(|r| r.get("id").cloned()).collect();
    }
    let cmp = if rest.is_empty() { Cmp::Eq } else { Cmp::In };
    Ok(Filter::new(first.clone(), Kind::Number, cmp, false, ids))
}

/// Whether `row` leads to the owner as the store holds it now.
pub fn leads_to(state: &AppState, rule: &OwnerRule, row: &Map<String, Value>) -> Result<bool, ApiError> {
    rule.leads_to(row, |table, id| Ok(state.store.get_row(table, id)?))
}

/// Whether a stored row of `table` is the token's to see: always, unless the token is bound
/// to an owner and the row's chain of references does not lead to it.
pub fn owns(
    state: &AppState,
    table: &Table,
    row: &Map<String, Value>,
    principal: &Principal,
) -> Result<bool, ApiError> {
    match rule(state, table, principal) {
        None => Ok(true),
        Some(Err(())) => Ok(false),
        Some(Ok(rule)) => leads_to(state, &rule, row),
    }
}

/// A new row of a bound token one reference away from its owner gets the owner's id in that
/// column when the body leaves it out (before validation, which may require it).
pub fn fill(state: &AppState, table: &Table, principal: &Principal, body: &mut Map<String, Value>) {
    if let Some(Ok(rule)) = rule(state, table, principal) {
        if let [(_, column)] = rule.path.as_slice() {
            body.entry(column.clone()).or_insert(Value::from(rule.id));
        }
    }
}

/// A client write, bound to the token's owner when it has one (the writer checks it: see
/// `store::owned`).
pub fn bind(state: &AppState, table: &Table, principal: &Principal, op: Op) -> Result<Op, ApiError> {
    match rule(state, table, principal) {
        None => Ok(op),
        Some(Err(())) => Err(ApiError::new(ErrorKind::Forbidden)),
        Some(Ok(rule)) => Ok(Op::Owned { rule, op: Box::new(op) }),
    }
}
