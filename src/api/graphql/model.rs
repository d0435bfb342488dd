//! The GraphQL shape of the served tables, derived from `data/schema.toml` at start-up:
//! one object type per served table (`invoice_items` → `InvoiceItems`), a `Query` root with
//! a list field per table (`clients(limit, offset, COLUMN: value…)`), a by-id field
//! (`clients_by_id(id)`) and a field per saved view, and a `Mutation` root with
//! `create_<table>`, `update_<table>` and `delete_<table>`. Relations become fields both
//! ways: `invoices.client_id → clients` gives `Invoices.client` and `Clients.invoices`.
//! `secret` columns and unexposed sensitive tables are absent altogether.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::catalog::Catalog;
use crate::schema::ColumnType;

/// What a field returns, as the guards and the resolvers need to know.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    Id,
    /// A listed row's cursor (`_cursor`): pass it as `after` to continue after the row.
    CursorOf,
    Column(ColumnType),
    /// The row a reference column points at.
    Forward {
        column: String,
        table: String,
    },
    /// The rows of `table` whose `column` points here.
    Reverse {
        table: String,
        column: String,
    },
    /// Root: a page of a table.
    List {
        table: String,
    },
    /// Root: one row by id.
    ById {
        table: String,
    },
    /// Root: a saved view.
    View {
        view: String,
        table: String,
    },
    Create {
        table: String,
    },
    Update {
        table: String,
    },
    Delete {
        table: String,
    },
}

impl FieldKind {
    /// The object type the field leads to, and whether it is a list.
    pub fn target(&self) -> Option<(&str, bool)> {
        match self {
            FieldKind::Forward { table, .. } | FieldKind::ById { table } => Some((table, false)),
            FieldKind::Create { table } | FieldKind::Update { table } => Some((table, false)),
            FieldKind::Reverse { table, .. } | FieldKind::List { table } | FieldKind::View { table, .. } => {
                Some((table, true))
            }
            _ => None,
        }
    }

    /// The table the field reads or writes (exhaustive: a new kind must say).
    pub fn table(&self) -> Option<&str> {
        match self {
            FieldKind::Id | FieldKind::CursorOf | FieldKind::Column(_) => None,
            FieldKind::Forward { table, .. }
            | FieldKind::Reverse { table, .. }
            | FieldKind::List { table }
            | FieldKind::ById { table }
            | FieldKind::View { table, .. }
            | FieldKind::Create { table }
            | FieldKind::Update { table }
            | FieldKind::Delete { table } => Some(table),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ObjectType {
    pub name: String,
    /// The table behind it (empty for the roots).
    pub table: String,
    pub fields: BTreeMap<String, FieldKind>,
}

/// Every GraphQL type of the API, by type name.
pub struct Model {
    pub types: BTreeMap<String, ObjectType>,
    pub catalog: Arc<Catalog>,
}

pub const QUERY: &str = "Query";
/// Every table type's cursor field (a column of that name stays the column).
pub const CURSOR_FIELD: &str = "_cursor";
pub const MUTATION: &str = "Mutation";

/// `invoice_items` → `InvoiceItems`.
pub fn type_name(table: &str) -> String {
    table
        .split('_')
        .map(|part| {
            let mut c = part.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

impl Model {
    pub fn build(catalog: Arc<Catalog>) -> Self {
        let schema = &catalog.schema;
        let served: Vec<&str> =
            schema.tables.keys().map(String::as_str).filter(|t| catalog.table(t).is_some()).collect();
        let mut types = BTreeMap::new();
        let mut query = BTreeMap::new();
        let mut mutation = BTreeMap::new();
        for &t in &served {
            let table = &schema.tables[t];
            let mut fields = BTreeMap::new();
            fields.insert("id".to_string(), FieldKind::Id);
            fields.insert(CURSOR_FIELD.to_string(), FieldKind::CursorOf);
            for c in table.visible_columns() {
                fields.insert(c.name.clone(), FieldKind::Column(c.ty));
            }
            for c in table.visible_columns() {
                let Some(target) = c.references.as_deref().filter(|r| served.contains(r)) else { continue };
                let name = c.name.strip_suffix("_id").map(str::to_string).unwrap_or_else(|| format!("{}_row", c.name));
                fields.entry(name).or_insert(FieldKind::Forward { column: c.name.clone(), table: target.to_string() });
            }
            // Reverse relations: every served table with a column pointing here.
            for &other in &served {
                for c in schema.tables[other].visible_columns().filter(|c| c.references.as_deref() == Some(t)) {
                    let name =
                        if fields.contains_key(other) { format!("{other}_by_{}", c.name) } else { other.to_string() };
                    fields
                        .entry(name)
                        .or_insert(FieldKind::Reverse { table: other.to_string(), column: c.name.clone() });
                }
            }
            types.insert(type_name(t), ObjectType { name: type_name(t), table: t.to_string(), fields });
            query.insert(t.to_string(), FieldKind::List { table: t.to_string() });
            query.insert(format!("{t}_by_id"), FieldKind::ById { table: t.to_string() });
            mutation.insert(format!("create_{t}"), FieldKind::Create { table: t.to_string() });
            mutation.insert(format!("update_{t}"), FieldKind::Update { table: t.to_string() });
            mutation.insert(format!("delete_{t}"), FieldKind::Delete { table: t.to_string() });
        }
        for (name, view) in &schema.views {
            if catalog.view(name).is_some() {
                query.entry(name.clone()).or_insert(FieldKind::View { view: name.clone(), table: view.table.clone() });
            }
        }
        types.insert(QUERY.into(), ObjectType { name: QUERY.into(), table: String::new(), fields: query });
        types.insert(MUTATION.into(), ObjectType { name: MUTATION.into(), table: String::new(), fields: mutation });
        Self { types, catalog }
    }

    /// The field `name` of type `type_name`.
    pub fn field(&self, type_name_: &str, name: &str) -> Option<&FieldKind> {
        self.types.get(type_name_)?.fields.get(name)
    }
}
