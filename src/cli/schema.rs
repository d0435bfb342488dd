//! `palisade schema pii [--json]`: which column carries which kind of personal data, and why.

use clap::Subcommand;
use serde_json::json;

use super::Context;
use crate::schema::PiiSource;

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// List PII columns with their kind and the reason (declared or matched by name).
    Pii {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cx: &Context, command: &SchemaCommand) -> anyhow::Result<()> {
    let SchemaCommand::Pii { json } = command;
    let mut rows = Vec::new();
    for table in cx.schema.tables.values() {
        for column in table.columns.values() {
            if let Some((kind, source)) = column.pii() {
                let why = match source {
                    PiiSource::Declared => "declared".to_string(),
                    PiiSource::Name(p) => format!("name matches {p}"),
                };
                rows.push((table.name.clone(), column.name.clone(), kind.name(), why));
            }
        }
    }
    for (table, column, kind, why) in rows {
        if *json {
            println!("{}", json!({"table": table, "column": column, "kind": kind, "reason": why}));
        } else {
            println!("{table}.{column}\t{kind}\t{why}");
        }
    }
    Ok(())
}
