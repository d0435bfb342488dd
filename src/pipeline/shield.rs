//! Stage 1, the shield: cheap refusals before any other work is spent.
//!
//! - per-IP throttle (`ip_requests` per `ip_window_secs`) → 429 `ip_rate_limited`, with
//!   `Retry-After` and the rate-limit headers (policy "ip"); an IPv6 client's /48
//!   (`[checks] ipv6_wide_prefix`) gets `ipv6_wide_multiple` times that, so rotating through
//!   a network's /64s does not multiply the allowance
//! - query string longer than `max_query_bytes` → 400 `query_too_long`
//! - body larger than `max_body_bytes` → 413, from `Content-Length` at once, or counted while
//!   a chunked body streams in, never buffering past the limit
//! - a body that trickles (no bytes for `BODY_IDLE_SECS`) → 408 `body_timeout`
//! - JSON bodies nested deeper than `max_json_depth` → 400 `json_too_deep`, found by a byte
//!   scan that never recurses; invalid JSON → 400 `malformed_json`
//!
//! The throttle's windows are the stage's state (swept by its actor); the body checks are
//! pure functions. All of it is called directly by the pipeline.
//! The 10 s execution timeout wraps the whole pipeline (see `pipeline::PipelineService`).

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::Value;

use super::client_ip::ClientKeys;
use super::stage::Purpose;
use super::stage::{Refusal, Stage, StageName};
use crate::clock::SharedClock;
use crate::config::ShieldConfig;
use crate::error::{ApiError, ErrorKind};
use crate::http::body::{check_depth, ParsedBody};
use crate::limits::shared::Tally;
use crate::limits::window::{FixedWindows, Outer, WindowDecision};
use crate::store::IpKey;

/// A gap this long between body chunks drops the request.
pub const BODY_IDLE_SECS: u64 = 5;

/// The shield's state: the per-IP windows. Its limits come from the request's config
/// snapshot, so a reload applies from the next request.
pub struct ShieldState {
    pub throttle: FixedWindows<IpKey>,
    pub clock: SharedClock,
}

impl ShieldState {
    pub fn new(max_tracked_ips: usize, clock: SharedClock) -> Self {
        Self { throttle: FixedWindows::sheddable(max_tracked_ips), clock }
    }

    /// The checks before the body is read: the per-IP throttle (and its IPv6 network's,
    /// `wide_multiple` times as large), the query's size and an announced body's size.
    pub fn screen(
        &self,
        client: ClientKeys,
        wide_multiple: u32,
        query_bytes: usize,
        content_length: Option<u64>,
        c: &ShieldConfig,
    ) -> Result<(), Refusal> {
        let now = self.clock.now_ms();
        let wide = client.wide.map(|key| Outer { key, limit: c.ip_requests.saturating_mul(wide_multiple) });
        match self.throttle.hit_within(client.ip, wide, now, c.ip_requests, c.ip_window_secs * 1000) {
            Ok(d) if d.allowed => {}
            Ok(d) => return Err(throttled(&d, c)),
            Err(_) => return Err(Refusal::full(StageName::Shield, "IP throttle table")),
        }
        if query_bytes > c.max_query_bytes {
            return Err(reject(ErrorKind::QueryTooLong, format!("query of {query_bytes} bytes")));
        }
        if let Some(len) = content_length {
            if len > c.max_body_bytes as u64 {
                return Err(reject(ErrorKind::PayloadTooLarge, format!("Content-Length {len}")));
            }
        }
        Ok(())
    }
}

/// The throttle's windows for the shared counters (an IPv6 client's network's too).
pub fn throttle_windows(tally: &mut Tally<Purpose>, client: ClientKeys, wide_multiple: u32, c: &ShieldConfig) {
    let wide = client.wide.map(|key| (format!("ipw:{key}"), c.ip_requests.saturating_mul(wide_multiple)));
    let (name, window_ms) = (format!("ip:{}", client.ip), c.ip_window_secs.saturating_mul(1000));
    tally.count_within(Purpose::Throttle, name, c.ip_requests, wide, window_ms);
}

/// The throttle's 429, with the same rate-limit headers as the token limiter's (policy "ip").
pub fn throttled(d: &WindowDecision, c: &ShieldConfig) -> Refusal {
    let mut err = ApiError::new(ErrorKind::IpRateLimited).header(header::RETRY_AFTER, d.retry_after_secs());
    err.headers.extend(super::rate_limit::headers(d, "ip", c.ip_window_secs));
    Refusal::new(StageName::Shield, err, "per-IP throttle exceeded")
}

impl Stage for ShieldState {
    const NAME: StageName = StageName::Shield;
    fn upkeep(&self, now_ms: u64) {
        self.throttle.evict_expired(now_ms, false);
    }
}

fn reject(kind: ErrorKind, reason: impl Into<std::borrow::Cow<'static, str>>) -> Refusal {
    Refusal::new(StageName::Shield, kind, reason)
}

/// Reads the whole body, refusing it as soon as it grows past `limit`.
pub async fn read_body(mut payload: Payload, limit: usize) -> Result<Bytes, Refusal> {
    let mut buf = BytesMut::new();
    loop {
        let next = actix_rt::time::timeout(Duration::from_secs(BODY_IDLE_SECS), payload.next()).await;
        let chunk = match next {
            Err(_) => return Err(reject(ErrorKind::BodyTimeout, "body stalled")),
            Ok(None) => break,
            Ok(Some(Err(actix_web::error::PayloadError::Overflow))) => {
                return Err(reject(ErrorKind::PayloadTooLarge, "body overflow"))
            }
            Ok(Some(Err(e))) => return Err(reject(ErrorKind::BadRequest, format!("body unreadable: {e}"))),
            Ok(Some(Ok(chunk))) => chunk,
        };
        if buf.len() + chunk.len() > limit {
            return Err(reject(ErrorKind::PayloadTooLarge, format!("streamed body over {limit} bytes")));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Depth-checks and parses a declared-JSON body; other bodies pass untouched.
pub fn inspect_body(body: &Bytes, declared_json: bool, max_depth: usize) -> Result<Option<ParsedBody>, Refusal> {
    if !declared_json || body.is_empty() {
        return Ok(None);
    }
    if let Err(depth) = check_depth(body, max_depth) {
        return Err(reject(ErrorKind::JsonTooDeep, format!("JSON depth over {max_depth} (reached {depth})")));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(Some(ParsedBody(Arc::new(v)))),
        Err(e) => Err(reject(ErrorKind::MalformedJson, format!("invalid JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_checks_refuse_deep_and_malformed_json_and_pass_other_bodies() {
        let deep = Bytes::from("[".repeat(11) + &"]".repeat(11));
        assert_eq!(inspect_body(&deep, true, 10).unwrap_err().error.kind, ErrorKind::JsonTooDeep);
        assert_eq!(inspect_body(&Bytes::from("{"), true, 10).unwrap_err().error.kind, ErrorKind::MalformedJson);
        assert!(inspect_body(&Bytes::from("{"), false, 10).unwrap().is_none());
        assert!(inspect_body(&Bytes::from(r#"{"a":1}"#), true, 10).unwrap().is_some());
    }
}
