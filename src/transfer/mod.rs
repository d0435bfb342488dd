//! Moving rows in and out in bulk: CSV cells ([`csv`]), `palisade export` ([`export`]) and
//! `palisade import` ([`import`]). Exports read the store directly (reads need no writer);
//! imports are validated by `tables` like any client write and written by the store's
//! writer in large all-or-nothing groups (`Op::InsertMany`), so an import is one more
//! client of the one write path, never a side door into sled.

pub mod csv;
pub mod export;
pub mod import;

/// How rows are written to (or read from) a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A header row, then one record a row (RFC 4180 quoting, UTF-8).
    Csv,
    /// One JSON object a line.
    Jsonl,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    /// The format a file's name says (`.csv`, `.jsonl`/`.ndjson`), if any.
    pub fn of_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}
