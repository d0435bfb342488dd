//! Stage 4, the per-token rate limiter: a fixed window per token (`--rate`/`--window`, else
//! `[rate_limit]`), counted atomically in the shared [`FixedWindows`] map so that with any
//! number of concurrent clients exactly `requests` pass per window.
//!
//! Every limited response carries `X-RateLimit-Limit` and `X-RateLimit-Remaining` (what is
//! left after this request) and `X-RateLimit-Reset`; a refusal is 429 `rate_limited` with
//! `Retry-After` = whole seconds to the window's end. The limiter **fails closed**: when it
//! cannot decide — its table is full of live windows — the answer is 503
//! `rate_limiter_unavailable` with `Retry-After`, never a pass.
//!
//! Anonymous requests to public views are counted the same way, per client address
//! (`[public]`), under the policy name "public"; an IPv6 client also against its /48
//! (`[checks] ipv6_wide_prefix`, `ipv6_wide_multiple` times the allowance). That table is
//! per address, so a flood of one-shot addresses must not fill it: like the shield's
//! throttle it sheds windows that counted a single hit when full, and a new client is
//! served through the flood. Token windows are never shed.

use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};

use super::client_ip::ClientKeys;
use super::stage::Purpose;
use super::stage::{Refusal, Stage, StageName};
use crate::clock::SharedClock;
use crate::config::{PublicConfig, RateLimitConfig};
use crate::error::{ApiError, ErrorKind};
use crate::limits::shared::Tally;
use crate::limits::window::{FixedWindows, Outer, WindowDecision};
use crate::store::IpKey;
use crate::tokens::Principal;

pub const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
/// The IETF httpapi rate-limit fields (structured: a policy named "token").
pub const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The headers every limited answer carries.
pub type RateHeaders = [(HeaderName, HeaderValue); 5];

/// The limiter's state: one window per token, keyed by the token id as a number, and one
/// per client address for anonymous requests to public views.
pub struct RateLimitState {
    pub windows: FixedWindows<u64>,
    pub public: FixedWindows<IpKey>,
    pub clock: SharedClock,
}

impl RateLimitState {
    pub fn new(config: &RateLimitConfig, public: &PublicConfig, clock: SharedClock) -> Self {
        Self {
            windows: FixedWindows::new(config.max_tracked_tokens),
            public: FixedWindows::sheddable(public.max_tracked_clients),
            clock,
        }
    }

    /// Counts one anonymous request to a public view against the client address's window
    /// (and an IPv6 client's network's, `wide_multiple` times as large).
    pub fn count_public(
        &self,
        client: ClientKeys,
        wide_multiple: u32,
        config: &PublicConfig,
    ) -> Result<RateHeaders, Refusal> {
        let now = self.clock.now_ms();
        let wide = client.wide.map(|key| Outer { key, limit: config.requests.saturating_mul(wide_multiple) });
        let window_ms = config.window_secs.saturating_mul(1000);
        let decision = self.public.hit_within(client.ip, wide, now, config.requests, window_ms);
        decide(decision, "public", config.window_secs, "public window exhausted", "public window table")
    }

    /// Counts one request against the token's window (`--rate`/`--window`, else the
    /// `[rate_limit]` defaults of the request's config).
    pub fn count(&self, p: &Principal, defaults: &RateLimitConfig) -> Result<RateHeaders, Refusal> {
        self.count_n(p, defaults, 1)
    }

    /// Counts `n` requests at once against the token's window: all of them or none. A
    /// GraphQL document with several mutation fields, or a JSON array of rows, counts each
    /// write like a REST write. (With `[shared] redis_url` the pipeline counts them all in its
    /// one call instead: see `pipeline::tally`.)
    pub fn count_n(&self, p: &Principal, defaults: &RateLimitConfig, n: u32) -> Result<RateHeaders, Refusal> {
        let limit = p.record.rate.unwrap_or(defaults.requests);
        let window_secs = p.record.window_secs.unwrap_or(defaults.window_secs);
        let now = self.clock.now_ms();
        let decision = self.windows.hit_n(p.key(), now, limit, window_secs.saturating_mul(1000), n);
        decide(decision, "token", window_secs, "token window exhausted", "token window table")
    }

    /// The token's window for the shared counters (`n` requests at once).
    pub fn token_window(p: &Principal, defaults: &RateLimitConfig, n: u32, tally: &mut Tally<Purpose>) {
        let limit = p.record.rate.unwrap_or(defaults.requests);
        let window_secs = p.record.window_secs.unwrap_or(defaults.window_secs);
        tally.count(
            Purpose::Token { window_secs },
            format!("t:{}", p.key()),
            limit,
            window_secs.saturating_mul(1000),
            n,
        );
    }

    /// An anonymous client's public-view windows for the shared counters (its IPv6
    /// network's too).
    pub fn public_windows(client: ClientKeys, wide_multiple: u32, config: &PublicConfig, tally: &mut Tally<Purpose>) {
        let wide = client.wide.map(|key| (format!("pubw:{key}"), config.requests.saturating_mul(wide_multiple)));
        let (name, window_ms) = (format!("pub:{}", client.ip), config.window_secs.saturating_mul(1000));
        tally.count_within(Purpose::Public, name, config.requests, wide, window_ms);
    }
}

/// A spent window's 429, with its headers.
pub(super) fn refused(d: &WindowDecision, policy: &str, window_secs: u64, exhausted: &'static str) -> Refusal {
    let mut error = ApiError::new(ErrorKind::RateLimited).header(RETRY_AFTER, d.retry_after_secs());
    error.headers.extend(headers(d, policy, window_secs));
    Refusal::new(StageName::RateLimit, error, exhausted)
}

/// One window decision as headers, a 429 or (table full) a 503.
fn decide<E>(
    decision: Result<WindowDecision, E>,
    policy: &str,
    window_secs: u64,
    exhausted: &'static str,
    table: &'static str,
) -> Result<RateHeaders, Refusal> {
    match decision {
        Ok(d) if d.allowed => Ok(headers(&d, policy, window_secs)),
        Ok(d) => Err(refused(&d, policy, window_secs, exhausted)),
        Err(_) => Err(Refusal::full(StageName::RateLimit, table)),
    }
}

impl Stage for RateLimitState {
    const NAME: StageName = StageName::RateLimit;
    fn upkeep(&self, now_ms: u64) {
        self.windows.evict_expired(now_ms, false);
        self.public.evict_expired(now_ms, false);
    }
}

/// The five headers of a decision. Numbers below [`NUMBERS`] come from a table built once;
/// the policy field is kept per worker thread while its inputs stay the same; only the
/// `RateLimit` field (remaining and reset change per request) is built each time.
pub(super) fn headers(d: &WindowDecision, policy: &str, window_secs: u64) -> RateHeaders {
    let reset = d.retry_after_secs();
    let (limit, remaining, reset_value) = (number(d.limit.into()), number(d.remaining.into()), number(reset));
    let policy_value = POLICY_FIELD.with(|cached| {
        let mut cached = cached.borrow_mut();
        match &*cached {
            Some((p, l, w, v)) if *p == policy && *l == d.limit && *w == window_secs => v.clone(),
            _ => {
                let mut window = itoa::Buffer::new();
                let v = structured(&[
                    policy.as_bytes(),
                    b";q=",
                    limit.as_bytes(),
                    b";w=",
                    window.format(window_secs).as_bytes(),
                ]);
                *cached = Some((policy.to_owned(), d.limit, window_secs, v.clone()));
                v
            }
        }
    });
    let ratelimit = structured(&[policy.as_bytes(), b";r=", remaining.as_bytes(), b";t=", reset_value.as_bytes()]);
    [(LIMIT, limit), (REMAINING, remaining), (RESET, reset_value), (POLICY, policy_value), (RATELIMIT, ratelimit)]
}

thread_local! {
    /// The last `RateLimit-Policy` value built on this thread: (policy, limit, window, value).
    static POLICY_FIELD: std::cell::RefCell<Option<(String, u32, u64, HeaderValue)>> = const { std::cell::RefCell::new(None) };
}

/// A structured field: the first part quoted, the rest appended, in one exact buffer.
fn structured(parts: &[&[u8]]) -> HeaderValue {
    let mut v = Vec::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 2);
    v.push(b'"');
    v.extend_from_slice(parts[0]);
    v.push(b'"');
    for p in &parts[1..] {
        v.extend_from_slice(p);
    }
    HeaderValue::from_maybe_shared(bytes::Bytes::from(v)).unwrap_or(HeaderValue::from_static("\"token\""))
}

/// Numbers below this come from the table (limits, remainders and resets are almost always
/// smaller).
const NUMBERS: u64 = 10_000;

/// A number as a header value; those below [`NUMBERS`] share static bytes (no allocation).
fn number(n: u64) -> HeaderValue {
    static TABLE: std::sync::LazyLock<Vec<HeaderValue>> = std::sync::LazyLock::new(|| {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(NUMBERS as usize);
        let mut ints = itoa::Buffer::new();
        for i in 0..NUMBERS {
            text.push_str(ints.format(i));
            ends.push(text.len());
        }
        // One string for the process's lifetime, so every value can borrow it statically.
        let text: &'static str = Box::leak(text.into_boxed_str());
        let mut start = 0;
        ends.into_iter()
            .map(|end| {
                let v = HeaderValue::from_static(&text[start..end]);
                start = end;
                v
            })
            .collect()
    });
    match TABLE.get(n as usize) {
        Some(v) => v.clone(),
        None => HeaderValue::from_str(itoa::Buffer::new().format(n)).unwrap_or(HeaderValue::from_static("0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    #[test]
    fn counts_then_refuses_with_retry_after_then_fails_closed_when_full() {
        let clock = Arc::new(ManualClock::new(120_000));
        let config = RateLimitConfig { max_tracked_tokens: 1, requests: 2, ..Default::default() };
        let s = RateLimitState::new(&config, &PublicConfig::default(), clock.clone());
        let (a, b) = (Principal::for_tests("00000000000000aa"), Principal::for_tests("00000000000000bb"));
        let h = s.count(&a, &config).unwrap();
        assert_eq!(h[1].1, "1");
        assert_eq!(h[3].1, "\"token\";q=2;w=60");
        assert_eq!(h[4].1, "\"token\";r=1;t=60");
        s.count(&a, &config).unwrap();
        clock.advance_ms(30_500);
        let r = s.count(&a, &config).unwrap_err();
        assert_eq!(r.error.kind, ErrorKind::RateLimited);
        assert!(r.error.headers.iter().any(|(n, v)| n == RETRY_AFTER && v == "30"));
        let r = s.count(&b, &config).unwrap_err();
        assert_eq!(r.error.kind, ErrorKind::RateLimiterUnavailable);
    }

    #[test]
    fn header_values_are_exact_in_and_beyond_the_table_and_follow_the_policy() {
        for n in [0, 7, 9_999, 10_000, 123_456_789] {
            assert_eq!(number(n), n.to_string().as_str());
        }
        let d = |limit, remaining| WindowDecision { allowed: true, limit, remaining, reset_after_ms: 1_500 };
        let h = headers(&d(100, 99), "token", 60);
        assert_eq!((h[0].1.to_str().unwrap(), h[3].1.to_str().unwrap()), ("100", "\"token\";q=100;w=60"));
        assert_eq!(h[4].1, "\"token\";r=99;t=2");
        // The per-thread policy value is rebuilt when any of its inputs changes.
        assert_eq!(headers(&d(100, 98), "token", 30)[3].1, "\"token\";q=100;w=30");
        assert_eq!(headers(&d(50_000, 1), "token", 30)[3].1, "\"token\";q=50000;w=30");
        assert_eq!(headers(&d(50_000, 1), "public", 30)[3].1, "\"public\";q=50000;w=30");
    }
}
