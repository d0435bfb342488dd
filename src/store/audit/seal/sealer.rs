//! The writer's side of sealing: the key file (`seal.key`) and the seals it appends to
//! `seals.jsonl`.
//!
//! Order matters for a crash. At an epoch's end the seal is made durable first, then the
//! evolved key replaces the key file (written aside, synced, renamed, directory synced). A
//! crash between the two leaves a seal whose `next_epoch` is ahead of the key file; opening
//! finishes the roll from there. The other order could lose an epoch's key before its seal
//! was written, leaving a gap no one could ever fill.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{epoch_at, epoch_start_ms, pruned_digest, Seal, SealError, SealKey, VerificationKey, KEY_FILE, SEALS_FILE};
use crate::store::audit::segments::{self, line_hash, owner_only, GENESIS, PRUNED_FILE};

/// The key file as stored: the current epoch's key and what places it in time.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    key_id: String,
    start_ms: u64,
    epoch_secs: u64,
    epoch: u64,
    key: String,
}

/// The chain head a seal vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub segment: u64,
    pub lines: usize,
    pub hash: String,
}

/// The sealing state of a running trail. `Debug` prints nothing of the key.
pub struct Sealer {
    dir: PathBuf,
    key_id: String,
    start_ms: u64,
    epoch_secs: u64,
    /// The epoch whose key `key` is; every earlier key is gone.
    epoch: u64,
    key: SealKey,
    /// Hash of the last seal line of this key.
    prev_seal: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("key_id", &self.key_id).field("epoch", &self.epoch).finish_non_exhaustive()
    }
}

/// Overwrites a copy of key material before it is freed (best effort, like [`SealKey`]'s
/// `Drop`).
fn wipe(mut bytes: Vec<u8>) {
    bytes.fill(0);
    std::hint::black_box(&bytes);
}

/// Lines of a file in `dir`; a missing file has none.
fn lines_of(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    match segments::read_lines(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        other => other,
    }
}

/// Whether `dir` holds a sealed trail: a key file, or any seal.
pub fn is_sealed(dir: &Path) -> bool {
    dir.join(KEY_FILE).exists() || lines_of(&dir.join(SEALS_FILE)).is_ok_and(|l| !l.is_empty())
}

impl Sealer {
    /// Loads the key file in `dir` when sealing was set up, finishing a roll a crash cut
    /// short (see the module docs).
    pub fn open(dir: &Path) -> Result<Option<Self>, SealError> {
        let bytes = match std::fs::read(dir.join(KEY_FILE)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let parsed = serde_json::from_slice::<KeyFile>(&bytes);
        wipe(bytes);
        let mut file = parsed.map_err(std::io::Error::other)?;
        let key = SealKey::from_hex(&file.key);
        wipe(std::mem::take(&mut file.key).into_bytes());
        let key = key.ok_or(SealError::BadKey("the key file's key is not 64 hex digits"))?;
        if file.epoch_secs == 0 {
            return Err(SealError::BadKey("the key file's epoch length is 0"));
        }
        let mut sealer = Self {
            dir: dir.to_path_buf(),
            key_id: file.key_id,
            start_ms: file.start_ms,
            epoch_secs: file.epoch_secs,
            epoch: file.epoch,
            key,
            prev_seal: GENESIS.into(),
        };
        let mut last: Option<Seal> = None;
        for line in lines_of(&dir.join(SEALS_FILE))? {
            if let Ok(seal) = serde_json::from_slice::<Seal>(&line) {
                if seal.key_id == sealer.key_id {
                    sealer.prev_seal = line_hash(&line).as_str().to_owned();
                    last = Some(seal);
                }
            }
        }
        if let Some(seal) = last.filter(|s| s.next_epoch > sealer.epoch) {
            tracing::warn!(epoch = seal.next_epoch, "audit sealing: finishing a key roll cut short");
            sealer.advance(seal.next_epoch)?;
        }
        Ok(Some(sealer))
    }

    /// Starts sealing in `dir` with a fresh `k_0` (epoch 0 begins now) and writes the key
    /// file; returns the verification key, to be shown once.
    pub fn create(dir: &Path, now_ms: u64, epoch_secs: u64) -> Result<(Self, VerificationKey), SealError> {
        let seed = SealKey::generate();
        let verification = VerificationKey { seed: seed.clone(), start_ms: now_ms, epoch_secs };
        let sealer = Self {
            dir: dir.to_path_buf(),
            key_id: seed.id(),
            start_ms: now_ms,
            epoch_secs,
            epoch: 0,
            key: seed,
            prev_seal: GENESIS.into(),
        };
        sealer.save()?;
        Ok((sealer, verification))
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// When the current epoch ends.
    pub fn due_ms(&self) -> u64 {
        epoch_start_ms(self.start_ms, self.epoch_secs, self.epoch.saturating_add(1))
    }

    /// Seals `head` when the epoch has ended, then evolves the key (past every epoch that
    /// ended since) and erases the old one from the key file; with `within`, seals inside
    /// the epoch too (graceful stop, retention), keeping the key. Returns the seal written.
    pub fn seal(&mut self, now_ms: u64, head: &Position, within: bool) -> Result<Option<Seal>, SealError> {
        let next_epoch = epoch_at(self.start_ms, self.epoch_secs, now_ms).max(self.epoch);
        if next_epoch == self.epoch && !within {
            return Ok(None);
        }
        let pruned = lines_of(&self.dir.join(PRUNED_FILE))?;
        let mut seal = Seal {
            key_id: self.key_id.clone(),
            epoch: self.epoch,
            next_epoch,
            time_ms: now_ms,
            segment: head.segment,
            lines: head.lines,
            head: head.hash.clone(),
            pruned: pruned.len(),
            pruned_hash: pruned_digest(&pruned),
            prev_seal: self.prev_seal.clone(),
            mac: String::new(),
        };
        seal.sign(&self.key);
        let mut line = serde_json::to_vec(&seal).map_err(std::io::Error::other)?;
        let mut file = owner_only().append(true).open(self.dir.join(SEALS_FILE))?;
        line.push(b'\n');
        file.write_all(&line)?;
        file.sync_data()?;
        self.prev_seal = line_hash(&line[..line.len() - 1]).as_str().to_owned();
        // The journal keeps a copy the trail's owner cannot rewrite.
        tracing::info!(
            target: "palisade::audit::seal",
            key_id = %seal.key_id,
            epoch = seal.epoch,
            next_epoch = seal.next_epoch,
            segment = seal.segment,
            lines = seal.lines,
            head = %seal.head,
            pruned = seal.pruned,
            mac = %seal.mac,
            "audit trail sealed"
        );
        if next_epoch > self.epoch {
            self.advance(next_epoch)?;
        }
        Ok(Some(seal))
    }

    /// Evolves the key to `epoch` and replaces the key file.
    fn advance(&mut self, epoch: u64) -> Result<(), SealError> {
        self.key = self.key.forward(epoch - self.epoch);
        self.epoch = epoch;
        self.save()
    }

    /// Replaces the key file: written aside, synced, renamed over the old one, directory
    /// synced. The old epoch's key is then in no file (blocks a file system keeps after a
    /// rename are beyond reach of a file write).
    fn save(&self) -> Result<(), SealError> {
        let text = KeyFile {
            key_id: self.key_id.clone(),
            start_ms: self.start_ms,
            epoch_secs: self.epoch_secs,
            epoch: self.epoch,
            key: self.key.expose_hex(),
        };
        let bytes = serde_json::to_vec(&text).map_err(std::io::Error::other);
        wipe(text.key.into_bytes());
        let bytes = bytes?;
        let tmp = self.dir.join(format!("{KEY_FILE}.tmp"));
        let mut file = owner_only().write(true).truncate(true).open(&tmp)?;
        let written = file.write_all(&bytes).and_then(|()| file.sync_all());
        wipe(bytes);
        written?;
        drop(file);
        std::fs::rename(&tmp, self.dir.join(KEY_FILE))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Position {
        Position { segment: 0, lines: 0, hash: GENESIS.into() }
    }

    #[test]
    fn the_key_file_never_holds_an_earlier_epochs_key() {
        let dir = tempfile::tempdir().unwrap();
        let (mut sealer, vk) = Sealer::create(dir.path(), 1_000, 60).unwrap();
        let key_file = dir.path().join(KEY_FILE);
        let k0 = vk.seed.expose_hex();
        assert!(std::fs::read_to_string(&key_file).unwrap().contains(&k0));
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key_file).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        // Nothing is due inside the epoch.
        assert!(sealer.seal(60_999, &empty(), false).unwrap().is_none());
        let seal = sealer.seal(61_000, &empty(), false).unwrap().unwrap();
        assert_eq!((seal.epoch, seal.next_epoch), (0, 1));
        assert!(seal.made_with(&vk.seed));
        let after = std::fs::read(&key_file).unwrap();
        let text = String::from_utf8_lossy(&after);
        assert!(!text.contains(&k0), "epoch 0's key is still in the key file");
        assert!(text.contains(&vk.seed.evolve().expose_hex()));
        assert!(!after.windows(32).any(|w| hex::encode(w) == k0), "not even as bytes");
        assert!(!dir.path().join(format!("{KEY_FILE}.tmp")).exists());
        // Three epochs later: one seal spans the gap, and the key skips ahead.
        let k1 = vk.seed.evolve().expose_hex();
        let seal = sealer.seal(61_000 + 3 * 60_000, &empty(), false).unwrap().unwrap();
        assert_eq!((seal.epoch, seal.next_epoch), (1, 4));
        let text = std::fs::read_to_string(&key_file).unwrap();
        assert!(!text.contains(&k1) && text.contains(&vk.seed.forward(4).expose_hex()));
    }

    #[test]
    fn seals_chain_and_a_reopen_continues_and_finishes_a_cut_roll() {
        let dir = tempfile::tempdir().unwrap();
        let (mut sealer, vk) = Sealer::create(dir.path(), 0, 10).unwrap();
        let first = sealer.seal(5, &empty(), true).unwrap().unwrap();
        assert_eq!((first.epoch, first.next_epoch, first.prev_seal.as_str()), (0, 0, GENESIS));
        let saved_k0 = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
        let second = sealer.seal(10_000, &empty(), false).unwrap().unwrap();
        let lines = lines_of(&dir.path().join(SEALS_FILE)).unwrap();
        assert_eq!(second.prev_seal, line_hash(&lines[0]).as_str());
        // A crash after the seal but before the key file was replaced.
        std::fs::write(dir.path().join(KEY_FILE), &saved_k0).unwrap();
        let reopened = Sealer::open(dir.path()).unwrap().unwrap();
        assert_eq!(reopened.epoch, 1);
        assert_eq!(reopened.key.expose_hex(), vk.seed.evolve().expose_hex());
        assert_eq!(reopened.prev_seal, line_hash(&lines[1]).as_str());
        assert!(Sealer::open(tempfile::tempdir().unwrap().path()).unwrap().is_none());
        assert!(is_sealed(dir.path()));
    }
}
