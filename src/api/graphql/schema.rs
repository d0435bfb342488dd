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

use super::model::{FieldKind, Model};
use super::mutate;
use super::node::{arg_value, field_error, node, register_column_arg, scalar, to_gql, Ctx, Info, Node, Scalar};
use crate::api::rest::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::error::{ApiError, ErrorKind};
use crate::schema::{ColumnType, Table};
use crate::store::{Filter, Kind, ListQuery, OrderBy};
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
                    page_args(registry, f)
                }
                FieldKind::List { table: t } => {
                    let mut f = registry.field::<Option<Vec<Node>>>(name.clone(), &info.of(t));
                    f = page_args(registry, f).argument(registry.arg::<Option<i32>>("id", &()));
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
        let page = |args: &Arguments<S>| -> Result<ListQuery, FieldError<S>> {
            let limit = args.get::<Option<i32>>("limit")?.flatten().unwrap_or(DEFAULT_LIMIT as i32);
            let offset = args.get::<Option<i32>>("offset")?.flatten().unwrap_or(0);
            if limit < 0 || offset < 0 {
                return Err(field_error(ApiError::with_message(
                    ErrorKind::BadRequest,
                    "limit and offset must not be negative",
                )));
            }
            Ok(ListQuery { limit: (limit as usize).min(MAX_LIMIT), offset: offset as usize, ..Default::default() })
        };
        let rows = |table: &Table, q: &ListQuery, columns: Option<&[String]>| -> ExecutionResult<S> {
            // Fetch at most one row past what is left, so running out is an error, not a
            // silently shorter page.
            let left = cx.budget.allowance().map_err(field_error)?;
            let capped;
            let q = if q.limit as u64 > left {
                capped = ListQuery { limit: left.saturating_add(1) as usize, ..q.clone() };
                &capped
            } else {
                q
            };
            let page = crate::api::rows::list(&cx.state, table, q, &cx.principal, columns).map_err(field_error)?;
            cx.budget.take(page.rows.len() as u64).map_err(field_error)?;
            let nodes: Vec<Node> = page.rows.into_iter().map(Node::from_presented).collect();
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
                let value = found.map(|r| node(&cx.state, def, r, &cx.principal, None));
                ex.resolve(&info.of(table), &value)
            }
            FieldKind::Reverse { table, column } => {
                let def = readable(table)?;
                let mut q = page(args)?;
                let id = self.row.get("id").cloned().unwrap_or(Value::Null);
                q.filters.push(Filter::eq(column.clone(), Kind::Number, id));
                rows(def, &q, None)
            }
            FieldKind::List { table } => {
                let def = readable(table)?;
                let mut q = page(args)?;
                if let Some(id) = args.get::<i32>("id")? {
                    q.filters.push(Filter::eq("id", Kind::Number, Value::from(id)));
                }
                for c in def.visible_columns().filter(|c| c.ty != ColumnType::Json) {
                    if let Some(v) = arg_value(args, &c.name, c.ty)? {
                        if cx.principal.record.sandbox && c.pii().is_some() {
                            return Err(field_error(ApiError::with_message(
                                ErrorKind::BadRequest,
                                "sandbox tokens cannot filter on personal data",
                            )));
                        }
                        q.filters.push(Filter::eq(c.name.clone(), c.ty.kind(), v));
                    }
                }
                rows(def, &q, None)
            }
            FieldKind::ById { table } => {
                let def = readable(table)?;
                let id = args.get::<i32>("id")?.unwrap_or_default();
                cx.budget.take(1).map_err(field_error)?;
                let found = cx.state.store.get_row(table, id.max(0) as u64).map_err(|e| field_error(e.into()))?;
                let value = found.map(|r| node(&cx.state, def, r, &cx.principal, None));
                ex.resolve(&info.of(table), &value)
            }
            FieldKind::View { view, .. } => {
                let (v, def) = catalog.view(view).ok_or_else(|| field_error(ApiError::new(ErrorKind::NotFound)))?;
                catalog.check_view(&cx.principal, v, def).map_err(denied)?;
                let mut q = page(args)?;
                let kind = |c: &str| def.column(c).map_or(Kind::Number, |c| c.ty.kind());
                q.filters.extend(v.filter.iter().map(|(k, v)| Filter::eq(k.clone(), kind(k), v.clone())));
                q.order = v
                    .order
                    .iter()
                    .map(|o| OrderBy { column: o.column.clone(), kind: kind(&o.column), descending: o.descending })
                    .collect();
                rows(def, &q, Some(&v.columns))
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
