//! The table schema (`data/schema.toml`): tables, typed columns, relations and saved views.
//!
//! Everything that serves rows (REST, GraphQL, the sandbox) reads table metadata from here,
//! so adding a column in the TOML file is all it takes to serve it. A schema that does not
//! make sense refuses to load, and the error names the table, column or view.

pub mod applied;
pub mod migrate;
pub mod owner;
mod parse;
mod pii;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

pub use pii::{PiiKind, PiiSource};
pub use validate::{parse_filter_value, WriteMode};

/// The schema shipped inside the binary (a copy of `data/schema.toml`).
pub const EMBEDDED_SCHEMA: &str = include_str!("../../data/schema.toml");

/// Names that can never be tables: the token store and route segments (layer 6 of the
/// sensitive-table defence: the token store is never a table, whatever the config says).
const RESERVED_TABLES: &[&str] = &["api_tokens", "tokens", "views", "graphql", "health"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    String,
    Int,
    Float,
    Bool,
    Date,
    Datetime,
    Json,
}

impl ColumnType {
    /// How the store compares and orders values of this type.
    pub fn kind(self) -> crate::store::Kind {
        use crate::store::Kind;
        match self {
            ColumnType::Int | ColumnType::Float => Kind::Number,
            ColumnType::Bool => Kind::Bool,
            ColumnType::Datetime => Kind::Instant,
            ColumnType::String | ColumnType::Date | ColumnType::Json => Kind::Text,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::Bool => "bool",
            ColumnType::Date => "date",
            ColumnType::Datetime => "datetime",
            ColumnType::Json => "json",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub required: bool,
    /// Declared PII kind (`pii = "…"`); see [`Column::pii_kind`] for the effective one.
    pub declared_pii: Option<PiiKind>,
    pub secret: bool,
    pub references: Option<String>,
    /// Equality filters on it go through an index (every reference column has one too).
    pub index: bool,
    /// Its name before a rename (`renamed_from = "old"`).
    pub renamed_from: Option<String>,
    /// Written into stored rows that lack it (`default = …`), when the column is added.
    pub default: Option<Value>,
}

/// The column the server stamps with the creation time of a row.
pub const CREATED_AT: &str = "created_at";

impl Column {
    /// A column with only a name and a type: optional, no marks, no instructions (to check
    /// a value against a type).
    pub fn plain(name: &str, ty: ColumnType) -> Self {
        Column {
            name: name.to_string(),
            ty,
            required: false,
            declared_pii: None,
            secret: false,
            references: None,
            index: false,
            renamed_from: None,
            default: None,
        }
    }

    /// Whether clients may write it: not a `secret` column (set only by the server or an
    /// administrator) nor a server-managed one (`created_at`, stamped on create).
    pub fn client_writable(&self) -> bool {
        !self.secret && !self.server_managed()
    }

    /// `created_at` of type `datetime`: set by the server when the row is created.
    pub fn server_managed(&self) -> bool {
        self.name == CREATED_AT && self.ty == ColumnType::Datetime
    }

    /// The PII kind this column carries and why (declared, or matched by name).
    pub fn pii(&self) -> Option<(PiiKind, PiiSource)> {
        if self.secret {
            return None;
        }
        match self.declared_pii {
            Some(kind) => Some((kind, PiiSource::Declared)),
            None if self.ty == ColumnType::String || self.ty == ColumnType::Date => {
                PiiKind::from_column_name(&self.name).map(|(k, pattern)| (k, PiiSource::Name(pattern)))
            }
            None => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub sensitive: bool,
    /// A key/value table (`name`/`key` + `value` columns) whose values are plain: rows whose
    /// key names a secret are then served as they are (see [`Table::key_value`]).
    pub plain_values: bool,
    /// Columns by name (sorted), `id` excluded.
    pub columns: BTreeMap<String, Column>,
    /// Its name before a rename (`renamed_from = "old"`).
    pub renamed_from: Option<String>,
    /// `owner_path = "column"`: the one reference column that leads to a row's owner, where
    /// the table has several (see `owner`).
    pub owner_path: Option<String>,
    /// Stored rows may hold keys the schema no longer declares (a dropped column whose data
    /// is kept until `palisade schema prune`): rows must then be presented, never sent as
    /// stored. Set at start by `schema::migrate`.
    pub hidden_data: bool,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.get(name)
    }

    /// For a key/value table (a string `name` or `key` column and a string `value` column,
    /// like `options`), those two columns — unless the schema marks its values `plain`.
    /// A row whose key names a secret (`*password*`, `*secret*`, `*token*`, `*api_key*`)
    /// has its value redacted for every token (see `api::rows`).
    pub fn key_value(&self) -> Option<(&str, &str)> {
        if self.plain_values {
            return None;
        }
        let text = |n: &str| self.column(n).is_some_and(|c| c.ty == ColumnType::String && !c.secret);
        let key = ["name", "key"].into_iter().find(|k| text(k))?;
        text("value").then_some((key, "value"))
    }

    /// Columns a client may see or filter on (`secret` ones are invisible everywhere).
    pub fn visible_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.values().filter(|c| !c.secret)
    }
}

/// Sort order of a view.
#[derive(Debug, Clone)]
pub struct Order {
    pub column: String,
    pub descending: bool,
}

#[derive(Debug, Clone)]
pub struct View {
    pub name: String,
    pub table: String,
    /// Columns shown (always includes `id`).
    pub columns: Vec<String>,
    /// Fixed equality filters.
    pub filter: BTreeMap<String, Value>,
    pub order: Option<Order>,
    /// Served without a token too (`public = true`), rate-limited per client address.
    pub public: bool,
}

#[derive(Debug, Clone)]
pub struct Schema {
    pub tables: BTreeMap<String, Table>,
    pub views: BTreeMap<String, View>,
    /// (table, column, target) references held by data the schema no longer declares (a
    /// dropped table or column): deleting a target row they name is still refused. Set at
    /// start by `schema::migrate`.
    pub hidden_referrers: Vec<(String, String, String)>,
}

/// Why a schema was refused.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot read schema {path}: {message}")]
    Read { path: String, message: String },
    #[error("schema: {0}")]
    Parse(String),
    #[error("schema: table {table}: {message}")]
    Table { table: String, message: String },
    #[error("schema: column {table}.{column}: {message}")]
    Column { table: String, column: String, message: String },
    #[error("schema: view {view}: {message}")]
    View { view: String, message: String },
}

impl Schema {
    /// Loads the schema file, or the embedded one when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, SchemaError> {
        match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| SchemaError::Read { path: p.display().to_string(), message: e.to_string() })?;
                Self::parse(&text)
            }
            None => Self::parse(EMBEDDED_SCHEMA),
        }
    }

    pub fn parse(text: &str) -> Result<Self, SchemaError> {
        parse::parse(text)
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    pub fn view(&self, name: &str) -> Option<&View> {
        self.views.get(name)
    }

    /// The views served without a token.
    pub fn public_views(&self) -> impl Iterator<Item = &View> {
        self.views.values().filter(|v| v.public)
    }

    /// The columns the store keeps an index for, by table.
    pub fn index_plan(&self) -> crate::store::IndexPlan {
        use crate::store::index::Indexed;
        let plan = self
            .tables
            .values()
            .map(|t| {
                let columns = t.columns.values().filter(|c| c.index);
                (t.name.clone(), columns.map(|c| Indexed { column: c.name.clone(), kind: c.ty.kind() }).collect())
            })
            .collect();
        crate::store::IndexPlan(plan)
    }

    /// Table names, every referenced table before the tables that reference it (a cycle's
    /// tables in name order): the order rows can be loaded in with their keys checked.
    pub fn tables_in_reference_order(&self) -> Vec<String> {
        let mut placed: Vec<String> = Vec::with_capacity(self.tables.len());
        let mut left: Vec<&Table> = self.tables.values().collect();
        while !left.is_empty() {
            let ready = left.iter().position(|t| {
                t.columns
                    .values()
                    .filter_map(|c| c.references.as_deref())
                    .all(|r| r == t.name || placed.iter().any(|p| p == r) || !self.tables.contains_key(r))
            });
            // A cycle: take the first by name and go on.
            let next = left.remove(ready.unwrap_or(0));
            placed.push(next.name.clone());
        }
        placed
    }

    /// The tables as the PostgreSQL backend creates them (see `store::pg::layout`).
    pub fn pg_layout(&self) -> crate::store::pg::layout::Layout {
        use crate::store::pg::layout::{ColumnDef, Layout, SqlType, TableDef};
        let ty = |t: ColumnType| match t {
            ColumnType::String => SqlType::Text,
            ColumnType::Int => SqlType::BigInt,
            ColumnType::Float => SqlType::Double,
            ColumnType::Bool => SqlType::Bool,
            ColumnType::Date => SqlType::Date,
            ColumnType::Datetime => SqlType::Timestamptz,
            ColumnType::Json => SqlType::Jsonb,
        };
        let tables = self.tables.values().map(|t| TableDef {
            name: t.name.clone(),
            columns: t
                .columns
                .values()
                .map(|c| ColumnDef {
                    name: c.name.clone(),
                    ty: ty(c.ty),
                    references: c.references.clone(),
                    indexed: c.index,
                    renamed_from: c.renamed_from.clone(),
                })
                .collect(),
            renamed_from: t.renamed_from.clone(),
        });
        Layout { tables: tables.collect() }
    }

    /// Every (table, column) whose column references `table`, hidden data included.
    pub fn referrers(&self, table: &str) -> Vec<(String, String)> {
        let declared = self.tables.values().flat_map(|t| {
            t.columns
                .values()
                .filter(|c| c.references.as_deref() == Some(table))
                .map(|c| (t.name.clone(), c.name.clone()))
        });
        let hidden = self.hidden_referrers.iter().filter(|(_, _, target)| target == table);
        declared.chain(hidden.map(|(t, c, _)| (t.clone(), c.clone()))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_schema_loads() {
        let s = Schema::parse(EMBEDDED_SCHEMA).unwrap();
        assert!(s.table("clients").is_some());
        assert!(s.table("staff").unwrap().sensitive);
        assert!(s.table("staff").unwrap().column("password_hash").unwrap().secret);
        assert_eq!(s.view("overdue_invoices").unwrap().table, "invoices");
    }

    #[test]
    fn bad_schemas_name_the_culprit() {
        let e = Schema::parse("[tables.a.columns]\nx = { type = \"strng\" }\n").unwrap_err();
        assert!(e.to_string().contains("strng"), "{e}");
        let e = Schema::parse("[tables.a.columns]\nx = { type = \"int\", references = \"b\" }\n").unwrap_err();
        assert!(e.to_string().contains("a.x"), "{e}");
        let e = Schema::parse("[tables.api_tokens.columns]\nx = { type = \"int\" }\n").unwrap_err();
        assert!(e.to_string().contains("api_tokens"), "{e}");
        let e =
            Schema::parse("[tables.a.columns]\nx = { type = \"int\" }\n[views.v]\ntable = \"a\"\ncolumns = [\"y\"]\n")
                .unwrap_err();
        assert!(e.to_string().contains("view v"), "{e}");
        let e = Schema::parse("[tables.a.columns]\nx = { type = \"string\", pii = \"shoe_size\" }\n").unwrap_err();
        assert!(e.to_string().contains("shoe_size"), "{e}");
    }

    #[test]
    fn public_views_refuse_personal_data_and_sensitive_tables() {
        let base = "[tables.a.columns]\nname = { type = \"string\" }\nemail = { type = \"string\" }\n\
                    [tables.s]\nsensitive = true\n[tables.s.columns]\nx = { type = \"int\" }\n";
        let with = |view: &str| Schema::parse(&format!("{base}{view}"));
        assert!(
            with("[views.v]\ntable = \"a\"\ncolumns = [\"name\"]\npublic = true\n").unwrap().view("v").unwrap().public
        );
        let e = with("[views.v]\ntable = \"a\"\npublic = true\n").unwrap_err();
        assert!(e.to_string().contains("\"email\"") && e.to_string().contains("public_pii"), "{e}");
        assert!(with("[views.v]\ntable = \"a\"\npublic = true\npublic_pii = true\n").is_ok());
        let e = with("[views.v]\ntable = \"s\"\npublic = true\n").unwrap_err();
        assert!(e.to_string().contains("sensitive"), "{e}");
        assert!(with("[views.v]\ntable = \"a\"\npublic_pii = true\n").is_err());
    }
}
