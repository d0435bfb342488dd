//! Gathering one page from candidate rows, whichever way they were found: met in the page's
//! order (an index walk) the page is the first rows past the cursor and offset; met in any
//! other order (a scan, rows presented by an owner rule) the best `offset + limit` are kept in
//! a bounded heap. Both stores and `api::rows` page through this one piece.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::codec::Row;
use super::query::{compare_rows, filters_match, ListQuery, OrderBy};

/// One page of a list and the total number of matching rows (0 when not asked for).
#[derive(Debug, Clone)]
pub struct Page {
    pub rows: Vec<Row>,
    pub total: usize,
}

/// Keeps the best `k` rows by an order (a max-heap of the kept ones).
struct TopK<'q> {
    order: &'q [OrderBy],
    k: usize,
    heap: BinaryHeap<Ranked<'q>>,
}

struct Ranked<'q>(Row, &'q [OrderBy]);

impl PartialEq for Ranked<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked<'_> {}
impl PartialOrd for Ranked<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_rows(self.1, &self.0, &other.0)
    }
}

impl<'q> TopK<'q> {
    fn push(&mut self, row: Row) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Ranked(row, self.order));
        } else if self.heap.peek().is_some_and(|worst| compare_rows(self.order, &row, &worst.0) == Ordering::Less) {
            self.heap.pop();
            self.heap.push(Ranked(row, self.order));
        }
    }

    fn sorted(self) -> Vec<Row> {
        self.heap.into_sorted_vec().into_iter().map(|r| r.0).collect()
    }
}

/// Gathers a page from candidate rows met in the page's order (or in any order: then the
/// best `offset + limit` are kept in a heap). Also used on presented rows (`api::rows`).
pub struct Pager<'q> {
    q: &'q ListQuery,
    /// Matches met so far, past the cursor.
    seen: usize,
    /// Matches met in all (the total, when it is counted by reading).
    total: usize,
    rows: Vec<Row>,
    top: Option<TopK<'q>>,
}

impl<'q> Pager<'q> {
    /// `sorted`: rows arrive in the page's order (otherwise they are ranked in a heap).
    pub fn new(q: &'q ListQuery, sorted: bool) -> Self {
        let top =
            (!sorted).then(|| TopK { order: &q.order, k: q.offset.saturating_add(q.limit), heap: BinaryHeap::new() });
        Self { q, seen: 0, total: 0, rows: Vec::new(), top }
    }

    /// Whether the page is complete (only meaningful for rows in the page's order).
    pub fn full(&self) -> bool {
        self.top.is_none() && self.rows.len() >= self.q.limit
    }

    /// Takes a candidate row: counted and kept if it passes the filters (and the cursor).
    pub fn offer(&mut self, row: Row) {
        if !filters_match(&row, &self.q.filters) {
            return;
        }
        self.total += 1;
        if !self.q.past_cursor(&row) {
            return;
        }
        match &mut self.top {
            Some(top) => top.push(row),
            None => {
                if self.seen >= self.q.offset && self.rows.len() < self.q.limit {
                    self.rows.push(row);
                }
            }
        }
        self.seen += 1;
    }

    /// The page; `total`: the count when known otherwise (else the matches offered).
    pub fn finish(self, total: Option<usize>) -> Page {
        let total = total.unwrap_or(self.total);
        match self.top {
            Some(top) => {
                Page { rows: top.sorted().into_iter().skip(self.q.offset).take(self.q.limit).collect(), total }
            }
            None => Page { rows: self.rows, total },
        }
    }
}
