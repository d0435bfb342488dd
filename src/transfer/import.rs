//! `palisade import`: rows from CSV (a header row naming columns) or JSON lines, validated
//! exactly as a client's create is (`tables::import_row`), except that `id` and `created_at`
//! are kept when given. A run reads its files twice, so memory holds ids and references,
//! not rows: the first pass validates every line and collects the ids each file brings and
//! the references it makes; references are then checked against the store and against the
//! rows of the same run (a run of several tables is planned whole, in reference order);
//! the second pass sends the good rows to the store's writer in groups of [`GROUP`] rows
//! (`Op::InsertMany`: each group all or nothing, one group commit). With any bad line the
//! run writes nothing and reports every bad line (file, line, column, problem), unless
//! `skip_bad` — then the good rows go in (a row whose reference names a skipped row is
//! skipped too) and the bad ones are reported.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use super::csv::parse_cell;
use super::Format;
use crate::error::ApiError;
use crate::error::ErrorKind;
use crate::schema::{Schema, Table};
use crate::store::{Done, NewRow, Op, Store};
use crate::tables;

/// Rows per writer op.
pub const GROUP: usize = 10_000;

/// A run that could not be carried out at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no table named {0:?}")]
    UnknownTable(String),
    #[error("{0}: cannot tell the format; name the file .csv or .jsonl")]
    UnknownFormat(PathBuf),
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{table}: {imported} rows were imported before the store refused a group: {message}")]
    Write { table: String, imported: u64, message: String },
}

/// One line that was not imported.
#[derive(Debug, Clone, Serialize)]
pub struct BadLine {
    pub file: String,
    pub line: u64,
    pub column: Option<String>,
    pub problem: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(c) = &self.column {
            write!(f, "column {c}: ")?;
        }
        f.write_str(&self.problem)
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Rows written, per table.
    pub imported: BTreeMap<String, u64>,
    pub bad: Vec<BadLine>,
    /// Whether anything was written (false: a bad line stopped the run).
    pub written: bool,
}

/// One file of a run.
struct FilePlan<'s> {
    table: &'s Table,
    path: PathBuf,
    format: Format,
    bad: BTreeMap<u64, BadLine>,
    /// Ids the file's rows bring, with their line.
    ids: HashMap<u64, u64>,
    /// (line, column, target table, target id).
    refs: Vec<(u64, String, String, u64)>,
}

/// Imports one file into one table.
pub fn file(
    store: &Store,
    schema: &Schema,
    table: &str,
    path: &Path,
    format: Option<Format>,
    skip_bad: bool,
    now_ms: u64,
) -> Result<Report, ImportError> {
    let table = schema.tables.get(table).ok_or_else(|| ImportError::UnknownTable(table.to_string()))?;
    let format = format.or_else(|| Format::of_path(path)).ok_or_else(|| ImportError::UnknownFormat(path.into()))?;
    run(store, vec![plan(table, path, format, now_ms)?], skip_bad, now_ms)
}

/// Imports `DIR/<table>.csv|jsonl` for every file there, tables referenced first.
pub fn dir(store: &Store, schema: &Schema, dir: &Path, skip_bad: bool, now_ms: u64) -> Result<Report, ImportError> {
    let read = |e: std::io::Error| ImportError::Read { path: dir.into(), message: e.to_string() };
    let mut found: HashMap<String, (PathBuf, Format)> = HashMap::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        let Some(format) = Format::of_path(&path) else { continue };
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        if !schema.tables.contains_key(&stem) {
            return Err(ImportError::UnknownTable(format!("{stem} (file {})", path.display())));
        }
        found.insert(stem, (path, format));
    }
    let mut plans = Vec::new();
    for name in reference_order(schema) {
        if let Some((path, format)) = found.remove(&name) {
            plans.push(plan(&schema.tables[&name], &path, format, now_ms)?);
        }
    }
    run(store, plans, skip_bad, now_ms)
}

/// Table names, every table after the tables it references (cycles broken by name).
pub fn reference_order(schema: &Schema) -> Vec<String> {
    let mut done: Vec<String> = Vec::new();
    let mut left: Vec<&Table> = schema.tables.values().collect();
    while !left.is_empty() {
        let ready = |t: &&Table| {
            t.columns.values().filter_map(|c| c.references.as_ref()).all(|r| r == &t.name || done.contains(r))
        };
        let next = left.iter().position(ready).unwrap_or(0);
        done.push(left.remove(next).name.clone());
    }
    done
}

fn display(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The column an `ApiError` names (`column 'x'` in its message), if any.
fn column_of(e: &ApiError) -> Option<String> {
    let m = e.message.as_ref();
    let start = m.find("column '")? + "column '".len();
    let end = m[start..].find('\'')?;
    Some(m[start..start + end].to_string())
}

/// First pass over one file: every line validated, ids and references collected.
fn plan<'s>(table: &'s Table, path: &Path, format: Format, now_ms: u64) -> Result<FilePlan<'s>, ImportError> {
    let mut plan =
        FilePlan { table, path: path.into(), format, bad: BTreeMap::new(), ids: HashMap::new(), refs: Vec::new() };
    let file = display(path);
    for_each_row(table, path, format, |line, row| {
        let bad = |column, problem| BadLine { file: file.clone(), line, column, problem };
        let row = match row {
            Ok(row) => row,
            Err((column, problem)) => {
                plan.bad.insert(line, bad(column, problem));
                return;
            }
        };
        match tables::import_row(table, row, now_ms) {
            Err(e) => {
                plan.bad.insert(line, bad(column_of(&e), e.message.into_owned()));
            }
            Ok(new) => {
                if let Some(id) = new.row.get("id").and_then(Value::as_u64) {
                    if let Some(first) = plan.ids.insert(id, line) {
                        plan.bad.insert(line, bad(Some("id".into()), format!("id {id} is also on line {first}")));
                        plan.ids.insert(id, first);
                        return;
                    }
                }
                for r in new.refs {
                    plan.refs.push((line, r.column, r.table, r.id));
                }
            }
        }
    })?;
    Ok(plan)
}

/// Checks ids and references across the run, then writes (or not).
fn run(store: &Store, mut plans: Vec<FilePlan>, skip_bad: bool, now_ms: u64) -> Result<Report, ImportError> {
    let store_err = |e: crate::store::StoreError| ImportError::Read { path: "store".into(), message: e.to_string() };
    for p in &mut plans {
        for (&id, &line) in &p.ids {
            if store.row_exists(&p.table.name, id).map_err(store_err)? && !p.bad.contains_key(&line) {
                let problem = format!("a {} row with id {id} already exists", p.table.name);
                p.bad.insert(line, BadLine { file: display(&p.path), line, column: Some("id".into()), problem });
            }
        }
    }
    // A reference holds when its row is stored, or is a good row of this run; skipping a
    // bad row can break another's reference, so this runs until nothing changes.
    loop {
        let planned: HashMap<&str, HashSet<u64>> = plans
            .iter()
            .map(|p| {
                (
                    p.table.name.as_str(),
                    p.ids.iter().filter(|(_, l)| !p.bad.contains_key(l)).map(|(id, _)| *id).collect(),
                )
            })
            .collect();
        let mut broken = Vec::new();
        for (i, p) in plans.iter().enumerate() {
            for (line, column, target, id) in &p.refs {
                if p.bad.contains_key(line) || planned.get(target.as_str()).is_some_and(|s| s.contains(id)) {
                    continue;
                }
                if !store.row_exists(target, *id).map_err(store_err)? {
                    let problem = format!("no {target} row with id {id}");
                    broken.push((
                        i,
                        BadLine { file: display(&p.path), line: *line, column: Some(column.clone()), problem },
                    ));
                }
            }
        }
        if broken.is_empty() {
            break;
        }
        for (i, b) in broken {
            plans[i].bad.insert(b.line, b);
        }
    }
    let mut report = Report::default();
    for p in &plans {
        report.bad.extend(p.bad.values().cloned());
    }
    if !report.bad.is_empty() && !skip_bad {
        return Ok(report);
    }
    report.written = true;
    for p in &plans {
        let n = write(store, p, now_ms)?;
        report.imported.insert(p.table.name.clone(), n);
    }
    Ok(report)
}

/// Second pass: the good rows, sorted by id within each group, to the writer. One group is
/// in the writer while the next is read and validated (two cores: parsing overlaps sled's
/// work); a group is sent only after the one before it was stored, so a refused group stops
/// the run with every earlier group stored and no later one.
fn write(store: &Store, p: &FilePlan, now_ms: u64) -> Result<u64, ImportError> {
    let mut group: Vec<NewRow> = Vec::with_capacity(GROUP);
    let mut flight = InFlight::default();
    for_each_row(p.table, &p.path, p.format, |line, row| {
        if p.bad.contains_key(&line) {
            return;
        }
        let Ok(row) = row else { return };
        if let Ok(new) = tables::import_row(p.table, row, now_ms) {
            group.push(new);
        }
        if group.len() >= GROUP {
            flight.send(store, &p.table.name, std::mem::take(&mut group));
        }
    })?;
    flight.send(store, &p.table.name, group);
    flight.settle();
    match flight.failed {
        Some(message) => Err(ImportError::Write { table: p.table.name.clone(), imported: flight.imported, message }),
        None => Ok(flight.imported),
    }
}

/// The import's one group in the writer, if any.
#[derive(Default)]
struct InFlight {
    pending: Option<(u64, std::sync::mpsc::Receiver<Result<Done, ApiError>>)>,
    imported: u64,
    failed: Option<String>,
}

impl InFlight {
    /// Waits for the group in the writer and counts it (or keeps why it was refused).
    fn settle(&mut self) {
        if let Some((n, rx)) = self.pending.take() {
            match rx.recv().unwrap_or_else(|_| Err(ApiError::new(ErrorKind::StorageUnavailable))) {
                Ok(_) => self.imported += n,
                Err(e) => self.failed = Some(e.message.into_owned()),
            }
        }
    }

    /// Sends `group` once the group before it is stored; nothing after a refusal.
    fn send(&mut self, store: &Store, table: &str, mut group: Vec<NewRow>) {
        self.settle();
        if group.is_empty() || self.failed.is_some() {
            return;
        }
        group.sort_by_key(|r| r.row.get("id").and_then(Value::as_u64).unwrap_or(u64::MAX));
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.pending = Some((group.len() as u64, rx));
        store.submit(Op::InsertMany { table: table.to_string(), rows: group }, move |r| {
            let _ = tx.send(r);
        });
    }
}

type Parsed = Result<Map<String, Value>, (Option<String>, String)>;

/// Calls `f` with each data line's number and its row (or why it is not one).
fn for_each_row(table: &Table, path: &Path, format: Format, mut f: impl FnMut(u64, Parsed)) -> Result<(), ImportError> {
    let read = |message: String| ImportError::Read { path: path.into(), message };
    match format {
        Format::Jsonl => {
            use std::io::BufRead;
            let file = std::fs::File::open(path).map_err(|e| read(e.to_string()))?;
            let mut line_no = 0u64;
            for line in std::io::BufReader::with_capacity(1 << 20, file).split(b'\n') {
                line_no += 1;
                let line = line.map_err(|e| read(e.to_string()))?;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                f(
                    line_no,
                    match serde_json::from_slice::<Value>(&line) {
                        Ok(Value::Object(map)) => Ok(map),
                        Ok(_) => Err((None, "the line is not a JSON object".into())),
                        Err(e) => Err((None, format!("not JSON: {e}"))),
                    },
                );
            }
        }
        Format::Csv => {
            let mut reader = ::csv::ReaderBuilder::new()
                .has_headers(true)
                .buffer_capacity(1 << 20)
                .from_path(path)
                .map_err(|e| read(e.to_string()))?;
            let header = reader.headers().map_err(|e| read(format!("header row: {e}")))?.clone();
            let mut columns = Vec::with_capacity(header.len());
            for name in header.iter() {
                let name = name.trim();
                if name != "id" && table.column(name).is_none() {
                    return Err(read(format!("line 1: unknown column {name:?} in table {:?}", table.name)));
                }
                columns.push((name.to_string(), table.column(name)));
            }
            let mut record = ::csv::StringRecord::new();
            loop {
                let line = reader.position().line() + 1;
                match reader.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {
                        let line = record.position().map(|p| p.line()).unwrap_or(line);
                        f(line, csv_row(&columns, &record))
                    }
                    Err(e) => f(line, Err((None, format!("unreadable record: {e}")))),
                }
            }
        }
    }
    Ok(())
}

fn csv_row(columns: &[(String, Option<&crate::schema::Column>)], record: &::csv::StringRecord) -> Parsed {
    if record.len() != columns.len() {
        return Err((None, format!("{} cells, the header has {}", record.len(), columns.len())));
    }
    let mut row = Map::new();
    for ((name, column), text) in columns.iter().zip(record.iter()) {
        let value = match column {
            Some(c) => parse_cell(c, text).map_err(|e| (Some(name.clone()), e))?,
            None if text.is_empty() => None,
            None => Some(Value::from(
                text.trim().parse::<u64>().map_err(|_| (Some("id".into()), format!("{text:?} is not a row id")))?,
            )),
        };
        if let Some(v) = value {
            row.insert(name.clone(), v);
        }
    }
    Ok(row)
}
