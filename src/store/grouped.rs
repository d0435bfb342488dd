//! Writing many rows in one writer op ([`Op::InsertMany`](super::Op::InsertMany) for imports
//! and REST arrays, [`Op::Load`](super::Op::Load) for restores) as two sled batches — one for
//! the rows, one for their index entries — instead of an insert per row and entry.
//!
//! Why: a bulk import of 200 000 rows into a table with two indexes read and rewrote the
//! count key of each of a row's index entries once per row (`status = "paid"`, shared by a
//! third of the rows, was read and written 67 000 times), read every new row's old value
//! that could not exist, and looked up the same referenced client once per row. Here the
//! count changes are added up per group (each count key is read and written once), a new
//! row's old value is not read, and the rows and the entries are written in key order (a
//! large group's entries on a second thread beside its rows: see the end of `put_rows`).
//! The writes are plain sled inserts, not a `sled::Batch`: a batch takes sled's global lock
//! and measured no faster (sled's cost is per key written, whatever the grouping). The group
//! is made durable by the writer's one flush before any caller hears of it, and callers
//! check everything before they call this, so a group is stored whole or not at all.
//!
//! Counts stay exact by the index invariant: an entry exists exactly when its row is
//! stored with that value (a crash that could break it makes `Store::open` rebuild). So a
//! row new to the tree adds all its entries, and a replaced row (a restore over a row)
//! removes the entries it no longer has and adds the ones it did not have.

use std::collections::HashMap;

use super::codec::{decode, encode, key, Row};
use super::index;
use super::writer::Engine;
use super::StoreError;
use crate::error::ApiError;

impl Engine {
    /// Stores `rows` (id, row) in `table`, replacing any stored row of the same id, with
    /// their index entries and counts. A later row of the same id replaces an earlier one.
    /// `new`: the caller checked that no row has a stored id (no old row is read).
    pub(super) fn put_rows(&mut self, table: &str, rows: &[(u64, Row)], new: bool) -> Result<(), ApiError> {
        let tree = self.rows(table)?;
        let indexes = self.indexes.clone();
        let columns = indexes.columns(table);
        let mut row_writes: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(rows.len());
        let mut entry_writes: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>> = Default::default();
        let mut counts: HashMap<Vec<u8>, i64> = HashMap::new();
        // Rows this group already wrote: they are the "old" row for a repeated id (a `new`
        // group's ids are distinct).
        let mut written: HashMap<u64, &Row> = HashMap::new();
        for (id, row) in rows {
            let id = *id;
            self.preserve_row(&tree, table, id)?;
            row_writes.push((key(id).to_vec(), encode(row)));
            let old = match written.remove(&id) {
                Some(old) => Some(old.clone()),
                None if new => None,
                None => tree.get(key(id)).map_err(StoreError::from)?.map(|b| decode(&b)).transpose()?,
            };
            if old.is_none() {
                *counts.entry(index::ROWS_KEY.to_vec()).or_default() += 1;
            }
            if !new {
                written.insert(id, row);
            }
            if columns.is_empty() {
                continue;
            }
            let fresh: Vec<Vec<u8>> = index::entries(columns, row, id).collect();
            let had: Vec<Vec<u8>> = old.as_ref().map(|o| index::entries(columns, o, id).collect()).unwrap_or_default();
            for stale in had.iter().filter(|e| !fresh.contains(e)) {
                entry_writes.insert(stale.clone(), None);
                *counts.entry(index::count_key(stale)).or_default() -= 1;
            }
            for e in fresh.into_iter().filter(|e| !had.contains(e)) {
                *counts.entry(index::count_key(&e)).or_default() += 1;
                entry_writes.insert(e, Some(Vec::new()));
            }
        }
        let idx = self.index(table)?;
        for (count_key, delta) in counts.into_iter().filter(|(_, d)| *d != 0) {
            let now = index::count_value(idx.get(&count_key).map_err(StoreError::from)?.as_deref());
            let next = now.saturating_add_signed(delta);
            entry_writes.insert(count_key, (next > 0).then(|| next.to_be_bytes().to_vec()));
        }
        // Nothing is acknowledged before the group is flushed. A small group, or one that
        // replaces rows, writes its rows before their entries (see `index`); a large group
        // of new rows writes both at once on two
        // threads (sled's trees take concurrent writers, and the second core halves a bulk
        // import's time in sled): for that instant a reader may meet an entry whose row is
        // not there yet, which it skips as it skips a removed row's.
        let rows = row_writes.into_iter().map(|(k, v)| (k, Some(v)));
        if !new || entry_writes.len() < PARALLEL_AT {
            self.observe(write_all(&tree, rows))?;
            return self.observe(write_all(&idx, entry_writes));
        }
        // Two equal shares: the rows and the first entries here, the other entries beside.
        let mut entries: Vec<_> = entry_writes.into_iter().collect();
        let beside =
            entries.split_off(((rows.len() + entries.len()) / 2).saturating_sub(rows.len()).min(entries.len()));
        let (here, there) = std::thread::scope(|s| {
            let there = s.spawn(|| write_all(&idx, beside));
            let here = write_all(&tree, rows).and_then(|_| write_all(&idx, entries));
            (here, there.join().unwrap_or_else(|_| Err(sled::Error::ReportableBug("index writer panicked".into()))))
        });
        self.observe(here)?;
        self.observe(there)
    }
}

/// Index writes from which a group writes its entries beside its rows, on a second thread.
const PARALLEL_AT: usize = 2048;

/// Sets (or, for `None`, removes) each key in order.
fn write_all<V: Into<sled::IVec>>(
    tree: &sled::Tree,
    writes: impl IntoIterator<Item = (Vec<u8>, Option<V>)>,
) -> Result<(), sled::Error> {
    for (k, v) in writes {
        match v {
            Some(v) => tree.insert(k, v)?,
            None => tree.remove(k)?,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::index::Indexed;
    use super::super::op::{NewRow, Op};
    use super::super::{index, IndexPlan, Store};
    use super::Row;

    fn row(v: Value) -> Row {
        v.as_object().cloned().unwrap_or_default()
    }

    fn tree_contents(t: &sled::Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
        t.iter().map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn index_counts_after_bulk_inserts_and_loads_equal_a_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let columns = ["status", "kind"];
        let columns: Vec<Indexed> =
            columns.iter().map(|c| Indexed { column: c.to_string(), kind: super::super::order::Kind::Text }).collect();
        let plan = IndexPlan([("t".to_string(), columns.clone())].into_iter().collect());
        let store = Store::open(dir.path(), &Default::default(), plan).unwrap();
        let statuses = ["draft", "sent", "paid"];
        for group in 0..3u64 {
            // 1500 rows, ≈ 2800 entries: past `PARALLEL_AT`, so written on two threads.
            let rows = (0..1500u64)
                .map(|i| {
                    let kind = if i % 7 == 0 { Value::Null } else { json!(i % 4) };
                    let mut r = row(json!({"status": statuses[(i % 3) as usize], "kind": kind}));
                    if i % 2 == 0 {
                        r.insert("id".into(), json!(10_000 + group * 10_000 + i));
                    }
                    NewRow { row: r, refs: vec![] }
                })
                .collect();
            store.write_blocking(Op::InsertMany { table: "t".into(), rows }).unwrap();
        }
        let idx = store.db.open_tree("idx:t").unwrap();
        let before_refused = tree_contents(&idx);
        // A group with one conflicting id is refused whole: no row, no entry, no count moves.
        let clash = vec![
            NewRow { row: row(json!({"status": "new"})), refs: vec![] },
            NewRow { row: row(json!({"id": 10_000, "status": "new"})), refs: vec![] },
        ];
        assert!(store.write_blocking(Op::InsertMany { table: "t".into(), rows: clash }).is_err());
        assert_eq!(tree_contents(&idx), before_refused);
        // Loads replace rows: values change, vanish (null) or stay; an id repeats in a group.
        let mut load: Vec<Row> = (1..=300u64)
            .map(|id| {
                row(json!({"id": id, "status": if id % 5 == 0 { json!(null) } else { json!("paid") }, "kind": id % 2}))
            })
            .collect();
        load.push(row(json!({"id": 3, "status": "sent", "kind": null})));
        load.push(row(json!({"id": 99_999, "status": "draft"})));
        load.push(row(json!({"id": 99_999, "status": "gone", "kind": 1})));
        store.write_blocking(Op::Load { table: "t".into(), rows: load }).unwrap();
        store.write_blocking(Op::Ping).unwrap();

        let stored = tree_contents(&idx);
        let check = store.db.open_tree("check").unwrap();
        index::rebuild(&store.db.open_tree("rows:t").unwrap(), &check, &columns).unwrap();
        let rebuilt = tree_contents(&check);
        assert_eq!(stored.len(), rebuilt.len());
        assert!(stored == rebuilt, "the index after bulk writes differs from a rebuild");
        let paid = index::count_key_of(&index::prefix("status", super::super::order::Kind::Text, Some(&json!("paid"))));
        assert!(stored.iter().any(|(k, _)| *k == paid), "the count key is there");
        let rows = store.db.open_tree("rows:t").unwrap().len() as u64;
        assert_eq!(index::count_value(stored.iter().find(|(k, _)| k == index::ROWS_KEY).map(|(_, v)| &v[..])), rows);
    }
}
