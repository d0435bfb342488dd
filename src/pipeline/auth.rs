//! Stage 3, authentication: who is calling, proven by a bearer token and, for tokens made
//! with `--sign`, an HMAC-SHA256 signature over the request.
//!
//! Refusals are generic outside and exact inside: a missing header is `missing_token`;
//! unknown, revoked, expired and malformed tokens all give the same `invalid_token` body, and
//! the audit record gets the real cause. Signed requests: `X-Timestamp` must be within
//! `replay_window_secs` of server time (`stale_request`), `X-Signature` must be
//! `hex(HMAC-SHA256(secret, canonical))` (`bad_signature`, checked in constant time), and the
//! same signature is accepted once (`replayed_request`).
//!
//! The replay cache is bounded, and only requests that are otherwise admitted fill it:
//! authentication refuses a signature already recorded, but records a new one only when the
//! pipeline hands it back after the rate limit and scope have passed the request
//! ([`AuthState::record_signature`]) — before, a few hundred addresses sending signed
//! requests past their token's rate could fill it, and every signed token then got 503.
//! An entry lives until its timestamp leaves the window (`ts + replay_window_secs`, to the
//! end of that second), which is exactly as long as the request could be sent again.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::header;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::stage::Purpose;
use super::stage::{Refusal, Stage, StageName};
use crate::checks::BruteForceGuard;
use crate::clock::SharedClock;
use crate::config::AuthConfig;
use crate::error::{ApiError, ErrorKind};
use crate::limits::replay::{ReplayCache, ReplayRefusal};
use crate::limits::shared::Once;
use crate::limits::shared::Tally;

/// The signing headers (named once: a name given as text is parsed on every lookup).
pub const X_TIMESTAMP: header::HeaderName = header::HeaderName::from_static("x-timestamp");
pub const X_SIGNATURE: header::HeaderName = header::HeaderName::from_static("x-signature");
use crate::store::IpKey;
use crate::tokens::{BearerToken, Principal, TokenRegistry};

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

/// Who authenticated, and the signature to record once the request is admitted.
#[derive(Debug)]
pub struct Authenticated {
    pub principal: Arc<Principal>,
    pub signature: Option<PendingSignature>,
}

/// A verified signature not recorded yet (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a signature never recorded can be replayed"]
pub struct PendingSignature {
    digest: [u8; 32],
    /// The first instant its timestamp is refused as stale.
    expires_ms: u64,
}

/// The first instant (ms) a request stamped `ts_secs` is refused: the skew check accepts
/// it while `now_secs - ts_secs <= window_secs`, `now_secs` being whole seconds.
pub fn replay_expiry_ms(ts_secs: i64, window_secs: u64) -> u64 {
    let window = i64::try_from(window_secs).unwrap_or(i64::MAX);
    let refused_from = ts_secs.saturating_add(window).saturating_add(1);
    u64::try_from(refused_from).unwrap_or(0).saturating_mul(1000)
}

/// What authentication looks at, borrowed from the request.
pub struct Presented<'a> {
    pub authorization: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub body: &'a [u8],
    pub ip: IpAddr,
    pub ip_key: IpKey,
}

fn refuse(kind: ErrorKind, reason: impl Into<std::borrow::Cow<'static, str>>) -> Refusal {
    let error = ApiError::new(kind).header(header::WWW_AUTHENTICATE, "Bearer");
    Refusal::new(StageName::Auth, error, reason)
}

/// A signature seen before: 401 `replayed_request`.
pub fn replayed() -> Refusal {
    refuse(ErrorKind::ReplayedRequest, "signature already used")
}

impl AuthState {
    /// The principal of a valid bearer token, without counting anything (a refused request's
    /// audit record names whose token it carried).
    pub fn identify(&self, authorization: Option<&str>) -> Option<Arc<Principal>> {
        let (scheme, token) = authorization?.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.tokens.authenticate(BearerToken::new(token.trim()), self.clock.now_ms()).ok()
    }

    /// Who is calling. A wrong credential (not a missing one) counts towards the IP's
    /// brute-force lock: here, or (`tally`, with shared counters) in the request's tally.
    pub fn authenticate(
        &self,
        a: &Presented<'_>,
        tally: Option<&mut Tally<Purpose>>,
    ) -> Result<Authenticated, Refusal> {
        let now_ms = self.clock.now_ms();
        let verdict = self.verify(a, now_ms);
        if let Err(refusal) = &verdict {
            if matches!(
                refusal.error.kind,
                ErrorKind::InvalidToken
                    | ErrorKind::BadSignature
                    | ErrorKind::ReplayedRequest
                    | ErrorKind::StaleRequest
            ) {
                let route = crate::http::route::Route::describe(a.method, a.path);
                match tally {
                    Some(tally) => {
                        let c = self.brute_force.config();
                        let purpose = Purpose::FailedAuth { reason: refusal.reason.to_string(), route };
                        let window_ms = c.window_secs.saturating_mul(1000);
                        tally.count(purpose, format!("fail:{}", a.ip_key), c.max_failures, window_ms, 1);
                    }
                    None => self.brute_force.failed(&a.ip, a.ip_key, now_ms, &refusal.reason, route),
                }
            }
        }
        verdict
    }

    /// Records an admitted request's signature; a second request with the same signature
    /// that got this far concurrently is refused here, counted like any replay. With shared
    /// counters (`tally`), the signature joins the request's tally and is refused or
    /// recorded there.
    pub fn record_signature(
        &self,
        pending: PendingSignature,
        ip: &IpAddr,
        ip_key: IpKey,
        tally: Option<&mut Tally<Purpose>>,
    ) -> Result<(), Refusal> {
        let now_ms = self.clock.now_ms();
        if let Some(tally) = tally {
            let ttl_ms = pending.expires_ms.saturating_sub(now_ms).max(1);
            let name = format!("r:{}", hex::encode(pending.digest));
            tally.once = Some(Once { tag: Purpose::Replay, name, ttl_ms });
            return Ok(());
        }
        match self.replay.remember(pending.digest, now_ms, pending.expires_ms) {
            Ok(()) => Ok(()),
            Err(ReplayRefusal::Replayed) => {
                let refusal = replayed();
                self.brute_force.failed(ip, ip_key, now_ms, &refusal.reason, "(a replayed signed request)".into());
                Err(refusal)
            }
            Err(ReplayRefusal::Full) => Err(Refusal::full(StageName::Auth, "replay cache")),
        }
    }

    fn verify(&self, a: &Presented<'_>, now_ms: u64) -> Result<Authenticated, Refusal> {
        let Some(value) = a.authorization.map(str::trim).filter(|v| !v.is_empty()) else {
            return Err(refuse(ErrorKind::MissingToken, "no Authorization header"));
        };
        let token = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => BearerToken::new(rest.trim()),
            _ => return Err(refuse(ErrorKind::InvalidToken, "Authorization is not a Bearer token")),
        };
        let principal =
            self.tokens.authenticate(token, now_ms).map_err(|why| refuse(ErrorKind::InvalidToken, why.reason()))?;
        if let Some(secret) = &principal.signing {
            let (Some(ts), Some(sig)) = (a.timestamp, a.signature) else {
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
            let canonical = canonical(a.method, a.path, a.query, a.body, ts.trim());
            let mut mac =
                HmacSha256::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes keys of any length");
            mac.update(canonical.as_bytes());
            mac.verify_slice(&presented).map_err(|_| refuse(ErrorKind::BadSignature, "signature mismatch"))?;
            if self.replay.seen(&presented, now_ms) {
                return Err(replayed());
            }
            let expires_ms = replay_expiry_ms(ts_secs, self.config.replay_window_secs);
            return Ok(Authenticated {
                principal,
                signature: Some(PendingSignature { digest: presented, expires_ms }),
            });
        }
        Ok(Authenticated { principal, signature: None })
    }
}

impl Stage for AuthState {
    const NAME: StageName = StageName::Auth;
    fn upkeep(&self, now_ms: u64) {
        self.replay.sweep(now_ms);
        self.brute_force.sweep(now_ms);
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
    fn a_signature_is_remembered_until_its_timestamp_is_refused() {
        // Stamped T, window 300: accepted through second T + 300, refused from T + 301.
        let t = 1_800_000_000;
        assert_eq!(replay_expiry_ms(t, 300), (t as u64 + 301) * 1000);
        assert_eq!(replay_expiry_ms(-5_000, 300), 0);
    }
}
