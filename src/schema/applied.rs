//! The schema a data dir was last served with, and what it takes to serve the file's.
//!
//! The store keeps an [`Applied`] record (`sys:meta`, key `schema:applied`): every table and
//! column the rows may hold — those the file declares, and those it dropped whose data is
//! kept until `palisade schema prune` — with their types. At start the file is compared with
//! it ([`plan`]), the way Django or atlas diff two declared states: each difference is a
//! [`Change`] that is safe (applied at once), needs data rewritten under an instruction the
//! file gives (`renamed_from`, `default`, a type change with a checked conversion), or is
//! refused with the key to add. The plan is pure: `schema check` prints it, `serve` applies
//! it (see `migrate`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ColumnType, Schema};

/// One column as the store holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedColumn {
    /// `None`: found in rows written before the store recorded its schema (type unknown).
    pub ty: Option<ColumnType>,
    /// The file no longer declares it; its values stay on disk, never served.
    #[serde(default)]
    pub hidden: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
}

/// One table as the store holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppliedTable {
    pub columns: BTreeMap<String, AppliedColumn>,
    /// The file no longer declares the table; its rows stay on disk, never served.
    #[serde(default)]
    pub hidden: bool,
}

/// The schema a store's rows were written under.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// Counts applied changes (0 for a store that never recorded one).
    pub version: u64,
    pub tables: BTreeMap<String, AppliedTable>,
}

/// The meta key the record lives under.
pub const APPLIED_KEY: &[u8] = b"schema:applied";

impl Applied {
    /// The record of a store whose rows were all written under `schema`.
    pub fn of(schema: &Schema) -> Self {
        let tables = schema
            .tables
            .values()
            .map(|t| {
                let columns = t
                    .columns
                    .values()
                    .map(|c| {
                        let column = AppliedColumn { ty: Some(c.ty), hidden: false, references: c.references.clone() };
                        (c.name.clone(), column)
                    })
                    .collect();
                (t.name.clone(), AppliedTable { columns, hidden: false })
            })
            .collect();
        Self { version: 1, tables }
    }

    /// Hidden columns of visible tables, and every column of hidden tables, that reference a
    /// table: (table, column, target).
    pub fn hidden_referrers(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for (name, table) in &self.tables {
            for (column, c) in &table.columns {
                if let (true, Some(target)) = (table.hidden || c.hidden, &c.references) {
                    out.push((name.clone(), column.clone(), target.clone()));
                }
            }
        }
        out
    }

    /// Whether the rows of `table` may hold keys the file does not declare.
    pub fn has_hidden_columns(&self, table: &str) -> bool {
        self.tables.get(table).is_some_and(|t| t.columns.values().any(|c| c.hidden))
    }
}

/// What one change does to the data.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// A new table, or a new optional column: nothing to write.
    Add,
    /// Marks only (pii, secret, sensitive, index, required → optional, references): nothing to write.
    Mark,
    /// Dropped from the file: kept on disk, served nowhere (`schema prune` deletes it).
    Hide,
    /// Declared again after a drop: its kept data is served again.
    Restore,
    /// Values move from `from` to the column (or rows from table `from`).
    Rename { from: String },
    /// Rows that lack the column get this value.
    Fill { value: Value },
    /// Every value converts from one type to the other (checked before anything is written).
    Convert { from: Option<ColumnType>, to: ColumnType },
}

/// How a change can be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Applied at once (logged).
    Safe,
    /// Rewrites rows, as the file's instruction says; applied once, resumable.
    Migrate,
    /// Cannot be applied: the message names what to add to the schema file.
    Refused,
}

/// One difference between the store's schema and the file's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub table: String,
    /// `None`: the change is about the whole table.
    pub column: Option<String>,
    #[serde(flatten)]
    pub action: Action,
    pub verdict: Verdict,
    pub message: String,
}

fn change(table: &str, column: Option<&str>, action: Action, verdict: Verdict, message: String) -> Change {
    Change { table: table.into(), column: column.map(String::from), action, verdict, message }
}

/// Whether values of type `from` can be converted to `to` (each value is still checked).
pub fn convertible(from: Option<ColumnType>, to: ColumnType) -> bool {
    use ColumnType::*;
    match (from, to) {
        (Some(a), b) if a == b => true,
        (None, _) | (_, String) | (_, Json) => true,
        (Some(String), Int | Float | Bool | Date | Datetime) => true,
        (Some(Int), Float) | (Some(Float), Int) | (Some(Date), Datetime) => true,
        _ => false,
    }
}

/// The changes that take a store holding `applied` to the file's `schema`, table by table.
pub fn plan(applied: &Applied, schema: &Schema) -> Vec<Change> {
    let mut out = Vec::new();
    for (name, table) in &schema.tables {
        let stored = match (applied.tables.get(name), &table.renamed_from) {
            (Some(t), _) => {
                if t.hidden {
                    out.push(change(
                        name,
                        None,
                        Action::Restore,
                        Verdict::Safe,
                        "declared again: its rows are served again".into(),
                    ));
                }
                t.clone()
            }
            (None, Some(old)) if applied.tables.contains_key(old) => {
                let message = format!("rows move from table {old} (renamed_from)");
                out.push(change(name, None, Action::Rename { from: old.clone() }, Verdict::Migrate, message));
                applied.tables[old].clone()
            }
            (None, _) => {
                out.push(change(name, None, Action::Add, Verdict::Safe, "new table".into()));
                AppliedTable::default()
            }
        };
        for (col, column) in &table.columns {
            let stored_col = stored.columns.get(col);
            let renamed =
                column.renamed_from.as_ref().filter(|old| stored_col.is_none() && stored.columns.contains_key(*old));
            let source = stored_col.or_else(|| renamed.and_then(|old| stored.columns.get(old)));
            if let Some(old) = renamed {
                let message = format!("values move from column {old} (renamed_from)");
                out.push(change(name, Some(col), Action::Rename { from: old.clone() }, Verdict::Migrate, message));
            }
            match source {
                None => {
                    let (action, verdict, message) = match (&column.default, column.required) {
                        (Some(value), _) => (
                            Action::Fill { value: value.clone() },
                            Verdict::Migrate,
                            format!("new column; stored rows get its default {value}"),
                        ),
                        (None, false) => (Action::Add, Verdict::Safe, "new optional column".into()),
                        (None, true) => (
                            Action::Add,
                            Verdict::Refused,
                            format!(
                                "new required column: add `default = …` to {name}.{col} (written into stored rows) or make it optional"
                            ),
                        ),
                    };
                    out.push(change(name, Some(col), action, verdict, message));
                }
                Some(s) => {
                    if s.hidden && renamed.is_none() {
                        out.push(change(
                            name,
                            Some(col),
                            Action::Restore,
                            Verdict::Safe,
                            "declared again: its kept values are served again".into(),
                        ));
                    }
                    if s.ty != Some(column.ty) {
                        let (verdict, message) = if convertible(s.ty, column.ty) {
                            (
                                Verdict::Migrate,
                                format!(
                                    "type {} → {}: every stored value is converted (checked first)",
                                    s.ty.map_or("unknown", ColumnType::name),
                                    column.ty.name()
                                ),
                            )
                        } else {
                            (
                                Verdict::Refused,
                                format!(
                                    "type {} → {} has no conversion: keep the old type, or add a new column and drop this one",
                                    s.ty.map_or("unknown", ColumnType::name),
                                    column.ty.name()
                                ),
                            )
                        };
                        out.push(change(
                            name,
                            Some(col),
                            Action::Convert { from: s.ty, to: column.ty },
                            verdict,
                            message,
                        ));
                    }
                    if column.required && column.default.is_some() && s.hidden {
                        let value = column.default.clone().unwrap_or(Value::Null);
                        out.push(change(
                            name,
                            Some(col),
                            Action::Fill { value },
                            Verdict::Migrate,
                            "rows that lack it get its default".into(),
                        ));
                    }
                }
            }
        }
        for (col, s) in &stored.columns {
            let renamed_away = table.columns.values().any(|c| c.renamed_from.as_deref() == Some(col.as_str()))
                && !table.columns.contains_key(col);
            if !table.columns.contains_key(col) && !s.hidden && !renamed_away {
                let message =
                    "dropped: its values are kept on disk and served nowhere; `palisade schema prune` deletes them"
                        .into();
                out.push(change(name, Some(col), Action::Hide, Verdict::Safe, message));
            }
        }
    }
    for (name, t) in &applied.tables {
        let renamed_away = schema.tables.values().any(|n| n.renamed_from.as_deref() == Some(name.as_str()))
            && !schema.tables.contains_key(name);
        if !schema.tables.contains_key(name) && !t.hidden && !renamed_away {
            let message =
                "dropped: its rows are kept on disk and served nowhere; `palisade schema prune` deletes them".into();
            out.push(change(name, None, Action::Hide, Verdict::Safe, message));
        }
    }
    out
}

/// The record after `schema` is applied over `applied`: the file's tables and columns, plus
/// everything dropped, marked hidden (until pruned).
pub fn next(applied: &Applied, schema: &Schema) -> Applied {
    let mut out = Applied::of(schema);
    out.version = applied.version + 1;
    let renamed_tables: Vec<&str> = schema.tables.values().filter_map(|t| t.renamed_from.as_deref()).collect();
    for (name, old) in &applied.tables {
        match out.tables.get_mut(name) {
            Some(table) => {
                let renamed: Vec<&str> =
                    schema.tables[name].columns.values().filter_map(|c| c.renamed_from.as_deref()).collect();
                for (col, c) in &old.columns {
                    if !table.columns.contains_key(col) && !renamed.contains(&col.as_str()) {
                        table.columns.insert(col.clone(), AppliedColumn { hidden: true, ..c.clone() });
                    }
                }
            }
            None if renamed_tables.contains(&name.as_str()) => {}
            None => {
                let columns =
                    old.columns.iter().map(|(k, c)| (k.clone(), AppliedColumn { hidden: true, ..c.clone() })).collect();
                out.tables.insert(name.clone(), AppliedTable { columns, hidden: true });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(columns: &str) -> Schema {
        Schema::parse(&format!("[tables.t.columns]\n{columns}\n[tables.u.columns]\nx = {{ type = \"int\" }}\n"))
            .unwrap()
    }

    fn kinds(changes: &[Change]) -> Vec<(Option<&str>, &Action, Verdict)> {
        changes.iter().filter(|c| c.table == "t").map(|c| (c.column.as_deref(), &c.action, c.verdict)).collect()
    }

    #[test]
    fn an_unchanged_file_plans_nothing() {
        let s = schema("a = { type = \"string\" }");
        assert!(plan(&Applied::of(&s), &s).is_empty());
    }

    #[test]
    fn each_change_gets_its_verdict() {
        let before =
            Applied::of(&schema("a = { type = \"string\" }\nb = { type = \"string\" }\nc = { type = \"int\" }"));
        let after = schema(
            "a2 = { type = \"string\", renamed_from = \"a\" }\nc = { type = \"string\" }\n\
             d = { type = \"int\" }\ne = { type = \"bool\", required = true, default = false }\n\
             f = { type = \"date\", required = true }",
        );
        let changes = plan(&before, &after);
        let got = kinds(&changes);
        assert!(got.contains(&(Some("a2"), &Action::Rename { from: "a".into() }, Verdict::Migrate)), "{got:?}");
        assert!(got.contains(&(Some("b"), &Action::Hide, Verdict::Safe)), "{got:?}");
        assert!(got.contains(&(
            Some("c"),
            &Action::Convert { from: Some(ColumnType::Int), to: ColumnType::String },
            Verdict::Migrate
        )));
        assert!(got.contains(&(Some("d"), &Action::Add, Verdict::Safe)));
        assert!(got.contains(&(Some("e"), &Action::Fill { value: Value::Bool(false) }, Verdict::Migrate)));
        let refused = changes.iter().find(|c| c.column.as_deref() == Some("f")).unwrap();
        assert_eq!(refused.verdict, Verdict::Refused);
        assert!(refused.message.contains("default"), "{}", refused.message);
        assert!(!got.iter().any(|(c, _, _)| *c == Some("a")), "a rename is not also a drop: {got:?}");
        let next = next(&before, &after);
        assert!(next.tables["t"].columns["b"].hidden && !next.tables["t"].columns.contains_key("a"));
        assert!(plan(&next, &after).iter().all(|c| c.verdict != Verdict::Migrate || c.column.as_deref() == Some("e")));
    }

    #[test]
    fn tables_drop_rename_and_come_back() {
        let two = schema("a = { type = \"string\" }");
        let applied = Applied::of(&two);
        let one = Schema::parse("[tables.t.columns]\na = { type = \"string\" }\n").unwrap();
        let changes = plan(&applied, &one);
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].table.as_str(), &changes[0].action), ("u", &Action::Hide));
        let hidden = next(&applied, &one);
        assert!(hidden.tables["u"].hidden);
        let back = plan(&hidden, &two);
        assert_eq!(back[0].action, Action::Restore);
        let renamed =
            Schema::parse("[tables.t.columns]\na = { type = \"string\" }\n[tables.v]\nrenamed_from = \"u\"\n[tables.v.columns]\nx = { type = \"int\" }\n")
                .unwrap();
        let changes = plan(&applied, &renamed);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].action, Action::Rename { from: "u".into() });
        assert!(!next(&applied, &renamed).tables.contains_key("u"));
    }

    #[test]
    fn conversions_without_a_rule_are_refused() {
        assert!(convertible(Some(ColumnType::String), ColumnType::Int));
        assert!(convertible(Some(ColumnType::Bool), ColumnType::String));
        assert!(!convertible(Some(ColumnType::Bool), ColumnType::Date));
        assert!(!convertible(Some(ColumnType::Json), ColumnType::Int));
    }
}
