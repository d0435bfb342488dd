//! API tokens: creation, storage and lookup.
//!
//! A token is `pal_<16 hex id>_<64 hex secret>` (256 random bits; the prefix lets secret
//! scanners spot leaked ones). Only its SHA-256 digest is stored. Lookup goes by the public
//! id, then compares fixed-length digests in constant time with `subtle`; an unknown id is
//! compared against a dummy digest so both paths cost the same. Signing secrets are sealed
//! with the install key before they touch sled. The plaintext types print nothing in `Debug`.

use std::sync::Arc;

use dashmap::DashMap;
use ipnet::IpNet;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::schema::Schema;
use crate::store::{Op, Store, StoreError, SysTree};

/// The stored form of a token (no plaintext anywhere).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the whole token string.
    pub hash: String,
    pub scopes: Vec<ScopeEntry>,
    #[serde(default)]
    pub views: Vec<String>,
    #[serde(default)]
    pub origins: Vec<String>,
    #[serde(default)]
    pub cidrs: Vec<IpNet>,
    pub rate: Option<u32>,
    pub window_secs: Option<u64>,
    /// hex(nonce ‖ XChaCha20-Poly1305 ciphertext) of the signing secret.
    pub sealed_signing_secret: Option<String>,
    #[serde(default)]
    pub sandbox: bool,
    #[serde(default)]
    pub introspection: bool,
    #[serde(default)]
    pub allow_sensitive: bool,
    pub created_at_ms: u64,
    pub expires_at_ms: Option<u64>,
    #[serde(default)]
    pub revoked: bool,
    /// The row this token is bound to (`--owner`): it sees only rows that belong to it.
    #[serde(default)]
    pub owner: Option<owner::Owner>,
}

/// Options of `palisade token create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenSpec {
    pub name: String,
    pub scopes: Vec<String>,
    pub views: Vec<String>,
    pub origins: Vec<String>,
    pub cidrs: Vec<String>,
    pub rate: Option<u32>,
    pub window: Option<u64>,
    pub sign: bool,
    pub sandbox: bool,
    pub introspection: bool,
    pub allow_sensitive: bool,
    pub expires: Option<u64>,
    /// `TABLE:ID`: bind the token to that row (see `owner`).
    #[serde(default)]
    pub owner: Option<String>,
}

/// What creation hands back, once.
#[derive(Debug, Serialize)]
pub struct CreatedToken {
    pub id: String,
    #[serde(serialize_with = "expose_token")]
    pub token: PlainToken,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
}

/// Why a token request failed (shown to the operator, never to API clients).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(String),
    #[error("no token with id {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why authentication of a presented token failed (audit only; clients see `invalid_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Malformed,
    Unknown,
    Mismatch,
    Revoked,
    Expired,
}

impl TokenRejection {
    pub fn reason(self) -> &'static str {
        match self {
            TokenRejection::Malformed => "malformed token",
            TokenRejection::Unknown => "unknown token id",
            TokenRejection::Mismatch => "token digest mismatch",
            TokenRejection::Revoked => "token revoked",
            TokenRejection::Expired => "token expired",
        }
    }
}

fn expose_token<S: serde::Serializer>(t: &PlainToken, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.expose())
}

/// A token id (16 hex digits) as the number the rate limiter counts under.
pub fn token_key(id: &str) -> Option<u64> {
    (id.len() == 16).then(|| u64::from_str_radix(id, 16).ok()).flatten()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// All tokens: sled is the truth, a DashMap keyed by id serves lookups.
pub struct TokenRegistry {
    store: Store,
    cache: DashMap<String, Arc<Principal>>,
    /// Changes this process made to the cache, numbered (see [`TokenRegistry::reload`]).
    changes: std::sync::atomic::AtomicU64,
    /// The number of each token's last change made here.
    changed_at: DashMap<String, u64>,
}

impl TokenRegistry {
    /// Loads every live token into memory, opening sealed signing secrets.
    pub fn load(store: Store) -> Result<Self, TokenError> {
        let registry = Self { store, cache: DashMap::new(), changes: Default::default(), changed_at: DashMap::new() };
        for (_, bytes) in registry.store.sys_scan(SysTree::Tokens)? {
            let record: TokenRecord =
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("token record: {e}")))?;
            if !record.revoked {
                registry.cache_record(record)?;
            }
        }
        Ok(registry)
    }

    fn cache_record(&self, record: TokenRecord) -> Result<(), TokenError> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(&record.hash, &mut digest)
            .map_err(|_| StoreError::Corrupt(format!("token {} has a bad hash", record.id)))?;
        let signing = match &record.sealed_signing_secret {
            Some(sealed) => {
                let bytes = self.store.keys.open(sealed).map_err(|_| {
                    StoreError::Corrupt(format!("signing secret of token {} cannot be opened", record.id))
                })?;
                Some(SigningSecret(String::from_utf8_lossy(&bytes).into_owned()))
            }
            None => None,
        };
        let key =
            token_key(&record.id).ok_or_else(|| StoreError::Corrupt(format!("token {} has a bad id", record.id)))?;
        let used = self.last_used_hour(&record.id);
        let last_used_hour = std::sync::atomic::AtomicU64::new(used.unwrap_or(0));
        self.note_change(&record.id);
        self.cache.insert(record.id.clone(), Arc::new(Principal { record, digest, signing, key, last_used_hour }));
        Ok(())
    }

    /// Numbers a change this process makes to the cache (after it is stored).
    fn note_change(&self, id: &str) {
        let n = self.changes.fetch_add(1, std::sync::atomic::Ordering::AcqRel) + 1;
        self.changed_at.insert(id.to_string(), n);
    }

    /// Reads every stored token again and brings the in-memory registry to it: new and
    /// changed tokens are taken in, revoked ones dropped. Another instance made the change
    /// (see `store::pg::watch`). A token this process changed after the read began is left
    /// as it is: the read may predate that change (its own notice brings a newer read).
    pub fn reload(&self) -> Result<(), TokenError> {
        let began = self.changes.load(std::sync::atomic::Ordering::Acquire);
        let newer = |id: &str| self.changed_at.get(id).is_some_and(|n| *n > began);
        let mut live = std::collections::HashSet::new();
        for (_, bytes) in self.store.sys_scan(SysTree::Tokens)? {
            let record: TokenRecord =
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("token record: {e}")))?;
            if newer(&record.id) {
                live.insert(record.id.clone());
                continue;
            }
            if record.revoked {
                self.cache.remove(&record.id);
                continue;
            }
            live.insert(record.id.clone());
            let same = self
                .cache
                .get(&record.id)
                .is_some_and(|p| serde_json::to_vec(&p.record).ok().as_deref() == Some(bytes.as_slice()));
            if !same {
                self.cache_record(record)?;
            }
        }
        self.cache.retain(|id, _| live.contains(id) || newer(id));
        Ok(())
    }

    /// Creates a token after checking its spec against the schema.
    pub fn create(&self, spec: &TokenSpec, schema: &Schema, now_ms: u64) -> Result<CreatedToken, TokenError> {
        let record_parts = validate_spec(spec, schema)?;
        let owner = match &spec.owner {
            Some(raw) => {
                let owner = owner::validate(raw, &record_parts.0, &spec.views, schema)?;
                if !self.store.row_exists(&owner.table, owner.id)? {
                    return Err(TokenError::Invalid(format!("--owner {raw:?}: no such row")));
                }
                Some(owner)
            }
            None => None,
        };
        let id = random_hex(8);
        let token = format!("pal_{id}_{}", random_hex(32));
        let signing_secret = spec.sign.then(|| format!("pals_{}", random_hex(32)));
        let record = TokenRecord {
            id: id.clone(),
            name: spec.name.clone(),
            hash: hex::encode(digest(&token)),
            scopes: record_parts.0,
            views: spec.views.clone(),
            origins: spec.origins.clone(),
            cidrs: record_parts.1,
            rate: spec.rate,
            window_secs: spec.window,
            sealed_signing_secret: signing_secret.as_ref().map(|s| self.store.keys.seal(s.as_bytes())),
            sandbox: spec.sandbox,
            introspection: spec.introspection,
            allow_sensitive: spec.allow_sensitive,
            created_at_ms: now_ms,
            expires_at_ms: spec.expires.map(|s| now_ms.saturating_add(s.saturating_mul(1000))),
            revoked: false,
            owner,
        };
        self.persist(&record)?;
        self.cache_record(record)?;
        Ok(CreatedToken { id, token: PlainToken(token), signing_secret })
    }

    /// Every stored token, revoked ones included (no secrets).
    pub fn list(&self) -> Result<Vec<TokenRecord>, TokenError> {
        let mut out = Vec::new();
        for (_, bytes) in self.store.sys_scan(SysTree::Tokens)? {
            out.push(serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("token record: {e}")))?);
        }
        Ok(out)
    }

    /// Marks a token revoked; it stops working at once.
    pub fn revoke(&self, id: &str) -> Result<(), TokenError> {
        let bytes =
            self.store.sys_get(SysTree::Tokens, id.as_bytes())?.ok_or_else(|| TokenError::NotFound(id.to_string()))?;
        let mut record: TokenRecord = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        record.revoked = true;
        self.persist(&record)?;
        self.note_change(id);
        self.cache.remove(id);
        Ok(())
    }

    /// Stores a token record durably (refused while storage is unavailable).
    fn persist(&self, record: &TokenRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let op = Op::Put { tree: SysTree::Tokens, entries: vec![(record.id.clone().into_bytes(), bytes)] };
        self.store.write_blocking(op).map_err(StoreError::refused)?;
        Ok(())
    }

    /// Finds the principal for a presented token string.
    pub fn authenticate(&self, presented: BearerToken<'_>, now_ms: u64) -> Result<Arc<Principal>, TokenRejection> {
        let presented_digest = digest(presented.expose());
        let id = parse_id(presented.expose());
        let found = id.and_then(|id| self.cache.get(id).map(|p| p.clone()));
        let Some(principal) = found else {
            // Same work as a real comparison, so timing does not tell ids apart.
            let _ = presented_digest.ct_eq(&[0u8; 32]);
            return Err(if id.is_some() { TokenRejection::Unknown } else { TokenRejection::Malformed });
        };
        if !bool::from(presented_digest.ct_eq(&principal.digest)) {
            return Err(TokenRejection::Mismatch);
        }
        if principal.record.revoked {
            return Err(TokenRejection::Revoked);
        }
        if principal.record.expires_at_ms.is_some_and(|t| now_ms >= t) {
            return Err(TokenRejection::Expired);
        }
        self.note_use(&principal, now_ms);
        Ok(principal)
    }

    /// The owner name of the token an `Authorization` value names, without verifying it
    /// (the `locked` check runs before auth; a forged id only gets its sender refused).
    pub fn owner_of(&self, authorization: &str) -> Option<String> {
        let token = authorization.trim().split_once(' ').map(|(_, t)| t.trim())?;
        let id = parse_id(token)?;
        self.cache.get(id).map(|p| p.record.name.clone())
    }

    /// The owner of a presented `Authorization: Bearer` token, only when the token is valid
    /// (attacks are counted against an owner only on proof).
    pub fn verified_owner(&self, authorization: &str, now_ms: u64) -> Option<String> {
        let (scheme, token) = authorization.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.authenticate(BearerToken::new(token.trim()), now_ms).ok().map(|p| p.record.name.clone())
    }

    /// Number of live tokens in memory.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

/// The public id inside a well-formed token string.
fn parse_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("pal_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex16 = |s: &str, n| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex16(id, 16) && hex16(secret, 64)).then_some(id)
}

pub mod owner;
mod perms;
mod principal;
mod secret;
mod spec;
mod update;
pub use perms::{Action, Perms, ScopeEntry};
pub use principal::Principal;
pub use secret::{BearerToken, PlainToken, SigningSecret};
use spec::validate_spec;
pub use update::TokenUpdate;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_parse_only_when_well_formed() {
        let good = format!("pal_{}_{}", "a".repeat(16), "b".repeat(64));
        assert_eq!(parse_id(&good), Some("aaaaaaaaaaaaaaaa"));
        assert_eq!(parse_id("pal_abc_def"), None);
        assert_eq!(parse_id(&good.replace("pal_", "pat_")), None);
    }

    #[test]
    fn token_keys_are_the_ids_as_numbers() {
        assert_eq!(token_key("00000000000000ff"), Some(255));
        assert_eq!(token_key("xyz"), None);
    }
}
