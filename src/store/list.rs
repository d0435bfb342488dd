//! Reading a page of a table for a [`ListQuery`]: which rows, in which order, and how many
//! match. Three ways in, the cheapest that serves the query:
//!
//! - **An ordered walk over an index**, when the order is one indexed column: its entries
//!   are already in value order (see `index`), so a range filter on that column narrows the
//!   walk, a cursor starts it at its position, and the walk stops at a full page — page 500
//!   costs what page 1 costs.
//! - **Ids from an index**, when a filter is an equality, `in` or a range on an indexed
//!   column: only the rows those entries name are read (in id order).
//! - **A scan** of the table in id order otherwise: rows are pre-filtered on their bytes
//!   before being decoded, and an `order` on an unindexed column keeps only the best
//!   `offset + limit` rows in a heap (bounded memory; the cost is a read of every row).
//!
//! `total` comes from the counts the index keeps (rows per table, entries per value) when
//! the filters allow it — no filter, or one equality / `in` / null test on an indexed
//! column; a range on one indexed column counts its keys — and otherwise from the scan that
//! reads every candidate anyway.

use std::ops::Bound;

use serde_json::Value;

use super::codec::{decode, key};
use super::index::{self, column_start, count_key_of, count_value, entry, entry_id, prefix};
use super::order::Kind;
use super::pager::{Page, Pager};
use super::query::{Cmp, Filter, ListQuery, OrderBy};
use super::{Store, StoreError};

type Key = Vec<u8>;

/// A key range of one column's entries.
#[derive(Debug, Clone)]
struct Span {
    lo: Bound<Key>,
    hi: Bound<Key>,
}

impl Span {
    fn is_empty(&self) -> bool {
        match (&self.lo, &self.hi) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
            | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
            _ => false,
        }
    }

    /// Narrows the span by a lower bound (the larger wins).
    fn raise(&mut self, lo: Bound<Key>) {
        let tighter = match (&self.lo, &lo) {
            (Bound::Unbounded, _) => true,
            (_, Bound::Unbounded) => false,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b)) => b > a,
            (Bound::Included(a), Bound::Excluded(b)) => b >= a,
            (Bound::Excluded(a), Bound::Excluded(b)) => b > a,
        };
        if tighter {
            self.lo = lo;
        }
    }

    /// Narrows the span by an upper bound (the smaller wins).
    fn lower(&mut self, hi: Bound<Key>) {
        let tighter = match (&self.hi, &hi) {
            (Bound::Unbounded, _) => true,
            (_, Bound::Unbounded) => false,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b)) => b < a,
            (Bound::Included(a), Bound::Excluded(b)) => b <= a,
            (Bound::Excluded(a), Bound::Excluded(b)) => b < a,
        };
        if tighter {
            self.hi = hi;
        }
    }
}

/// The last possible entry of a value (ids are below 2^63).
fn value_end(prefix: &[u8]) -> Key {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&[0xFF; 8]);
    k
}

/// The non-null and null entries of `column` that the filters on it can match, as spans.
fn column_spans(column: &str, kind: Kind, filters: &[Filter]) -> (Option<Span>, Option<Span>) {
    let start = column_start(column);
    let null = prefix(column, kind, None);
    let mut end = start.clone();
    *end.last_mut().unwrap_or(&mut 0) = 0x01;
    let mut values = Span { lo: Bound::Included(start), hi: Bound::Excluded(null.clone()) };
    let mut nulls = Some(Span { lo: Bound::Included(null), hi: Bound::Excluded(end) });
    let mut some_values = true;
    for f in filters.iter().filter(|f| f.column == column) {
        match (f.cmp, f.not) {
            (Cmp::IsNull, false) => some_values = false,
            (Cmp::IsNull, true) => nulls = None,
            // Any other test fails on null.
            _ => nulls = None,
        }
        if f.not {
            continue;
        }
        let p = || prefix(column, kind, f.values.first());
        match f.cmp {
            Cmp::Eq => {
                values.raise(Bound::Included(p()));
                values.lower(Bound::Included(value_end(&p())));
            }
            Cmp::Gt => values.raise(Bound::Excluded(value_end(&p()))),
            Cmp::Gte => values.raise(Bound::Included(p())),
            Cmp::Lt => values.lower(Bound::Excluded(p())),
            Cmp::Lte => values.lower(Bound::Included(value_end(&p()))),
            _ => {}
        }
    }
    ((some_values && !values.is_empty()).then_some(values), nulls)
}

impl Pager<'_> {
    /// Offers the rows `ids` name (a missing one is skipped: removed since its entry was
    /// read); stops at a full page when the total is `known` without reading on.
    fn fill(
        &mut self,
        rows: &sled::Tree,
        ids: impl Iterator<Item = Result<u64, StoreError>>,
        known: Option<usize>,
    ) -> Result<(), StoreError> {
        for id in ids {
            if known.is_some() && self.full() {
                break;
            }
            if let Some(bytes) = rows.get(key(id?))? {
                self.offer(decode(&bytes)?);
            }
        }
        Ok(())
    }
}

impl Store {
    /// How many rows a table has (kept by the writer in the table's index tree).
    pub fn row_count(&self, table: &str) -> Result<u64, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.row_count(table);
        }
        Ok(count_value(self.index_tree(table)?.get(index::ROWS_KEY)?.as_deref()))
    }

    /// A page of a table (see the module docs for the way each query takes).
    pub fn list_rows(&self, table: &str, q: &ListQuery) -> Result<Page, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.list_rows(table, q);
        }
        let known = if q.skip_total { Some(0) } else { self.counted_total(table, &q.filters)? };
        if let [order] = q.order.as_slice() {
            if self.indexes.kind(table, &order.column) == Some(order.kind) {
                return self.list_ordered(table, q, order, known);
            }
        }
        let by_id = q
            .filters
            .iter()
            .find(|f| f.column == "id" && !f.not && (f.cmp == Cmp::Eq || f.cmp == Cmp::In || f.cmp.is_range()));
        if let Some(f) = by_id {
            return self.list_by_id(table, q, f, known);
        }
        let driver = q.filters.iter().find(|f| {
            !f.not
                && self.indexes.kind(table, &f.column) == Some(f.kind)
                && (f.cmp == Cmp::Eq || f.cmp == Cmp::In || f.cmp.is_range())
        });
        // (`order=-id` without one is the rows tree read backwards: `list_scan`.)
        match driver {
            Some(f) => self.list_by_ids(table, q, f, known),
            None => self.list_scan(table, q, known),
        }
    }

    /// The total from the index's counts, where the filters allow it.
    fn counted_total(&self, table: &str, filters: &[Filter]) -> Result<Option<usize>, StoreError> {
        let Some(first) = filters.first() else { return Ok(Some(self.row_count(table)? as usize)) };
        let Some(kind) = self.indexes.kind(table, &first.column).filter(|k| *k == first.kind) else { return Ok(None) };
        if filters.iter().any(|f| f.column != first.column) {
            return Ok(None);
        }
        let idx = self.index_tree(table)?;
        let count = |value: Option<&Value>| -> Result<usize, StoreError> {
            let key = count_key_of(&prefix(&first.column, kind, value));
            Ok(count_value(idx.get(key)?.as_deref()) as usize)
        };
        match (filters, first.cmp, first.not) {
            ([_], Cmp::Eq, false) => Ok(Some(count(first.values.first())?)),
            ([_], Cmp::In, false) => {
                let mut distinct: Vec<Key> =
                    first.values.iter().map(|v| prefix(&first.column, kind, Some(v))).collect();
                distinct.sort();
                distinct.dedup();
                let mut n = 0;
                for p in distinct {
                    n += count_value(idx.get(count_key_of(&p))?.as_deref()) as usize;
                }
                Ok(Some(n))
            }
            ([_], Cmp::IsNull, false) => Ok(Some(count(None)?)),
            _ if filters.iter().all(|f| !f.not && (f.cmp.is_range() || f.cmp == Cmp::Eq)) => {
                let (values, _) = column_spans(&first.column, kind, filters);
                Ok(Some(match values {
                    Some(span) => idx.range::<Key, _>((span.lo, span.hi)).count(),
                    None => 0,
                }))
            }
            _ => Ok(None),
        }
    }

    /// A walk over the entries of the one order column (see the module docs).
    fn list_ordered(
        &self,
        table: &str,
        q: &ListQuery,
        order: &OrderBy,
        known: Option<usize>,
    ) -> Result<Page, StoreError> {
        let (rows, idx) = (self.rows_tree(table)?, self.index_tree(table)?);
        let (mut values, mut nulls) = column_spans(&order.column, order.kind, &q.filters);
        if let Some(after) = &q.after {
            let at = entry(&order.column, order.kind, after.values.first(), after.id);
            let past = |span: &mut Option<Span>| {
                if let Some(s) = span.as_mut() {
                    if order.descending {
                        s.lower(Bound::Excluded(at.clone()));
                    } else {
                        s.raise(Bound::Excluded(at.clone()));
                    }
                    if s.is_empty() {
                        *span = None;
                    }
                }
            };
            // Nulls come last either way: a cursor among them has passed every value, and
            // one among the values has not reached any null.
            if after.values.first().is_none_or(Value::is_null) {
                values = None;
                past(&mut nulls);
            } else {
                past(&mut values);
            }
        }
        let mut out = Pager::new(q, true);
        for span in [values, nulls].into_iter().flatten() {
            let walk = idx.range::<Key, _>((span.lo, span.hi));
            let ids: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
                if order.descending { Box::new(walk.rev()) } else { Box::new(walk) };
            let ids = ids.filter_map(|item| match item {
                Ok((k, _)) => entry_id(&k).map(Ok),
                Err(e) => Some(Err(e.into())),
            });
            out.fill(&rows, ids, known)?;
        }
        Ok(out.finish(known))
    }

    /// The rows an equality, `in` or range filter's entries name, in id order.
    fn list_by_ids(
        &self,
        table: &str,
        q: &ListQuery,
        driver: &Filter,
        known: Option<usize>,
    ) -> Result<Page, StoreError> {
        let (rows, idx) = (self.rows_tree(table)?, self.index_tree(table)?);
        let mut ids: Vec<u64> = Vec::new();
        let mut spans = Vec::new();
        if driver.cmp == Cmp::In {
            for v in &driver.values {
                let p = prefix(&driver.column, driver.kind, Some(v));
                spans.push(Span { lo: Bound::Included(p.clone()), hi: Bound::Included(value_end(&p)) });
            }
        } else if let (Some(values), _) = column_spans(&driver.column, driver.kind, &q.filters) {
            spans.push(values);
        }
        let single_value = driver.cmp == Cmp::Eq;
        for span in spans {
            for item in idx.range::<Key, _>((span.lo, span.hi)) {
                let (k, _) = item?;
                ids.extend(entry_id(&k));
            }
        }
        // One value's entries are already in id order.
        if !single_value {
            ids.sort_unstable();
            ids.dedup();
        }
        // Id order either way is the ids' own order (`order=-id`: backwards).
        let descending = matches!(q.order.as_slice(), [OrderBy { column, descending: true, .. }] if column == "id");
        let sorted = q.order.is_empty() || descending;
        let after = q.after.as_ref().filter(|_| sorted).map(|a| a.id);
        let mut out = Pager::new(q, sorted);
        if descending {
            let below = after.unwrap_or(u64::MAX);
            out.fill(&rows, ids.into_iter().rev().filter(|id| *id < below).map(Ok), known)?;
        } else {
            let above = after.unwrap_or(0);
            out.fill(&rows, ids.into_iter().filter(|id| *id > above).map(Ok), known)?;
        }
        Ok(out.finish(known))
    }

    /// The rows an equality, `in` or range filter on `id` names: straight from the rows tree.
    fn list_by_id(
        &self,
        table: &str,
        q: &ListQuery,
        driver: &Filter,
        known: Option<usize>,
    ) -> Result<Page, StoreError> {
        let tree = self.rows_tree(table)?;
        let sorted = q.order.is_empty();
        let start = q.after.as_ref().filter(|_| sorted).map_or(0, |a| a.id);
        let mut out = Pager::new(q, sorted);
        if driver.cmp.is_range() {
            // Ids are whole numbers: every bound becomes an inclusive one.
            let (mut lo, mut hi) = (i128::from(start) + 1, i128::from(i64::MAX));
            for f in q.filters.iter().filter(|f| f.column == "id" && !f.not && f.cmp.is_range()) {
                let v = f.values.first().and_then(Value::as_i64).map_or(0, i128::from);
                match f.cmp {
                    Cmp::Gt => lo = lo.max(v + 1),
                    Cmp::Gte => lo = lo.max(v),
                    Cmp::Lt => hi = hi.min(v - 1),
                    _ => hi = hi.min(v),
                }
            }
            if lo > hi {
                return Ok(out.finish(known));
            }
            let (lo, hi) = (lo.max(0) as u64, hi as u64);
            for item in tree.range(key(lo)..=key(hi)) {
                if known.is_some() && out.full() {
                    break;
                }
                out.offer(decode(&item?.1)?);
            }
            return Ok(out.finish(known));
        }
        let mut ids: Vec<u64> = driver.values.iter().filter_map(Value::as_u64).filter(|id| *id > start).collect();
        ids.sort_unstable();
        ids.dedup();
        out.fill(&tree, ids.into_iter().map(Ok), known)?;
        Ok(out.finish(known))
    }

    /// Every row in id order (from the cursor's id when the page is in id order).
    fn list_scan(&self, table: &str, q: &ListQuery, known: Option<usize>) -> Result<Page, StoreError> {
        let needles = Needles::of(&q.filters);
        // Id order either way is the rows tree's own order.
        let by_id = |o: &[OrderBy]| o.is_empty() || matches!(o, [OrderBy { column, .. }] if column == "id");
        let sorted = by_id(&q.order);
        let descending = !q.order.is_empty() && sorted;
        let tree = self.rows_tree(table)?;
        let after = q.after.as_ref().filter(|_| sorted).map(|a| a.id);
        let items: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match (after, descending) {
            (Some(id), false) => Box::new(tree.range(key(id.saturating_add(1))..)),
            (Some(id), true) => Box::new(tree.range(..key(id)).rev()),
            (None, false) => Box::new(tree.iter()),
            (None, true) => Box::new(tree.iter().rev()),
        };
        let mut out = Pager::new(q, sorted);
        for item in items {
            if known.is_some() && out.full() {
                break;
            }
            let (_, bytes) = item?;
            if needles.rule_out(&bytes) {
                continue;
            }
            out.offer(decode(&bytes)?);
        }
        Ok(out.finish(known))
    }
}

/// Rows are stored as compact JSON, so a row that equals `"column":value` holds those bytes:
/// a cheap test that spares decoding most rows of a filtered scan.
struct Needles(Vec<(memchr::memmem::Finder<'static>, usize)>);

impl Needles {
    fn of(filters: &[Filter]) -> Self {
        let needles = filters
            .iter()
            .filter(|f| f.kind != Kind::Instant)
            .filter_map(|f| Some((f, f.equal_value()?)))
            .filter(|(_, v)| v.is_string() || v.is_i64() || v.is_u64() || v.is_boolean())
            .map(|(f, v)| {
                let n = format!("{}:{}", Value::from(f.column.as_str()), v).into_bytes();
                (memchr::memmem::Finder::new(&n).into_owned(), n.len())
            })
            .collect();
        Self(needles)
    }

    fn rule_out(&self, bytes: &[u8]) -> bool {
        !self
            .0
            .iter()
            .all(|(finder, len)| finder.find_iter(bytes).any(|at| matches!(bytes.get(at + len), Some(b',' | b'}'))))
    }
}
