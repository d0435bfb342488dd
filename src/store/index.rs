//! Secondary indexes: equality lookups without scanning a table.
//!
//! One sled tree per table (`idx:<table>`) holds a key per (indexed column, row) whose value
//! is not null: `column 0x00 value 0x00 id(8 bytes, big-endian)`, with an empty value. The
//! value part is a canonical text (JSON text for strings and booleans, integral numbers as
//! integers, so `5` and `5.0` meet), which never holds a 0x00 byte, so a prefix scan over
//! `column 0x00 value 0x00` yields exactly the matching ids, in id order. The prefix itself
//! is a key too, holding how many entries follow it (8 bytes, big-endian; absent at zero):
//! a page of a thousand matches costs its twenty rows, not a walk over the thousand.
//!
//! Only the store's writer changes index entries, in the same serial order as the rows (a
//! row is written before its entries, and its entries are removed before it; a large bulk
//! group writes its new rows and their entries side by side on two threads), so a reader
//! may meet an entry whose row is gone (or not yet there) for an instant and skips it. After
//! an unclean stop every index is rebuilt at start (see `Store::open`): a crash cannot leave
//! an index that disagrees with its table.

use serde_json::Value;

use super::codec::{decode, Row};
use super::StoreError;

/// Which columns are indexed, by table (every `references` column and every `index = true`).
#[derive(Debug, Clone, Default)]
pub struct IndexPlan(pub std::collections::BTreeMap<String, Vec<String>>);

impl IndexPlan {
    pub fn columns(&self, table: &str) -> &[String] {
        self.0.get(table).map_or(&[], Vec::as_slice)
    }

    pub fn has(&self, table: &str, column: &str) -> bool {
        self.columns(table).iter().any(|c| c == column)
    }
}

/// The canonical text of an indexable value; `None` for null, arrays and objects.
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(_) | Value::Bool(_) => Some(v.to_string()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i.to_string())
            } else if let Some(u) = n.as_u64() {
                Some(u.to_string())
            } else {
                let f = n.as_f64()?;
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    Some((f as i64).to_string())
                } else {
                    Some(format!("{f:?}"))
                }
            }
        }
        _ => None,
    }
}

/// The key prefix every entry of `column == value` starts with.
pub fn prefix(column: &str, value: &Value) -> Option<Vec<u8>> {
    let text = value_text(value)?;
    let mut key = Vec::with_capacity(column.len() + text.len() + 10);
    key.extend_from_slice(column.as_bytes());
    key.push(0);
    key.extend_from_slice(text.as_bytes());
    key.push(0);
    Some(key)
}

/// The entry of one row's column.
pub fn entry(column: &str, value: &Value, id: u64) -> Option<Vec<u8>> {
    let mut key = prefix(column, value)?;
    key.extend_from_slice(&id.to_be_bytes());
    Some(key)
}

/// The row id an entry found under `prefix` points at (`None` for the count key).
pub fn entry_id(prefix: &[u8], key: &[u8]) -> Option<u64> {
    let tail = key.get(prefix.len()..).filter(|t| t.len() == 8)?;
    Some(u64::from_be_bytes(tail.try_into().ok()?))
}

/// The count key an entry adds to.
pub fn count_key(entry: &[u8]) -> &[u8] {
    &entry[..entry.len().saturating_sub(8)]
}

/// Reads a count value.
pub fn count_value(v: Option<&[u8]>) -> u64 {
    v.and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes)
}

/// Every entry a row contributes to its table's index tree.
pub fn entries<'a>(columns: &'a [String], row: &'a Row, id: u64) -> impl Iterator<Item = Vec<u8>> + 'a {
    columns.iter().filter_map(move |c| entry(c, row.get(c)?, id))
}

/// Rebuilds one table's index tree from its rows (start-up only, before the writer runs).
pub fn rebuild(rows: &sled::Tree, index: &sled::Tree, columns: &[String]) -> Result<usize, StoreError> {
    index.clear()?;
    let mut batch = sled::Batch::default();
    let mut counts: std::collections::HashMap<Vec<u8>, u64> = Default::default();
    let mut n = 0;
    for item in rows.iter() {
        let (key, bytes) = item?;
        let id = u64::from_be_bytes(key.as_ref().try_into().map_err(|_| StoreError::Corrupt("row key".into()))?);
        let row = decode(&bytes)?;
        for e in entries(columns, &row, id) {
            *counts.entry(count_key(&e).to_vec()).or_default() += 1;
            batch.insert(e, &[]);
            n += 1;
        }
        if n % 4096 == 0 {
            index.apply_batch(std::mem::take(&mut batch))?;
        }
    }
    for (key, count) in counts {
        batch.insert(key, &count.to_be_bytes());
    }
    index.apply_batch(batch)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_meet_whatever_their_json_shape() {
        assert_eq!(value_text(&json!(5)), value_text(&json!(5.0)));
        assert_ne!(value_text(&json!(5)), value_text(&json!("5")));
        assert_eq!(value_text(&json!(2.5)).unwrap(), "2.5");
        assert!(value_text(&json!(null)).is_none());
        assert!(value_text(&json!([1])).is_none());
    }

    #[test]
    fn entries_sort_by_value_then_id_and_prefixes_do_not_overlap() {
        let a = entry("status", &json!("paid"), 7).unwrap();
        let b = entry("status", &json!("paid"), 300).unwrap();
        let c = entry("status", &json!("paid_late"), 1).unwrap();
        assert!(a < b);
        let p = prefix("status", &json!("paid")).unwrap();
        assert!(a.starts_with(&p) && b.starts_with(&p) && !c.starts_with(&p));
        assert_eq!(entry_id(&p, &b), Some(300));
        assert_eq!(entry_id(&p, &p), None, "the count key is no entry");
        assert_eq!(count_key(&b), &p[..]);
    }
}
