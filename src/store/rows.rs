//! Table rows in sled: one tree per table (`rows:<table>`), key = big-endian id, value = the
//! row as compact JSON. This file is the read side (pages, filters, lookups), run on the
//! HTTP workers without any lock; every change goes through the writer (`writer`).

use super::codec::{decode, encode, key, Row};
use super::{Store, StoreError};

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
    pub fn get_row_bytes(&self, table: &str, id: u64) -> Result<Option<RawRow>, StoreError> {
        if let Some(pg) = &self.pg {
            return Ok(pg.get_row(table, id)?.map(|r| RawRow::Owned(encode(&r))));
        }
        Ok(self.rows_tree(table)?.get(key(id))?.map(RawRow::Sled))
    }

    pub fn get_row(&self, table: &str, id: u64) -> Result<Option<Row>, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.get_row(table, id);
        }
        match self.rows_tree(table)?.get(key(id))? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    pub fn row_exists(&self, table: &str, id: u64) -> Result<bool, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.row_exists(table, id);
        }
        Ok(self.rows_tree(table)?.contains_key(key(id))?)
    }

    /// Every row of a table as stored (compact JSON), in id order, read lazily (on
    /// PostgreSQL: a thousand at a time).
    pub fn scan_rows(
        &self,
        table: &str,
    ) -> Result<Box<dyn Iterator<Item = Result<RawRow, StoreError>> + '_>, StoreError> {
        if let Some(pg) = &self.pg {
            return Ok(Box::new(pg.rows(table).map(|row| row.map(|r| RawRow::Owned(encode(&r))))));
        }
        Ok(Box::new(self.rows_tree(table)?.iter().values().map(|v| v.map(RawRow::Sled).map_err(StoreError::from))))
    }

    /// Every table that has rows in the database, whether the schema declares it or not.
    pub fn row_tables(&self) -> Result<Vec<String>, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.row_tables();
        }
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
        if let Some(pg) = &self.pg {
            return pg.for_each_row(table, f);
        }
        for item in self.rows_tree(table)?.iter() {
            let (_, bytes) = item?;
            f(&decode(&bytes)?);
        }
        Ok(())
    }
}

/// A row's stored bytes: sled's own buffer, or a row read from PostgreSQL and encoded.
pub enum RawRow {
    Sled(sled::IVec),
    Owned(Vec<u8>),
}

impl std::ops::Deref for RawRow {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            RawRow::Sled(v) => v,
            RawRow::Owned(v) => v,
        }
    }
}
