//! `palisade export` and `palisade import`: rows out of and into tables, through the admin
//! socket while the server runs (so the live store's writer does every write), directly on
//! the store otherwise. Paths are made absolute first: the server may run elsewhere.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use clap::Args;
use serde_json::Value;

use super::admin_client::{call, call_stream};
use super::Context;
use crate::api::admin::AdminRequest;
use crate::transfer::Format;

#[derive(Debug, Args)]
pub struct ExportOpts {
    /// The table to write to standard output.
    #[arg(required_unless_present = "dir")]
    table: Option<String>,
    /// Write `<table>.<csv|jsonl>` for every table (or for TABLE) into this directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
}

#[derive(Debug, Args)]
pub struct ImportOpts {
    /// The table the rows go into.
    #[arg(requires = "file", conflicts_with = "dir")]
    table: Option<String>,
    /// A CSV file with a header row (`.csv`) or JSON lines (`.jsonl`).
    file: Option<PathBuf>,
    /// Import every `<table>.csv|jsonl` in this directory, referenced tables first.
    #[arg(long, value_name = "DIR", required_unless_present = "table")]
    dir: Option<PathBuf>,
    /// Import the good rows and report the bad ones (default: a bad line imports nothing).
    #[arg(long)]
    skip_bad: bool,
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("{}", path.display()))
}

pub fn export(cx: &Context, opts: &ExportOpts) -> anyhow::Result<()> {
    let dir = opts.dir.as_deref().map(absolute).transpose()?;
    let request = AdminRequest::Export { table: opts.table.clone(), format: opts.format, dir: dir.clone() };
    match dir {
        Some(_) => {
            let answer = call(cx, request)?;
            if let Some(rows) = answer["rows"].as_object() {
                for (table, n) in rows {
                    say!("{table}: {n} rows");
                }
            }
            eprintln!("palisade: the files hold every column, secret ones included; keep them private");
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdout.lock());
            call_stream(cx, request, &mut out)?;
        }
    }
    Ok(())
}

pub fn import(cx: &Context, opts: &ImportOpts) -> anyhow::Result<()> {
    let request = AdminRequest::Import {
        table: opts.table.clone(),
        file: opts.file.as_deref().map(absolute).transpose()?,
        dir: opts.dir.as_deref().map(absolute).transpose()?,
        skip_bad: opts.skip_bad,
    };
    let report = call(cx, request)?;
    let bad = report["bad"].as_array().cloned().unwrap_or_default();
    for line in &bad {
        let column = line["column"].as_str().map(|c| format!("column {c}: ")).unwrap_or_default();
        say!("{}:{}: {column}{}", text(&line["file"]), line["line"], text(&line["problem"]));
    }
    if let Some(imported) = report["imported"].as_object() {
        for (table, n) in imported {
            say!("{table}: {n} rows imported");
        }
    }
    match (report["written"].as_bool(), bad.len()) {
        (Some(true), 0) => Ok(()),
        (Some(true), n) => {
            say!("{n} bad lines skipped");
            Ok(())
        }
        (_, n) => Err(anyhow!("{n} bad lines; nothing was imported (--skip-bad imports the good rows)")),
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}
