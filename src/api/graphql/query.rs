//! GraphQL's list arguments — `where`, `order_by`, `after`, `limit`, `offset` and the
//! equality shorthands (`clients(status: "active")`) — turned into the REST dialect's query
//! pairs and parsed by `api::plan`, so both APIs share one plan: the same operators, typing,
//! scope, sandbox and cursor rules, and the same errors.
//!
//! `where: { total: { gte: 100 }, status: { in: ["sent", "overdue"] } }` takes per column an
//! input object of its type's operators (`IntFilter`, `FloatFilter`, `StringFilter`,
//! `BooleanFilter`: `eq`, `neq`, `gt`, `gte`, `lt`, `lte`, `in`, `like`, `ilike`, `is_null`);
//! `order_by: "-total,id"` is REST's `order`; every row of a list has a `_cursor`, and
//! `after: <a row's _cursor>` continues after that row with the same arguments.

use juniper::meta::MetaType;
use juniper::{
    Arguments, DefaultScalarValue, FieldError, FromInputValue, GraphQLInputObject, GraphQLType, GraphQLValue,
    InputValue, Registry,
};

use super::node::{field_error, scalar, Scalar};
use crate::error::{ApiError, ErrorKind};
use crate::schema::{ColumnType, Table};

type S = DefaultScalarValue;

/// Operators on an `Int` column.
#[derive(GraphQLInputObject)]
#[graphql(rename_all = "none")]
pub struct IntFilter {
    eq: Option<i32>,
    neq: Option<i32>,
    gt: Option<i32>,
    gte: Option<i32>,
    lt: Option<i32>,
    lte: Option<i32>,
    #[graphql(name = "in")]
    in_: Option<Vec<i32>>,
    is_null: Option<bool>,
}

/// Operators on a `Float` column.
#[derive(GraphQLInputObject)]
#[graphql(rename_all = "none")]
pub struct FloatFilter {
    eq: Option<f64>,
    neq: Option<f64>,
    gt: Option<f64>,
    gte: Option<f64>,
    lt: Option<f64>,
    lte: Option<f64>,
    #[graphql(name = "in")]
    in_: Option<Vec<f64>>,
    is_null: Option<bool>,
}

/// Operators on a `String` column (text, dates, datetimes).
#[derive(GraphQLInputObject)]
#[graphql(rename_all = "none")]
pub struct StringFilter {
    eq: Option<String>,
    neq: Option<String>,
    gt: Option<String>,
    gte: Option<String>,
    lt: Option<String>,
    lte: Option<String>,
    #[graphql(name = "in")]
    in_: Option<Vec<String>>,
    like: Option<String>,
    ilike: Option<String>,
    is_null: Option<bool>,
}

/// Operators on a `Boolean` column.
#[derive(GraphQLInputObject)]
#[graphql(rename_all = "none")]
pub struct BooleanFilter {
    eq: Option<bool>,
    neq: Option<bool>,
    is_null: Option<bool>,
}

/// A table's `where` argument: the input value as written (juniper has checked it against
/// the type [`WhereInfo`] describes).
pub struct Where(InputValue<S>);

/// The `where` type of one table: `<Type>Where`, a field per filterable column.
#[derive(Clone)]
pub struct WhereInfo {
    pub name: String,
    pub columns: Vec<(String, ColumnType)>,
}

impl WhereInfo {
    /// `columns`: a view's, or `None` for every visible column.
    pub fn of(type_name: &str, table: &Table, columns: Option<&[String]>) -> Self {
        let columns = table
            .visible_columns()
            .filter(|c| c.ty != ColumnType::Json && columns.is_none_or(|cols| cols.contains(&c.name)))
            .map(|c| (c.name.clone(), c.ty))
            .collect();
        Self { name: format!("{type_name}Where"), columns }
    }
}

impl GraphQLType<S> for Where {
    fn name(info: &WhereInfo) -> Option<juniper::ArcStr> {
        Some(info.name.clone().into())
    }

    fn meta(info: &WhereInfo, registry: &mut Registry<S>) -> MetaType<S> {
        let mut args = vec![registry.arg::<Option<IntFilter>>("id", &())];
        for (name, ty) in &info.columns {
            args.push(match scalar(*ty) {
                Scalar::Int => registry.arg::<Option<IntFilter>>(name.clone(), &()),
                Scalar::Float => registry.arg::<Option<FloatFilter>>(name.clone(), &()),
                Scalar::Boolean => registry.arg::<Option<BooleanFilter>>(name.clone(), &()),
                Scalar::Text | Scalar::JsonText => registry.arg::<Option<StringFilter>>(name.clone(), &()),
            });
        }
        registry.build_input_object_type::<Where>(info, &args).into_meta()
    }
}

impl GraphQLValue<S> for Where {
    type Context = ();
    type TypeInfo = WhereInfo;

    fn type_name(&self, info: &WhereInfo) -> Option<juniper::ArcStr> {
        Some(info.name.clone().into())
    }
}

impl FromInputValue<S> for Where {
    type Error = FieldError<S>;

    fn from_input_value(v: &InputValue<S>) -> Result<Self, Self::Error> {
        Ok(Where(v.clone()))
    }
}

/// Registers the list arguments: `where`, `order_by`, `after`.
pub fn register(registry: &mut Registry<S>, f: juniper::meta::Field<S>, info: &WhereInfo) -> juniper::meta::Field<S> {
    f.argument(registry.arg::<Option<Where>>("where", info))
        .argument(registry.arg::<Option<String>>("order_by", &()))
        .argument(registry.arg::<Option<String>>("after", &()))
}

fn bad(message: String) -> FieldError<S> {
    field_error(ApiError::with_message(ErrorKind::BadRequest, message))
}

/// A scalar input as the REST dialect writes it.
fn text(v: &InputValue<S>) -> Option<String> {
    match v {
        InputValue::Scalar(DefaultScalarValue::Int(i)) => Some(i.to_string()),
        InputValue::Scalar(DefaultScalarValue::Float(f)) => Some(f.to_string()),
        InputValue::Scalar(DefaultScalarValue::String(s)) => Some(s.clone()),
        InputValue::Scalar(DefaultScalarValue::Boolean(b)) => Some(b.to_string()),
        _ => None,
    }
}

/// An `in` list item: quoted, with `"` and `\` escaped, so commas and parentheses stay text.
fn item(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The REST query pairs `where` stands for.
fn where_pairs(w: &Where, out: &mut Vec<(String, String)>) -> Result<(), FieldError<S>> {
    let Some(columns) = w.0.to_object_value() else { return Ok(()) };
    for (column, ops) in columns {
        let Some(ops) = ops.to_object_value() else { continue };
        for (op, value) in ops {
            if value.is_null() {
                continue;
            }
            let raw = match op {
                "is_null" => match value {
                    InputValue::Scalar(DefaultScalarValue::Boolean(false)) => "not.is.null".to_string(),
                    _ => "is.null".to_string(),
                },
                "in" => {
                    let items: Vec<String> = match value {
                        InputValue::List(items) => {
                            items.iter().filter_map(|i| text(&i.item)).map(|t| item(&t)).collect()
                        }
                        one => text(one).map(|t| item(&t)).into_iter().collect(),
                    };
                    format!("in.({})", items.join(","))
                }
                op => format!("{op}.{}", text(value).ok_or_else(|| bad(format!("where.{column}.{op}: a value")))?),
            };
            out.push((column.to_string(), raw));
        }
    }
    Ok(())
}

/// A list field's arguments as REST query pairs; `equal`: the equality shorthands given.
pub fn pairs(args: &Arguments<S>, equal: Vec<(String, String)>) -> Result<Vec<(String, String)>, FieldError<S>> {
    let mut out = Vec::new();
    for name in ["limit", "offset"] {
        if let Some(n) = args.get::<Option<i32>>(name)?.flatten() {
            if n < 0 {
                return Err(bad("limit and offset must not be negative".into()));
            }
            out.push((name.to_string(), n.to_string()));
        }
    }
    if let Some(order) = args.get::<Option<String>>("order_by")?.flatten() {
        out.push(("order".into(), order));
    }
    if let Some(after) = args.get::<Option<String>>("after")?.flatten() {
        out.push(("after".into(), after));
    }
    out.extend(equal.into_iter().map(|(k, v)| (k, format!("eq.{v}"))));
    if let Some(w) = args.get::<Option<Where>>("where")?.flatten() {
        where_pairs(&w, &mut out)?;
    }
    Ok(out)
}
