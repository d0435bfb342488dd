//! Reading `schema.toml`: the raw TOML shapes (unknown keys refused) turned into a
//! [`Schema`] whose every name, type, reference, view and instruction has been checked. A
//! schema that does not make sense refuses to load, and the error names the culprit.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{validate, Column, ColumnType, Order, PiiKind, Schema, SchemaError, Table, View, RESERVED_TABLES};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    #[serde(default)]
    tables: BTreeMap<String, RawTable>,
    #[serde(default)]
    views: BTreeMap<String, RawView>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    #[serde(default)]
    sensitive: bool,
    #[serde(default)]
    plain_values: bool,
    /// The table's name before a rename (its rows move over once, at the next start).
    renamed_from: Option<String>,
    /// The reference column that says which owner a row has, where several could.
    owner_path: Option<String>,
    #[serde(default)]
    columns: BTreeMap<String, RawColumn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    #[serde(rename = "type")]
    ty: ColumnType,
    #[serde(default)]
    required: bool,
    pii: Option<String>,
    #[serde(default)]
    secret: bool,
    references: Option<String>,
    #[serde(default)]
    index: bool,
    /// The column's name before a rename (values move over once, at the next start).
    renamed_from: Option<String>,
    /// Written into existing rows that lack the column (a new required column needs it).
    default: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawView {
    table: String,
    columns: Option<Vec<String>>,
    #[serde(default)]
    filter: BTreeMap<String, Value>,
    order: Option<String>,
    #[serde(default)]
    public: bool,
    /// A public view may show personal-data columns only when it says so.
    #[serde(default)]
    public_pii: bool,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() <= 63
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

pub(super) fn parse(text: &str) -> Result<Schema, SchemaError> {
    let raw: RawSchema =
        toml::from_str(text).map_err(|e| SchemaError::Parse(e.to_string().trim().replace('\n', " ")))?;
    let mut tables = BTreeMap::new();
    for (name, raw_table) in &raw.tables {
        let table_err = |message: &str| SchemaError::Table { table: name.clone(), message: message.into() };
        if !valid_name(name) {
            return Err(table_err("names are lower-case letters, digits and _ (starting with a letter)"));
        }
        if RESERVED_TABLES.contains(&name.as_str()) {
            return Err(table_err("this name is reserved"));
        }
        if raw_table.columns.is_empty() {
            return Err(table_err("a table needs at least one column"));
        }
        let mut columns = BTreeMap::new();
        for (col, rc) in &raw_table.columns {
            let col_err = |message: String| SchemaError::Column { table: name.clone(), column: col.clone(), message };
            if !valid_name(col) {
                return Err(col_err("names are lower-case letters, digits and _".into()));
            }
            if col == "id" {
                return Err(col_err("`id` is implicit and assigned by the server".into()));
            }
            let declared_pii = match &rc.pii {
                Some(kind) => Some(PiiKind::parse(kind).ok_or_else(|| col_err(format!("unknown pii kind {kind:?}")))?),
                None => None,
            };
            if rc.index && rc.ty == ColumnType::Json {
                return Err(col_err("json columns cannot be indexed".into()));
            }
            if let Some(target) = &rc.references {
                if !raw.tables.contains_key(target) {
                    return Err(col_err(format!("references unknown table {target:?}")));
                }
                if rc.ty != ColumnType::Int {
                    return Err(col_err("a reference column must have type int".into()));
                }
            }
            if let Some(default) = &rc.default {
                let probe = Column { required: true, ..Column::plain(col, rc.ty) };
                validate::check_value(&probe, default).map_err(|e| col_err(format!("default: {}", e.message)))?;
            }
            if let Some(old) = &rc.renamed_from {
                if !valid_name(old) || old == col {
                    return Err(col_err(format!("renamed_from {old:?} must be another valid column name")));
                }
                if raw_table.columns.contains_key(old) {
                    return Err(col_err(format!("renamed_from {old:?} names a column the table still has")));
                }
            }
            columns.insert(
                col.clone(),
                Column {
                    name: col.clone(),
                    ty: rc.ty,
                    required: rc.required,
                    declared_pii,
                    secret: rc.secret,
                    references: rc.references.clone(),
                    index: rc.index || rc.references.is_some(),
                    renamed_from: rc.renamed_from.clone(),
                    default: rc.default.clone(),
                },
            );
        }
        if let Some(path) = &raw_table.owner_path {
            if columns.get(path).is_none_or(|c| c.references.is_none()) {
                return Err(table_err(&format!("owner_path {path:?} must name one of its reference columns")));
            }
        }
        tables.insert(
            name.clone(),
            Table {
                name: name.clone(),
                sensitive: raw_table.sensitive,
                plain_values: raw_table.plain_values,
                columns,
                renamed_from: raw_table.renamed_from.clone(),
                owner_path: raw_table.owner_path.clone(),
                hidden_data: false,
            },
        );
    }
    let mut views = BTreeMap::new();
    for (name, rv) in raw.views {
        let view_err = |message: String| SchemaError::View { view: name.clone(), message };
        if !valid_name(&name) {
            return Err(view_err("names are lower-case letters, digits and _".into()));
        }
        let table = tables.get(&rv.table).ok_or_else(|| view_err(format!("unknown table {:?}", rv.table)))?;
        let known = |c: &str| c == "id" || table.column(c).is_some_and(|col| !col.secret);
        let mut columns = match rv.columns {
            Some(cols) => cols,
            None => table.visible_columns().map(|c| c.name.clone()).collect(),
        };
        if let Some(bad) = columns.iter().find(|c| !known(c)) {
            return Err(view_err(format!("unknown column {bad:?}")));
        }
        if !columns.iter().any(|c| c == "id") {
            columns.insert(0, "id".into());
        }
        for (col, value) in &rv.filter {
            if !known(col) {
                return Err(view_err(format!("filter on unknown column {col:?}")));
            }
            if col != "id" {
                let column = &table.columns[col];
                validate::check_value(column, value).map_err(|e| view_err(format!("filter {col}: {}", e.message)))?;
            }
        }
        if rv.public_pii && !rv.public {
            return Err(view_err("public_pii = true needs public = true".into()));
        }
        if rv.public {
            if table.sensitive {
                return Err(view_err(format!("a public view cannot show the sensitive table {:?}", table.name)));
            }
            let pii = columns.iter().find(|c| table.column(c).is_some_and(|col| col.pii().is_some()));
            if let (Some(col), false) = (pii, rv.public_pii) {
                return Err(view_err(format!(
                    "public view shows the personal-data column {col:?}; remove it or set public_pii = true"
                )));
            }
        }
        let order = match rv.order {
            Some(spec) => {
                let (column, descending) = match spec.strip_prefix('-') {
                    Some(c) => (c.to_string(), true),
                    None => (spec.clone(), false),
                };
                if !known(&column) {
                    return Err(view_err(format!("order by unknown column {column:?}")));
                }
                Some(Order { column, descending })
            }
            None => None,
        };
        views
            .insert(name.clone(), View { name, table: rv.table, columns, filter: rv.filter, order, public: rv.public });
    }
    for table in raw.tables.iter().filter_map(|(name, t)| Some((name, t.renamed_from.as_ref()?))) {
        let (name, old) = table;
        if !valid_name(old) || old == name || raw.tables.contains_key(old) {
            return Err(SchemaError::Table {
                table: name.clone(),
                message: format!("renamed_from {old:?} must name a table the file no longer has"),
            });
        }
    }
    Ok(Schema { tables, views, hidden_referrers: Vec::new() })
}
