//! `palisade export`: every row of a table (or of every table) as CSV or JSON lines, read
//! straight from the store in id order with bounded memory. This is the administrator's
//! copy: every declared column is written, `secret` ones included (so an export imports
//! back whole); columns the schema dropped but the store still keeps are left out.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::csv::Encoder;
use super::Format;
use crate::schema::{Schema, Table};
use crate::store::{Row, Store, StoreError};

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no table named {0:?}")]
    UnknownTable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Rows encoded before they are handed to the writer.
const FLUSH_BYTES: usize = 256 * 1024;

/// The columns of an export, in file order: `id`, then every declared column.
pub fn columns(table: &Table) -> Vec<String> {
    std::iter::once("id".to_string()).chain(table.columns.keys().cloned()).collect()
}

/// Writes every row of `table` to `out`; answers how many.
pub fn table(store: &Store, table: &Table, format: Format, out: &mut dyn Write) -> Result<u64, ExportError> {
    let io = |source| ExportError::Write { path: PathBuf::from("-"), source };
    let mut rows = 0u64;
    let mut buf = Vec::with_capacity(FLUSH_BYTES + 4096);
    let mut csv = Encoder::new(columns(table));
    if format == Format::Csv {
        csv.header().map_err(io)?;
    }
    for item in store.scan_rows(&table.name)? {
        let bytes = item?;
        match format {
            // Stored rows are compact JSON objects already: written as they are unless the
            // table keeps values of dropped columns.
            Format::Jsonl if !table.hidden_data => buf.extend_from_slice(&bytes),
            Format::Jsonl => {
                let row = declared_only(table, crate::store::decode_row(&bytes)?);
                serde_json::to_writer(&mut buf, &row).map_err(|e| io(e.into()))?;
            }
            Format::Csv => csv.row(&crate::store::decode_row(&bytes)?).map_err(io)?,
        }
        if format == Format::Jsonl {
            buf.push(b'\n');
        } else if rows % 512 == 0 {
            buf.extend_from_slice(&csv.take().map_err(io)?);
        }
        rows += 1;
        if buf.len() >= FLUSH_BYTES {
            out.write_all(&buf).map_err(io)?;
            buf.clear();
        }
    }
    buf.extend_from_slice(&csv.take().map_err(io)?);
    out.write_all(&buf).and_then(|()| out.flush()).map_err(io)?;
    Ok(rows)
}

fn declared_only(table: &Table, mut row: Row) -> Row {
    row.retain(|k, _| k == "id" || table.column(k).is_some());
    row
}

/// Writes `DIR/<table>.<csv|jsonl>` for every table of the schema (files mode 0600);
/// answers each table's row count.
pub fn dir(store: &Store, schema: &Schema, dir: &Path, format: Format) -> Result<Vec<(String, u64)>, ExportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut counts = Vec::new();
    for t in schema.tables.values() {
        let path = dir.join(format!("{}.{}", t.name, format.extension()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode_owner_only()
            .open(&path)
            .map_err(io(&path))?;
        let mut out = std::io::BufWriter::new(file);
        let n = table(store, t, format, &mut out).map_err(|e| match e {
            ExportError::Write { source, .. } => ExportError::Write { path: path.clone(), source },
            other => other,
        })?;
        counts.push((t.name.clone(), n));
    }
    Ok(counts)
}

/// Looks a table up by name.
pub fn find<'s>(schema: &'s Schema, name: &str) -> Result<&'s Table, ExportError> {
    schema.tables.get(name).ok_or_else(|| ExportError::UnknownTable(name.to_string()))
}

/// Files with the owner's permissions only (they hold every row).
trait OwnerOnly {
    fn mode_owner_only(&mut self) -> &mut Self;
}

impl OwnerOnly for std::fs::OpenOptions {
    fn mode_owner_only(&mut self) -> &mut Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            self.mode(0o600);
        }
        self
    }
}

/// A value as JSON text (for callers that print counts).
pub fn counts_json(counts: &[(String, u64)]) -> Value {
    Value::Object(counts.iter().map(|(t, n)| (t.clone(), Value::from(*n))).collect())
}
