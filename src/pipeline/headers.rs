//! The outermost layer: security headers on every response, one request id, no panics.
//!
//! Everything the server answers passes through here — successes, every stage's rejection,
//! routing 404/405, timeouts and handler panics (caught and turned into a 500) — so the
//! OWASP headers cannot be forgotten on any path. Sits outside the pipeline (see
//! `pipeline::Pipeline`).

use std::future::{ready, Ready};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::LazyLock;

use actix_web::body::BoxBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use rand::RngCore;

use crate::digits::Hex;
use crate::error::{ApiError, ErrorKind};

/// The headers every response carries.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-xss-protection", "0"),
    ("cache-control", "no-store, no-cache, must-revalidate, max-age=0"),
    ("pragma", "no-cache"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("cross-origin-resource-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-embedder-policy", "require-corp"),
    (
        "permissions-policy",
        "accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), fullscreen=(), \
         geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), \
         picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), sync-xhr=(), usb=(), \
         xr-spatial-tracking=()",
    ),
];

/// The id of one request, also sent back as `X-Request-Id` (16 hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(pub u64);

impl RequestId {
    /// A new random id.
    pub fn fresh() -> Self {
        Self(rand::thread_rng().next_u64())
    }

    pub fn hex(self) -> Hex<16> {
        Hex::of(&self.0.to_be_bytes())
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.hex().as_str())
    }
}

/// [`SECURITY_HEADERS`] as header names and values, made once.
static PREPARED: LazyLock<Vec<(HeaderName, HeaderValue)>> = LazyLock::new(|| {
    SECURITY_HEADERS
        .iter()
        .map(|(name, value)| (HeaderName::from_static(name), HeaderValue::from_static(value)))
        .collect()
});

/// Sets the security headers and the request id on a response. A page that needs its own
/// Content-Security-Policy (the explorer) sets it itself; this layer then leaves it alone.
pub fn apply(headers: &mut HeaderMap, request_id: RequestId) {
    headers.reserve(PREPARED.len() + 1);
    for (name, value) in PREPARED.iter() {
        if name == header::CONTENT_SECURITY_POLICY && headers.contains_key(name) {
            continue;
        }
        headers.insert(name.clone(), value.clone());
    }
    headers.remove(header::SERVER);
    if let Ok(v) = HeaderValue::from_str(request_id.hex().as_str()) {
        headers.insert(X_REQUEST_ID, v);
    }
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Middleware factory for [`apply`].
#[derive(Clone, Copy, Default)]
pub struct SecurityHeaders;

impl<S> Transform<S, ServiceRequest> for SecurityHeaders
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error> + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = SecurityHeadersService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SecurityHeadersService { service: Rc::new(service) }))
    }
}

pub struct SecurityHeadersService<S> {
    service: Rc<S>,
}

impl<S> Service<ServiceRequest> for SecurityHeadersService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error> + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let request_id = RequestId::fresh();
        req.extensions_mut().insert(request_id);
        let http_req = req.request().clone();
        let service = self.service.clone();
        Box::pin(async move {
            let outcome = AssertUnwindSafe(service.call(req)).catch_unwind().await;
            let mut res = match outcome {
                Ok(Ok(res)) => res,
                Ok(Err(err)) => ServiceResponse::new(http_req, err.error_response()),
                Err(_) => {
                    tracing::error!(request_id = %request_id, "handler panicked");
                    ServiceResponse::new(http_req, ApiError::new(ErrorKind::Internal).into_response())
                }
            };
            apply(res.headers_mut(), request_id);
            Ok(res)
        })
    }
}
