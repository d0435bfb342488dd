//! Secondary indexes: equality, ranges and `order` on a column without scanning its table.
//!
//! One sled tree per table (`idx:<table>`) holds, for every indexed column and every row, an
//! entry `column 0x00 value id` with an empty value, where `value` is the column's value in
//! the order-preserving, prefix-free encoding of [`super::order`] (null included: it sorts
//! last). So the entries of one column are in value order, then id order: a range of values
//! is a range of keys, `order` on the column is a walk over them (backwards for descending),
//! and the entries of one value are the keys under its prefix. Beside them, under keys
//! starting with 0x01 (a column name never does), `0x01 column 0x00 value` holds how many
//! entries that value has (8 bytes, big-endian; absent at zero), and the key `0x02` holds
//! how many rows the table has, for every table: a page of a thousand matches — or of the
//! whole table — costs its twenty rows, not a walk over the thousand.
//!
//! Only the store's writer changes index entries, in the same serial order as the rows (a
//! row is written before its entries, and its entries are removed before it; a large bulk
//! group writes its new rows and their entries side by side on two threads), so a reader
//! may meet an entry whose row is gone (or not yet there) for an instant and skips it.
//! After an unclean stop every index is rebuilt at start (see `Store::open`): a crash cannot
//! leave an index that disagrees with its table.

use serde_json::Value;

use super::codec::{decode, Row};
use super::order::{encode, Kind};
use super::StoreError;

/// One indexed column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    pub column: String,
    pub kind: Kind,
}

/// Which columns are indexed, by table (every `references` column and every `index = true`).
/// Every table has an entry (its row count lives in its index tree), maybe with no columns.
#[derive(Debug, Clone, Default)]
pub struct IndexPlan(pub std::collections::BTreeMap<String, Vec<Indexed>>);

impl IndexPlan {
    pub fn columns(&self, table: &str) -> &[Indexed] {
        self.0.get(table).map_or(&[], Vec::as_slice)
    }

    /// How an indexed column's values compare, if it is indexed.
    pub fn kind(&self, table: &str, column: &str) -> Option<Kind> {
        self.columns(table).iter().find(|c| c.column == column).map(|c| c.kind)
    }

    pub fn has(&self, table: &str, column: &str) -> bool {
        self.kind(table, column).is_some()
    }
}

/// The key holding a table's row count.
pub const ROWS_KEY: &[u8] = &[0x02];

/// The start of every entry of `column`.
pub fn column_start(column: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(column.len() + 24);
    key.extend_from_slice(column.as_bytes());
    key.push(0);
    key
}

/// The key prefix every entry of `column == value` starts with (`None`: null).
pub fn prefix(column: &str, kind: Kind, value: Option<&Value>) -> Vec<u8> {
    let mut key = column_start(column);
    encode(kind, value, &mut key);
    key
}

/// The entry of one row's column.
pub fn entry(column: &str, kind: Kind, value: Option<&Value>, id: u64) -> Vec<u8> {
    let mut key = prefix(column, kind, value);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The row id an entry points at.
pub fn entry_id(key: &[u8]) -> Option<u64> {
    let tail = key.get(key.len().checked_sub(8)?..)?;
    Some(u64::from_be_bytes(tail.try_into().ok()?))
}

/// The count key of the value whose entries start with `prefix`.
pub fn count_key_of(prefix: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 1);
    key.push(0x01);
    key.extend_from_slice(prefix);
    key
}

/// The count key an entry adds to.
pub fn count_key(entry: &[u8]) -> Vec<u8> {
    count_key_of(&entry[..entry.len().saturating_sub(8)])
}

/// Reads a count value.
pub fn count_value(v: Option<&[u8]>) -> u64 {
    v.and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes)
}

/// Every entry a row contributes to its table's index tree (one per indexed column).
pub fn entries<'a>(columns: &'a [Indexed], row: &'a Row, id: u64) -> impl Iterator<Item = Vec<u8>> + 'a {
    columns.iter().map(move |c| entry(&c.column, c.kind, row.get(&c.column), id))
}

/// Rebuilds one table's index tree from its rows (start-up only, before the writer runs).
pub fn rebuild(rows: &sled::Tree, index: &sled::Tree, columns: &[Indexed]) -> Result<usize, StoreError> {
    index.clear()?;
    let mut batch = sled::Batch::default();
    let mut counts: std::collections::HashMap<Vec<u8>, u64> = Default::default();
    let (mut n, mut pending, mut rows_seen) = (0, 0, 0u64);
    for item in rows.iter() {
        let (key, bytes) = item?;
        let id = u64::from_be_bytes(key.as_ref().try_into().map_err(|_| StoreError::Corrupt("row key".into()))?);
        rows_seen += 1;
        if columns.is_empty() {
            continue;
        }
        let row = decode(&bytes)?;
        for e in entries(columns, &row, id) {
            *counts.entry(count_key(&e)).or_default() += 1;
            batch.insert(e, &[]);
            n += 1;
            pending += 1;
        }
        if pending >= 4096 {
            index.apply_batch(std::mem::take(&mut batch))?;
            pending = 0;
        }
    }
    for (key, count) in counts {
        batch.insert(key, &count.to_be_bytes());
    }
    if rows_seen > 0 {
        batch.insert(ROWS_KEY, &rows_seen.to_be_bytes());
    }
    index.apply_batch(batch)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_sort_by_value_then_id_and_prefixes_do_not_overlap() {
        let t = Kind::Text;
        let a = entry("status", t, Some(&json!("paid")), 7);
        let b = entry("status", t, Some(&json!("paid")), 300);
        let c = entry("status", t, Some(&json!("paid_late")), 1);
        let null = entry("status", t, None, 1);
        assert!(a < b && b < c && c < null);
        let p = prefix("status", t, Some(&json!("paid")));
        assert!(a.starts_with(&p) && b.starts_with(&p) && !c.starts_with(&p));
        assert_eq!(entry_id(&b), Some(300));
        assert_eq!(count_key(&b), count_key_of(&p));
        assert!(count_key(&b) < column_start("a") && ROWS_KEY < column_start("_").as_slice());
        let n = Kind::Number;
        assert!(entry("total", n, Some(&json!(-3)), 9) < entry("total", n, Some(&json!(2.5)), 1));
        assert_eq!(prefix("total", n, Some(&json!(5))), prefix("total", n, Some(&json!(5.0))));
    }
}
