//! Table rows in sled: one tree per table, key = big-endian id, value = the row as JSON.
//!
//! Every write is a sled transaction (id sequence and row together, or a read-modify-write
//! of one row), so a crash leaves all of a write or none of it. Callers flush after a write
//! before acknowledging it.

use serde_json::{Map, Value};
use sled::transaction::{ConflictableTransactionError, Transactional};

use super::{Store, StoreError};
use crate::error::{ApiError, ErrorKind};

/// A row: column name → value, `id` included.
pub type Row = Map<String, Value>;

/// What a list asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Column → value it must equal.
    pub filters: Vec<(String, Value)>,
    pub offset: usize,
    pub limit: usize,
    /// Sort column and direction; `None` keeps id order.
    pub order: Option<(String, bool)>,
}

/// One page of a list and the total number of matching rows.
#[derive(Debug, Clone)]
pub struct Page {
    pub rows: Vec<Row>,
    pub total: usize,
}

fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

fn decode(bytes: &[u8]) -> Result<Row, StoreError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(StoreError::Corrupt("row is not a JSON object".into())),
    }
}

fn encode(row: &Row) -> Vec<u8> {
    serde_json::to_vec(row).unwrap_or_default()
}

/// Compares JSON values for ordering: numbers numerically, strings bytewise, nulls last.
fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (None | Some(Value::Null), None | Some(Value::Null)) => Equal,
        (None | Some(Value::Null), _) => Greater,
        (_, None | Some(Value::Null)) => Less,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Equal),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

fn matches(row: &Row, filters: &[(String, Value)]) -> bool {
    filters.iter().all(|(col, want)| match (row.get(col), want) {
        (Some(Value::Number(a)), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Some(v), w) => v == w,
        (None, _) => false,
    })
}

impl Store {
    fn rows_tree(&self, table: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(format!("rows:{table}"))?)
    }

    pub fn get_row(&self, table: &str, id: u64) -> Result<Option<Row>, StoreError> {
        match self.rows_tree(table)?.get(key(id))? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    pub fn row_exists(&self, table: &str, id: u64) -> Result<bool, StoreError> {
        Ok(self.rows_tree(table)?.contains_key(key(id))?)
    }

    /// Scans a table; returns the requested page and the number of matches.
    pub fn list_rows(&self, table: &str, q: &ListQuery) -> Result<Page, StoreError> {
        let tree = self.rows_tree(table)?;
        // Rows are stored as compact JSON, so `"column":value` must appear in a matching
        // row's bytes: a cheap pre-filter that spares decoding most rows of a filtered scan.
        let needles: Vec<(memchr::memmem::Finder<'static>, Vec<u8>)> = q
            .filters
            .iter()
            .filter(|(_, v)| v.is_string() || v.is_i64() || v.is_u64() || v.is_boolean())
            .map(|(k, v)| {
                let n = format!("{}:{}", Value::from(k.as_str()), v).into_bytes();
                (memchr::memmem::Finder::new(&n).into_owned(), n)
            })
            .collect();
        let candidate = |bytes: &[u8]| {
            needles.iter().all(|(finder, n)| {
                finder.find_iter(bytes).any(|at| matches!(bytes.get(at + n.len()), Some(b',' | b'}')))
            })
        };
        if q.order.is_none() {
            let mut rows = Vec::new();
            let mut total = 0;
            for item in tree.iter() {
                let (_, bytes) = item?;
                if !candidate(&bytes) {
                    continue;
                }
                let row = decode(&bytes)?;
                if matches(&row, &q.filters) {
                    if total >= q.offset && rows.len() < q.limit {
                        rows.push(row);
                    }
                    total += 1;
                }
            }
            return Ok(Page { rows, total });
        }
        let mut all = Vec::new();
        for item in tree.iter() {
            let (_, bytes) = item?;
            if !candidate(&bytes) {
                continue;
            }
            let row = decode(&bytes)?;
            if matches(&row, &q.filters) {
                all.push(row);
            }
        }
        if let Some((col, descending)) = &q.order {
            // Rows without a value come last in either direction.
            let missing = |r: &Row| r.get(col).is_none_or(Value::is_null);
            all.sort_by(|a, b| {
                let o = compare(a.get(col), b.get(col));
                match (missing(a), missing(b)) {
                    (false, false) if *descending => o.reverse(),
                    _ => o,
                }
            });
        }
        let total = all.len();
        let rows = all.into_iter().skip(q.offset).take(q.limit).collect();
        Ok(Page { rows, total })
    }

    /// Calls `f` with every row of a table.
    pub fn for_each_row(&self, table: &str, mut f: impl FnMut(&Row)) -> Result<(), StoreError> {
        for item in self.rows_tree(table)?.iter() {
            let (_, bytes) = item?;
            f(&decode(&bytes)?);
        }
        Ok(())
    }

    /// Whether any row of `table` has `column == id` (used before deleting a referenced row).
    pub fn any_row_with(&self, table: &str, column: &str, id: u64) -> Result<bool, StoreError> {
        let want = Value::from(id);
        for item in self.rows_tree(table)?.iter() {
            let (_, bytes) = item?;
            if matches(&decode(&bytes)?, &[(column.to_string(), want.clone())]) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Inserts a new row with the next id of the table, atomically.
    pub fn insert_row(&self, table: &str, row: Row) -> Result<Row, ApiError> {
        self.health.check_write()?;
        let tree = self.rows_tree(table)?;
        let seq_key = format!("seq:{table}");
        let stored = (&tree, &self.meta)
            .transaction(|(rows, meta)| {
                let last = meta
                    .get(seq_key.as_bytes())?
                    .map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8])))
                    .unwrap_or(0);
                let id = last + 1;
                meta.insert(seq_key.as_bytes(), &id.to_be_bytes())?;
                let mut full = row.clone();
                full.insert("id".into(), Value::from(id));
                rows.insert(&key(id), encode(&full))?;
                Ok(full)
            })
            .map_err(|e| self.tx_error(e))?;
        Ok(stored)
    }

    /// Replaces or merges a stored row inside one transaction. `update` receives the stored
    /// row and returns the new one; `Ok(None)` means there is no such row.
    pub fn update_row(
        &self,
        table: &str,
        id: u64,
        update: impl Fn(Row) -> Result<Row, ApiError>,
    ) -> Result<Option<Row>, ApiError> {
        self.health.check_write()?;
        let tree = self.rows_tree(table)?;
        tree.transaction(|rows| {
            let Some(bytes) = rows.get(key(id))? else { return Ok(None) };
            let current = decode(&bytes).map_err(|e| ConflictableTransactionError::Abort(e.into()))?;
            let mut next = update(current).map_err(ConflictableTransactionError::Abort)?;
            next.insert("id".into(), Value::from(id));
            rows.insert(&key(id), encode(&next))?;
            Ok(Some(next))
        })
        .map_err(|e| self.tx_error(e))
    }

    /// Deletes a row; `false` when there was none.
    pub fn delete_row(&self, table: &str, id: u64) -> Result<bool, StoreError> {
        self.health.check_write()?;
        Ok(self.health.observe(self.rows_tree(table)?.remove(key(id)))?.is_some())
    }

    /// Stores rows with given ids (seeding) and moves the sequence past them, in one batch.
    pub fn load_rows(&self, table: &str, rows: &[Row]) -> Result<(), ApiError> {
        self.health.check_write()?;
        let tree = self.rows_tree(table)?;
        let mut batch = sled::Batch::default();
        let mut max = 0;
        for row in rows {
            let id = row.get("id").and_then(Value::as_u64).ok_or_else(|| {
                ApiError::with_message(ErrorKind::Validation, format!("a {table} row has no integer id"))
            })?;
            max = max.max(id);
            batch.insert(&key(id), encode(row));
        }
        tree.apply_batch(batch).map_err(StoreError::from)?;
        self.meta.insert(format!("seq:{table}").as_bytes(), &max.to_be_bytes()).map_err(StoreError::from)?;
        Ok(())
    }

    /// Whether any table holds a row (a fresh data dir holds none).
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty() && self.tokens.is_empty()
    }
}
