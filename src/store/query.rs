//! What a list asks the store for: filters with operators, an order, a page (offset or a
//! cursor position). Parsed once from the query string (REST), a `where` argument (GraphQL)
//! or an export's options by the API layer; every reader — the store's index and scan
//! paths, the presented-value path in `api::rows`, the CSV export — reads this one value.
//!
//! Filters follow SQL's rules for null: a comparison with a null (or absent) value is never
//! true, negated or not; only `is.null` and `not.is.null` speak of nulls.

use std::cmp::Ordering;

use serde_json::Value;

use super::codec::Row;
use super::order::{compare, like, Kind};

/// A filter's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
    /// Equal to one of the values.
    In,
    /// `*` matches any run of characters.
    Like,
    /// `like`, ignoring case.
    ILike,
    IsNull,
}

impl Cmp {
    /// The operator's name in the query dialect.
    pub fn name(self) -> &'static str {
        match self {
            Cmp::Eq => "eq",
            Cmp::Gt => "gt",
            Cmp::Gte => "gte",
            Cmp::Lt => "lt",
            Cmp::Lte => "lte",
            Cmp::In => "in",
            Cmp::Like => "like",
            Cmp::ILike => "ilike",
            Cmp::IsNull => "is",
        }
    }

    /// A range bound (what an ordered index can serve as a range).
    pub fn is_range(self) -> bool {
        matches!(self, Cmp::Gt | Cmp::Gte | Cmp::Lt | Cmp::Lte)
    }
}

/// One condition on one column.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub column: String,
    pub kind: Kind,
    pub cmp: Cmp,
    /// `not.<op>`.
    pub not: bool,
    /// One value; several for `In`; none for `IsNull`. Typed by the column.
    pub values: Vec<Value>,
    /// A `like` pattern's parts between `*`s (folded to lower case for `ILike`).
    pattern: Vec<String>,
}

impl Filter {
    pub fn new(column: impl Into<String>, kind: Kind, cmp: Cmp, not: bool, values: Vec<Value>) -> Self {
        let pattern = match (cmp, values.first()) {
            (Cmp::Like, Some(Value::String(p))) => p.split('*').map(str::to_string).collect(),
            (Cmp::ILike, Some(Value::String(p))) => p.to_lowercase().split('*').map(str::to_string).collect(),
            _ => Vec::new(),
        };
        Self { column: column.into(), kind, cmp, not, values, pattern }
    }

    /// `column = value`.
    pub fn eq(column: impl Into<String>, kind: Kind, value: Value) -> Self {
        Self::new(column, kind, Cmp::Eq, false, vec![value])
    }

    /// The one value equality asks for (a plain, not negated `eq`).
    pub fn equal_value(&self) -> Option<&Value> {
        (self.cmp == Cmp::Eq && !self.not).then(|| self.values.first()).flatten()
    }

    /// Whether a row's value passes.
    pub fn matches_value(&self, v: Option<&Value>) -> bool {
        let null = v.is_none_or(Value::is_null);
        if self.cmp == Cmp::IsNull {
            return null != self.not;
        }
        if null {
            return false;
        }
        let first = || self.values.first();
        let held = match self.cmp {
            Cmp::Eq => compare(self.kind, v, first()) == Ordering::Equal,
            Cmp::In => self.values.iter().any(|w| compare(self.kind, v, Some(w)) == Ordering::Equal),
            Cmp::Gt => compare(self.kind, v, first()) == Ordering::Greater,
            Cmp::Gte => compare(self.kind, v, first()) != Ordering::Less,
            Cmp::Lt => compare(self.kind, v, first()) == Ordering::Less,
            Cmp::Lte => compare(self.kind, v, first()) != Ordering::Greater,
            Cmp::Like => v.and_then(Value::as_str).is_some_and(|s| like(&self.pattern, s)),
            Cmp::ILike => v.and_then(Value::as_str).is_some_and(|s| like(&self.pattern, &s.to_lowercase())),
            Cmp::IsNull => unreachable!("handled above"),
        };
        held != self.not
    }

    pub fn matches(&self, row: &Row) -> bool {
        self.matches_value(row.get(&self.column))
    }
}

/// Whether a row passes every filter.
pub fn filters_match(row: &Row, filters: &[Filter]) -> bool {
    filters.iter().all(|f| f.matches(row))
}

/// One sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub column: String,
    pub kind: Kind,
    pub descending: bool,
}

/// Compares two rows by `order`, then by id in the last key's direction (the order is total,
/// so pages never repeat or skip a row). Nulls come last in either direction.
pub fn compare_rows(order: &[OrderBy], a: &Row, b: &Row) -> Ordering {
    let id = |r: &Row| r.get("id").and_then(Value::as_u64).unwrap_or(0);
    for o in order {
        let (x, y) = (a.get(&o.column), b.get(&o.column));
        let (xn, yn) = (x.is_none_or(Value::is_null), y.is_none_or(Value::is_null));
        let c = match (xn, yn) {
            (false, false) if o.descending => compare(o.kind, x, y).reverse(),
            _ => compare(o.kind, x, y),
        };
        if c != Ordering::Equal {
            return c;
        }
    }
    let by_id = id(a).cmp(&id(b));
    if order.last().is_some_and(|o| o.descending) {
        by_id.reverse()
    } else {
        by_id
    }
}

/// Where a page starts: after the row that had these order values and this id.
#[derive(Debug, Clone, PartialEq)]
pub struct After {
    /// The last row's value of each order column (in `order`'s order).
    pub values: Vec<Value>,
    pub id: u64,
}

impl After {
    /// The position as a row (`id` and the order columns), to compare with [`compare_rows`].
    pub fn as_row(&self, order: &[OrderBy]) -> Row {
        let mut row = Row::new();
        for (o, v) in order.iter().zip(&self.values) {
            row.insert(o.column.clone(), v.clone());
        }
        row.insert("id".into(), Value::from(self.id));
        row
    }

    /// The position of a row.
    pub fn of(order: &[OrderBy], row: &Row) -> Self {
        Self {
            values: order.iter().map(|o| row.get(&o.column).cloned().unwrap_or(Value::Null)).collect(),
            id: row.get("id").and_then(Value::as_u64).unwrap_or(0),
        }
    }
}

/// What a list asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filters: Vec<Filter>,
    /// Sort keys; empty keeps id order.
    pub order: Vec<OrderBy>,
    pub offset: usize,
    pub limit: usize,
    /// A cursor's position: only rows after it (in `order`) are listed.
    pub after: Option<After>,
    /// Whether the answer needs `total` (a CSV export's chunks do not).
    pub skip_total: bool,
}

impl ListQuery {
    /// Whether `row` comes after the cursor position, if there is one.
    pub fn past_cursor(&self, row: &Row) -> bool {
        match &self.after {
            Some(after) => compare_rows(&self.order, row, &after.as_row(&self.order)) == Ordering::Greater,
            None => true,
        }
    }
}
