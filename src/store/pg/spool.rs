//! A point of the PostgreSQL store, spooled to files: one repeatable-read, read-only
//! transaction reads every system tree and every table (rows streamed, never all in
//! memory), and writes each to a file of (key, value) records, which a backup then reads
//! as it reads sled's trees. Every write committed before the transaction began is in it;
//! none committed after is.
//!
//! A record is the key's length (u32, big-endian), the key, the value's length, the value.
//! Row keys are the id as 8 big-endian bytes and values the row's compact JSON, as sled
//! stores them.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use postgres::fallible_iterator::FallibleIterator;
use serde_json::Value;

use super::layout::{ident, Layout, SYS_TABLE};
use super::pool::PoolError;
use super::row_of;
use crate::store::op::SysTree;
use crate::store::StoreError;

/// The file that holds `tree` (`sys:tokens`, `rows:clients`, …).
fn file(dir: &Path, tree: &str) -> PathBuf {
    dir.join(tree.replace(':', "__"))
}

fn put(out: &mut impl Write, k: &[u8], v: &[u8]) -> std::io::Result<()> {
    out.write_all(&(k.len() as u32).to_be_bytes())?;
    out.write_all(k)?;
    out.write_all(&(v.len() as u32).to_be_bytes())?;
    out.write_all(v)
}

/// Reads the point inside `tx` into `dir`.
pub(super) fn write(tx: &mut postgres::Transaction<'_>, layout: &Layout, dir: &Path) -> Result<(), PoolError> {
    let io = |e: std::io::Error| PoolError::Unreachable(format!("spooling the point: {e}"));
    for tree in [SysTree::Meta, SysTree::Tokens, SysTree::Locks, SysTree::Counters] {
        let mut out = BufWriter::new(std::fs::File::create(file(dir, tree.name())).map_err(io)?);
        let sql = format!("SELECT key, value FROM {} WHERE tree = $1 ORDER BY key", ident(SYS_TABLE));
        for r in tx.query(&sql, &[&tree.name()])? {
            put(&mut out, r.get(0), r.get(1)).map_err(io)?;
        }
        out.flush().map_err(io)?;
    }
    for t in &layout.tables {
        let mut out = BufWriter::new(std::fs::File::create(file(dir, &format!("rows:{}", t.name))).map_err(io)?);
        let sql = format!("SELECT id, to_jsonb(t) FROM {} t ORDER BY id", ident(&t.name));
        let mut rows = tx.query_raw(&sql, std::iter::empty::<i64>())?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0);
            let row = row_of(t, r.get::<_, Value>(1));
            let bytes = serde_json::to_vec(&row).map_err(|e| PoolError::Unreachable(e.to_string()))?;
            put(&mut out, &(id as u64).to_be_bytes(), &bytes).map_err(io)?;
        }
        out.flush().map_err(io)?;
    }
    Ok(())
}

/// What a reader of the point is given, key and value, record by record.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), StoreError> + 'a;

/// Calls `f` with every record of `tree` in the spool (nothing for a tree it lacks).
pub fn read(dir: &Path, tree: &str, f: &mut Visit<'_>) -> Result<(), StoreError> {
    let path = file(dir, tree);
    let Ok(handle) = std::fs::File::open(&path) else { return Ok(()) };
    let mut input = BufReader::with_capacity(1 << 20, handle);
    let corrupt = |e: std::io::Error| StoreError::Corrupt(format!("point spool {}: {e}", path.display()));
    let mut len = [0u8; 4];
    let (mut k, mut v) = (Vec::new(), Vec::new());
    loop {
        match input.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(corrupt(e)),
        }
        k.resize(u32::from_be_bytes(len) as usize, 0);
        input.read_exact(&mut k).map_err(corrupt)?;
        input.read_exact(&mut len).map_err(corrupt)?;
        v.resize(u32::from_be_bytes(len) as usize, 0);
        input.read_exact(&mut v).map_err(corrupt)?;
        f(&k, &v)?;
    }
}
