//! `palisade schema pii [--json]`: which column carries which kind of personal data, and why.
//! `palisade schema openapi`: the whole OpenAPI document, offline (what a token with every
//! scope would see; `GET /api/v1/openapi.json` gives each token its own).

use clap::Subcommand;
use serde_json::json;

use super::Context;
use crate::api::openapi;
use crate::catalog::Catalog;
use crate::schema::PiiSource;

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// List PII columns with their kind and the reason (declared or matched by name).
    Pii {
        #[arg(long)]
        json: bool,
    },
    /// Print the OpenAPI 3.1 document of everything the server serves.
    Openapi,
}

pub fn run(cx: &Context, command: &SchemaCommand) -> anyhow::Result<()> {
    match command {
        SchemaCommand::Pii { json } => pii(cx, *json),
        SchemaCommand::Openapi => {
            let catalog = Catalog::new(std::sync::Arc::new(cx.schema.clone()), &cx.config.sensitive.expose);
            let doc = openapi::document(&catalog, openapi::Audience::Everyone, &cx.config.server.public_url);
            say!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
    }
}

fn pii(cx: &Context, json: bool) -> anyhow::Result<()> {
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
        if json {
            say!("{}", json!({"table": table, "column": column, "kind": kind, "reason": why}));
        } else {
            say!("{table}.{column}\t{kind}\t{why}");
        }
    }
    Ok(())
}
