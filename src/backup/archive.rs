//! The archive's container: a zstd-compressed tar stream whose first member is
//! `manifest.json`, and its verification.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::crypt::Keys;
use super::{io, BackupError, FORMAT_VERSION};

/// What an archive says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `palisade-backup`.
    pub format: String,
    pub format_version: u32,
    pub palisade_version: String,
    /// The consistent point (ms since the epoch) and the same as RFC 3339.
    pub point_ms: u64,
    pub point: String,
    /// Rows per table at the point.
    pub rows: BTreeMap<String, u64>,
    /// Every other member, in archive order.
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Member {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

pub const MANIFEST: &str = "manifest.json";

/// Appends a file as a member, mode 0600.
pub fn append(builder: &mut tar::Builder<impl Write>, name: &str, file: &Path, mtime: u64) -> Result<(), BackupError> {
    let mut f = std::fs::File::open(file).map_err(io(file))?;
    let len = f.metadata().map_err(io(file))?.len();
    let mut header = tar::Header::new_gnu();
    header.set_size(len);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, name, &mut f).map_err(io(file))
}

pub fn append_bytes(
    builder: &mut tar::Builder<impl Write>,
    name: &str,
    bytes: &[u8],
    mtime: u64,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, name, bytes)
}

/// What `backup verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub manifest: Manifest,
    pub audit_records: usize,
}

/// Reads an archive: the manifest, then every member with `visit(name, bytes)` as it
/// streams by, each checked against its checksum (a mismatch, a missing member or an extra
/// one is [`BackupError::BadArchive`]). `visit` sees a member's bytes before its checksum
/// is judged: callers that keep anything must wait for `Ok`.
pub fn read(
    file: &Path,
    keys: &Keys,
    mut visit: impl FnMut(&str, &mut dyn Read) -> Result<(), BackupError>,
) -> Result<Manifest, BackupError> {
    let bad = |m: String| BackupError::BadArchive(m);
    let f = super::crypt::open(file, keys)?;
    let decoder = zstd::Decoder::new(f).map_err(|e| bad(format!("not a Palisade backup (zstd): {e}")))?;
    let mut archive = tar::Archive::new(decoder);
    let mut entries = archive.entries().map_err(|e| bad(format!("not a Palisade backup (tar): {e}")))?;
    let mut first = entries.next().ok_or_else(|| bad("empty archive".into()))?.map_err(|e| bad(e.to_string()))?;
    if first.path().ok().as_deref() != Some(Path::new(MANIFEST)) {
        return Err(bad("the first member is not manifest.json".into()));
    }
    let mut text = Vec::new();
    first.by_ref().take(16 << 20).read_to_end(&mut text).map_err(|e| bad(e.to_string()))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| bad(format!("manifest.json: {e}")))?;
    if manifest.format != "palisade-backup" || manifest.format_version != FORMAT_VERSION {
        return Err(bad(format!(
            "format {} version {} (this build reads palisade-backup version {FORMAT_VERSION})",
            manifest.format, manifest.format_version
        )));
    }
    let mut expected = manifest.members.iter();
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let name = entry.path().map_err(|e| bad(e.to_string()))?.to_string_lossy().into_owned();
        let want = expected.next().ok_or_else(|| bad(format!("{name}: not in the manifest")))?;
        if want.name != name {
            return Err(bad(format!("{name}: the manifest lists {} here", want.name)));
        }
        let mut hashing = Hashing { inner: &mut entry, hash: Sha256::new(), bytes: 0 };
        visit(&name, &mut hashing)?;
        std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| bad(format!("{name}: {e}")))?;
        let (sum, bytes) = (hex::encode(hashing.hash.finalize()), hashing.bytes);
        if sum != want.sha256 || bytes != want.bytes {
            return Err(bad(format!("{name}: checksum does not match the manifest (changed or damaged)")));
        }
    }
    if let Some(missing) = expected.next() {
        return Err(bad(format!("{}: listed in the manifest but missing", missing.name)));
    }
    Ok(manifest)
}

/// A reader that hashes and counts what passes through.
struct Hashing<'a, R: Read> {
    inner: &'a mut R,
    hash: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts what passes through (staging members).
pub struct HashingWriter<W: Write> {
    pub inner: W,
    hash: Sha256,
    pub bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self { inner, hash: Sha256::new(), bytes: 0 }
    }

    pub fn finish(mut self) -> std::io::Result<(String, u64)> {
        self.inner.flush()?;
        Ok((hex::encode(self.hash.finalize()), self.bytes))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `backup verify`: the manifest, every checksum, and the audit chain inside (unpacked to
/// a temporary dir and walked like `audit verify`). An encrypted archive is decrypted with
/// `keys` as it streams.
pub fn verify(file: &Path, keys: &Keys) -> Result<VerifyReport, BackupError> {
    let scratch = tempdir_beside(file)?;
    let audit = scratch.join("audit");
    let result = (|| {
        let manifest = read(file, keys, |name, data| {
            if let Some(rest) = name.strip_prefix("audit/") {
                std::fs::create_dir_all(&audit).map_err(io(&audit))?;
                let path = audit.join(safe_name(rest)?);
                let mut out = std::fs::File::create(&path).map_err(io(&path))?;
                std::io::copy(data, &mut out).map_err(io(&path))?;
            }
            Ok(())
        })?;
        let report = crate::store::audit::verify::verify(&audit).map_err(io(&audit))?;
        if !report.ok {
            let at = report.first_break.map(|b| format!("{b:?}")).unwrap_or_default();
            return Err(BackupError::BadArchive(format!("the audit chain inside does not verify: {at}")));
        }
        Ok(VerifyReport { manifest, audit_records: report.records })
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// A member's file name under a folder: one plain component, nothing that climbs out.
pub fn safe_name(name: &str) -> Result<&str, BackupError> {
    let ok = !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..";
    ok.then_some(name).ok_or_else(|| BackupError::BadArchive(format!("member name {name:?}")))
}

/// A fresh private directory beside `file` (same filesystem, so a rename is atomic).
pub fn tempdir_beside(file: &Path) -> Result<PathBuf, BackupError> {
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let dir = parent.join(format!(".palisade-backup-{}-{}", std::process::id(), now.as_nanos()));
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    crate::store::restrict_permissions(&dir, 0o700).map_err(io(&dir))?;
    Ok(dir)
}
