//! GraphQL mutations: `create_<table>`, `update_<table>` (merge, like PATCH) and
//! `delete_<table>`, with the same scope checks as REST and the same write path (`tables`).
//! Each field notes what it did (table, action, row id, error code) in the context, for the
//! request's audit record.

use juniper::{
    Arguments, DefaultScalarValue, ExecutionResult, Executor, FieldError, ScalarValue as _, Value as GqlValue,
};
use serde_json::{Map, Value};

use super::model::FieldKind;
use super::node::{arg_value, field_error, node, Ctx, Info};
use crate::error::{ApiError, ErrorKind};
use crate::store::audit::{MutationFact, WriteAction};
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
    let action = match kind {
        FieldKind::Create { .. } => WriteAction::Create,
        FieldKind::Update { .. } => WriteAction::Update,
        FieldKind::Delete { .. } => WriteAction::Delete,
        FieldKind::Id
        | FieldKind::CursorOf
        | FieldKind::Column(_)
        | FieldKind::Forward { .. }
        | FieldKind::Reverse { .. }
        | FieldKind::List { .. }
        | FieldKind::ById { .. }
        | FieldKind::View { .. } => return Err(field_error(ApiError::new(ErrorKind::NotFound))),
    };
    let id_arg = match action {
        WriteAction::Create => None,
        WriteAction::Update | WriteAction::Delete => args.get::<i32>("id").ok().flatten().map(|id| id.max(0) as u64),
    };
    // A write that is done stays recorded as done, whatever resolving its selection gives.
    let (id, error, result) = match write(cx, info, action, table, id_arg, args, ex) {
        Ok((id, resolved)) => (id, None, resolved),
        Err(e) => (id_arg, Some(code_of(&e)), Err(e)),
    };
    cx.record_write(MutationFact { table: table.to_string(), action, id, error });
    result
}

/// The `extensions.code` a field error carries.
fn code_of(e: &FieldError<S>) -> String {
    let code = e.extensions().as_object_value().and_then(|o| o.get_field_value("code"));
    code.and_then(|c| c.as_scalar()).and_then(|c| c.try_as_str()).unwrap_or("invalid_request").to_string()
}

/// Runs one mutation field; answers the row id written and the field's value (resolving it
/// can still fail after the write).
fn write(
    cx: &Ctx,
    info: &Info,
    action: WriteAction,
    table: &str,
    id_arg: Option<u64>,
    args: &Arguments<S>,
    ex: &Executor<Ctx, S>,
) -> Result<(Option<u64>, ExecutionResult<S>), FieldError<S>> {
    let state = &cx.state;
    cx.budget.check_time().map_err(field_error)?;
    let def = state.catalog.table(table).ok_or_else(|| field_error(ApiError::new(ErrorKind::NotFound)))?;
    let scope = match action {
        WriteAction::Create => Action::Create,
        WriteAction::Update => Action::Update,
        WriteAction::Delete => Action::Delete,
    };
    state.catalog.check_table(&cx.principal, def, scope).map_err(|(e, _)| field_error(e))?;
    let write = |op| {
        let op = crate::api::owner::bind(state, def, &cx.principal, op).map_err(field_error)?;
        state.store.write_blocking(op).map_err(field_error)
    };
    let id = || -> Result<u64, FieldError<S>> { Ok(args.get::<i32>("id")?.unwrap_or_default().max(0) as u64) };
    if action == WriteAction::Delete {
        tables::deleted(write(tables::delete(state.schema(), def, id()?))?).map_err(field_error)?;
        return Ok((id_arg, Ok(GqlValue::scalar(true))));
    }
    let mut body = Map::new();
    for c in def.visible_columns() {
        if let Some(v) = arg_value(args, &c.name, c.ty)? {
            body.insert(c.name.clone(), v);
        }
    }
    let op = if action == WriteAction::Create {
        crate::api::owner::fill(state, def, &cx.principal, &mut body);
        tables::create(def, &state.real_values, body, state.clock.now_ms())
    } else {
        tables::update(def, &state.real_values, id()?, body, Update::Merge)
    }
    .map_err(field_error)?;
    let row = tables::stored(write(op)?).map_err(field_error)?;
    let written = row.get("id").and_then(Value::as_u64).or(id_arg);
    Ok((written, ex.resolve(&info.of_table(table), &Some(node(state, def, row, &cx.principal, None)))))
}
