//! The juniper schema, built at run time from the [`Model`] (juniper's `TypeInfo` schemas):
//! one Rust type, [`Node`], stands for the `Query` and `Mutation` roots and every table's
//! object type; its `TypeInfo` says which. Resolvers read and write through the same store,
//! catalog checks and row presentation as REST — every table a query touches, relations
//! included, is checked against the token's scopes, and every row goes through
//! `api::rows::present` (secret columns stripped, sandbox fakes).

use std::sync::Arc;

use juniper::meta::MetaType;
use juniper::{
    Arguments, DefaultScalarValue, ExecutionResult, Executor, FieldError, GraphQLType, GraphQLValue, Registry,
    Value as GqlValue,
};
use serde_json::{Map, Value};

use super::budget::Budget;
use super::model::{type_name, FieldKind, Model};
use crate::api::rest::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::api::rows::present;
use crate::error::{ApiError, ErrorKind};
use crate::schema::{ColumnType, Table};
use crate::state::AppState;
use crate::store::ListQuery;
use crate::tokens::{Action, Principal};

type S = DefaultScalarValue;

/// Per-request context: the state, the authenticated token and what execution may spend.
pub struct Ctx {
    pub state: Arc<AppState>,
    pub principal: Arc<Principal>,
    pub budget: Budget,
}

impl juniper::Context for Ctx {}

/// Which type a [`Node`] is.
#[derive(Clone)]
pub struct Info {
    pub model: Arc<Model>,
    pub type_name: String,
}

impl Info {
    /// The info of a table's object type.
    pub fn of_table(&self, table: &str) -> Info {
        self.of(table)
    }

    fn of(&self, table: &str) -> Info {
        Info { model: self.model.clone(), type_name: type_name(table) }
    }
}

/// A root object (no row) or one presented row of a table.
pub struct Node {
    pub row: Map<String, Value>,
}

/// An API error as a GraphQL field error with `extensions.code`.
pub(super) fn field_error(e: ApiError) -> FieldError<S> {
    FieldError::new(e.message.clone(), juniper::graphql_value!({ "code": (e.kind.code()) }))
}

fn denied((e, _reason): crate::catalog::Denied) -> FieldError<S> {
    field_error(e)
}

/// serde JSON → GraphQL output value for a column of type `ty`.
fn to_gql(v: Option<&Value>, ty: ColumnType) -> GqlValue<S> {
    match v {
        None | Some(Value::Null) => GqlValue::null(),
        Some(Value::Number(n)) if ty == ColumnType::Int => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => GqlValue::scalar(i),
            None => GqlValue::scalar(n.as_f64().unwrap_or_default()),
        },
        Some(Value::Number(n)) => GqlValue::scalar(n.as_f64().unwrap_or_default()),
        Some(Value::Bool(b)) => GqlValue::scalar(*b),
        Some(Value::String(s)) => GqlValue::scalar(s.clone()),
        Some(other) => GqlValue::scalar(other.to_string()),
    }
}

/// The GraphQL scalar a column travels as. Exhaustive: a new column type is a compile
/// error here until someone decides its GraphQL shape.
#[derive(Clone, Copy)]
enum Scalar {
    Int,
    Float,
    Boolean,
    /// Text: strings, dates and datetimes (validated by the schema on write).
    Text,
    /// A JSON document carried as a string.
    JsonText,
}

fn scalar(ty: ColumnType) -> Scalar {
    match ty {
        ColumnType::Int => Scalar::Int,
        ColumnType::Float => Scalar::Float,
        ColumnType::Bool => Scalar::Boolean,
        ColumnType::String | ColumnType::Date | ColumnType::Datetime => Scalar::Text,
        ColumnType::Json => Scalar::JsonText,
    }
}

/// GraphQL argument → stored JSON value for a column of type `ty`.
pub fn arg_value(args: &Arguments<S>, name: &str, ty: ColumnType) -> Result<Option<Value>, FieldError<S>> {
    Ok(match scalar(ty) {
        Scalar::Int => args.get::<Option<i32>>(name)?.flatten().map(Value::from),
        Scalar::Float => args.get::<Option<f64>>(name)?.flatten().map(Value::from),
        Scalar::Boolean => args.get::<Option<bool>>(name)?.flatten().map(Value::from),
        Scalar::Text => args.get::<Option<String>>(name)?.flatten().map(Value::from),
        Scalar::JsonText => match args.get::<Option<String>>(name)?.flatten() {
            Some(text) => Some(serde_json::from_str(&text).map_err(|_| {
                field_error(ApiError::validation(format!("argument '{name}' must be a JSON document")))
            })?),
            None => None,
        },
    })
}

fn register_column_arg(registry: &mut Registry<S>, name: &str, ty: ColumnType) -> juniper::meta::Argument<S> {
    match scalar(ty) {
        Scalar::Int => registry.arg::<Option<i32>>(name.to_string(), &()),
        Scalar::Float => registry.arg::<Option<f64>>(name.to_string(), &()),
        Scalar::Boolean => registry.arg::<Option<bool>>(name.to_string(), &()),
        Scalar::Text | Scalar::JsonText => registry.arg::<Option<String>>(name.to_string(), &()),
    }
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
                q.filters.push((column.clone(), id));
                rows(def, &q, None)
            }
            FieldKind::List { table } => {
                let def = readable(table)?;
                let mut q = page(args)?;
                if let Some(id) = args.get::<i32>("id")? {
                    q.filters.push(("id".into(), Value::from(id)));
                }
                for c in def.visible_columns().filter(|c| c.ty != ColumnType::Json) {
                    if let Some(v) = arg_value(args, &c.name, c.ty)? {
                        if cx.principal.record.sandbox && c.pii().is_some() {
                            return Err(field_error(ApiError::with_message(
                                ErrorKind::BadRequest,
                                "sandbox tokens cannot filter on personal data",
                            )));
                        }
                        q.filters.push((c.name.clone(), v));
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
                q.filters.extend(v.filter.iter().map(|(k, v)| (k.clone(), v.clone())));
                q.order = v.order.as_ref().map(|o| (o.column.clone(), o.descending));
                rows(def, &q, Some(&v.columns))
            }
            FieldKind::Create { table } | FieldKind::Update { table } | FieldKind::Delete { table } => {
                super::mutate::run(cx, info, kind, table, args, ex)
            }
        }
    }
}

impl Node {
    /// A row `present` already made.
    fn from_presented(row: Value) -> Node {
        match row {
            Value::Object(row) => Node { row },
            _ => Node { row: Map::new() },
        }
    }
}

/// A stored row as a GraphQL node (presented: secrets stripped, sandbox faked).
pub fn node(
    state: &AppState,
    table: &Table,
    row: Map<String, Value>,
    p: &Principal,
    columns: Option<&[String]>,
) -> Node {
    Node::from_presented(present(state, table, row, p, columns))
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
