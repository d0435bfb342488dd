//! The juniper schema, built at run time from the [`Model`] (juniper's `TypeInfo` schemas):
//! one Rust type, [`Node`], stands for the `Query` and `Mutation` roots and every table's
//! object type; its `TypeInfo` says which. Resolvers read and write through the same store,
//! catalog checks and row presentation as REST — every table a query touches, relations
//! included, is checked against the token's scopes, and every row goes through
//! `api::rows::present` (secret columns stripped, sandbox fakes). Mutation fields are handed
//! to `mutate`; what both need lives in `node`.

use std::sync::Arc;

use juniper::meta::MetaType;
use juniper::{
    Arguments, DefaultScalarValue, ExecutionResult, Executor, FieldError, GraphQLType, GraphQLValue, Registry,
    Value as GqlValue,
};
use serde_json::{Map, Value};

use super::model::{type_name, FieldKind, Model, CURSOR_FIELD};
use super::mutate;
use super::node::{arg_value, field_error, node, register_column_arg, scalar, to_gql, Ctx, Info, Node, Scalar};
use super::query::{self, WhereInfo};
use crate::api::owner::owns;
use crate::api::plan::{self, Allowed, Plan};
use crate::error::{ApiError, ErrorKind};
use crate::schema::{ColumnType, Table, View};
use crate::store::{After, Filter, Kind, ListQuery};
use crate::tokens::Action;

type S = DefaultScalarValue;

fn denied((e, _reason): crate::catalog::Denied) -> FieldError<S> {
    field_error(e)
}

impl GraphQLType<S> for Node {
    fn name(info: &Info) -> Option<juniper::ArcStr> {
        Some(info.type_name.clone().into())
    }

    fn meta(info: &Info, registry: &mut Registry<S>) -> MetaType<S> {
        let object = &info.model.types[&info.type_name];
        let mut fields = Vec::new();
        for (name, kind) in &object.fields {
            let page_args = |registry: &mut Registry<S>, f: juniper::meta::Field<S>| {
                f.argument(registry.arg::<Option<i32>>("limit", &()))
                    .argument(registry.arg::<Option<i32>>("offset", &()))
            };
            let field = match kind {
                FieldKind::Id => registry.field::<i32>(name.clone(), &()),
                FieldKind::Column(ty) => match scalar(*ty) {
                    Scalar::Int => registry.field::<Option<i32>>(name.clone(), &()),
                    Scalar::Float => registry.field::<Option<f64>>(name.clone(), &()),
                    Scalar::Boolean => registry.field::<Option<bool>>(name.clone(), &()),
                    Scalar::Text | Scalar::JsonText => registry.field::<Option<String>>(name.clone(), &()),
                },
                FieldKind::Forward { table, .. } => registry.field::<Option<Node>>(name.clone(), &info.of(table)),
                FieldKind::Reverse { table, .. } | FieldKind::View { table, .. } => {
                    let f = registry.field::<Option<Vec<Node>>>(name.clone(), &info.of(table));
                    let columns = match kind {
                        FieldKind::View { view, .. } => {
                            info.model.catalog.schema.views.get(view).map(|v| v.columns.as_slice())
                        }
                        _ => None,
                    };
                    let def = &info.model.catalog.schema.tables[table];
                    let f = page_args(registry, f);
                    query::register(registry, f, &WhereInfo::of(&type_name(table), def, columns))
                }
                FieldKind::CursorOf => registry.field::<Option<String>>(name.clone(), &()),
                FieldKind::List { table: t } => {
                    let mut f = registry.field::<Option<Vec<Node>>>(name.clone(), &info.of(t));
                    f = page_args(registry, f).argument(registry.arg::<Option<i32>>("id", &()));
                    f = query::register(
                        registry,
                        f,
                        &WhereInfo::of(&type_name(t), &info.model.catalog.schema.tables[t], None),
                    );
                    for c in info.model.catalog.schema.tables[t].visible_columns().filter(|c| c.ty != ColumnType::Json)
                    {
                        f = f.argument(register_column_arg(registry, &c.name, c.ty));
                    }
                    f
                }
                FieldKind::ById { table } => registry
                    .field::<Option<Node>>(name.clone(), &info.of(table))
                    .argument(registry.arg::<i32>("id", &())),
                FieldKind::Create { table: t } | FieldKind::Update { table: t } => {
                    let mut f = registry.field::<Option<Node>>(name.clone(), &info.of(t));
                    if matches!(kind, FieldKind::Update { .. }) {
                        f = f.argument(registry.arg::<i32>("id", &()));
                    }
                    for c in info.model.catalog.schema.tables[t].visible_columns() {
                        f = f.argument(register_column_arg(registry, &c.name, c.ty));
                    }
                    f
                }
                FieldKind::Delete { .. } => {
                    registry.field::<bool>(name.clone(), &()).argument(registry.arg::<i32>("id", &()))
                }
            };
            fields.push(field);
        }
        registry.build_object_type::<Node>(info, &fields).into_meta()
    }
}

impl GraphQLValue<S> for Node {
    type Context = Ctx;
    type TypeInfo = Info;

    fn type_name(&self, info: &Info) -> Option<juniper::ArcStr> {
        <Self as GraphQLType<S>>::name(info)
    }

    fn concrete_type_name(&self, _: &Ctx, info: &Info) -> String {
        info.type_name.clone()
    }

    fn resolve_field(
        &self,
        info: &Info,
        field: &str,
        args: &Arguments<S>,
        ex: &Executor<Ctx, S>,
    ) -> ExecutionResult<S> {
        let cx = ex.context();
        let catalog = &cx.state.catalog;
        let Some(kind) = info.model.field(&info.type_name, field) else {
            return Err(field_error(ApiError::new(ErrorKind::NotFound)));
        };
        let readable = |table: &str| -> Result<&Table, FieldError<S>> {
            let def = catalog.table(table).ok_or_else(|| field_error(ApiError::new(ErrorKind::NotFound)))?;
            catalog.check_table(&cx.principal, def, Action::Read).map_err(denied)?;
            Ok(def)
        };
        // A list field's arguments, through the REST plan (see `query`).
        let plan = |table: &Table, equal: Vec<(String, String)>, view: Option<&View>| -> Result<Plan, FieldError<S>> {
            let pairs = query::pairs(args, equal)?;
            let allowed = Allowed { columns: view.map(|v| v.columns.as_slice()), sandbox: cx.principal.record.sandbox };
            plan::parse(table, &pairs, &allowed, view).map_err(field_error)
        };
        let rows = |table: &Table, plan: &Plan, columns: Option<&[String]>| -> ExecutionResult<S> {
            // Fetch at most one row past what is left, so running out is an error, not a
            // silently shorter page.
            let left = cx.budget.allowance().map_err(field_error)?;
            let capped;
            let q = if plan.q.limit as u64 > left {
                capped = ListQuery { limit: left.saturating_add(1) as usize, ..plan.q.clone() };
                &capped
            } else {
                &plan.q
            };
            let page = crate::api::rows::list(&cx.state, table, q, &cx.principal, columns).map_err(field_error)?;
            cx.budget.take(page.rows.len() as u64).map_err(field_error)?;
            let nodes: Vec<Node> = page
                .rows
                .into_iter()
                .map(|row| {
                    let mut node = Node::from_presented(row);
                    let cursor = plan.cursor(&After::of(&plan.q.order, &node.row));
                    node.row.insert(CURSOR_FIELD.into(), Value::String(cursor));
                    node
                })
                .collect();
            ex.resolve(&info.of(&table.name), &Some(nodes))
        };
        match kind {
            FieldKind::Id => Ok(to_gql(self.row.get("id"), ColumnType::Int)),
            FieldKind::Column(ty) => Ok(to_gql(self.row.get(field), *ty)),
            FieldKind::Forward { column, table } => {
                let def = readable(table)?;
                let Some(id) = self.row.get(column).and_then(Value::as_u64) else { return Ok(GqlValue::null()) };
                cx.budget.take(1).map_err(field_error)?;
                let found = cx.state.store.get_row(table, id).map_err(|e| field_error(e.into()))?;
                let found = match found {
                    Some(r) if owns(&cx.state, def, &r, &cx.principal).map_err(field_error)? => Some(r),
                    _ => None,
                };
                let value = found.map(|r| node(&cx.state, def, r, &cx.principal, None));
                ex.resolve(&info.of(table), &value)
            }
            FieldKind::Reverse { table, column } => {
                let def = readable(table)?;
                let id = self.row.get("id").and_then(Value::as_u64).unwrap_or_default();
                let mut plan = plan(def, Vec::new(), None)?;
                plan.q.filters.push(Filter::eq(column.clone(), Kind::Number, Value::from(id)));
                rows(def, &plan, None)
            }
            FieldKind::CursorOf => Ok(to_gql(self.row.get(CURSOR_FIELD), ColumnType::String)),
            FieldKind::List { table } => {
                let def = readable(table)?;
                let mut equal = Vec::new();
                if let Some(id) = args.get::<i32>("id")? {
                    equal.push(("id".to_string(), id.to_string()));
                }
                for c in def.visible_columns().filter(|c| c.ty != ColumnType::Json) {
                    if let Some(v) = arg_value(args, &c.name, c.ty)? {
                        if cx.principal.record.sandbox && c.pii().is_some() {
                            return Err(field_error(ApiError::with_message(
                                ErrorKind::BadRequest,
                                "sandbox tokens cannot filter on personal data",
                            )));
                        }
                        let text = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        equal.push((c.name.clone(), text));
                    }
                }
                rows(def, &plan(def, equal, None)?, None)
            }
            FieldKind::ById { table } => {
                let def = readable(table)?;
                let id = args.get::<i32>("id")?.unwrap_or_default();
                cx.budget.take(1).map_err(field_error)?;
                let found = cx.state.store.get_row(table, id.max(0) as u64).map_err(|e| field_error(e.into()))?;
                let found = match found {
                    Some(r) if owns(&cx.state, def, &r, &cx.principal).map_err(field_error)? => Some(r),
                    _ => None,
                };
                let value = found.map(|r| node(&cx.state, def, r, &cx.principal, None));
                ex.resolve(&info.of(table), &value)
            }
            FieldKind::View { view, .. } => {
                let (v, def) = catalog.view(view).ok_or_else(|| field_error(ApiError::new(ErrorKind::NotFound)))?;
                catalog.check_view(&cx.principal, v, def).map_err(denied)?;
                rows(def, &plan(def, Vec::new(), Some(v))?, Some(&v.columns))
            }
            FieldKind::Create { table } | FieldKind::Update { table } | FieldKind::Delete { table } => {
                mutate::run(cx, info, kind, table, args, ex)
            }
        }
    }
}

/// Builds the root node for the model.
pub type Root = juniper::RootNode<Node, Node, juniper::EmptySubscription<Ctx>, S>;

pub fn root(model: Arc<Model>) -> Root {
    let query = Info { model: model.clone(), type_name: super::model::QUERY.into() };
    let mutation = Info { model, type_name: super::model::MUTATION.into() };
    juniper::RootNode::new_with_info(
        Node { row: Map::new() },
        Node { row: Map::new() },
        juniper::EmptySubscription::new(),
        query,
        mutation,
        (),
    )
}
