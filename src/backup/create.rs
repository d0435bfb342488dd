//! Writing an archive: name the point through the writer, stage every member in a private
//! directory beside the destination (hashing as it goes), then write the tar stream —
//! manifest first — and rename it into place.

use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::archive::{self, HashingWriter, Manifest, Member, MANIFEST};
use super::crypt::{Encryption, Sink};
use super::{io, local_meta_key, BackupError, FORMAT_VERSION, SYS_TREES};
use crate::store::Store;

/// What [`create`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub path: PathBuf,
    pub bytes: u64,
    pub point_ms: u64,
    pub rows: BTreeMap<String, u64>,
}

/// File names of scheduled archives start with this.
pub const PREFIX: &str = "palisade-backup-";

/// Writes an archive of `store` (and the audit trail in `audit_dir`) at `dest`: a file
/// path, or an existing directory to put `palisade-backup-<time>.tar.zst` in (`.tar.zst.age`
/// when `encryption` is given: the whole stream is then an age file).
pub fn create(
    store: &Store,
    audit_dir: &Path,
    dest: &Path,
    encryption: Option<&Encryption>,
) -> Result<Created, BackupError> {
    if let Some(e) = encryption {
        e.check()?;
    }
    let staging = match dest.is_dir() {
        true => archive::tempdir_beside(&dest.join("archive"))?,
        false => archive::tempdir_beside(dest)?,
    };
    let result = write(store, audit_dir, dest, &staging, encryption);
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn write(
    store: &Store,
    audit_dir: &Path,
    dest: &Path,
    staging: &Path,
    encryption: Option<&Encryption>,
) -> Result<Created, BackupError> {
    let point = store.begin_point()?;
    let point_ms = point.point_ms();
    let mut members: Vec<(Member, PathBuf)> = Vec::new();
    let mut stage = |name: &str, fill: &mut dyn FnMut(&mut dyn Write) -> Result<(), BackupError>| {
        let path = staging.join(name.replace('/', "__"));
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let mut out = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
        fill(&mut out)?;
        let (sha256, bytes) = out.finish().map_err(io(&path))?;
        members.push((Member { name: name.to_string(), bytes, sha256 }, path));
        Ok::<(), BackupError>(())
    };
    // The key first: it is what the rest needs to be of use (IP hashes, sealed secrets).
    let key_path = store.data_dir.join("secret.key");
    stage("secret.key", &mut |out| {
        let bytes = std::fs::read(&key_path).map_err(io(&key_path))?;
        out.write_all(&bytes).map_err(io(&key_path))
    })?;
    // Audit: seals before segments, so every seal's position is inside the copied lines.
    for (name, path) in audit_files(audit_dir)? {
        stage(&format!("audit/{name}"), &mut |out| copy_audit_file(&path, out))?;
    }
    let line_err = |e: std::io::Error| BackupError::Io { path: "archive member".into(), source: e };
    for (name, tree) in SYS_TREES {
        stage(&format!("sys/{name}.jsonl"), &mut |out| {
            point.for_each(tree.name(), |k, v| {
                if tree == crate::store::SysTree::Meta && local_meta_key(k) {
                    return Ok(());
                }
                writeln!(out, "{{\"k\":\"{}\",\"v\":\"{}\"}}", hex::encode(k), hex::encode(v))
                    .map_err(line_err)
                    .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
            })?;
            Ok(())
        })?;
    }
    let mut rows = BTreeMap::new();
    let mut tables = store.stored_tables();
    tables.sort();
    for table in tables {
        let mut n = 0u64;
        stage(&format!("tables/{table}.jsonl"), &mut |out| {
            point.for_each(&format!("rows:{table}"), |_, v| {
                n += 1;
                out.write_all(v)
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
            })?;
            Ok(())
        })?;
        rows.insert(table, n);
    }
    drop(point);
    let manifest = Manifest {
        format: "palisade-backup".into(),
        format_version: FORMAT_VERSION,
        palisade_version: env!("CARGO_PKG_VERSION").into(),
        point_ms,
        point: crate::clock::rfc3339(point_ms),
        rows: rows.clone(),
        members: members.iter().map(|(m, _)| m.clone()).collect(),
    };
    let target = if dest.is_dir() {
        let stamp = crate::clock::rfc3339(point_ms).replace([':', '.'], "-");
        let ext = if encryption.is_some() { ".tar.zst.age" } else { ".tar.zst" };
        dest.join(format!("{PREFIX}{stamp}{ext}"))
    } else {
        dest.to_path_buf()
    };
    let partial = staging.join("archive.partial");
    {
        let file = owner_only_file(&partial)?;
        let sink = Sink::new(BufWriter::with_capacity(1 << 20, file), encryption)?;
        let encoder = zstd::Encoder::new(sink, 3).map_err(io(&partial))?;
        let mut builder = tar::Builder::new(encoder);
        let secs = point_ms / 1000;
        let text = serde_json::to_vec_pretty(&manifest).map_err(|e| io(&partial)(e.into()))?;
        archive::append_bytes(&mut builder, MANIFEST, &text, secs).map_err(io(&partial))?;
        for (m, path) in &members {
            archive::append(&mut builder, &m.name, path, secs)?;
        }
        let encoder = builder.into_inner().map_err(io(&partial))?;
        let mut inner = encoder.finish().and_then(Sink::finish).map_err(io(&partial))?;
        inner.flush().map_err(io(&partial))?;
        inner.get_ref().sync_all().map_err(io(&partial))?;
    }
    std::fs::rename(&partial, &target).map_err(io(&target))?;
    let bytes = std::fs::metadata(&target).map_err(io(&target))?.len();
    Ok(Created { path: target, bytes, point_ms, rows })
}

fn owner_only_file(path: &Path) -> Result<std::fs::File, BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io(path))
}

/// The trail's files, seals and other files first, then segments oldest first.
fn audit_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, BackupError> {
    let mut files: Vec<(bool, String, PathBuf)> = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        if !entry.file_type().map_err(io(dir))?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let segment = name.contains(".jsonl");
        files.push((segment, name, entry.path()));
    }
    files.sort();
    Ok(files.into_iter().map(|(_, n, p)| (n, p)).collect())
}

/// Copies an audit file; a segment being appended to is cut after its last whole line.
fn copy_audit_file(path: &Path, out: &mut dyn Write) -> Result<(), BackupError> {
    let mut bytes = Vec::new();
    match std::fs::File::open(path) {
        Ok(mut f) => f.read_to_end(&mut bytes).map_err(io(path))?,
        // Closed and compressed since it was listed: the same lines, decompressed.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let zst = PathBuf::from(format!("{}.zst", path.display()));
            let f = std::fs::File::open(&zst).map_err(io(&zst))?;
            zstd::Decoder::new(f).and_then(|mut d| d.read_to_end(&mut bytes)).map_err(io(&zst))?
        }
        Err(e) => return Err(io(path)(e)),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.ends_with(".jsonl") {
        let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(end);
    }
    out.write_all(&bytes).map_err(io(path))
}

/// Deletes the oldest scheduled archives in `dir` beyond `keep`; answers how many.
pub fn prune_scheduled(dir: &Path, keep: usize) -> Result<usize, BackupError> {
    let mut archives: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && (n.ends_with(".tar.zst") || n.ends_with(".tar.zst.age")))
        })
        .collect();
    archives.sort();
    let extra = archives.len().saturating_sub(keep);
    for old in &archives[..extra] {
        std::fs::remove_file(old).map_err(io(old))?;
    }
    Ok(extra)
}
