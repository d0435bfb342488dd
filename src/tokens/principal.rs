//! Who a request is once its token is accepted: the stored record, and what the pipeline
//! asks of it on every request (its limiter key, its permissions on a table) without
//! building a string.

use super::{token_key, Perms, SigningSecret, TokenRecord};

/// A token as the pipeline sees it after authentication.
#[derive(Debug)]
pub struct Principal {
    pub record: TokenRecord,
    pub(super) digest: [u8; 32],
    pub signing: Option<SigningSecret>,
    /// The id (16 hex digits) as a number: the rate limiter's key, with no string to build.
    pub(super) key: u64,
    /// The hour (ms since the epoch, truncated) this token was last used in, as recorded.
    pub(super) last_used_hour: std::sync::atomic::AtomicU64,
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
