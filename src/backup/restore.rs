//! `palisade restore FILE --data-dir DIR`: the archive is verified whole first (nothing is
//! written for a bad one), then read a second time into the empty DIR: the install key and
//! the audit files as they were, the system trees and every table's rows through a new
//! store's writer (`Op::Put`, `Op::Load`, in groups), which rebuilds the indexes as it goes.

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value;

use super::archive::{self, safe_name, Manifest};
use super::crypt::Keys;
use super::{io, BackupError, SYS_TREES};
use crate::config::StateConfig;
use crate::config::StoreConfig;
use crate::store::pg::layout::Layout;
use crate::store::{IndexPlan, Op, Row, Store};

/// Rows (or keys) per writer op.
const GROUP: usize = 10_000;

/// Restores `file` into `data_dir`, which must not exist or be empty.
/// An encrypted archive is decrypted with `keys` (a wrong key fails in the verification,
/// before anything is written).
pub fn restore(
    file: &Path,
    keys: &Keys,
    data_dir: &Path,
    state: &StateConfig,
    backend: &StoreConfig,
    plan: IndexPlan,
    layout: Layout,
) -> Result<Manifest, BackupError> {
    if std::fs::read_dir(data_dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(BackupError::NotEmpty(data_dir.to_path_buf()));
    }
    super::verify(file, keys)?;
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    crate::store::restrict_permissions(data_dir, 0o700).map_err(io(data_dir))?;
    let mut plan = Some((plan, layout));
    let mut store: Option<Store> = None;
    let manifest = archive::read(file, keys, |name, data| {
        if name == "secret.key" {
            let path = data_dir.join("secret.key");
            let mut out = owner_only(&path)?;
            std::io::copy(data, &mut out).map_err(io(&path))?;
            return out.sync_all().map_err(io(&path));
        }
        if let Some(rest) = name.strip_prefix("audit/") {
            let dir = data_dir.join("audit");
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            crate::store::restrict_permissions(&dir, 0o700).map_err(io(&dir))?;
            let path = dir.join(safe_name(rest)?);
            let mut out = owner_only(&path)?;
            std::io::copy(data, &mut out).map_err(io(&path))?;
            return out.sync_all().map_err(io(&path));
        }
        if store.is_none() {
            let (plan, layout) = plan.take().unwrap_or_default();
            let opened = Store::open_with(data_dir, state, backend, plan, layout)?;
            if let Some(pg) = opened.postgres() {
                // Into an empty database only; tables arrive in name order, so the foreign
                // keys wait until every row is in (and then check them all).
                if !pg.is_empty()? {
                    return Err(BackupError::Refused("the PostgreSQL database already holds data".into()));
                }
                pg.drop_foreign_keys()?;
            }
            store = Some(opened);
        }
        let Some(store) = store.as_ref() else { return Ok(()) };
        let lines = BufReader::with_capacity(1 << 20, data).split(b'\n');
        if let Some(tree) = name.strip_prefix("sys/").and_then(|n| n.strip_suffix(".jsonl")) {
            let (_, tree) = SYS_TREES
                .iter()
                .find(|(n, _)| *n == tree)
                .ok_or_else(|| BackupError::BadArchive(format!("{name}: unknown system tree")))?;
            let mut entries = Vec::new();
            for line in lines {
                let line = line.map_err(io(name))?;
                entries.push(sys_entry(&line).ok_or_else(|| BackupError::BadArchive(format!("{name}: bad line")))?);
                if entries.len() >= GROUP {
                    write(store, Op::Put { tree: *tree, entries: std::mem::take(&mut entries) })?;
                }
            }
            return write(store, Op::Put { tree: *tree, entries });
        }
        if let Some(table) = name.strip_prefix("tables/").and_then(|n| n.strip_suffix(".jsonl")) {
            let mut rows: Vec<Row> = Vec::new();
            for line in lines {
                let line = line.map_err(io(name))?;
                match serde_json::from_slice(&line) {
                    Ok(Value::Object(row)) => rows.push(row),
                    _ => return Err(BackupError::BadArchive(format!("{name}: a line is not a row"))),
                }
                if rows.len() >= GROUP {
                    write(store, Op::Load { table: table.to_string(), rows: std::mem::take(&mut rows) })?;
                }
            }
            return write(store, Op::Load { table: table.to_string(), rows });
        }
        Err(BackupError::BadArchive(format!("{name}: unknown member")))
    })?;
    if let Some(pg) = store.as_ref().and_then(Store::postgres) {
        pg.ensure_layout().map_err(|e| BackupError::Refused(format!("the restored rows break a reference: {e}")))?;
    }
    // Dropping the store lets its writer finish and mark it cleanly closed.
    drop(store);
    Ok(manifest)
}

fn write(store: &Store, op: Op) -> Result<(), BackupError> {
    store.write_blocking(op).map(drop).map_err(|e| BackupError::Refused(e.message.into_owned()))
}

fn sys_entry(line: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let v: Value = serde_json::from_slice(line).ok()?;
    Some((hex::decode(v.get("k")?.as_str()?).ok()?, hex::decode(v.get("v")?.as_str()?).ok()?))
}

fn owner_only(path: &Path) -> Result<std::fs::File, BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io(path))?;
    Ok(f)
}
