//! Write validation against the schema: unknown columns, wrong types and missing required
//! values are refused with a 422 that names the column, before anything is stored.

use serde_json::{Map, Value};

use super::{Column, ColumnType, Table};
use crate::error::{ApiError, ErrorKind};
use crate::redact::truncate;

/// How a write treats columns the body leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// POST and PUT: the body is the whole row; required columns must be present.
    Full,
    /// PATCH: the body is merged into the stored row, which is then checked in full.
    Merge,
}

/// Checks one value against its column.
pub fn check_value(column: &Column, value: &Value) -> Result<(), ApiError> {
    if value.is_null() {
        return if column.required {
            Err(ApiError::validation(format!("column '{}' is required", column.name)))
        } else {
            Ok(())
        };
    }
    if column.references.is_some() && value.as_u64().is_none_or(|id| id == 0) {
        // Ids are positive: a negative or zero reference names no row and, read as
        // "not a u64", would slip past the writer's reference check.
        return Err(ApiError::validation(format!("column '{}' must be a positive row id", column.name)));
    }
    let ok = match column.ty {
        ColumnType::String => value.is_string(),
        ColumnType::Int => value.is_i64(),
        ColumnType::Float => value.is_number(),
        ColumnType::Bool => value.is_boolean(),
        ColumnType::Date => value.as_str().is_some_and(is_date),
        ColumnType::Datetime => value.as_str().is_some_and(is_datetime),
        ColumnType::Json => true,
    };
    if ok {
        Ok(())
    } else {
        let expected = match column.ty {
            ColumnType::Date => "a date (YYYY-MM-DD)",
            ColumnType::Datetime => "an RFC 3339 datetime",
            ColumnType::Int => "an integer",
            ColumnType::Float => "a number",
            ColumnType::Bool => "true or false",
            ColumnType::String => "a string",
            ColumnType::Json => "JSON",
        };
        Err(ApiError::validation(format!("column '{}' must be {expected}", column.name)))
    }
}

fn is_date(s: &str) -> bool {
    s.len() == 10 && time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).is_ok()
}

fn is_datetime(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

impl Table {
    /// JSON has one kind of number, and JSON Schema reads `574.0` as the integer 574: an int
    /// column's integral float becomes that integer before anything checks or stores it.
    pub fn normalize_numbers(&self, row: &mut Map<String, Value>) {
        for (key, value) in row.iter_mut() {
            let int_column = self.column(key).is_some_and(|c| c.ty == ColumnType::Int);
            if int_column && value.is_f64() {
                if let Some(f) = value.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= 9.007_199_254_740_992e15) {
                    *value = Value::from(f as i64);
                }
            }
        }
    }

    /// Validates a full row body (the `id` key already removed by the caller).
    pub fn validate_row(&self, row: &Map<String, Value>) -> Result<(), ApiError> {
        if let Some(unknown) = row.keys().find(|k| !self.columns.contains_key(*k)) {
            return Err(ApiError::validation(format!(
                "unknown column '{}' in table '{}'",
                truncate(unknown, 64),
                self.name
            )));
        }
        for column in self.columns.values() {
            match row.get(&column.name) {
                Some(v) => check_value(column, v)?,
                None if column.required => {
                    return Err(ApiError::validation(format!("column '{}' is required", column.name)))
                }
                None => {}
            }
        }
        Ok(())
    }
}

impl Table {
    /// Checks only the columns present (PATCH bodies): unknown names and value types.
    pub fn validate_known_columns(&self, row: &Map<String, Value>) -> Result<(), ApiError> {
        for (key, value) in row {
            let column = self.columns.get(key).ok_or_else(|| {
                ApiError::validation(format!("unknown column '{}' in table '{}'", truncate(key, 64), self.name))
            })?;
            if !value.is_null() {
                check_value(column, value)?;
            }
        }
        Ok(())
    }
}

/// Turns a query-string filter value into the typed JSON value it must equal.
pub fn parse_filter_value(column: &Column, raw: &str) -> Result<Value, ApiError> {
    let bad = || {
        ApiError::with_message(ErrorKind::BadRequest, format!("filter '{}' must be {}", column.name, column.ty.name()))
    };
    Ok(match column.ty {
        ColumnType::Int => Value::from(raw.parse::<i64>().map_err(|_| bad())?),
        ColumnType::Float => {
            let f = raw.parse::<f64>().map_err(|_| bad())?;
            serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(bad)?
        }
        ColumnType::Bool => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad()),
        },
        ColumnType::Json => return Err(bad()),
        // A date or datetime filter is one, as the document says (`format: date`/`date-time`):
        // `?created_at=null` is a client mistake, not a filter that matches nothing.
        ColumnType::Date if !is_date(raw) => return Err(bad()),
        ColumnType::Datetime if !is_datetime(raw) => return Err(bad()),
        ColumnType::String | ColumnType::Date | ColumnType::Datetime => Value::String(raw.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::Schema;
    use serde_json::json;

    fn table() -> super::Table {
        Schema::parse(
            "[tables.t.columns]\nname = { type = \"string\", required = true }\nn = { type = \"int\" }\nd = { type = \"date\" }\nat = { type = \"datetime\" }\n",
        )
        .unwrap()
        .tables["t"]
        .clone()
    }

    #[test]
    fn rows_are_checked_column_by_column() {
        let t = table();
        let ok = json!({"name": "a", "n": 3, "d": "2025-02-28", "at": "2025-02-28T10:00:00Z"});
        assert!(t.validate_row(ok.as_object().unwrap()).is_ok());
        for (row, col) in [
            (json!({"n": 1}), "name"),
            (json!({"name": "a", "n": 1.5}), "n"),
            (json!({"name": "a", "d": "2025-02-30"}), "d"),
            (json!({"name": "a", "at": "yesterday"}), "at"),
            (json!({"name": "a", "zzz": 1}), "zzz"),
            (json!({"name": null}), "name"),
        ] {
            let err = t.validate_row(row.as_object().unwrap()).unwrap_err();
            assert!(err.message.contains(col), "{row} -> {err:?}");
        }
    }
}
