//! The tables as PostgreSQL holds them: the schema's tables with real column types,
//! `REFERENCES … ON DELETE RESTRICT` (the store's own rule: a referenced row cannot be
//! deleted, 409), an index for every reference and `index = true` column, and one table of
//! system records (tokens, locks, counter snapshots, markers) keyed like sled's trees.
//!
//! The layout is described here in store terms and built by the schema layer (which the
//! store may not import), as [`super::super::IndexPlan`] is. Names come from the schema file,
//! never from a request; they are quoted all the same.
//!
//! A datetime is kept twice: as `timestamptz` (compared and ordered by instant, indexable)
//! and as the RFC 3339 text the client sent, in `<column>__text`, so a row reads back exactly
//! as it was written, as it does from sled.

use std::fmt::Write;

/// A column's PostgreSQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    BigInt,
    Double,
    Text,
    Bool,
    Date,
    Timestamptz,
    Jsonb,
}

impl SqlType {
    pub fn sql(self) -> &'static str {
        match self {
            SqlType::BigInt => "bigint",
            SqlType::Double => "double precision",
            SqlType::Text => "text",
            SqlType::Bool => "boolean",
            SqlType::Date => "date",
            SqlType::Timestamptz => "timestamptz",
            SqlType::Jsonb => "jsonb",
        }
    }
}

/// One column of a table (`id` is implicit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    /// The table whose `id` this column holds.
    pub references: Option<String>,
    pub indexed: bool,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
}

impl TableDef {
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Every table, in an order where a referenced table comes before its referrers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    pub tables: Vec<TableDef>,
}

/// The suffix of a datetime column's text twin.
pub const TEXT_TWIN: &str = "__text";

/// The system records' table (sled's `sys:` trees).
pub const SYS_TABLE: &str = "palisade_sys";

/// `name` as a quoted identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Layout {
    pub fn table(&self, name: &str) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The statements that create whatever is missing (idempotent: run at every start).
    /// Tables are created first, their foreign keys after, so reference cycles are fine.
    pub fn create_statements(&self) -> Vec<String> {
        let mut out = vec![format!(
            "CREATE TABLE IF NOT EXISTS {} (tree text NOT NULL, key bytea NOT NULL, value bytea NOT NULL, \
             PRIMARY KEY (tree, key))",
            ident(SYS_TABLE)
        )];
        for t in &self.tables {
            let mut sql = format!("CREATE TABLE IF NOT EXISTS {} (id bigint PRIMARY KEY", ident(&t.name));
            for c in &t.columns {
                let _ = write!(sql, ", {} {}", ident(&c.name), c.ty.sql());
                if c.ty == SqlType::Timestamptz {
                    let _ = write!(sql, ", {} text", ident(&format!("{}{TEXT_TWIN}", c.name)));
                }
            }
            sql.push(')');
            out.push(sql);
            out.push(format!("CREATE SEQUENCE IF NOT EXISTS {}", ident(&sequence(&t.name))));
        }
        for t in &self.tables {
            for c in &t.columns {
                if let Some(target) = &c.references {
                    let name = format!("{}_{}_fkey", t.name, c.name);
                    // No IF NOT EXISTS for constraints: added in a block that skips a duplicate.
                    out.push(format!(
                        "DO $$ BEGIN ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} (id) \
                         ON DELETE RESTRICT DEFERRABLE INITIALLY IMMEDIATE; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
                        ident(&t.name),
                        ident(&name),
                        ident(&c.name),
                        ident(target)
                    ));
                }
                if c.references.is_some() || c.indexed {
                    out.push(format!(
                        "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                        ident(&format!("{}_{}_idx", t.name, c.name)),
                        ident(&t.name),
                        ident(&c.name)
                    ));
                }
            }
        }
        out
    }
}

/// The sequence that hands out a table's ids.
pub fn sequence(table: &str) -> String {
    format!("{table}_id_seq")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_come_with_types_references_indexes_and_a_text_twin_for_datetimes() {
        let layout = Layout {
            tables: vec![
                TableDef {
                    name: "clients".into(),
                    columns: vec![
                        ColumnDef { name: "status".into(), ty: SqlType::Text, references: None, indexed: true },
                        ColumnDef { name: "seen".into(), ty: SqlType::Timestamptz, references: None, indexed: false },
                    ],
                },
                TableDef {
                    name: "invoices".into(),
                    columns: vec![ColumnDef {
                        name: "client_id".into(),
                        ty: SqlType::BigInt,
                        references: Some("clients".into()),
                        indexed: false,
                    }],
                },
            ],
        };
        let sql = layout.create_statements().join(";\n");
        assert!(sql.contains(r#"CREATE TABLE IF NOT EXISTS "clients" (id bigint PRIMARY KEY, "status" text, "seen" timestamptz, "seen__text" text)"#), "{sql}");
        assert!(sql.contains(r#"FOREIGN KEY ("client_id") REFERENCES "clients" (id) ON DELETE RESTRICT"#));
        assert!(sql.contains(r#"CREATE INDEX IF NOT EXISTS "invoices_client_id_idx" ON "invoices" ("client_id")"#));
        assert!(sql.contains(r#""clients_status_idx""#));
        assert_eq!(ident(r#"a"b"#), r#""a""b""#);
    }
}
