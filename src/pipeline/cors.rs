//! Stage 2, CORS, in two halves.
//!
//! Before auth, an `OPTIONS` preflight is answered from the server policy (`[cors]`) without
//! any token: an origin, method and headers the policy lists get 204 with the
//! `Access-Control-*` answers; anything else gets 403 `cors_rejected`. After auth, a request
//! that carries `Origin` must come from one of the token's own origins (`--origin`), or from
//! the server's own origin; otherwise 403 `origin_not_allowed`. Allowed origins are echoed
//! with `Vary: Origin`. There is no wildcard and no `Allow-Credentials`: tokens travel in
//! `Authorization`, never in cookies.

use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderName, HeaderValue};

use super::{Decide, Rejection, StageMessage, StageName};
use crate::config::CorsConfig;
use crate::error::ErrorKind;
use crate::redact::truncate;
use crate::tokens::Principal;

type Headers = Vec<(HeaderName, HeaderValue)>;

/// Headers a browser may read from our answers.
const EXPOSED: &str = "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, X-Request-Id";

/// The CORS policy, normalised once.
pub struct CorsState {
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    methods_value: String,
    headers_value: String,
    max_age: u64,
}

fn normalise_origin(o: &str) -> String {
    o.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl CorsState {
    pub fn new(c: &CorsConfig) -> Self {
        Self {
            origins: c.allowed_origins.iter().map(|o| normalise_origin(o)).collect(),
            methods: c.allowed_methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
            headers: c.allowed_headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
            methods_value: c.allowed_methods.join(", "),
            headers_value: c.allowed_headers.join(", "),
            max_age: c.max_age_secs,
        }
    }
}

fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}

fn echo(origin: &str) -> Headers {
    let mut h = Vec::new();
    if let Some(v) = header_value(origin) {
        h.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, v));
    }
    h.push((header::VARY, HeaderValue::from_static("Origin")));
    h
}

/// A preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
#[derive(Debug, Clone)]
pub struct Preflight {
    pub origin: String,
    pub method: String,
    pub headers: Vec<String>,
}

impl Preflight {
    pub fn from_request(req: &ServiceRequest) -> Option<Self> {
        let get = |name| req.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok());
        let origin = get(header::ORIGIN)?.to_string();
        let method = get(header::ACCESS_CONTROL_REQUEST_METHOD)?.trim().to_string();
        let headers = get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .map(|v| v.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect())
            .unwrap_or_default();
        Some(Self { origin, method, headers })
    }
}

impl StageMessage for Preflight {
    type Output = Headers;
}

impl Decide<Preflight> for CorsState {
    fn decide(&self, p: Preflight) -> Result<Headers, Rejection> {
        let refuse = |why: String| Rejection::new(StageName::Cors, ErrorKind::CorsRejected, why);
        if !self.origins.contains(&normalise_origin(&p.origin)) {
            return Err(refuse("preflight origin not in [cors] allowed_origins".into()));
        }
        if !self.methods.contains(&p.method.to_ascii_uppercase()) {
            return Err(refuse(format!("preflight method {:?} not allowed", truncate(&p.method, 64))));
        }
        if let Some(h) = p.headers.iter().find(|h| !self.headers.contains(h)) {
            return Err(refuse(format!("preflight header {:?} not allowed", truncate(h, 64))));
        }
        let mut out = echo(&p.origin);
        out.extend(
            [
                (header::ACCESS_CONTROL_ALLOW_METHODS, header_value(&self.methods_value)),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, header_value(&self.headers_value)),
                (header::ACCESS_CONTROL_MAX_AGE, header_value(&self.max_age.to_string())),
            ]
            .into_iter()
            .filter_map(|(n, v)| v.map(|v| (n, v))),
        );
        Ok(out)
    }
}

/// After auth: the request's `Origin` against the token's list.
#[derive(Debug)]
pub struct CheckOrigin {
    pub origin: String,
    pub host: Option<String>,
    pub principal: Arc<Principal>,
}

impl CheckOrigin {
    /// `None` when the request has no `Origin`: nothing to check.
    pub fn from_request(req: &ServiceRequest, principal: Arc<Principal>) -> Option<Self> {
        let get =
            |name| req.headers().get(name).map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned());
        Some(Self { origin: get(header::ORIGIN)?, host: get(header::HOST), principal })
    }
}

impl StageMessage for CheckOrigin {
    type Output = Headers;
}

impl Decide<CheckOrigin> for CorsState {
    fn decide(&self, c: CheckOrigin) -> Result<Headers, Rejection> {
        let origin = c.origin;
        let wanted = normalise_origin(&origin);
        let same_origin = c.host.as_deref().is_some_and(|host| {
            let host = host.to_ascii_lowercase();
            wanted == format!("http://{host}") || wanted == format!("https://{host}")
        });
        let listed = c.principal.record.origins.iter().any(|o| normalise_origin(o) == wanted);
        if !(same_origin || listed) {
            return Err(Rejection::new(
                StageName::Cors,
                ErrorKind::OriginNotAllowed,
                format!("origin {:?} not in the token's list", truncate(&origin, 64)),
            ));
        }
        let mut out = echo(&origin);
        out.push((header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> CorsState {
        CorsState::new(&CorsConfig { allowed_origins: vec!["https://app.example.com".into()], ..Default::default() })
    }

    #[test]
    fn preflight_follows_policy() {
        let s = state();
        let ok = Preflight {
            origin: "https://app.example.com".into(),
            method: "PUT".into(),
            headers: vec!["authorization".into(), "content-type".into()],
        };
        let h = s.decide(ok.clone()).unwrap();
        assert!(h.iter().any(|(n, v)| n == header::ACCESS_CONTROL_ALLOW_ORIGIN && v == "https://app.example.com"));
        assert!(s.decide(Preflight { origin: "https://evil.example".into(), ..ok.clone() }).is_err());
        assert!(s.decide(Preflight { method: "TRACE".into(), ..ok.clone() }).is_err());
        assert!(s.decide(Preflight { headers: vec!["x-evil".into()], ..ok }).is_err());
    }
}
