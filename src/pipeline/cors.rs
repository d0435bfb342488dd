//! Stage 2, CORS, in two halves.
//!
//! Before auth, an `OPTIONS` preflight is answered from the server policy (`[cors]`) without
//! any token: an origin, method and headers the policy lists get 204 with the
//! `Access-Control-*` answers; anything else gets 403 `cors_rejected`. After auth, a request
//! that carries `Origin` must come from one of the token's own origins (`--origin`), or from
//! the server's own origin as configured (`[server] public_url`, scheme included); otherwise
//! 403 `origin_not_allowed`. The `Host` header is never trusted for that: a client writes it.
//! The refusal's audit reason names no header value. Allowed origins are echoed
//! with `Vary: Origin`. There is no wildcard and no `Allow-Credentials`: tokens travel in
//! `Authorization`, never in cookies.

use actix_web::http::header::{self, HeaderName, HeaderValue};

use super::stage::{Refusal, Stage, StageName};
use crate::config::CorsConfig;
use crate::error::ErrorKind;
use crate::redact::truncate;
use crate::tokens::Principal;

type Headers = Vec<(HeaderName, HeaderValue)>;

/// Headers a browser may read from our answers.
const EXPOSED: &str =
    "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit, RateLimit-Policy, Retry-After, X-Request-Id";

/// The CORS policy, normalised once.
pub struct CorsState {
    /// The server's own origin (`[server] public_url`), normalised; when unset, the bound
    /// listener's own address (see [`CorsState::listening_on`]).
    own: std::sync::OnceLock<OwnOrigin>,
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    methods_value: String,
    headers_value: String,
    max_age: u64,
}

/// How the server's own origin is recognised.
enum OwnOrigin {
    /// From `public_url`, compared normalised (case, trailing slash), as configured.
    Configured(String),
    /// The bound address, compared byte for byte.
    Exact(String),
}

impl OwnOrigin {
    fn is(&self, origin: &str) -> bool {
        match self {
            OwnOrigin::Configured(own) => *own == normalise_origin(origin),
            OwnOrigin::Exact(own) => own == origin,
        }
    }
}

fn normalise_origin(o: &str) -> String {
    o.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl CorsState {
    /// Without `public_url`, the listener's own address is the server's origin (the API
    /// Explorer's calls come from it): exactly `http://ADDR` as a browser sends it, no
    /// other spelling (no `localhost` alias, no case or trailing-slash variants: any name
    /// that merely resolves here could be another site's). A wildcard listen address names
    /// no origin: set `public_url` there.
    pub fn listening_on(&self, addr: std::net::SocketAddr) {
        if addr.ip().is_unspecified() {
            return;
        }
        let _ = self.own.set(OwnOrigin::Exact(format!("http://{addr}")));
    }
}

/// `https://api.example.com/base/` → `https://api.example.com` (scheme, host, port).
fn own_origin(public_url: &str) -> Option<String> {
    let url = public_url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next().filter(|a| !a.is_empty())?;
    Some(normalise_origin(&format!("{scheme}://{authority}")))
}

fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}

fn echo(origin: &str) -> Headers {
    let mut h = Vec::with_capacity(3);
    if let Some(v) = header_value(origin) {
        h.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, v));
    }
    h.push((header::VARY, HeaderValue::from_static("Origin")));
    h
}

impl CorsState {
    pub fn new(c: &CorsConfig, public_url: &str) -> Self {
        Self {
            own: own_origin(public_url)
                .map(|o| std::sync::OnceLock::from(OwnOrigin::Configured(o)))
                .unwrap_or_default(),
            origins: c.allowed_origins.iter().map(|o| normalise_origin(o)).collect(),
            methods: c.allowed_methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
            headers: c.allowed_headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
            methods_value: c.allowed_methods.join(", "),
            headers_value: c.allowed_headers.join(", "),
            max_age: c.max_age_secs,
        }
    }

    /// A preflight (`Origin`, `Access-Control-Request-Method` and the optional
    /// `Access-Control-Request-Headers`), answered from the server policy.
    pub fn preflight(&self, origin: &str, method: &str, requested: Option<&str>) -> Result<Headers, Refusal> {
        let refuse = |why: String| Refusal::new(StageName::Cors, ErrorKind::CorsRejected, why);
        if !self.origins.contains(&normalise_origin(origin)) {
            return Err(refuse("preflight origin not in [cors] allowed_origins".into()));
        }
        let method = method.trim();
        if !self.methods.iter().any(|m| m.eq_ignore_ascii_case(method)) {
            return Err(refuse(format!("preflight method {:?} not allowed", truncate(method, 64))));
        }
        let mut asked = requested.unwrap_or("").split(',').map(str::trim).filter(|h| !h.is_empty());
        if let Some(h) = asked.find(|h| !self.headers.iter().any(|a| a.eq_ignore_ascii_case(h))) {
            return Err(refuse(format!("preflight header {:?} not allowed", truncate(&h.to_ascii_lowercase(), 64))));
        }
        let mut out = echo(origin);
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

    /// After auth: a request's `Origin` must be on the token's list (or the server's own).
    pub fn check_origin(&self, origin: &str, p: &Principal) -> Result<Headers, Refusal> {
        let wanted = normalise_origin(origin);
        let same_origin = self.own.get().is_some_and(|own| own.is(origin));
        let listed = p.record.origins.iter().any(|o| normalise_origin(o) == wanted);
        if !(same_origin || listed) {
            return Err(Refusal::new(
                StageName::Cors,
                ErrorKind::OriginNotAllowed,
                "Origin is neither the token's nor the server's own",
            ));
        }
        let mut out = echo(origin);
        out.push((header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED)));
        Ok(out)
    }
}

impl Stage for CorsState {
    const NAME: StageName = StageName::Cors;
    /// The policy is fixed at start; nothing expires.
    fn upkeep(&self, _now_ms: u64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> CorsState {
        CorsState::new(
            &CorsConfig { allowed_origins: vec!["https://app.example.com".into()], ..Default::default() },
            "https://api.example.com/",
        )
    }

    #[test]
    fn preflight_follows_policy() {
        let s = state();
        let ok = "https://app.example.com";
        let h = s.preflight(ok, "PUT", Some("Authorization, content-type")).unwrap();
        assert!(h.iter().any(|(n, v)| n == header::ACCESS_CONTROL_ALLOW_ORIGIN && v == ok));
        assert!(s.preflight("https://evil.example", "PUT", None).is_err());
        assert!(s.preflight(ok, "TRACE", None).is_err());
        assert!(s.preflight(ok, "PUT", Some("x-evil")).is_err());
    }

    #[test]
    fn origin_must_be_the_tokens_or_the_servers_own() {
        let s = state();
        let mut p = Principal::for_tests("00000000000000aa");
        p.record.origins = vec!["https://crm.example.com".into()];
        assert!(s.check_origin("https://crm.example.com/", &p).is_ok());
        assert!(s.check_origin("https://api.example.com", &p).is_ok());
        // The scheme counts: an http:// origin is not a TLS deployment's own.
        assert!(s.check_origin("http://api.example.com", &p).is_err());
        assert!(s.check_origin("https://evil.example", &p).is_err());
        let no_url = CorsState::new(&CorsConfig::default(), "");
        assert!(no_url.check_origin("https://api.example.com", &p).is_err());
        no_url.listening_on("127.0.0.1:8080".parse().unwrap());
        assert!(no_url.check_origin("http://127.0.0.1:8080", &p).is_ok());
        for other in
            ["http://localhost:8080", "http://LOCALHOST:8080", "http://127.0.0.1:8080/", "HTTP://127.0.0.1:8080"]
        {
            assert!(no_url.check_origin(other, &p).is_err(), "{other}");
        }
        assert!(no_url.check_origin("http://evil.example:8080", &p).is_err());
    }
}
