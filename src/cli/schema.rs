//! `palisade schema check [--json]`: what the next start would do with the schema file.
//! `palisade schema prune [--dry-run]`: deletes the kept data of dropped columns and tables.
//! `palisade schema pii [--json]`: which column carries which kind of personal data, and why.
//! `palisade schema openapi`: the whole OpenAPI document, offline (what a token with every
//! scope would see; `GET /api/v1/openapi.json` gives each token its own).

use clap::Subcommand;
use serde_json::json;

use super::admin_client::call;
use super::Context;
use crate::api::admin::AdminRequest;
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
    /// What the next start would do with the schema file: each change, safe, migrated or
    /// refused, and the rows it touches. Exit 0 when the start would succeed.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Delete for good the data of columns and tables the schema file no longer has.
    Prune {
        /// Only say what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

impl SchemaCommand {
    /// Whether it reads the data dir (`check`, `prune`), not only the schema file.
    pub fn needs_store(&self) -> bool {
        match self {
            SchemaCommand::Check { .. } | SchemaCommand::Prune { .. } => true,
            SchemaCommand::Pii { .. } | SchemaCommand::Openapi => false,
        }
    }
}

pub fn run(cx: &Context, command: &SchemaCommand) -> anyhow::Result<()> {
    match command {
        SchemaCommand::Pii { json } => pii(cx, *json),
        SchemaCommand::Check { json } => check(cx, *json),
        SchemaCommand::Prune { dry_run } => prune(cx, *dry_run),
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

fn check(cx: &Context, json: bool) -> anyhow::Result<()> {
    let schema_file = cx.schema_file.as_ref().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
    let report = call(cx, AdminRequest::SchemaCheck { schema_file })?;
    let ok = report["ok"] == true;
    if json {
        say!("{report}");
    } else {
        let changes = report["changes"].as_array().cloned().unwrap_or_default();
        if changes.is_empty() {
            say!("no change: the schema file is what the data dir was last served with");
        }
        for c in changes {
            let place = match c["column"].as_str() {
                Some(col) => format!("{}.{col}", c["table"].as_str().unwrap_or("?")),
                None => c["table"].as_str().unwrap_or("?").to_string(),
            };
            let verdict = c["verdict"].as_str().unwrap_or("?");
            say!("{place:<32} {verdict:<8} {:>8} rows  {}", c["rows"], c["message"].as_str().unwrap_or(""));
        }
        match report["error"].as_str() {
            Some(e) => say!("the next start would fail: {e}"),
            None => say!("the next start would succeed"),
        }
    }
    if !ok {
        anyhow::bail!("the next start would fail");
    }
    Ok(())
}

fn prune(cx: &Context, dry_run: bool) -> anyhow::Result<()> {
    let answer = call(cx, AdminRequest::SchemaPrune { dry_run })?;
    let pruned = answer["pruned"].as_array().cloned().unwrap_or_default();
    if pruned.is_empty() {
        say!("nothing to prune: the data dir holds no dropped column or table");
    }
    let verb = if dry_run { "would delete" } else { "deleted" };
    for p in pruned {
        match p["column"].as_str() {
            Some(col) => say!("{verb} {}.{col} ({} rows held a value)", p["table"].as_str().unwrap_or("?"), p["rows"]),
            None => say!("{verb} table {} ({} rows)", p["table"].as_str().unwrap_or("?"), p["rows"]),
        }
    }
    Ok(())
}
