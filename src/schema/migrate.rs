//! Bringing a store's rows to the schema file: the plan of [`super::applied`] carried out.
//!
//! `serve` calls [`apply`] before it serves anything: a refused change stops the start with
//! the key to add; a value that does not convert stops it naming table, row id, column and
//! the problem, and nothing is changed (every conversion is checked in a read-only pass
//! first); otherwise renames, defaults and conversions are written by the store's writer in
//! batches ([`Op::Transform`], [`Op::MoveRows`]), and the new [`Applied`] record last. Every
//! rewrite is idempotent (a renamed value is moved only while the old key is there, a default
//! fills only a missing value, a converted value already has its type), so a crash mid-way is
//! finished by the next start, with nothing lost or doubled. `schema check` runs the same
//! plan and the same read-only pass without writing ([`check`]); `schema prune` deletes what
//! dropped columns and tables left behind ([`prune`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use super::applied::{self, Action, Applied, AppliedColumn, Change, Verdict, APPLIED_KEY};
use super::{validate, ColumnType, Schema};
use crate::store::{Done, Op, Row, RowMap, Store, StoreError, SysTree};

/// Rows rewritten per writer batch by `schema prune`, which may run while the server serves:
/// a batch holds the writer for a few tens of milliseconds.
pub const BATCH: usize = 10_000;

/// Rows rewritten per writer batch at start, before anything is served: larger batches mean
/// fewer durable flushes.
pub const START_BATCH: usize = 50_000;

/// Why the file's schema cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("the schema file cannot be applied to the stored data: {0}; nothing was changed")]
    Refused(String),
    #[error(
        "table {table}, row {id}, column {column}: {problem}; nothing was changed (fix the value or the schema file)"
    )]
    Value { table: String, id: u64, column: String, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("migration write failed: {0}")]
    Write(String),
}

/// What a start would do, as `schema check` reports it.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Whether the next start would succeed.
    pub ok: bool,
    pub changes: Vec<CountedChange>,
    /// Why it would not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A change and the rows it touches.
#[derive(Debug, Serialize)]
pub struct CountedChange {
    #[serde(flatten)]
    pub change: Change,
    pub rows: u64,
}

/// The record a store holds, if it recorded one.
pub fn stored(store: &Store) -> Result<Option<Applied>, StoreError> {
    match store.sys_get(SysTree::Meta, APPLIED_KEY)? {
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| StoreError::Corrupt(e.to_string())),
        None => Ok(None),
    }
}

/// The store's record, or — for rows written before stores recorded their schema — one
/// made from the file and the rows themselves: keys the file does not declare become
/// columns of unknown type (then planned as dropped), values of another type make their
/// column's type unknown (then planned as a checked conversion).
fn current(store: &Store, schema: &Schema) -> Result<Applied, StoreError> {
    if let Some(applied) = stored(store)? {
        return Ok(applied);
    }
    let mut applied = Applied::of(schema);
    applied.version = 0;
    for table in store.row_tables()? {
        let entry = applied.tables.entry(table.clone()).or_default();
        let declared = schema.table(&table);
        store.for_each_row(&table, |row| {
            for (key, value) in row.iter().filter(|(k, _)| *k != "id") {
                let column = entry.columns.entry(key.clone()).or_insert(AppliedColumn {
                    ty: None,
                    hidden: false,
                    references: None,
                });
                let fits = declared.and_then(|t| t.column(key)).is_none_or(|c| {
                    value.is_null()
                        || validate::check_value(&super::Column { required: false, ..c.clone() }, value).is_ok()
                });
                if !fits {
                    column.ty = None;
                }
            }
        })?;
    }
    Ok(applied)
}

/// What one table's rows need: renames, then defaults, then conversions.
#[derive(Debug, Default, Clone)]
struct Rewrite {
    renames: Vec<(String, String)>,
    fills: Vec<(String, Value)>,
    converts: Vec<(String, ColumnType)>,
}

impl Rewrite {
    fn is_empty(&self) -> bool {
        self.renames.is_empty() && self.fills.is_empty() && self.converts.is_empty()
    }

    /// The row as the new schema wants it (`Ok(None)`: already so), or the column whose
    /// value does not convert.
    fn row(&self, row: &Row) -> Result<Option<Row>, (String, String)> {
        let mut next = row.clone();
        let mut changed = false;
        for (from, to) in &self.renames {
            if let Some(v) = next.remove(from) {
                changed = true;
                if next.get(to).is_none_or(Value::is_null) {
                    next.insert(to.clone(), v);
                }
            }
        }
        for (column, value) in &self.fills {
            if next.get(column).is_none_or(Value::is_null) {
                changed = true;
                next.insert(column.clone(), value.clone());
            }
        }
        for (column, ty) in &self.converts {
            if let Some(v) = next.get_mut(column).filter(|v| !v.is_null()) {
                let converted = convert(v, *ty).map_err(|problem| (column.clone(), problem))?;
                if converted != *v {
                    changed = true;
                    *v = converted;
                }
            }
        }
        Ok(changed.then_some(next))
    }
}

/// One value as type `to`, or why it cannot be.
pub fn convert(value: &Value, to: ColumnType) -> Result<Value, String> {
    let shown = || crate::redact::truncate(&value.to_string(), 40).to_string();
    let fits = |v: &Value| validate::check_value(&super::Column::plain("", to), v).is_ok();
    if fits(value) {
        return Ok(value.clone());
    }
    let text = value.as_str().map(str::trim);
    let converted = match to {
        ColumnType::String => Some(Value::from(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })),
        ColumnType::Json => Some(value.clone()),
        ColumnType::Int => match value {
            Value::Number(n) => {
                n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| Value::from(f as i64))
            }
            _ => text.and_then(|t| t.parse::<i64>().ok()).map(Value::from),
        },
        ColumnType::Float => text.and_then(|t| t.parse::<f64>().ok()).filter(|f| f.is_finite()).map(Value::from),
        ColumnType::Bool => match text.map(str::to_ascii_lowercase).as_deref() {
            Some("true" | "yes" | "1") => Some(Value::Bool(true)),
            Some("false" | "no" | "0") => Some(Value::Bool(false)),
            _ => value.as_i64().filter(|n| *n == 0 || *n == 1).map(|n| Value::Bool(n == 1)),
        },
        ColumnType::Date => text.map(Value::from),
        ColumnType::Datetime => {
            text.map(|t| if t.len() == 10 { Value::from(format!("{t}T00:00:00Z")) } else { Value::from(t) })
        }
    };
    match converted {
        Some(v) if fits(&v) => Ok(v),
        _ => Err(format!("value {} is not a valid {}", shown(), to.name())),
    }
}

/// The rewrites each table needs, by the table's (new) name; table renames apart.
fn rewrites(changes: &[Change]) -> (BTreeMap<String, Rewrite>, Vec<(String, String)>) {
    let mut by_table: BTreeMap<String, Rewrite> = BTreeMap::new();
    let mut moves = Vec::new();
    for c in changes.iter().filter(|c| c.verdict == Verdict::Migrate) {
        let entry = by_table.entry(c.table.clone()).or_default();
        match (&c.action, &c.column) {
            (Action::Rename { from }, None) => moves.push((from.clone(), c.table.clone())),
            (Action::Rename { from }, Some(col)) => entry.renames.push((from.clone(), col.clone())),
            (Action::Fill { value }, Some(col)) => entry.fills.push((col.clone(), value.clone())),
            (Action::Convert { to, .. }, Some(col)) => entry.converts.push((col.clone(), *to)),
            _ => {}
        }
    }
    by_table.retain(|_, r| !r.is_empty());
    (by_table, moves)
}

/// The rows a table holds under its name now or, for a rename not yet carried out, the
/// old one (a read-only pass sees them where they are).
fn source_table<'a>(table: &'a str, moves: &'a [(String, String)]) -> impl Iterator<Item = &'a str> {
    std::iter::once(table).chain(moves.iter().filter(move |(_, to)| to == table).map(|(from, _)| from.as_str()))
}

/// Checks every value a rewrite converts; the first that does not convert is the error.
fn check_values(
    store: &Store,
    by_table: &BTreeMap<String, Rewrite>,
    moves: &[(String, String)],
) -> Result<(), MigrateError> {
    for (table, rewrite) in by_table.iter().filter(|(_, r)| !r.converts.is_empty()) {
        for source in source_table(table, moves) {
            let mut failure = None;
            store.for_each_row(source, |row| {
                if failure.is_none() {
                    if let Err((column, problem)) = rewrite.row(row) {
                        let id = row.get("id").and_then(Value::as_u64).unwrap_or_default();
                        failure = Some(MigrateError::Value { table: table.clone(), id, column, problem });
                    }
                }
            })?;
            if let Some(f) = failure {
                return Err(f);
            }
        }
    }
    Ok(())
}

fn refused(changes: &[Change]) -> Option<String> {
    let refused: Vec<String> = changes
        .iter()
        .filter(|c| c.verdict == Verdict::Refused)
        .map(|c| {
            format!("{}{}: {}", c.table, c.column.as_ref().map(|c| format!(".{c}")).unwrap_or_default(), c.message)
        })
        .collect();
    (!refused.is_empty()).then(|| refused.join("; "))
}

/// Marks what the store holds beyond the file on the schema served: tables whose rows keep
/// dropped columns (never sent as stored) and references held by hidden data.
fn mark(schema: &mut Schema, applied: &Applied) {
    for table in schema.tables.values_mut() {
        table.hidden_data = applied.has_hidden_columns(&table.name);
    }
    schema.hidden_referrers = applied.hidden_referrers();
}

/// Applies the file's schema to the store (see the module docs); the schema comes back
/// marked with what hidden data remains. Returns the changes applied.
pub fn apply(store: &Store, schema: &mut Schema) -> Result<Vec<Change>, MigrateError> {
    let before = current(store, schema)?;
    let changes = applied::plan(&before, schema);
    if changes.is_empty() && before.version > 0 {
        mark(schema, &before);
        return Ok(changes);
    }
    if let Some(why) = refused(&changes) {
        return Err(MigrateError::Refused(why));
    }
    let (by_table, moves) = rewrites(&changes);
    check_values(store, &by_table, &moves)?;
    let write = |op: Op| store.write_blocking(op).map_err(|e| MigrateError::Write(e.message.into_owned()));
    for (from, to) in &moves {
        while let Done::Progress(Some(_)) =
            write(Op::MoveRows { from: from.clone(), to: to.clone(), limit: START_BATCH })?
        {}
    }
    for (table, rewrite) in by_table {
        let started = std::time::Instant::now();
        let rewrite = Arc::new(rewrite);
        let change: RowMap = Arc::new(move |row: &Row| rewrite.row(row).ok().flatten());
        let mut after = 0;
        while let Done::Progress(Some(last)) =
            write(Op::Transform { table: table.clone(), after, limit: START_BATCH, change: change.clone() })?
        {
            after = last;
        }
        tracing::info!(table = %table, ms = started.elapsed().as_millis() as u64, "schema migration: rows rewritten");
    }
    let after = applied::next(&before, schema);
    let record = serde_json::to_vec(&after).map_err(|e| MigrateError::Write(e.to_string()))?;
    write(Op::Put { tree: SysTree::Meta, entries: vec![(APPLIED_KEY.to_vec(), record)] })?;
    for c in &changes {
        let column = c.column.as_deref().unwrap_or("-");
        match c.action {
            Action::Hide => tracing::warn!(table = %c.table, column, "schema change: {}", c.message),
            _ => tracing::info!(table = %c.table, column, "schema change: {}", c.message),
        }
    }
    mark(schema, &after);
    Ok(changes)
}

/// What [`apply`] would do, with the rows each change touches; writes nothing.
pub fn check(store: &Store, schema: &Schema) -> Result<Report, MigrateError> {
    let before = current(store, schema)?;
    let changes = applied::plan(&before, schema);
    let (by_table, moves) = rewrites(&changes);
    let error = match refused(&changes) {
        Some(why) => Some(MigrateError::Refused(why).to_string()),
        None => check_values(store, &by_table, &moves).err().map(|e| e.to_string()),
    };
    let mut counted = Vec::new();
    for change in changes {
        let rows = affected(store, &change, &moves)?;
        counted.push(CountedChange { change, rows });
    }
    Ok(Report { ok: error.is_none(), changes: counted, error })
}

/// How many stored rows a change touches.
fn affected(store: &Store, c: &Change, moves: &[(String, String)]) -> Result<u64, StoreError> {
    let mut n = 0;
    let tables: Vec<&str> = source_table(&c.table, moves).collect();
    for table in tables {
        store.for_each_row(table, |row| {
            let counts = match (&c.action, c.column.as_deref()) {
                (_, None) => true,
                (Action::Rename { from }, Some(_)) => row.get(from).is_some_and(|v| !v.is_null()),
                (Action::Fill { .. }, Some(col)) => row.get(col).is_none_or(Value::is_null),
                (Action::Add | Action::Mark, Some(_)) => false,
                (_, Some(col)) => row.get(col).is_some_and(|v| !v.is_null()),
            };
            n += u64::from(counts);
        })?;
    }
    Ok(n)
}

/// What `schema prune` deletes (or would, with `dry_run`): the values of dropped columns
/// and the rows of dropped tables. Returns (table, column or `None` for the whole table,
/// rows touched).
pub fn prune(
    store: &Store,
    schema: &Schema,
    dry_run: bool,
) -> Result<Vec<(String, Option<String>, u64)>, MigrateError> {
    let Some(mut applied) = stored(store)? else { return Ok(Vec::new()) };
    if !applied::plan(&applied, schema).is_empty() {
        return Err(MigrateError::Refused(
            "the schema file has changes the store has not applied yet: start the server once (or run `palisade schema check`) before pruning".into(),
        ));
    }
    let mut out = Vec::new();
    let write = |op: Op| store.write_blocking(op).map_err(|e| MigrateError::Write(e.message.into_owned()));
    for (name, table) in applied.tables.clone() {
        if table.hidden {
            let mut rows = 0;
            store.for_each_row(&name, |_| rows += 1)?;
            out.push((name.clone(), None, rows));
            if !dry_run {
                write(Op::DropTable { table: name.clone() })?;
                applied.tables.remove(&name);
            }
            continue;
        }
        let hidden: BTreeSet<String> = table.columns.iter().filter(|(_, c)| c.hidden).map(|(k, _)| k.clone()).collect();
        for column in &hidden {
            let mut rows = 0;
            store.for_each_row(&name, |row| rows += u64::from(row.contains_key(column)))?;
            out.push((name.clone(), Some(column.clone()), rows));
        }
        if dry_run || hidden.is_empty() {
            continue;
        }
        let strip = Arc::new(hidden.clone());
        let change: RowMap = Arc::new(move |row: &Row| {
            row.keys().any(|k| strip.contains(k)).then(|| {
                row.iter()
                    .filter(|(k, _)| !strip.contains(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Map<_, _>>()
            })
        });
        let mut after = 0;
        while let Done::Progress(Some(last)) =
            write(Op::Transform { table: name.clone(), after, limit: BATCH, change: change.clone() })?
        {
            after = last;
        }
        write(Op::DropColumns { table: name.clone(), columns: hidden.iter().cloned().collect() })?;
        if let Some(t) = applied.tables.get_mut(&name) {
            t.columns.retain(|k, _| !hidden.contains(k));
        }
    }
    if !dry_run {
        applied.version += 1;
        let record = serde_json::to_vec(&applied).map_err(|e| MigrateError::Write(e.to_string()))?;
        write(Op::Put { tree: SysTree::Meta, entries: vec![(APPLIED_KEY.to_vec(), record)] })?;
    }
    Ok(out)
}
