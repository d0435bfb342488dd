//! Stage 1, the shield: cheap refusals before any other work is spent.
//!
//! - per-IP throttle (`ip_requests` per `ip_window_secs`) → 429 `ip_rate_limited`
//! - query string longer than `max_query_bytes` → 400 `query_too_long`
//! - body larger than `max_body_bytes` → 413, from `Content-Length` at once, or counted while
//!   a chunked body streams in, never buffering past the limit
//! - a body that trickles (no bytes for `BODY_IDLE_SECS`) → 408 `body_timeout`
//! - JSON bodies nested deeper than `max_json_depth` → 400 `json_too_deep`, found by a byte
//!   scan that never recurses; invalid JSON → 400 `malformed_json`
//!
//! The throttle owns state and runs in the stage actor; the body checks are pure functions
//! called by the pipeline, because the payload stream lives on the worker's thread.
//! The 10 s execution timeout wraps the whole pipeline (see `pipeline::PipelineService`).

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpMessage;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::Value;

use super::window::FixedWindows;
use super::{Decide, Rejection, StageMessage, StageName};
use crate::clock::SharedClock;
use crate::config::ShieldConfig;
use crate::error::{ApiError, ErrorKind};
use crate::store::IpKey;

/// A gap this long between body chunks drops the request.
pub const BODY_IDLE_SECS: u64 = 5;

/// The shield's shared state: the per-IP windows. Its limits travel in each [`Screen`],
/// taken from the request's config snapshot, so a reload applies from the next request.
pub struct ShieldState {
    pub throttle: FixedWindows<IpKey>,
    pub clock: SharedClock,
}

impl ShieldState {
    pub fn new(max_tracked_ips: usize, clock: SharedClock) -> Self {
        Self { throttle: FixedWindows::sheddable(max_tracked_ips), clock }
    }
}

/// The facts the shield screens before reading the body.
#[derive(Debug, Clone)]
pub struct Screen {
    pub ip_key: IpKey,
    pub query_bytes: usize,
    pub content_length: Option<u64>,
    pub limits: ShieldConfig,
}

impl Screen {
    pub fn from_request(req: &ServiceRequest, ip_key: IpKey, limits: &ShieldConfig) -> Self {
        let content_length =
            req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
        Self { ip_key, query_bytes: req.query_string().len(), content_length, limits: limits.clone() }
    }
}

impl StageMessage for Screen {
    type Output = ();
}

fn reject(kind: ErrorKind, reason: impl Into<std::borrow::Cow<'static, str>>) -> Rejection {
    Rejection::new(StageName::Shield, kind, reason)
}

impl Decide<Screen> for ShieldState {
    fn decide(&self, s: Screen) -> Result<(), Rejection> {
        let c = &s.limits;
        let now = self.clock.now_ms();
        match self.throttle.hit(s.ip_key, now, c.ip_requests, c.ip_window_secs * 1000) {
            Ok(d) if d.allowed => {}
            Ok(d) => {
                let err = ApiError::new(ErrorKind::IpRateLimited).header(header::RETRY_AFTER, d.retry_after_secs());
                return Err(Rejection::new(StageName::Shield, err, "per-IP throttle exceeded"));
            }
            Err(_) => {
                return Err(super::unavailable(StageName::Shield, "IP throttle table full"));
            }
        }
        if s.query_bytes > c.max_query_bytes {
            return Err(reject(ErrorKind::QueryTooLong, format!("query of {} bytes", s.query_bytes)));
        }
        if let Some(len) = s.content_length {
            if len > c.max_body_bytes as u64 {
                return Err(reject(ErrorKind::PayloadTooLarge, format!("Content-Length {len}")));
            }
        }
        Ok(())
    }
}

/// Whether the request announces a body (`Content-Length` > 0 or `Transfer-Encoding`).
pub fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
}

/// Reads the whole body, refusing it as soon as it grows past `limit`.
pub async fn read_body(mut payload: Payload, limit: usize) -> Result<Bytes, Rejection> {
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

/// Whether the request declares a JSON body (`application/json`, `application/*+json`).
pub fn is_json(req: &ServiceRequest) -> bool {
    is_json_content_type(req.headers().get(header::CONTENT_TYPE))
}

pub fn is_json_content_type(value: Option<&HeaderValue>) -> bool {
    let Some(v) = value.and_then(|v| v.to_str().ok()) else { return false };
    let essence = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A JSON body, parsed once by the shield and handed to the handler.
#[derive(Debug, Clone)]
pub struct ParsedBody(pub Arc<Value>);

/// Depth-checks and parses a declared-JSON body; other bodies pass untouched.
pub fn inspect_body(body: &Bytes, declared_json: bool, max_depth: usize) -> Result<Option<ParsedBody>, Rejection> {
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

/// Scans bytes for container depth without recursion; `Err(depth)` at the first level past
/// `max`. Brackets inside strings (escapes included) do not count.
pub fn check_depth(bytes: &[u8], max: usize) -> Result<usize, usize> {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(depth);
                }
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(deepest)
}

/// Puts an already-read body back so the handler can read it as usual.
pub fn replay_payload(body: Bytes) -> Payload {
    let (_, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(body);
    Payload::from(payload)
}

/// The parsed JSON body of a request, if the shield found one.
pub fn parsed_body(req: &actix_web::HttpRequest) -> Option<Arc<Value>> {
    req.extensions().get::<ParsedBody>().map(|p| p.0.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_containers_not_strings() {
        assert_eq!(check_depth(br#"{"a":{"b":1}}"#, 10), Ok(2));
        assert_eq!(check_depth(br#"{"a":"[[[[[[[[[[[[[["}"#, 2), Ok(1));
        assert_eq!(check_depth(br#"{"a":"\"[[[[[[[[[[[[[["}"#, 2), Ok(1));
        let ten = "[".repeat(10) + &"]".repeat(10);
        assert_eq!(check_depth(ten.as_bytes(), 10), Ok(10));
        let eleven = "[".repeat(11) + &"]".repeat(11);
        assert_eq!(check_depth(eleven.as_bytes(), 10), Err(11));
    }

    #[test]
    fn huge_bracket_bodies_are_cheap_and_safe() {
        let body = vec![b'['; 256 * 1024];
        assert_eq!(check_depth(&body, 10), Err(11));
    }

    #[test]
    fn json_content_types() {
        let hv = |s: &'static str| HeaderValue::from_static(s);
        assert!(is_json_content_type(Some(&hv("application/json; charset=utf-8"))));
        assert!(is_json_content_type(Some(&hv("application/merge-patch+json"))));
        assert!(!is_json_content_type(Some(&hv("text/plain"))));
        assert!(!is_json_content_type(None));
    }
}
