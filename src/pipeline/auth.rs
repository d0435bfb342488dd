//! Stage 3, authentication: who is calling, proven by a bearer token and, for tokens made
//! with `--sign`, an HMAC-SHA256 signature over the request.
//!
//! Refusals are generic outside and exact inside: a missing header is `missing_token`;
//! unknown, revoked, expired and malformed tokens all give the same `invalid_token` body, and
//! the audit record gets the real cause. Signed requests: `X-Timestamp` must be within
//! `replay_window_secs` of server time (`stale_request`), `X-Signature` must be
//! `hex(HMAC-SHA256(secret, canonical))` (`bad_signature`, checked in constant time), and the
//! same signature is accepted once (`replayed_request`); the replay cache is bounded and
//! entries expire with the window.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderValue};
use bytes::Bytes;
use dashmap::DashMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{Decide, Rejection, StageMessage, StageName};
use crate::checks::BruteForceGuard;
use crate::clock::SharedClock;
use crate::config::AuthConfig;
use crate::error::{ApiError, ErrorKind};
use crate::store::IpKey;
use crate::tokens::{Principal, TokenRegistry};

type HmacSha256 = Hmac<Sha256>;

/// `METHOD\nPATH\nSORTED_QUERY\nhex(SHA-256(body))\nTIMESTAMP` (see CONTRACT.md).
pub fn canonical(method: &str, path: &str, query: &str, body: &[u8], timestamp: &str) -> String {
    let mut params: Vec<&str> = if query.is_empty() { Vec::new() } else { query.split('&').collect() };
    params.sort_unstable();
    format!(
        "{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path,
        params.join("&"),
        hex::encode(Sha256::digest(body)),
        timestamp
    )
}

/// Lower-case hex HMAC-SHA256 of `canonical` under the signing secret's UTF-8 bytes.
pub fn sign(secret: &str, canonical: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(canonical.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Signatures seen inside the replay window (bounded).
pub struct ReplayCache {
    seen: DashMap<[u8; 32], u64>,
    capacity: usize,
    last_sweep_ms: AtomicU64,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        Self { seen: DashMap::new(), capacity, last_sweep_ms: AtomicU64::new(0) }
    }

    /// Records a signature; `Err(true)` if it was already seen, `Err(false)` if full.
    fn remember(&self, sig: [u8; 32], now_ms: u64, expires_ms: u64) -> Result<(), bool> {
        if self.seen.len() >= self.capacity {
            let last = self.last_sweep_ms.swap(now_ms, Ordering::Relaxed);
            if now_ms >= last + 1000 {
                self.sweep(now_ms);
            }
            if self.seen.len() >= self.capacity {
                return Err(false);
            }
        }
        match self.seen.entry(sig) {
            dashmap::mapref::entry::Entry::Occupied(mut o) => {
                if *o.get() > now_ms {
                    return Err(true);
                }
                o.insert(expires_ms);
            }
            dashmap::mapref::entry::Entry::Vacant(v) => {
                v.insert(expires_ms);
            }
        }
        Ok(())
    }

    /// Live entries (signature digest, expiry) for snapshots.
    pub fn snapshot(&self) -> Vec<([u8; 32], u64)> {
        self.seen.iter().map(|e| (*e.key(), *e.value())).collect()
    }

    /// Restores entries that have not expired yet.
    pub fn restore(&self, entries: impl IntoIterator<Item = ([u8; 32], u64)>, now_ms: u64) {
        for (sig, expires) in entries {
            if expires > now_ms && self.seen.len() < self.capacity {
                self.seen.insert(sig, expires);
            }
        }
    }

    /// Drops expired entries; returns how many.
    pub fn sweep(&self, now_ms: u64) -> usize {
        let before = self.seen.len();
        self.seen.retain(|_, exp| *exp > now_ms);
        before - self.seen.len()
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// The auth stage's shared state.
pub struct AuthState {
    pub tokens: Arc<TokenRegistry>,
    pub brute_force: Arc<BruteForceGuard>,
    pub replay: ReplayCache,
    pub config: AuthConfig,
    pub clock: SharedClock,
}

impl AuthState {
    pub fn new(
        tokens: Arc<TokenRegistry>,
        brute_force: Arc<BruteForceGuard>,
        config: AuthConfig,
        clock: SharedClock,
    ) -> Self {
        Self { tokens, brute_force, replay: ReplayCache::new(config.max_replay_entries), config, clock }
    }
}

/// What authentication looks at.
#[derive(Debug, Clone)]
pub struct Authenticate {
    pub authorization: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Bytes,
    pub ip_key: IpKey,
}

impl Authenticate {
    pub fn from_request(req: &ServiceRequest, body: &Bytes, ip_key: IpKey) -> Self {
        let get = |name: &str| req.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_string);
        Self {
            authorization: get("authorization"),
            timestamp: get("x-timestamp"),
            signature: get("x-signature"),
            method: req.method().as_str().to_string(),
            path: req.uri().path().to_string(),
            query: req.query_string().to_string(),
            body: body.clone(),
            ip_key,
        }
    }
}

impl StageMessage for Authenticate {
    type Output = Arc<Principal>;
}

fn refuse(kind: ErrorKind, reason: impl Into<std::borrow::Cow<'static, str>>) -> Rejection {
    let error = ApiError::new(kind).header(header::WWW_AUTHENTICATE, "Bearer");
    Rejection::new(StageName::Auth, error, reason)
}

impl Decide<Authenticate> for AuthState {
    fn decide(&self, a: Authenticate) -> Result<Arc<Principal>, Rejection> {
        let (ip_key, now_ms) = (a.ip_key, self.clock.now_ms());
        let verdict = self.verify(a, now_ms);
        if let Err(rejection) = &verdict {
            // Presenting a wrong credential counts towards the brute-force lock; a missing
            // one (or a stage that cannot decide) does not.
            if matches!(
                rejection.error.kind,
                ErrorKind::InvalidToken
                    | ErrorKind::BadSignature
                    | ErrorKind::ReplayedRequest
                    | ErrorKind::StaleRequest
            ) {
                self.brute_force.failed(ip_key, now_ms, &rejection.reason);
            }
        }
        verdict
    }
}

impl AuthState {
    fn verify(&self, a: Authenticate, now_ms: u64) -> Result<Arc<Principal>, Rejection> {
        let Some(value) = a.authorization.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
            return Err(refuse(ErrorKind::MissingToken, "no Authorization header"));
        };
        let token = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => return Err(refuse(ErrorKind::InvalidToken, "Authorization is not a Bearer token")),
        };
        let principal =
            self.tokens.authenticate(token, now_ms).map_err(|why| refuse(ErrorKind::InvalidToken, why.reason()))?;
        if let Some(secret) = &principal.signing {
            let (Some(ts), Some(sig)) = (a.timestamp.as_deref(), a.signature.as_deref()) else {
                return Err(refuse(ErrorKind::MissingSignature, "signed token without X-Timestamp/X-Signature"));
            };
            let ts_secs: i64 =
                ts.trim().parse().map_err(|_| refuse(ErrorKind::BadSignature, "X-Timestamp not an integer"))?;
            let skew = (now_ms / 1000) as i64 - ts_secs;
            if skew.unsigned_abs() > self.config.replay_window_secs {
                return Err(refuse(ErrorKind::StaleRequest, format!("timestamp {skew} s away from server time")));
            }
            let mut presented = [0u8; 32];
            hex::decode_to_slice(sig.trim().to_ascii_lowercase(), &mut presented)
                .map_err(|_| refuse(ErrorKind::BadSignature, "X-Signature is not 64 hex digits"))?;
            let canonical = canonical(&a.method, &a.path, &a.query, &a.body, ts.trim());
            let mut mac = HmacSha256::new_from_slice(secret.0.as_bytes()).expect("HMAC takes keys of any length");
            mac.update(canonical.as_bytes());
            mac.verify_slice(&presented).map_err(|_| refuse(ErrorKind::BadSignature, "signature mismatch"))?;
            let expires = now_ms + self.config.replay_window_secs * 2000;
            match self.replay.remember(presented, now_ms, expires) {
                Ok(()) => {}
                Err(true) => return Err(refuse(ErrorKind::ReplayedRequest, "signature already used")),
                Err(false) => return Err(super::unavailable(StageName::Auth, "replay cache full")),
            }
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_query_and_hashes_body() {
        let c = canonical("post", "/api/v1/clients", "b=2&a=1", b"", "1700000000");
        assert_eq!(
            c,
            "POST\n/api/v1/clients\na=1&b=2\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n1700000000"
        );
        assert_eq!(sign("k", "x").len(), 64);
    }

    #[test]
    fn replay_cache_accepts_once_and_is_bounded() {
        let r = ReplayCache::new(2);
        assert_eq!(r.remember([1; 32], 0, 100), Ok(()));
        assert_eq!(r.remember([1; 32], 50, 150), Err(true));
        assert_eq!(r.remember([2; 32], 50, 150), Ok(()));
        assert_eq!(r.remember([3; 32], 60, 160), Err(false));
        assert_eq!(r.remember([3; 32], 2_000, 2_100), Ok(()));
    }
}
