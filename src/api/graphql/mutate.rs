//! GraphQL mutations: `create_<table>`, `update_<table>` (merge, like PATCH) and
//! `delete_<table>`, with the same scope checks as REST and the same write path (`tables`).

use juniper::{Arguments, DefaultScalarValue, ExecutionResult, Executor, Value as GqlValue};
use serde_json::Map;

use super::model::FieldKind;
use super::schema::{arg_value, field_error, node, Ctx, Info};
use crate::error::{ApiError, ErrorKind};
use crate::tables::{self, Update};
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
    cx.budget.check_time().map_err(field_error)?;
    let def = state.catalog.table(table).ok_or_else(|| field_error(ApiError::new(ErrorKind::NotFound)))?;
    let action = match kind {
        FieldKind::Create { .. } => Action::Create,
        FieldKind::Update { .. } => Action::Update,
        FieldKind::Delete { .. } => Action::Delete,
        FieldKind::Id
        | FieldKind::Column(_)
        | FieldKind::Forward { .. }
        | FieldKind::Reverse { .. }
        | FieldKind::List { .. }
        | FieldKind::ById { .. }
        | FieldKind::View { .. } => return Err(field_error(ApiError::new(ErrorKind::NotFound))),
    };
    state.catalog.check_table(&cx.principal, def, action).map_err(|(e, _)| field_error(e))?;
    let write = |op| state.store.write_blocking(op).map_err(field_error);
    let id = || -> Result<u64, juniper::FieldError<S>> { Ok(args.get::<i32>("id")?.unwrap_or_default().max(0) as u64) };
    if action == Action::Delete {
        tables::deleted(write(tables::delete(state.schema(), def, id()?))?).map_err(field_error)?;
        return Ok(GqlValue::scalar(true));
    }
    let mut body = Map::new();
    for c in def.visible_columns() {
        if let Some(v) = arg_value(args, &c.name, c.ty)? {
            body.insert(c.name.clone(), v);
        }
    }
    let op = if action == Action::Create {
        tables::create(def, &state.real_values, body, state.clock.now_ms())
    } else {
        tables::update(def, &state.real_values, id()?, body, Update::Merge)
    }
    .map_err(field_error)?;
    let row = tables::stored(write(op)?).map_err(field_error)?;
    ex.resolve(&info.of_table(table), &Some(node(state, def, row, &cx.principal, None)))
}
