//! Changing a live token (`palisade token update`) and remembering, coarsely, when each was
//! last used.
//!
//! An update rewrites the stored record and the cached principal at once, so the next
//! request sees the new rate, window, expiry, origins or CIDRs; the caller audits it. Last
//! use is kept to the hour, in `sys:meta` under `used:<id>` rather than in the token record:
//! recording it never races an update of the record, and it is written at most once an hour
//! per token, off the request's path (the writer is not awaited).

use std::sync::atomic::Ordering;

use super::{validate_spec, Principal, TokenError, TokenRecord, TokenRegistry, TokenSpec};
use crate::schema::Schema;
use crate::store::{Op, StoreError, SysTree};

const HOUR_MS: u64 = 3_600_000;

/// What `token update` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TokenUpdate {
    pub rate: Option<u32>,
    pub window: Option<u64>,
    /// Seconds from now.
    pub expires: Option<u64>,
    /// Replaces the origin list.
    pub origins: Option<Vec<String>>,
    /// Replaces the CIDR list.
    pub cidrs: Option<Vec<String>>,
    /// Binds the token to this row (`TABLE:ID`), checked as at creation.
    #[serde(default)]
    pub owner: Option<String>,
}

impl TokenUpdate {
    pub fn is_empty(&self) -> bool {
        self.rate.is_none()
            && self.window.is_none()
            && self.expires.is_none()
            && self.origins.is_none()
            && self.cidrs.is_none()
            && self.owner.is_none()
    }
}

fn used_key(id: &str) -> Vec<u8> {
    format!("used:{id}").into_bytes()
}

impl TokenRegistry {
    /// Applies `change` to live token `id`; returns the new record.
    pub fn update(
        &self,
        id: &str,
        change: &TokenUpdate,
        schema: &Schema,
        now_ms: u64,
    ) -> Result<TokenRecord, TokenError> {
        if change.is_empty() {
            return Err(TokenError::Invalid(
                "nothing to change: give --rate, --window, --expires, --origin, --cidr or --owner".into(),
            ));
        }
        let bytes = self.store.sys_get(SysTree::Tokens, id.as_bytes())?;
        let bytes = bytes.ok_or_else(|| TokenError::NotFound(id.to_string()))?;
        let mut record: TokenRecord =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("token record: {e}")))?;
        if record.revoked {
            return Err(TokenError::Invalid(format!("token {id} is revoked")));
        }
        // Validate the new values with the same rules as a new token.
        let spec = TokenSpec {
            name: record.name.clone(),
            rate: change.rate,
            window: change.window,
            expires: change.expires,
            origins: change.origins.clone().unwrap_or_default(),
            cidrs: change.cidrs.clone().unwrap_or_default(),
            ..TokenSpec::default()
        };
        let (_, cidrs) = validate_spec(&spec, schema)?;
        if let Some(rate) = change.rate {
            record.rate = Some(rate);
        }
        if let Some(window) = change.window {
            record.window_secs = Some(window);
        }
        if let Some(secs) = change.expires {
            record.expires_at_ms = Some(now_ms.saturating_add(secs.saturating_mul(1000)));
        }
        if let Some(origins) = &change.origins {
            record.origins = origins.clone();
        }
        if change.cidrs.is_some() {
            record.cidrs = cidrs;
        }
        if let Some(raw) = &change.owner {
            let owner = super::owner::validate(raw, &record.scopes, &record.views, schema)?;
            if !self.store.row_exists(&owner.table, owner.id)? {
                return Err(TokenError::Invalid(format!("--owner {raw:?}: no such row")));
            }
            record.owner = Some(owner);
        }
        self.persist(&record)?;
        self.cache_record(record.clone())?;
        Ok(record)
    }

    /// The hour a token was last used in, as recorded.
    pub fn last_used_hour(&self, id: &str) -> Option<u64> {
        let bytes = self.store.sys_get(SysTree::Meta, &used_key(id)).ok()??;
        Some(u64::from_be_bytes(bytes.as_slice().try_into().ok()?))
    }

    /// Records that `p` was used now, once per hour (queued to the writer, not awaited).
    pub(super) fn note_use(&self, p: &Principal, now_ms: u64) {
        let hour = now_ms - now_ms % HOUR_MS;
        let last = p.last_used_hour.load(Ordering::Relaxed);
        if last == hour || p.last_used_hour.compare_exchange(last, hour, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        let op = Op::Put { tree: SysTree::Meta, entries: vec![(used_key(p.id()), hour.to_be_bytes().to_vec())] };
        self.store.submit(op, |_| {});
    }
}
