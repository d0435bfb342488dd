//! Forward-secure sealing of the audit trail, after journald's Forward Secure Sealing.
//!
//! The hash chain alone has no key: whoever can write `DATA_DIR/audit` can edit a record,
//! recompute every `prev` and `head`, and the chain is intact again. Sealing adds a key
//! that only moves forward. `palisade audit setup-keys` draws a random 32-byte `k_0` and
//! prints it once, with the time epoch 0 began and the epoch length, as the verification
//! key; the admin keeps it off the machine. Every `[audit] seal_epoch_secs` the key
//! evolves one way, `k_{n+1} = HMAC-SHA256(k_n, "palisade-seal-evolve")`, and the key file
//! is replaced (written aside, synced, renamed over the old one), so the file never holds
//! an earlier epoch's key. Before evolving, the writer appends a seal: an HMAC, under a key
//! derived from `k_n`, of the epoch, the chain head at that point (segment, line, hash), and
//! the length and hash of `pruned.jsonl` (so a forged retention note is found too).
//!
//! An intruder who reads the key file in epoch `m` can seal whatever they like from epoch
//! `m` on, but cannot make or change a seal of an earlier epoch; the seals of each key are
//! chained (`prev_seal`) and their epochs must follow one another without a gap (a restart
//! after downtime writes one seal spanning the epochs it missed), so removing an earlier
//! seal is found as well. With `k_0` a verifier derives every `k_n` (see [`check`]).
//!
//! Seals live in their own file, `seals.jsonl`, not among the records: segment lines stay
//! records only (so `audit tail`, `zstdcat | jq` and older versions read them as before,
//! and old trails still verify), and retention deletes whole segments while the seals
//! chain must stay complete from epoch 0. A seal is about 450 bytes: at the default 900 s
//! epoch the file grows by about 45 KB a day.

pub mod check;
pub mod sealer;

use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The file holding the current epoch's key (mode 0600).
pub const KEY_FILE: &str = "seal.key";
/// The seals, one JSON line each, oldest first.
pub const SEALS_FILE: &str = "seals.jsonl";

const EVOLVE: &[u8] = b"palisade-seal-evolve";
const MAC_LABEL: &[u8] = b"palisade-seal-mac";
const ID_LABEL: &[u8] = b"palisade-seal-id";

/// Why sealing could not be set up or a key not read.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "the audit trail is already sealed (key {key_id}); a new key would vouch for the trail as it is now, \
         including anything changed since the last seal, and the current verification key would stop \
         covering new records; run with --force only if that key was lost or leaked"
    )]
    AlreadySealed { key_id: String },
    #[error("not a verification key: {0}")]
    BadKey(&'static str),
    #[error("seal key file: {0}")]
    Io(#[from] std::io::Error),
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// One epoch's sealing key. Its `Debug` prints nothing; it is zeroed when dropped (best
/// effort: copies the optimiser made are out of reach).
#[derive(Clone)]
pub struct SealKey([u8; 32]);

impl SealKey {
    /// A fresh random `k_0`.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The next epoch's key: one way, so this one cannot be found from it.
    pub fn evolve(&self) -> Self {
        Self(hmac(&self.0, EVOLVE))
    }

    /// The key `steps` epochs later.
    pub fn forward(&self, steps: u64) -> Self {
        let mut key = self.clone();
        for _ in 0..steps {
            key = key.evolve();
        }
        key
    }

    /// The MAC of `message` under the key derived from this one for seals (never the key
    /// itself, which only evolves).
    fn mac(&self, message: &[u8]) -> [u8; 32] {
        hmac(&hmac(&self.0, MAC_LABEL), message)
    }

    /// A public name for a `k_0` (16 hex digits), so seals of different keys are told
    /// apart; it reveals nothing of the key.
    pub fn id(&self) -> String {
        hex::encode(&hmac(&self.0, ID_LABEL)[..8])
    }

    /// The key's hex digits, for the key file and the verification key only.
    pub fn expose_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl Drop for SealKey {
    fn drop(&mut self) {
        self.0 = [0; 32];
        std::hint::black_box(&self.0);
    }
}

/// What the admin keeps off the machine: `k_0`, when epoch 0 began, and the epoch length,
/// written `<64 hex digits>/<start ms>/<epoch secs>`. Its `Debug` prints nothing.
#[derive(Clone)]
pub struct VerificationKey {
    pub seed: SealKey,
    pub start_ms: u64,
    pub epoch_secs: u64,
}

impl VerificationKey {
    /// The text the admin is shown once.
    pub fn expose(&self) -> String {
        format!("{}/{}/{}", self.seed.expose_hex(), self.start_ms, self.epoch_secs)
    }

    pub fn id(&self) -> String {
        self.seed.id()
    }

    /// When `epoch` began.
    pub fn epoch_start_ms(&self, epoch: u64) -> u64 {
        epoch_start_ms(self.start_ms, self.epoch_secs, epoch)
    }

    /// The epoch `now_ms` falls in.
    pub fn epoch_at(&self, now_ms: u64) -> u64 {
        epoch_at(self.start_ms, self.epoch_secs, now_ms)
    }
}

impl std::str::FromStr for VerificationKey {
    type Err = SealError;
    fn from_str(text: &str) -> Result<Self, SealError> {
        let mut parts = text.trim().split('/');
        let seed = parts.next().and_then(SealKey::from_hex).ok_or(SealError::BadKey("expected 64 hex digits first"))?;
        let number = |part: Option<&str>| part.and_then(|p| p.parse::<u64>().ok());
        let start_ms = number(parts.next()).ok_or(SealError::BadKey("expected the start time (ms) second"))?;
        let epoch_secs =
            number(parts.next()).filter(|&s| s > 0).ok_or(SealError::BadKey("expected the epoch length (s) third"))?;
        if parts.next().is_some() {
            return Err(SealError::BadKey("expected three parts separated by /"));
        }
        Ok(Self { seed, start_ms, epoch_secs })
    }
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerificationKey(..)")
    }
}

pub fn epoch_start_ms(start_ms: u64, epoch_secs: u64, epoch: u64) -> u64 {
    start_ms.saturating_add(epoch.saturating_mul(epoch_secs.saturating_mul(1000)))
}

pub fn epoch_at(start_ms: u64, epoch_secs: u64, now_ms: u64) -> u64 {
    now_ms.saturating_sub(start_ms) / epoch_secs.saturating_mul(1000).max(1)
}

/// One line of `seals.jsonl`. `mac` covers every other field.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// Names the `k_0` this seal descends from ([`SealKey::id`]).
    pub key_id: String,
    /// The epoch whose key made the MAC.
    pub epoch: u64,
    /// The epoch of the key after this seal: `epoch` for a seal within the epoch (graceful
    /// stop, retention), later when the epoch ended (more than one later after downtime).
    pub next_epoch: u64,
    pub time_ms: u64,
    /// The chain head when sealed: segment number, lines in it, hash of the last line
    /// (segment 0, line 0 and the genesis hash while the trail is empty).
    pub segment: u64,
    pub lines: usize,
    pub head: String,
    /// Lines of `pruned.jsonl` when sealed, and the SHA-256 of those lines.
    pub pruned: usize,
    pub pruned_hash: String,
    /// SHA-256 of the previous seal line of the same key (the genesis hash for the first).
    pub prev_seal: String,
    pub mac: String,
}

impl Seal {
    /// The bytes the MAC covers: every field but `mac`, in a fixed order.
    fn message(&self) -> Vec<u8> {
        format!(
            "palisade-seal-v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.key_id,
            self.epoch,
            self.next_epoch,
            self.time_ms,
            self.segment,
            self.lines,
            self.head,
            self.pruned,
            self.pruned_hash,
            self.prev_seal
        )
        .into_bytes()
    }

    /// Sets `mac` with `key`, which must be the key of `epoch`.
    pub fn sign(&mut self, key: &SealKey) {
        self.mac = hex::encode(key.mac(&self.message()));
    }

    /// Whether `key` (the key of `epoch`) made this seal; compared in constant time.
    pub fn made_with(&self, key: &SealKey) -> bool {
        let mut given = [0u8; 32];
        if hex::decode_to_slice(&self.mac, &mut given).is_err() {
            return false;
        }
        key.mac(&self.message()).ct_eq(&given).into()
    }
}

/// The SHA-256 (hex) of the first lines of `pruned.jsonl`, each with its newline.
pub fn pruned_digest(lines: &[Vec<u8>]) -> String {
    let mut hasher = Sha256::new();
    for line in lines {
        hasher.update(line);
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn keys_evolve_one_way_and_forward_matches_stepping() {
        let k0 = SealKey::generate();
        let k1 = k0.evolve();
        assert_ne!(k0.expose_hex(), k1.expose_hex());
        assert_eq!(k0.forward(3).expose_hex(), k1.evolve().evolve().expose_hex());
        assert_eq!(k0.forward(0).expose_hex(), k0.expose_hex());
        // A known answer, so the evolution cannot change without a failing test.
        let zero = SealKey([0; 32]);
        assert_eq!(zero.evolve().expose_hex(), hex::encode(hmac(&[0; 32], b"palisade-seal-evolve")));
        assert_eq!(format!("{k0:?}"), "SealKey(..)");
    }

    #[test]
    fn verification_key_round_trips_and_hides_itself() {
        let vk = VerificationKey { seed: SealKey::generate(), start_ms: 1_800_000_000_000, epoch_secs: 900 };
        let text = vk.expose();
        let back: VerificationKey = text.parse().unwrap();
        assert_eq!(back.seed.expose_hex(), vk.seed.expose_hex());
        assert_eq!((back.start_ms, back.epoch_secs), (vk.start_ms, 900));
        assert_eq!(format!("{back:?}"), "VerificationKey(..)");
        for bad in ["", "abc/1/2", &format!("{}/x/900", vk.seed.expose_hex()), &format!("{}/1/0", vk.seed.expose_hex())]
        {
            assert!(bad.parse::<VerificationKey>().is_err(), "{bad}");
        }
        assert_eq!(vk.epoch_at(vk.start_ms + 899_999), 0);
        assert_eq!(vk.epoch_at(vk.start_ms + 900_000), 1);
        assert_eq!(vk.epoch_start_ms(2), vk.start_ms + 1_800_000);
    }

    #[test]
    fn a_seal_checks_only_under_its_own_epochs_key_and_unchanged() {
        let k0 = SealKey::generate();
        let mut seal = Seal {
            key_id: k0.id(),
            epoch: 1,
            next_epoch: 2,
            time_ms: 5,
            segment: 1,
            lines: 3,
            head: "ab".repeat(32),
            pruned: 0,
            pruned_hash: pruned_digest(&[]),
            prev_seal: "00".repeat(32),
            mac: String::new(),
        };
        let k1 = k0.evolve();
        seal.sign(&k1);
        assert!(seal.made_with(&k1));
        assert!(!seal.made_with(&k0), "the previous epoch's key");
        assert!(!seal.made_with(&k1.evolve()), "the next epoch's key (an intruder's)");
        let mut changed = seal.clone();
        changed.lines = 4;
        assert!(!changed.made_with(&k1));
        let mut changed = seal.clone();
        changed.pruned_hash = pruned_digest(&[b"{}".to_vec()]);
        assert!(!changed.made_with(&k1));
        changed.mac = "zz".into();
        assert!(!changed.made_with(&k1));
    }
}

#[cfg(test)]
mod tests;
