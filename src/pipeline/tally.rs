//! Shared counting, when `[shared] redis_url` is set: the stages add the windows they would
//! count to the request's [`Tally`] instead of counting in this process, and the pipeline
//! decides them all in one call to the shared counters ([`settle`]), once per request —
//! before the handler runs, or as soon as a stage refuses. Each window's refusal is the
//! stage's own (the shield's 429, the token's 429 with its headers, a replay's 401), so a
//! client cannot tell one instance from several. The counters unreachable, the request is
//! refused 503 `rate_limiter_unavailable` with `Retry-After`: fail closed, never served
//! uncounted.
//!
//! What stays in the process: the shield's throttle is also counted locally first, as the
//! instance's own guard (a flood from one address is refused without a round trip; it
//! never lets through what the shared count would refuse, it can only refuse sooner).

use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};

use super::rate_limit;
use super::stage::{Refusal, StageName};
use super::Exchange;
use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use crate::limits::shared::{SharedCounters, Verdict};

pub use super::stage::Purpose;
pub use crate::limits::shared::Tally;

/// Decides the request's tally in one round trip and turns the answer into the first
/// refusal, or the stages' own outcome with the windows' headers added.
pub async fn settle<A>(
    shared: &SharedCounters,
    cx: &mut Exchange,
    outcome: Result<A, Refusal>,
    parts: &super::Parts,
    config: &Config,
) -> Result<A, Refusal> {
    let Some(tally) = cx.tally.take().filter(|t| !t.is_empty()) else { return outcome };
    let who = Client { ip: cx.ip, ip_key: cx.ip_key };
    match decide(shared, &tally, who, parts, config).await {
        Ok(headers) => {
            cx.extra_headers.extend(headers);
            outcome
        }
        Err((refusal, headers)) => {
            cx.extra_headers.extend(headers);
            Err(refusal)
        }
    }
}

/// A tally the pipeline leaves to the handler: a GraphQL document's writes are known only
/// once the handler has parsed it, and they count in the same one call (see
/// [`DeferredTally::settle`]).
pub struct DeferredTally {
    pub tally: Tally<Purpose>,
    who: Client,
}

/// Whose request a tally counts.
#[derive(Debug, Clone, Copy)]
struct Client {
    ip: std::net::IpAddr,
    ip_key: crate::store::IpKey,
}

impl DeferredTally {
    pub fn new(tally: Tally<Purpose>, cx: &Exchange) -> Self {
        Self { tally, who: Client { ip: cx.ip, ip_key: cx.ip_key } }
    }

    /// Counts `writes` (at least one) on the token's window with the rest of the request's
    /// windows, in one call: the headers for the answer, or the refusal.
    pub async fn settle(mut self, writes: u32, parts: &super::Parts, config: &Config) -> Decision {
        for w in self.tally.windows.iter_mut().filter(|w| matches!(w.tag, Purpose::Token { .. })) {
            w.n = writes.max(1);
        }
        let Some(shared) = parts.shared.as_deref() else { return Ok(Vec::new()) };
        decide(shared, &self.tally, self.who, parts, config).await
    }
}

/// What one call to the shared counters decided: the windows' headers when every window
/// passed, or only failed authentications went past theirs (the address is then locked, and
/// the request keeps its own refusal); else the refusal (a window refused, or the counters
/// could not decide) with the headers of the windows before it.
pub type Decision = Result<Vec<(HeaderName, HeaderValue)>, (Refusal, Vec<(HeaderName, HeaderValue)>)>;

async fn decide(
    shared: &SharedCounters,
    tally: &Tally<Purpose>,
    who: Client,
    parts: &super::Parts,
    config: &Config,
) -> Decision {
    let verdict = match shared.settle(tally).await {
        Ok(v) => v,
        Err(why) => {
            let error = ApiError::new(ErrorKind::RateLimiterUnavailable).header(RETRY_AFTER, 1);
            return Err((Refusal::new(StageName::RateLimit, error, why.0), Vec::new()));
        }
    };
    let (passed, refused) = match verdict {
        Verdict::Passed(passed) => (passed, None),
        Verdict::Refused(purpose, decision, before) => (before, Some((purpose, decision))),
        Verdict::Replayed(_) => return Err((super::auth::replayed(), Vec::new())),
    };
    let mut headers = Vec::new();
    for (purpose, d) in &passed {
        match purpose {
            Purpose::Token { window_secs } => headers.extend(rate_limit::headers(d, "token", *window_secs)),
            Purpose::Public => headers.extend(rate_limit::headers(d, "public", config.public.window_secs)),
            _ => {}
        }
    }
    let Some((purpose, d)) = refused else { return Ok(headers) };
    let refusal = match purpose {
        Purpose::Throttle => super::shield::throttled(&d, &config.shield),
        Purpose::Endpoint(id) => {
            let blocked = crate::checks::endpoint_limit_exceeded(&id, &d);
            Refusal::new(StageName::Checks, blocked.error, blocked.reason)
        }
        Purpose::Public => rate_limit::refused(&d, "public", config.public.window_secs, "public window exhausted"),
        Purpose::Token { window_secs } => rate_limit::refused(&d, "token", window_secs, "token window exhausted"),
        Purpose::FailedAuth { reason, route } => {
            let now = parts.clock.now_ms();
            parts.stages.auth.brute_force.lock_out(&who.ip, who.ip_key, now, &reason, route);
            return Ok(headers);
        }
        Purpose::Replay => super::auth::replayed(),
    };
    Err((refusal, headers))
}
