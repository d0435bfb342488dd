//! What the GraphQL schema's resolvers and the mutations share: the per-request context
//! ([`Ctx`]), the type info and value of a node ([`Info`], [`Node`]), and how column values
//! travel between JSON and GraphQL. It sits below both `schema` (the types and readers) and
//! `mutate` (the writers), so the two never import each other.

use std::sync::{Arc, Mutex};

use juniper::{Arguments, DefaultScalarValue, FieldError, Registry, Value as GqlValue};
use serde_json::{Map, Value};

use super::budget::Budget;
use super::model::{type_name, Model};
use crate::api::rows::present;
use crate::error::ApiError;
use crate::schema::{ColumnType, Table};
use crate::state::AppState;
use crate::store::audit::MutationFact;
use crate::tokens::Principal;

type S = DefaultScalarValue;

/// Per-request context: the state, the authenticated token and what execution may spend.
pub struct Ctx {
    pub state: Arc<AppState>,
    pub principal: Arc<Principal>,
    pub budget: Budget,
    /// Each mutation field as it ran, for the request's audit record.
    pub writes: Mutex<Vec<MutationFact>>,
}

impl Ctx {
    /// Notes a mutation field for the audit record.
    pub fn record_write(&self, fact: MutationFact) {
        self.writes.lock().unwrap_or_else(|p| p.into_inner()).push(fact);
    }
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

    pub(super) fn of(&self, table: &str) -> Info {
        Info { model: self.model.clone(), type_name: type_name(table) }
    }
}

/// A root object (no row) or one presented row of a table.
pub struct Node {
    pub row: Map<String, Value>,
}

/// An API error as a GraphQL field error with `extensions.code`.
pub fn field_error(e: ApiError) -> FieldError<S> {
    FieldError::new(e.message.clone(), juniper::graphql_value!({ "code": (e.kind.code()) }))
}

/// serde JSON → GraphQL output value for a column of type `ty`.
pub(super) fn to_gql(v: Option<&Value>, ty: ColumnType) -> GqlValue<S> {
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
pub(super) enum Scalar {
    Int,
    Float,
    Boolean,
    /// Text: strings, dates and datetimes (validated by the schema on write).
    Text,
    /// A JSON document carried as a string.
    JsonText,
}

pub(super) fn scalar(ty: ColumnType) -> Scalar {
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

pub(super) fn register_column_arg(
    registry: &mut Registry<S>,
    name: &str,
    ty: ColumnType,
) -> juniper::meta::Argument<S> {
    match scalar(ty) {
        Scalar::Int => registry.arg::<Option<i32>>(name.to_string(), &()),
        Scalar::Float => registry.arg::<Option<f64>>(name.to_string(), &()),
        Scalar::Boolean => registry.arg::<Option<bool>>(name.to_string(), &()),
        Scalar::Text | Scalar::JsonText => registry.arg::<Option<String>>(name.to_string(), &()),
    }
}

impl Node {
    /// A row `present` already made.
    pub(super) fn from_presented(row: Value) -> Node {
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
