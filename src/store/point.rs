//! A consistent point of the whole store, read while writes go on (online backups).
//!
//! sled 0.34 has no snapshots, and holding the writer for a whole backup would stall every
//! write for seconds. So the point is named in the writer's serial order instead:
//! [`Op::BeginPoint`](super::Op::BeginPoint) installs a [`PointCapture`] on the writer
//! thread, and from that op on, before the writer changes a key of a row or system tree for
//! the first time, it records the key's value as it was at the point (`None`: it did not
//! exist). A reader then walks the live trees and, for every key the capture holds, takes
//! the captured value instead — the keys nobody touched are unchanged since the point by
//! definition. Keys deleted after the point are emitted from the capture at the end. The
//! capture is recorded *before* the change is applied, and the reader checks the capture
//! *after* it read a key, so a key read with a newer value is always found captured.
//! [`Op::EndPoint`](super::Op::EndPoint) drops it. Index trees are not captured: a backup
//! holds rows, and indexes are rebuilt from them.
//!
//! Every write acknowledged before the point is in it (acknowledged means applied and
//! flushed, and the point op came after it), and no write sent after the point is.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sled::IVec;

use super::{Store, StoreError, SysTree};

/// A key's value at the point, by tree name and key (`None`: absent then).
type Before = HashMap<(String, Vec<u8>), Option<IVec>>;

/// What the writer preserved since the point, by tree name and key.
#[derive(Default)]
pub struct PointCapture {
    before: Mutex<Before>,
    /// Wall-clock time (ms) at which the writer applied the point op.
    point_ms: AtomicU64,
}

impl PointCapture {
    pub fn point_ms(&self) -> u64 {
        self.point_ms.load(Ordering::Acquire)
    }

    pub(super) fn mark(&self, now_ms: u64) {
        self.point_ms.store(now_ms, Ordering::Release);
    }

    /// Records `tree[key]`'s value unless it was recorded already (writer thread only).
    pub(super) fn preserve(&self, tree: &sled::Tree, name: &str, key: &[u8]) -> Result<(), sled::Error> {
        let mut before = self.before.lock().unwrap_or_else(|e| e.into_inner());
        let k = (name.to_string(), key.to_vec());
        if let std::collections::hash_map::Entry::Vacant(slot) = before.entry(k) {
            slot.insert(tree.get(key)?);
        }
        Ok(())
    }

    fn lookup(&self, name: &str, key: &[u8]) -> Option<Option<IVec>> {
        let before = self.before.lock().unwrap_or_else(|e| e.into_inner());
        before.get(&(name.to_string(), key.to_vec())).cloned()
    }

    /// Keys of `name` that held a value at the point.
    fn preserved(&self, name: &str) -> Vec<(Vec<u8>, IVec)> {
        let before = self.before.lock().unwrap_or_else(|e| e.into_inner());
        before
            .iter()
            .filter(|((t, _), v)| t == name && v.is_some())
            .filter_map(|((_, k), v)| Some((k.clone(), v.clone()?)))
            .collect()
    }

    /// How many keys were preserved (memory the capture holds).
    pub fn len(&self) -> usize {
        self.before.lock().map(|b| b.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A point of the store held open; dropping it ends the capture.
pub struct Point {
    store: Store,
    capture: Arc<PointCapture>,
    /// On PostgreSQL: the point read whole in one repeatable-read transaction and spooled
    /// to files in this directory (removed on drop), one per tree.
    spool: Option<std::path::PathBuf>,
}

impl Store {
    /// Names a point through the writer (see the module docs). Blocks until it is named.
    /// On PostgreSQL the point is one repeatable-read transaction that reads every tree
    /// and table into spool files beside the data dir's database (a backup then reads those).
    pub fn begin_point(&self) -> Result<Point, StoreError> {
        if let Some(pg) = &self.pg {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = self.data_dir.join(format!(".point-{}-{n}", std::process::id()));
            let io = |source| StoreError::Io { path: dir.clone(), source };
            std::fs::create_dir_all(&dir).map_err(io)?;
            super::restrict_permissions(&dir, 0o700).map_err(io)?;
            let capture = Arc::new(PointCapture::default());
            let point = Point { store: self.clone(), capture: capture.clone(), spool: Some(dir.clone()) };
            capture.mark(pg.spool_point(&dir)?);
            return Ok(point);
        }
        let capture = Arc::new(PointCapture::default());
        self.write_blocking(super::Op::BeginPoint { capture: capture.clone() }).map_err(StoreError::refused)?;
        Ok(Point { store: self.clone(), capture, spool: None })
    }

    /// Names of the table-row trees in the database (`rows:` prefix removed).
    pub fn stored_tables(&self) -> Vec<String> {
        if let Some(pg) = &self.pg {
            return pg.row_tables().unwrap_or_default();
        }
        self.db
            .tree_names()
            .iter()
            .filter_map(|n| n.strip_prefix(b"rows:").map(|t| String::from_utf8_lossy(t).into_owned()))
            .collect()
    }
}

impl Point {
    pub fn point_ms(&self) -> u64 {
        self.capture.point_ms()
    }

    /// Calls `f` with every key and value `tree` held at the point (live order, then the
    /// keys deleted since).
    pub fn for_each(
        &self,
        tree: &str,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if let Some(dir) = &self.spool {
            return super::pg::spool::read(dir, tree, &mut f);
        }
        let live = self.store.db.open_tree(tree)?;
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        for item in live.iter() {
            let (k, v) = item?;
            match self.capture.lookup(tree, &k) {
                None => f(&k, &v)?,
                Some(before) => {
                    seen.insert(k.to_vec());
                    if let Some(old) = before {
                        f(&k, &old)?;
                    }
                }
            }
        }
        for (k, v) in self.capture.preserved(tree) {
            if !seen.contains(&k) {
                f(&k, &v)?;
            }
        }
        Ok(())
    }

    /// The system tree's name, for [`Point::for_each`].
    pub fn sys(tree: SysTree) -> &'static str {
        tree.name()
    }

    pub fn captured_keys(&self) -> usize {
        self.capture.len()
    }
}

impl Drop for Point {
    fn drop(&mut self) {
        if let Some(dir) = &self.spool {
            let _ = std::fs::remove_dir_all(dir);
            return;
        }
        // Best effort: a writer that has stopped has no capture to drop either.
        let _ = self.store.write_blocking(super::Op::EndPoint);
    }
}
