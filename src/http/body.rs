//! Request bodies, as every layer above reads them: whether a body is announced or declared
//! JSON, the JSON depth scan that never recurses, the parsed body handed from the shield to
//! the handler, and putting a read body back for the handler.

use std::sync::Arc;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpMessage;
use bytes::Bytes;
use serde_json::Value;

/// Whether the request announces a body (`Content-Length` > 0 or `Transfer-Encoding`).
pub fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
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

/// Marks a request whose JSON array of rows was counted whole against the token's window by
/// the pipeline (shared counters: one call per request), so the handler counts no more.
#[derive(Debug, Clone, Copy)]
pub struct BatchCounted;
