//! A list query ([`ListQuery`]: filters, order, cursor, paging) as one SQL statement with
//! bound parameters. Nothing a request sends becomes SQL text: column names come from the
//! layout (the schema file) and are quoted; every value is a parameter, typed by its column.
//!
//! The rules are the sled store's, written in SQL:
//! - only `is.null` speaks of nulls (SQL's own three-valued logic gives that: a comparison
//!   with NULL is never true, and neither is its `NOT`);
//! - text compares byte-wise (`COLLATE "C"`), numbers by value, datetimes by instant;
//! - nulls sort last in both directions, and `id` breaks ties in the last key's direction;
//! - a cursor lists the rows strictly after its position in that order.

use std::fmt::Write;

use postgres::types::ToSql;
use serde_json::Value;

use super::layout::{ident, SqlType, TableDef};
use crate::store::query::{After, Cmp, Filter, ListQuery, OrderBy};

/// A bound value.
pub type Param = Box<dyn ToSql + Sync + Send>;

/// A value that does not fit its column (the plan checks values first, so this is a bug or
/// a stale plan).
#[derive(Debug, thiserror::Error)]
#[error("{column}: {value} is not a {ty:?} value")]
pub struct BadValue {
    pub column: String,
    pub value: String,
    pub ty: SqlType,
}

/// SQL text with its parameters.
#[derive(Default)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Statement {
    /// Adds a parameter; its placeholder.
    pub fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

/// The type of `column` of `table` (`id` is a bigint).
pub fn column_type(table: &TableDef, column: &str) -> Option<SqlType> {
    if column == "id" {
        return Some(SqlType::BigInt);
    }
    table.column(column).map(|c| c.ty)
}

/// `value` as a parameter of type `ty` (`None` for JSON null).
pub fn param(ty: SqlType, column: &str, value: &Value) -> Result<Option<Param>, BadValue> {
    let bad = || BadValue { column: column.to_string(), value: value.to_string(), ty };
    if value.is_null() {
        return Ok(None);
    }
    let p: Param = match ty {
        SqlType::BigInt => match value.as_i64() {
            Some(i) => Box::new(i),
            None => Box::new(value.as_f64().ok_or_else(bad)?),
        },
        SqlType::Double => Box::new(value.as_f64().ok_or_else(bad)?),
        SqlType::Text => Box::new(value.as_str().ok_or_else(bad)?.to_string()),
        SqlType::Bool => Box::new(value.as_bool().ok_or_else(bad)?),
        SqlType::Date => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            Box::new(time::Date::parse(value.as_str().ok_or_else(bad)?, format).map_err(|_| bad())?)
        }
        SqlType::Timestamptz => {
            let rfc = time::format_description::well_known::Rfc3339;
            Box::new(time::OffsetDateTime::parse(value.as_str().ok_or_else(bad)?, &rfc).map_err(|_| bad())?)
        }
        SqlType::Jsonb => Box::new(value.clone()),
    };
    Ok(Some(p))
}

/// How a column is compared: text byte-wise, an integer column against a fractional value
/// as a double.
fn operand(table: &TableDef, column: &str, value: Option<&Value>) -> Result<(String, SqlType), BadValue> {
    let ty = column_type(table, column).ok_or_else(|| BadValue {
        column: column.to_string(),
        value: "(no such column)".into(),
        ty: SqlType::Text,
    })?;
    let name = ident(column);
    Ok(match ty {
        SqlType::Text => (format!("{name} COLLATE \"C\""), ty),
        SqlType::BigInt if value.is_some_and(|v| v.as_i64().is_none() && v.is_number()) => {
            (format!("{name}::double precision"), SqlType::Double)
        }
        _ => (name, ty),
    })
}

/// A `like` pattern (`*` any run) as SQL's, with its own metacharacters escaped.
pub fn like_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 4);
    for ch in p.chars() {
        match ch {
            '*' => out.push('%'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

/// One filter as a condition.
fn condition(s: &mut Statement, table: &TableDef, f: &Filter) -> Result<String, BadValue> {
    let first = f.values.first();
    if f.cmp == Cmp::IsNull {
        let name = ident(&f.column);
        return Ok(if f.not { format!("{name} IS NOT NULL") } else { format!("{name} IS NULL") });
    }
    let (lhs, ty) = operand(table, &f.column, first)?;
    let one = |s: &mut Statement, v: Option<&Value>| -> Result<String, BadValue> {
        let v = v.unwrap_or(&Value::Null);
        match param(ty, &f.column, v)? {
            Some(p) => Ok(s.bind(p)),
            None => Ok("NULL".into()),
        }
    };
    let held = match f.cmp {
        Cmp::Eq => format!("{lhs} = {}", one(s, first)?),
        Cmp::Gt => format!("{lhs} > {}", one(s, first)?),
        Cmp::Gte => format!("{lhs} >= {}", one(s, first)?),
        Cmp::Lt => format!("{lhs} < {}", one(s, first)?),
        Cmp::Lte => format!("{lhs} <= {}", one(s, first)?),
        Cmp::In => {
            let mut items = Vec::with_capacity(f.values.len());
            for v in &f.values {
                // Each item typed on its own (an integer column may be asked for 2.5).
                let (lhs, ty) = operand(table, &f.column, Some(v))?;
                let placeholder = match param(ty, &f.column, v)? {
                    Some(p) => s.bind(p),
                    None => "NULL".into(),
                };
                items.push(format!("{lhs} = {placeholder}"));
            }
            if items.is_empty() {
                "FALSE".into()
            } else {
                format!("({})", items.join(" OR "))
            }
        }
        Cmp::Like | Cmp::ILike => {
            let pattern = first.and_then(Value::as_str).unwrap_or_default();
            let placeholder = s.bind(Box::new(like_pattern(pattern)));
            let op = if f.cmp == Cmp::Like { "LIKE" } else { "ILIKE" };
            format!("{} {op} {placeholder}", ident(&f.column))
        }
        Cmp::IsNull => unreachable!("answered above"),
    };
    Ok(if f.not { format!("NOT ({held})") } else { held })
}

/// `col` in `o`'s direction, nulls last.
fn order_key(table: &TableDef, o: &OrderBy) -> Result<String, BadValue> {
    let (lhs, _) = operand(table, &o.column, None)?;
    Ok(format!("{lhs} {} NULLS LAST", if o.descending { "DESC" } else { "ASC" }))
}

/// Rows strictly after the cursor: for some key, the keys before it equal and this one past
/// it; or every key equal and the id past it.
fn past_cursor(s: &mut Statement, table: &TableDef, order: &[OrderBy], after: &After) -> Result<String, BadValue> {
    let mut alternatives = Vec::new();
    let mut equal_so_far: Vec<String> = Vec::new();
    for (o, v) in order.iter().zip(&after.values) {
        let (lhs, ty) = operand(table, &o.column, Some(v))?;
        let name = ident(&o.column);
        match param(ty, &o.column, v)? {
            // After a null (nulls last): only nulls follow, and they are equal.
            None => equal_so_far.push(format!("{name} IS NULL")),
            Some(p) => {
                let placeholder = s.bind(p);
                let beyond = if o.descending { "<" } else { ">" };
                let mut here = equal_so_far.clone();
                here.push(format!("({lhs} {beyond} {placeholder} OR {name} IS NULL)"));
                alternatives.push(format!("({})", here.join(" AND ")));
                equal_so_far.push(format!("{lhs} = {placeholder}"));
            }
        }
    }
    let id = s.bind(Box::new(i64::try_from(after.id).unwrap_or(i64::MAX)));
    let by_id = if order.last().is_some_and(|o| o.descending) { "<" } else { ">" };
    equal_so_far.push(format!("id {by_id} {id}"));
    alternatives.push(format!("({})", equal_so_far.join(" AND ")));
    Ok(format!("({})", alternatives.join(" OR ")))
}

/// The WHERE clause of the filters (without the cursor), `TRUE` for none.
pub fn filters(s: &mut Statement, table: &TableDef, filters: &[Filter]) -> Result<String, BadValue> {
    let mut parts = Vec::with_capacity(filters.len());
    for f in filters {
        parts.push(condition(s, table, f)?);
    }
    Ok(if parts.is_empty() { "TRUE".into() } else { parts.join(" AND ") })
}

/// The page's statement: `SELECT <columns> FROM t WHERE … ORDER BY … LIMIT … OFFSET …`.
pub fn page(table: &TableDef, columns: &str, q: &ListQuery) -> Result<Statement, BadValue> {
    let mut s = Statement::default();
    let mut conditions = filters(&mut s, table, &q.filters)?;
    if let Some(after) = &q.after {
        let _ = write!(conditions, " AND {}", past_cursor(&mut s, table, &q.order, after)?);
    }
    let mut keys = Vec::with_capacity(q.order.len() + 1);
    for o in &q.order {
        keys.push(order_key(table, o)?);
    }
    keys.push(if q.order.last().is_some_and(|o| o.descending) { "id DESC".into() } else { "id ASC".into() });
    let limit = s.bind(Box::new(i64::try_from(q.limit).unwrap_or(i64::MAX)));
    let offset = s.bind(Box::new(i64::try_from(q.offset).unwrap_or(i64::MAX)));
    s.sql = format!(
        "SELECT {columns} FROM {} t WHERE {conditions} ORDER BY {} LIMIT {limit} OFFSET {offset}",
        ident(&table.name),
        keys.join(", ")
    );
    Ok(s)
}

/// The total's statement: how many rows the filters match (the cursor aside).
pub fn total(table: &TableDef, q: &ListQuery) -> Result<Statement, BadValue> {
    let mut s = Statement::default();
    let conditions = filters(&mut s, table, &q.filters)?;
    s.sql = format!("SELECT count(*) FROM {} t WHERE {conditions}", ident(&table.name));
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Kind;

    fn invoices() -> TableDef {
        use super::super::layout::ColumnDef;
        let col =
            |name: &str, ty| ColumnDef { name: name.into(), ty, references: None, indexed: false, renamed_from: None };
        TableDef {
            name: "invoices".into(),
            columns: vec![col("number", SqlType::Text), col("total", SqlType::Double), col("qty", SqlType::BigInt)],
            renamed_from: None,
        }
    }

    #[test]
    fn values_are_parameters_and_names_are_quoted() {
        let t = invoices();
        let q = ListQuery {
            filters: vec![
                Filter::new("number", Kind::Text, Cmp::Eq, false, vec![Value::from("x' OR 1=1--")]),
                Filter::new("qty", Kind::Number, Cmp::In, true, vec![Value::from(2), Value::from(2.5)]),
                Filter::new("number", Kind::Text, Cmp::Like, false, vec![Value::from("50%_off*")]),
            ],
            order: vec![OrderBy { column: "total".into(), kind: Kind::Number, descending: true }],
            limit: 20,
            after: Some(After { values: vec![Value::from(9.5)], id: 7 }),
            ..Default::default()
        };
        let s = page(&t, "*", &q).unwrap();
        assert!(!s.sql.contains("OR 1=1"), "{}", s.sql);
        assert_eq!(
            s.sql,
            "SELECT * FROM \"invoices\" t WHERE \"number\" COLLATE \"C\" = $1 AND NOT ((\"qty\" = $2 OR \
             \"qty\"::double precision = $3)) AND \"number\" LIKE $4 AND (((\"total\" < $5 OR \"total\" IS NULL)) OR \
             (\"total\" = $5 AND id < $6)) ORDER BY \"total\" DESC NULLS LAST, id DESC LIMIT $7 OFFSET $8"
        );
        assert_eq!(s.params.len(), 8);
        assert_eq!(like_pattern("50%_off*"), "50\\%\\_off%");
    }
}
