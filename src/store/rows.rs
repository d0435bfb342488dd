//! Table rows in sled: one tree per table (`rows:<table>`), key = big-endian id, value = the
//! row as compact JSON. This file is the read side (pages, filters, lookups), run on the
//! HTTP workers without any lock; every change goes through the writer (`writer`).

use serde_json::Value;

use super::codec::{decode, key, Row};
use super::{index, Store, StoreError};

/// What a list asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Column → value it must equal.
    pub filters: Vec<(String, Value)>,
    pub offset: usize,
    pub limit: usize,
    /// Sort column and direction; `None` keeps id order.
    pub order: Option<(String, bool)>,
    /// Keyset paging (CSV export): only rows with a larger id, and the scan stops once the
    /// page is full, so `total` is not counted. Ignored when `order` is set.
    pub after: Option<u64>,
}

impl ListQuery {
    /// Whether this query pages by id and stops at a full page (see [`ListQuery::after`]).
    fn keyset(&self) -> bool {
        self.after.is_some() && self.order.is_none()
    }
}

/// One page of a list and the total number of matching rows.
#[derive(Debug, Clone)]
pub struct Page {
    pub rows: Vec<Row>,
    pub total: usize,
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

/// Whether a row passes every equality filter (numbers compared as numbers).
pub fn filters_match(row: &Row, filters: &[(String, Value)]) -> bool {
    filters.iter().all(|(col, want)| match (row.get(col), want) {
        (Some(Value::Number(a)), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Some(v), w) => v == w,
        (None, _) => false,
    })
}

/// Collects a page from matching rows in id order, or sorts them first.
struct Collector<'q> {
    q: &'q ListQuery,
    rows: Vec<Row>,
    total: usize,
}

impl<'q> Collector<'q> {
    fn new(q: &'q ListQuery) -> Self {
        Self { q, rows: Vec::new(), total: 0 }
    }

    /// Whether a matching row at this position is on the page (always when sorting).
    fn wanted(&self) -> bool {
        self.q.order.is_some() || (self.total >= self.q.offset && self.rows.len() < self.q.limit)
    }

    /// A keyset page is complete: nothing further is read.
    fn full(&self) -> bool {
        self.q.keyset() && self.rows.len() >= self.q.limit
    }

    fn push(&mut self, row: Row) {
        if self.wanted() {
            self.rows.push(row);
        }
        self.total += 1;
    }

    fn finish(self) -> Page {
        let Some((col, descending)) = &self.q.order else { return Page { rows: self.rows, total: self.total } };
        let mut all = self.rows;
        // Rows without a value come last in either direction.
        let missing = |r: &Row| r.get(col).is_none_or(Value::is_null);
        all.sort_by(|a, b| {
            let o = compare(a.get(col), b.get(col));
            match (missing(a), missing(b)) {
                (false, false) if *descending => o.reverse(),
                _ => o,
            }
        });
        let total = all.len();
        Page { rows: all.into_iter().skip(self.q.offset).take(self.q.limit).collect(), total }
    }
}

impl Store {
    pub(crate) fn rows_tree(&self, table: &str) -> Result<sled::Tree, StoreError> {
        self.open_cached(&self.trees.rows, "rows:", table)
    }

    pub(crate) fn index_tree(&self, table: &str) -> Result<sled::Tree, StoreError> {
        self.open_cached(&self.trees.indexes, "idx:", table)
    }

    /// A table's tree, opened once and then served from a map (sled's own `open_tree`
    /// takes a lock and a name allocation every time).
    fn open_cached(
        &self,
        cache: &dashmap::DashMap<String, sled::Tree>,
        kind: &str,
        table: &str,
    ) -> Result<sled::Tree, StoreError> {
        if let Some(t) = cache.get(table) {
            return Ok(t.clone());
        }
        let tree = self.db.open_tree(format!("{kind}{table}"))?;
        cache.insert(table.to_string(), tree.clone());
        Ok(tree)
    }

    /// A row as stored (compact JSON), for callers that can send it as it is.
    pub fn get_row_bytes(&self, table: &str, id: u64) -> Result<Option<sled::IVec>, StoreError> {
        Ok(self.rows_tree(table)?.get(key(id))?)
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

    /// A page of a table: through an index when a filter is on an indexed column, by a scan
    /// otherwise.
    pub fn list_rows(&self, table: &str, q: &ListQuery) -> Result<Page, StoreError> {
        let indexed = q.filters.iter().enumerate().find_map(|(i, (col, value))| {
            self.indexes.has(table, col).then(|| index::prefix(col, value)).flatten().map(|p| (i, p))
        });
        match indexed {
            Some((i, prefix)) => self.list_indexed(table, q, i, &prefix),
            None => self.list_scan(table, q),
        }
    }

    fn list_indexed(&self, table: &str, q: &ListQuery, used: usize, prefix: &[u8]) -> Result<Page, StoreError> {
        let rows = self.rows_tree(table)?;
        let index = self.index_tree(table)?;
        let after = if q.keyset() { q.after.unwrap_or(0) } else { 0 };
        let ids = index.scan_prefix(prefix).keys().filter_map(|k| match k {
            Ok(k) => index::entry_id(prefix, &k).filter(|id| *id > after).map(Ok),
            Err(e) => Some(Err(e)),
        });
        let rest: Vec<(String, Value)> =
            q.filters.iter().enumerate().filter(|(i, _)| *i != used).map(|(_, f)| f.clone()).collect();
        if rest.is_empty() && q.order.is_none() {
            // The count key gives the total: only the page's rows are read.
            let total = index::count_value(index.get(prefix)?.as_deref()) as usize;
            let mut page = Vec::new();
            for id in ids.skip(q.offset).take(q.limit) {
                if let Some(bytes) = rows.get(key(id?))? {
                    page.push(decode(&bytes)?);
                }
            }
            return Ok(Page { rows: page, total });
        }
        let mut out = Collector::new(q);
        for id in ids {
            if out.full() {
                break;
            }
            let Some(bytes) = rows.get(key(id?))? else { continue };
            let row = decode(&bytes)?;
            if filters_match(&row, &rest) {
                out.push(row);
            }
        }
        Ok(out.finish())
    }

    fn list_scan(&self, table: &str, q: &ListQuery) -> Result<Page, StoreError> {
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
        let mut out = Collector::new(q);
        let unfiltered = q.filters.is_empty();
        let tree = self.rows_tree(table)?;
        let items = match q.after.filter(|_| q.keyset()) {
            Some(after) => tree.range(key(after.saturating_add(1))..),
            None => tree.iter(),
        };
        for item in items {
            if out.full() {
                break;
            }
            let (_, bytes) = item?;
            if unfiltered && !out.wanted() {
                // Counted, not decoded.
                out.total += 1;
                continue;
            }
            if !candidate(&bytes) {
                continue;
            }
            let row = decode(&bytes)?;
            if filters_match(&row, &q.filters) {
                out.push(row);
            }
        }
        Ok(out.finish())
    }

    /// Every row of a table as stored (compact JSON), in id order, read lazily.
    pub fn scan_rows(&self, table: &str) -> Result<impl Iterator<Item = Result<sled::IVec, StoreError>>, StoreError> {
        Ok(self.rows_tree(table)?.iter().values().map(|v| v.map_err(StoreError::from)))
    }

    /// Every table that has rows in the database, whether the schema declares it or not.
    pub fn row_tables(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for name in self.db.tree_names() {
            if let Some(table) = name.strip_prefix(b"rows:") {
                let table = String::from_utf8_lossy(table).into_owned();
                if !self.rows_tree(&table)?.is_empty() {
                    out.push(table);
                }
            }
        }
        Ok(out)
    }

    /// Calls `f` with every row of a table.
    pub fn for_each_row(&self, table: &str, mut f: impl FnMut(&Row)) -> Result<(), StoreError> {
        for item in self.rows_tree(table)?.iter() {
            let (_, bytes) = item?;
            f(&decode(&bytes)?);
        }
        Ok(())
    }
}
