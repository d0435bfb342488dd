//! One lock as stored: what it shuts out, who made it, until when and why. Its key names the
//! kind and the (keyed) subject, never a legible address.

use serde::{Deserialize, Serialize};

/// What a lock shuts out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    Ip,
    User,
    Custom,
}

/// Who made a lock. Records from earlier versions carry none and count as manual: they are
/// never evicted, only expire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockSource {
    /// An administrator (`palisade lock`): kept until it expires or is lifted.
    #[default]
    Manual,
    /// A check (injection, honeypot, brute force): may be folded into a network lock or
    /// evicted when the table is full.
    Automatic,
}

/// One lock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockRecord {
    pub kind: LockKind,
    /// Keyed IP (or network) hash, user name, or custom id.
    pub subject: String,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    pub reason: String,
    /// A redacted, truncated sample of the request that caused it.
    #[serde(default)]
    pub sample: Option<String>,
    #[serde(default)]
    pub source: LockSource,
    /// An automatic lock on one address: the keyed hash of the network it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// A lock on a whole network: its prefix length (`subject` is the network's keyed hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_len: Option<u8>,
    /// What made it: the check and its rule (`injection: SQL injection (…)`), `brute_force`,
    /// `manual`, … — never the payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The route of the request that made it (`GET /api/v1/{table}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The owner of the valid token that request presented, if any (whose customer this is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl LockRecord {
    /// A lock on one subject, with no sample, network or prefix.
    pub fn new(
        kind: LockKind,
        subject: String,
        source: LockSource,
        created_at_ms: u64,
        expires_at_ms: u64,
        reason: String,
    ) -> Self {
        Self {
            kind,
            subject,
            created_at_ms,
            expires_at_ms,
            reason,
            sample: None,
            source,
            network: None,
            prefix_len: None,
            rule: None,
            route: None,
            owner: None,
        }
    }

    pub fn key(&self) -> String {
        lock_key(self.kind, &self.subject)
    }

    /// A short id naming the lock to an operator (`palisade unlock ID`): 12 hex digits of
    /// the SHA-256 of its key, so it shows nothing of a hashed address.
    pub fn id(&self) -> String {
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(self.key().as_bytes())[..6])
    }
}

pub(super) fn lock_key(kind: LockKind, subject: &str) -> String {
    let prefix = match kind {
        LockKind::Ip => "ip",
        LockKind::User => "user",
        LockKind::Custom => "id",
    };
    format!("{prefix}:{subject}")
}
