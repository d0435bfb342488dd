//! GraphQL mutations: `create_<table>`, `update_<table>` (merge, like PATCH) and
//! `delete_<table>`, with the same scope checks, schema validation, referential checks and
//! durable writes as REST.

use juniper::{Arguments, DefaultScalarValue, ExecutionResult, Executor, Value as GqlValue};
use serde_json::Map;

use super::model::FieldKind;
use super::schema::{arg_value, field_error, node, Ctx, Info};
use crate::api::rest::{check_references, references_to};
use crate::error::{ApiError, ErrorKind};
use crate::tokens::Action;

type S = DefaultScalarValue;

pub fn run(
    cx: &Ctx,
    info: &Info,
    kind: &FieldKind,
    table: &str,
    args: &Arguments<S>,
    ex: &Executor<Ctx, S>,
) -> ExecutionResult<S> {
    let state = &cx.state;
    let def = state.catalog.table(table).ok_or_else(|| field_error(ApiError::new(ErrorKind::NotFound)))?;
    let action = match kind {
        FieldKind::Create { .. } => Action::Create,
        FieldKind::Update { .. } => Action::Update,
        _ => Action::Delete,
    };
    state.catalog.check_table(&cx.principal, def, action).map_err(|(e, _)| field_error(e))?;
    let store = &state.store;
    let flush = || store.flush_sync().map_err(|e| field_error(e.into()));
    if action == Action::Delete {
        let id = args.get::<i32>("id")?.unwrap_or_default().max(0) as u64;
        if !store.row_exists(table, id).map_err(|e| field_error(e.into()))? {
            return Err(field_error(ApiError::new(ErrorKind::NotFound)));
        }
        if references_to(state, table, id).map_err(field_error)? {
            return Err(field_error(ApiError::with_message(
                ErrorKind::Conflict,
                "the row is still referenced by other rows; delete those first",
            )));
        }
        store.delete_row(table, id).map_err(|e| field_error(e.into()))?;
        flush()?;
        return Ok(GqlValue::scalar(true));
    }
    let mut body = Map::new();
    for c in def.visible_columns() {
        if let Some(v) = arg_value(args, &c.name, c.ty)? {
            body.insert(c.name.clone(), v);
        }
    }
    def.validate_known_columns(&body).map_err(field_error)?;
    check_references(state, def, &body).map_err(field_error)?;
    state.real_values.remember(def, &body);
    let stored = if action == Action::Create {
        def.validate_row(&body).map_err(field_error)?;
        Some(store.insert_row(table, body).map_err(field_error)?)
    } else {
        let id = args.get::<i32>("id")?.unwrap_or_default().max(0) as u64;
        store
            .update_row(table, id, |mut current| {
                current.remove("id");
                current.extend(body.clone());
                def.validate_row(&current)?;
                Ok(current)
            })
            .map_err(field_error)?
    };
    let Some(row) = stored else { return Err(field_error(ApiError::new(ErrorKind::NotFound))) };
    flush()?;
    ex.resolve(&info.of_table(table), &Some(node(state, def, row, &cx.principal, None)))
}
