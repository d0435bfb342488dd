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
    /// Its name before a rename (`renamed_from`): renamed in place when the store opens.
    pub renamed_from: Option<String>,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Its name before a rename: renamed in place (keys and sequence follow) when the store
    /// opens.
    pub renamed_from: Option<String>,
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

    /// The statements that bring the database to the layout, idempotent (run at every
    /// start, in one transaction: a failure changes nothing): renames first (a table or
    /// column renamed in the schema is renamed in place, so its keys, indexes and foreign
    /// keys follow), then whatever tables, columns, sequences, keys and indexes are missing.
    /// Tables come before foreign keys, so reference cycles are fine. A dropped column or
    /// table stays until `schema prune`, as in the sled store.
    pub fn create_statements(&self) -> Vec<String> {
        let mut out = vec![format!(
            "CREATE TABLE IF NOT EXISTS {} (tree text NOT NULL, key bytea NOT NULL, value bytea NOT NULL, \
             PRIMARY KEY (tree, key))",
            ident(SYS_TABLE)
        )];
        for t in &self.tables {
            if let Some(old) = &t.renamed_from {
                out.push(format!(
                    "DO $$ BEGIN IF to_regclass({old_q}) IS NOT NULL AND to_regclass({new_q}) IS NULL THEN \
                     ALTER TABLE {old} RENAME TO {new}; \
                     ALTER SEQUENCE IF EXISTS {old_seq} RENAME TO {new_seq}; END IF; END $$",
                    old_q = literal(&ident(old)),
                    new_q = literal(&ident(&t.name)),
                    old = ident(old),
                    new = ident(&t.name),
                    old_seq = ident(&sequence(old)),
                    new_seq = ident(&sequence(&t.name)),
                ));
            }
            for c in &t.columns {
                let Some(old) = &c.renamed_from else { continue };
                let mut renames = vec![(old.clone(), c.name.clone())];
                if c.ty == SqlType::Timestamptz {
                    renames.push((format!("{old}{TEXT_TWIN}"), format!("{}{TEXT_TWIN}", c.name)));
                }
                for (from, to) in renames {
                    out.push(format!(
                        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = \
                         current_schema() AND table_name = {table} AND column_name = {from_q}) AND NOT EXISTS \
                         (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND \
                         table_name = {table} AND column_name = {to_q}) THEN ALTER TABLE {t} RENAME COLUMN {from} \
                         TO {to}; END IF; END $$",
                        table = literal(&t.name),
                        from_q = literal(&from),
                        to_q = literal(&to),
                        t = ident(&t.name),
                        from = ident(&from),
                        to = ident(&to),
                    ));
                }
            }
        }
        for t in &self.tables {
            out.push(format!("CREATE TABLE IF NOT EXISTS {} (id bigint PRIMARY KEY)", ident(&t.name)));
            for c in &t.columns {
                out.push(format!(
                    "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}",
                    ident(&t.name),
                    ident(&c.name),
                    c.ty.sql()
                ));
                if c.ty == SqlType::Timestamptz {
                    out.push(format!(
                        "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} text",
                        ident(&t.name),
                        ident(&format!("{}{TEXT_TWIN}", c.name))
                    ));
                }
            }
            out.push(format!("CREATE SEQUENCE IF NOT EXISTS {}", ident(&sequence(&t.name))));
        }
        for t in &self.tables {
            for c in &t.columns {
                if let Some(target) = &c.references {
                    let name = format!("{}_{}_fkey", t.name, c.name);
                    // No IF NOT EXISTS for constraints: added in a block that skips a duplicate.
                    out.push(format!(
                        "DO $$ BEGIN ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} (id) \
                         ON DELETE RESTRICT DEFERRABLE INITIALLY IMMEDIATE; EXCEPTION WHEN duplicate_object THEN \
                         NULL; END $$",
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

    /// The query that finds columns whose stored type is not the layout's: (table, column,
    /// stored type), converted by the migration (see [`Retype`]).
    pub fn type_check(&self) -> String {
        let mut expected = Vec::new();
        for t in &self.tables {
            for c in &t.columns {
                let udt = match c.ty {
                    SqlType::BigInt => "int8",
                    SqlType::Double => "float8",
                    SqlType::Text => "text",
                    SqlType::Bool => "bool",
                    SqlType::Date => "date",
                    SqlType::Timestamptz => "timestamptz",
                    SqlType::Jsonb => "jsonb",
                };
                expected.push(format!("({}, {}, {})", literal(&t.name), literal(&c.name), literal(udt)));
            }
        }
        if expected.is_empty() {
            return "SELECT ''::text, ''::text, ''::text WHERE FALSE".into();
        }
        format!(
            "SELECT c.table_name::text, c.column_name::text, c.udt_name::text FROM information_schema.columns c \
             JOIN (VALUES {}) AS e(t, col, udt) ON c.table_name = e.t AND c.column_name = e.col \
             WHERE c.table_schema = current_schema() AND c.udt_name <> e.udt",
            expected.join(", ")
        )
    }
}

/// A column whose stored type is not the layout's yet: the schema changed its type, and the
/// migration converts it (see [`retype_statements`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retype {
    pub table: String,
    pub column: String,
    /// The stored type, as PostgreSQL names it (`udt_name`: `text`, `int8`, …).
    pub from: String,
    pub to: SqlType,
}

/// The statements that convert a column to its new type, run inside the migration's first
/// rewrite of the table — after its read-only pass found that every stored value converts
/// by Palisade's rules (`schema::migrate::convert`), so each cast here only meets values
/// those rules accept, and gives what they give: text trimmed before a number, a date or
/// a boolean is read from it (`true/yes/1`, `false/no/0`), a date becomes midnight UTC, a
/// datetime keeps the text it was written as. A datetime column's text twin is filled
/// before the cast (from the old values) or dropped after it (a datetime no longer).
pub fn retype_statements(r: &Retype) -> Vec<String> {
    let (t, c) = (ident(&r.table), ident(&r.column));
    let twin = ident(&format!("{}{TEXT_TWIN}", r.column));
    let from_datetime = r.from == "timestamptz";
    // The old value as text, as the client wrote it (a datetime: its twin).
    let text = if from_datetime { twin.clone() } else { format!("{c}::text") };
    let trimmed = format!("trim({text})");
    let using = match r.to {
        // A whole float as JSON writes it (`100.0`; beyond 10^15 the exponent's form may differ).
        SqlType::Text if r.from == "float8" => {
            format!("CASE WHEN {c} = trunc({c}) AND abs({c}) < 1e15 THEN trunc({c})::bigint::text || '.0' ELSE {c}::text END")
        }
        SqlType::Text => text.clone(),
        SqlType::BigInt if r.from == "float8" => format!("{c}::bigint"),
        SqlType::BigInt => format!("{trimmed}::bigint"),
        SqlType::Double if r.from == "int8" => format!("{c}::double precision"),
        SqlType::Double => format!("{trimmed}::double precision"),
        SqlType::Bool if r.from == "int8" => format!("{c} <> 0"),
        SqlType::Bool => format!(
            "CASE lower({trimmed}) WHEN 'true' THEN true WHEN 'yes' THEN true WHEN '1' THEN true \
             WHEN 'false' THEN false WHEN 'no' THEN false WHEN '0' THEN false END"
        ),
        SqlType::Date => format!("{trimmed}::date"),
        SqlType::Timestamptz => format!("({})::timestamptz", datetime_text(&trimmed)),
        SqlType::Jsonb if from_datetime => format!("to_jsonb({twin})"),
        SqlType::Jsonb => format!("to_jsonb({c})"),
    };
    let mut out = Vec::new();
    if r.to == SqlType::Timestamptz {
        out.push(format!("UPDATE {t} SET {twin} = {} WHERE {c} IS NOT NULL", datetime_text(&trimmed)));
    }
    out.push(format!("ALTER TABLE {t} ALTER COLUMN {c} TYPE {} USING {using}", r.to.sql()));
    if from_datetime && r.to != SqlType::Timestamptz {
        out.push(format!("ALTER TABLE {t} DROP COLUMN IF EXISTS {twin}"));
    }
    out
}

/// A date or datetime text as the datetime it names (a date: midnight UTC).
fn datetime_text(trimmed: &str) -> String {
    format!("CASE WHEN length({trimmed}) = 10 THEN {trimmed} || 'T00:00:00Z' ELSE {trimmed} END")
}

/// `text` as an SQL string literal (names from the schema file, in DDL that cannot take
/// parameters).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
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
                        ColumnDef {
                            name: "status".into(),
                            ty: SqlType::Text,
                            references: None,
                            indexed: true,
                            renamed_from: Some("state".into()),
                        },
                        ColumnDef {
                            name: "seen".into(),
                            ty: SqlType::Timestamptz,
                            references: None,
                            indexed: false,
                            renamed_from: None,
                        },
                    ],
                    renamed_from: Some("customers".into()),
                },
                TableDef {
                    name: "invoices".into(),
                    columns: vec![ColumnDef {
                        name: "client_id".into(),
                        ty: SqlType::BigInt,
                        references: Some("clients".into()),
                        indexed: false,
                        renamed_from: None,
                    }],
                    renamed_from: None,
                },
            ],
        };
        let sql = layout.create_statements().join(";\n");
        assert!(sql.contains(r#"ALTER TABLE "clients" ADD COLUMN IF NOT EXISTS "seen__text" text"#), "{sql}");
        assert!(sql.contains(r#"ALTER TABLE "customers" RENAME TO "clients""#));
        assert!(sql.contains(r#"RENAME COLUMN "state" TO "status""#));
        assert!(sql.find("RENAME TO").unwrap() < sql.find("CREATE TABLE IF NOT EXISTS \"clients\"").unwrap());
        assert!(sql.contains(r#"FOREIGN KEY ("client_id") REFERENCES "clients" (id) ON DELETE RESTRICT"#));
        assert!(sql.contains(r#"CREATE INDEX IF NOT EXISTS "invoices_client_id_idx" ON "invoices" ("client_id")"#));
        assert!(sql.contains(r#""clients_status_idx""#));
        assert_eq!(ident(r#"a"b"#), r#""a""b""#);
    }
}
