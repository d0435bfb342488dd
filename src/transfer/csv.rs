//! Rows as CSV and back. One rule each way, shared by `Accept: text/csv`, `palisade export`
//! and `palisade import`: a cell is the value's text (strings as they are, numbers and
//! booleans as JSON writes them, `json` columns as compact JSON); an empty cell is a missing
//! value. Reading parses the cell by its column's declared type, so `"42"` becomes the
//! integer 42 in an `int` column and stays text in a `string` one. Quoting is the `csv`
//! crate's (RFC 4180), never hand-written.

use serde_json::{Map, Value};

use crate::schema::{Column, ColumnType};

/// The text of one cell.
pub fn cell(value: Option<&Value>) -> std::borrow::Cow<'_, str> {
    match value {
        None | Some(Value::Null) => "".into(),
        Some(Value::String(s)) => s.as_str().into(),
        Some(other) => other.to_string().into(),
    }
}

/// Writes records into a growing buffer: a header, then rows in the header's column order.
pub struct Encoder {
    writer: ::csv::Writer<Vec<u8>>,
    columns: Vec<String>,
}

impl Encoder {
    pub fn new(columns: Vec<String>) -> Self {
        Self { writer: ::csv::Writer::from_writer(Vec::new()), columns }
    }

    pub fn header(&mut self) -> std::io::Result<()> {
        self.writer.write_record(&self.columns).map_err(into_io)
    }

    pub fn row(&mut self, row: &Map<String, Value>) -> std::io::Result<()> {
        for column in &self.columns {
            self.writer.write_field(cell(row.get(column)).as_bytes()).map_err(into_io)?;
        }
        self.writer.write_record(None::<&[u8]>).map_err(into_io)
    }

    /// Everything written since the last call.
    pub fn take(&mut self) -> std::io::Result<Vec<u8>> {
        let done = std::mem::replace(&mut self.writer, ::csv::Writer::from_writer(Vec::new()));
        done.into_inner().map_err(|e| e.into_error())
    }
}

fn into_io(e: ::csv::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// A cell's value for `column` (`None`: the cell was empty), or why it cannot be one.
pub fn parse_cell(column: &Column, text: &str) -> Result<Option<Value>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let bad = |what: &str| format!("column '{}': {text:?} is not {what}", column.name);
    let value = match column.ty {
        ColumnType::String | ColumnType::Date | ColumnType::Datetime => Value::from(text),
        ColumnType::Int => Value::from(text.trim().parse::<i64>().map_err(|_| bad("an integer"))?),
        ColumnType::Float => {
            let n: f64 = text.trim().parse().map_err(|_| bad("a number"))?;
            serde_json::Number::from_f64(n).map(Value::Number).ok_or_else(|| bad("a finite number"))?
        }
        ColumnType::Bool => match text.trim() {
            "true" | "TRUE" | "True" | "1" => Value::Bool(true),
            "false" | "FALSE" | "False" | "0" => Value::Bool(false),
            _ => return Err(bad("true or false")),
        },
        ColumnType::Json => serde_json::from_str(text).map_err(|_| bad("JSON"))?,
    };
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoting_and_utf8_round_trip() {
        let mut enc = Encoder::new(vec!["id".into(), "name".into(), "tags".into(), "n".into()]);
        enc.header().unwrap();
        let row = json!({"id": 1, "name": "Ærøskøbing, \"Havn\"\nline 2", "tags": ["a", "b"]});
        enc.row(row.as_object().unwrap()).unwrap();
        let text = String::from_utf8(enc.take().unwrap()).unwrap();
        assert_eq!(text, "id,name,tags,n\n1,\"Ærøskøbing, \"\"Havn\"\"\nline 2\",\"[\"\"a\"\",\"\"b\"\"]\",\n");
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(&record[1], "Ærøskøbing, \"Havn\"\nline 2");
    }

    #[test]
    fn cells_parse_by_column_type() {
        let col = |ty| Column::plain("c", ty);
        assert_eq!(parse_cell(&col(ColumnType::Int), "42").unwrap(), Some(json!(42)));
        assert_eq!(parse_cell(&col(ColumnType::String), "42").unwrap(), Some(json!("42")));
        assert_eq!(parse_cell(&col(ColumnType::Float), "1.5").unwrap(), Some(json!(1.5)));
        assert_eq!(parse_cell(&col(ColumnType::Bool), "false").unwrap(), Some(json!(false)));
        assert_eq!(parse_cell(&col(ColumnType::Json), "[1]").unwrap(), Some(json!([1])));
        assert_eq!(parse_cell(&col(ColumnType::Int), "").unwrap(), None);
        assert!(parse_cell(&col(ColumnType::Int), "4x").unwrap_err().contains("column 'c'"));
        assert!(parse_cell(&col(ColumnType::Float), "NaN").is_err());
    }
}
