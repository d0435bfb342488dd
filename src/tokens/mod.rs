//! API tokens: creation, storage and lookup.
//!
//! A token is `pal_<16 hex id>_<64 hex secret>` (256 random bits; the prefix lets secret
//! scanners spot leaked ones). Only its SHA-256 digest is stored. Lookup goes by the public
//! id, then compares fixed-length digests in constant time with `subtle`; an unknown id is
//! compared against a dummy digest so both paths cost the same. Signing secrets are sealed
//! with the install key before they touch sled. The plaintext types print nothing in `Debug`.

use std::collections::BTreeSet;
use std::sync::Arc;

use dashmap::DashMap;
use ipnet::IpNet;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::schema::Schema;
use crate::store::{Op, Store, StoreError, SysTree};

/// A token in plaintext: shown once at creation, never stored or logged. Its text is
/// reachable only through [`PlainToken::expose`], so every use of it is written out.
pub struct PlainToken(String);

impl PlainToken {
    /// The token's text, for the one place it is shown (creation) or sent (tests, clients).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlainToken(..)")
    }
}

/// A token as a request presents it (`Authorization: Bearer …`), borrowed from the header
/// for the one comparison that reads it. Its `Debug` prints nothing of it.
#[derive(Clone, Copy)]
pub struct BearerToken<'a>(&'a str);

impl<'a> BearerToken<'a> {
    pub fn new(text: &'a str) -> Self {
        Self(text)
    }

    /// The presented text, for hashing and parsing only.
    pub fn expose(&self) -> &'a str {
        self.0
    }
}

impl std::fmt::Debug for BearerToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

/// The HMAC key of a signing token, held in memory only while the server runs.
#[derive(Clone)]
pub struct SigningSecret(String);

impl SigningSecret {
    /// The key's text, for the HMAC only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

/// What a token may do with a table: a subset of `rcud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Perms(u8);

/// One of the four actions the scope matrix knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
}

impl Action {
    fn bit(self) -> u8 {
        match self {
            Action::Read => 1,
            Action::Create => 2,
            Action::Update => 4,
            Action::Delete => 8,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

impl Perms {
    pub fn parse(s: &str) -> Option<Self> {
        let mut bits = 0;
        for c in s.chars() {
            bits |= match c {
                'r' => 1,
                'c' => 2,
                'u' => 4,
                'd' => 8,
                _ => return None,
            };
        }
        (bits != 0).then_some(Perms(bits))
    }
    pub fn allows(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }
    pub fn letters(self) -> String {
        [('r', 1), ('c', 2), ('u', 4), ('d', 8)].iter().filter(|(_, b)| self.0 & b != 0).map(|(c, _)| *c).collect()
    }
}

/// `TABLE:PERMS`; table `*` means every non-sensitive table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeEntry {
    pub table: String,
    pub perms: Perms,
}

impl std::fmt::Display for ScopeEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.table, self.perms.letters())
    }
}

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

/// A token as the pipeline sees it after authentication.
#[derive(Debug)]
pub struct Principal {
    pub record: TokenRecord,
    digest: [u8; 32],
    pub signing: Option<SigningSecret>,
    /// The id (16 hex digits) as a number: the rate limiter's key, with no string to build.
    key: u64,
    /// The hour (ms since the epoch, truncated) this token was last used in, as recorded.
    last_used_hour: std::sync::atomic::AtomicU64,
}

impl Principal {
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// The token id as a number (see [`token_key`]).
    pub fn key(&self) -> u64 {
        self.key
    }

    /// The id that anonymous requests to public views are audited under.
    pub const PUBLIC_ID: &'static str = "public";

    /// Who an anonymous request to a public view is: no scopes, limited to the public views.
    pub fn public(views: Vec<String>) -> Self {
        let mut p = Self::blank(Self::PUBLIC_ID);
        p.record.name = "public views".into();
        p.record.views = views;
        p
    }

    /// Whether this is the anonymous principal of public views.
    pub fn is_public(&self) -> bool {
        self.record.id == Self::PUBLIC_ID
    }

    /// A principal with every permission off, for unit tests of the stages.
    #[doc(hidden)]
    pub fn for_tests(id: &str) -> Self {
        Self::blank(id)
    }

    fn blank(id: &str) -> Self {
        let record = TokenRecord {
            id: id.to_string(),
            name: "test".into(),
            hash: String::new(),
            scopes: Vec::new(),
            views: Vec::new(),
            origins: Vec::new(),
            cidrs: Vec::new(),
            rate: None,
            window_secs: None,
            sealed_signing_secret: None,
            sandbox: false,
            introspection: false,
            allow_sensitive: false,
            created_at_ms: 0,
            expires_at_ms: None,
            revoked: false,
            owner: None,
        };
        Self {
            record,
            digest: [0; 32],
            signing: None,
            key: token_key(id).unwrap_or_default(),
            last_used_hour: Default::default(),
        }
    }

    /// The permissions this token holds on `table`, honouring layer 2 (`*` never covers a
    /// sensitive table) and layer 3 (a named sensitive table needs `--allow-sensitive`).
    pub fn perms_for(&self, table: &str, sensitive: bool) -> Perms {
        let mut bits = 0;
        for entry in &self.record.scopes {
            let covers = if entry.table == "*" { !sensitive } else { entry.table == table };
            if covers && (!sensitive || self.record.allow_sensitive) {
                bits |= entry.perms.0;
            }
        }
        Perms(bits)
    }
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
mod update;
pub use update::TokenUpdate;

fn validate_spec(spec: &TokenSpec, schema: &Schema) -> Result<(Vec<ScopeEntry>, Vec<IpNet>), TokenError> {
    let invalid = |m: String| Err(TokenError::Invalid(m));
    if spec.name.trim().is_empty() || spec.name.len() > 128 {
        return invalid("--name must be 1 to 128 characters".into());
    }
    let mut scopes = Vec::new();
    let mut seen = BTreeSet::new();
    for raw in &spec.scopes {
        let Some((table, letters)) = raw.rsplit_once(':') else {
            return invalid(format!("--scope {raw:?}: expected TABLE:PERMS, e.g. clients:rc"));
        };
        let Some(perms) = Perms::parse(letters) else {
            return invalid(format!("--scope {raw:?}: PERMS is a non-empty subset of rcud"));
        };
        if table != "*" {
            let Some(def) = schema.table(table) else {
                return invalid(format!("--scope {raw:?}: unknown table {table:?}"));
            };
            if def.sensitive && !spec.allow_sensitive {
                return invalid(format!("--scope {raw:?}: {table} is sensitive; add --allow-sensitive"));
            }
        }
        if !seen.insert(table.to_string()) {
            return invalid(format!("--scope {raw:?}: table {table:?} named twice"));
        }
        scopes.push(ScopeEntry { table: table.to_string(), perms });
    }
    for view in &spec.views {
        if schema.view(view).is_none() {
            return invalid(format!("--view {view:?}: unknown view"));
        }
    }
    if !spec.views.is_empty() && !spec.scopes.is_empty() {
        // A view-limited token reads only its views: a scope beside them would be dropped.
        return invalid(
            "--scope and --view cannot be combined: a --view token reads only its views; make a second token for the tables".into(),
        );
    }
    for origin in &spec.origins {
        let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
            && !origin.trim_end_matches('/').contains(['*', ' '])
            && origin.matches('/').count() == 2;
        if !ok {
            return invalid(format!("--origin {origin:?}: expected scheme://host[:port], no path or wildcard"));
        }
    }
    let mut cidrs = Vec::new();
    for raw in &spec.cidrs {
        let net = raw
            .parse::<IpNet>()
            .or_else(|_| raw.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| TokenError::Invalid(format!("--cidr {raw:?}: expected a CIDR like 10.0.0.0/8")))?;
        cidrs.push(net.trunc());
    }
    if spec.rate == Some(0) || spec.window == Some(0) {
        return invalid("--rate and --window must be positive".into());
    }
    if spec.expires == Some(0) {
        return invalid("--expires must be positive".into());
    }
    Ok((scopes, cidrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms_parse_and_check() {
        let p = Perms::parse("rc").unwrap();
        assert!(p.allows(Action::Read) && p.allows(Action::Create));
        assert!(!p.allows(Action::Delete));
        assert!(Perms::parse("rx").is_none());
        assert!(Perms::parse("").is_none());
        assert_eq!(Perms::parse("dr").unwrap().letters(), "rd");
    }

    #[test]
    fn token_ids_parse_only_when_well_formed() {
        let good = format!("pal_{}_{}", "a".repeat(16), "b".repeat(64));
        assert_eq!(parse_id(&good), Some("aaaaaaaaaaaaaaaa"));
        assert_eq!(parse_id("pal_abc_def"), None);
        assert_eq!(parse_id(&good.replace("pal_", "pat_")), None);
    }

    #[test]
    fn secrets_never_reach_debug() {
        assert_eq!(format!("{:?}", PlainToken("pal_x".into())), "PlainToken(..)");
        assert_eq!(format!("{:?}", SigningSecret("pals_x".into())), "SigningSecret(..)");
        assert_eq!(format!("{:?}", BearerToken::new("pal_x")), "BearerToken(..)");
        assert_eq!(token_key("00000000000000ff"), Some(255));
        assert_eq!(token_key("xyz"), None);
    }
}
