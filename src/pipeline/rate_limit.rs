//! Stage 4, the per-token rate limiter: a fixed window per token (`--rate`/`--window`, else
//! `[rate_limit]`), counted atomically in the shared [`FixedWindows`] map so that with any
//! number of concurrent clients exactly `requests` pass per window.
//!
//! Every limited response carries `X-RateLimit-Limit` and `X-RateLimit-Remaining` (what is
//! left after this request) and `X-RateLimit-Reset`; a refusal is 429 `rate_limited` with
//! `Retry-After` = whole seconds to the window's end. The limiter **fails closed**: when it
//! cannot decide — its actor is gone or late (see `pipeline::ask`), or its table is full of
//! live windows — the answer is 503 `rate_limiter_unavailable` with `Retry-After`, never a
//! pass.

use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};

use super::window::{FixedWindows, WindowDecision};
use super::{Decide, Rejection, StageMessage, StageName};
use crate::clock::SharedClock;
use crate::config::{Config, RateLimitConfig};
use crate::error::{ApiError, ErrorKind};
use crate::tokens::Principal;

type Headers = Vec<(HeaderName, HeaderValue)>;

pub const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// The limiter's shared state.
pub struct RateLimitState {
    pub windows: FixedWindows<String>,
    pub config: RateLimitConfig,
    pub clock: SharedClock,
}

impl RateLimitState {
    pub fn new(config: RateLimitConfig, clock: SharedClock) -> Self {
        Self { windows: FixedWindows::new(config.max_tracked_tokens), config, clock }
    }
}

/// One request to count against a token's window.
#[derive(Debug, Clone)]
pub struct Count {
    pub token_id: String,
    pub limit: u32,
    pub window_secs: u64,
}

impl Count {
    pub fn for_principal(p: &Principal, config: &Config) -> Self {
        Self {
            token_id: p.id().to_string(),
            limit: p.record.rate.unwrap_or(config.rate_limit.requests),
            window_secs: p.record.window_secs.unwrap_or(config.rate_limit.window_secs),
        }
    }
}

impl StageMessage for Count {
    type Output = Headers;
}

fn headers(d: &WindowDecision) -> Headers {
    vec![
        (LIMIT, HeaderValue::from(d.limit)),
        (REMAINING, HeaderValue::from(d.remaining)),
        (RESET, HeaderValue::from(d.retry_after_secs())),
    ]
}

impl Decide<Count> for RateLimitState {
    fn decide(&self, c: Count) -> Result<Headers, Rejection> {
        let now = self.clock.now_ms();
        match self.windows.hit(c.token_id, now, c.limit, c.window_secs.saturating_mul(1000)) {
            Ok(d) if d.allowed => Ok(headers(&d)),
            Ok(d) => {
                let mut error = ApiError::new(ErrorKind::RateLimited).header(RETRY_AFTER, d.retry_after_secs());
                error.headers.extend(headers(&d));
                Err(Rejection::new(StageName::RateLimit, error, "token window exhausted"))
            }
            Err(_) => Err(super::unavailable(StageName::RateLimit, "token window table full")),
        }
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
        let config = RateLimitConfig { max_tracked_tokens: 1, ..Default::default() };
        let s = RateLimitState::new(config, clock.clone());
        let count = |id: &str| Count { token_id: id.into(), limit: 2, window_secs: 60 };
        let h = s.decide(count("a")).unwrap();
        assert_eq!(h[1].1, "1");
        s.decide(count("a")).unwrap();
        clock.advance_ms(30_500);
        let r = s.decide(count("a")).unwrap_err();
        assert_eq!(r.error.kind, ErrorKind::RateLimited);
        assert!(r.error.headers.iter().any(|(n, v)| n == RETRY_AFTER && v == "30"));
        let r = s.decide(count("b")).unwrap_err();
        assert_eq!(r.error.kind, ErrorKind::RateLimiterUnavailable);
    }
}
