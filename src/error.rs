//! `ApiError`: every refusal the API can give, turned into status, JSON body and headers in
//! exactly one place ([`ApiError::into_response`]).
//!
//! Bodies carry nothing per-request, so equal causes give byte-identical bodies; the exact,
//! internal cause travels beside the error as `reason` and only reaches the audit record.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// What went wrong, as the client may know it. `code()` and `status()` are the whole mapping.
/// `Internal` stays last and every variant is listed in [`ErrorKind::ALL`] (a test checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    BadForwardedFor,
    QueryTooLong,
    JsonTooDeep,
    MalformedJson,
    PayloadTooLarge,
    BodyTimeout,
    HeadTimeout,
    HeadersTooLarge,
    IpRateLimited,
    RequestTimeout,
    CorsRejected,
    MissingToken,
    InvalidToken,
    MissingSignature,
    BadSignature,
    StaleRequest,
    ReplayedRequest,
    OriginNotAllowed,
    RateLimited,
    RateLimiterUnavailable,
    CapacityExhausted,
    Forbidden,
    IpNotAllowed,
    SandboxReadOnly,
    /// An owner-bound token's write would leave its owner (issue #28).
    OwnerMismatch,
    Locked,
    InjectionDetected,
    CheckFailed,
    NotFound,
    MethodNotAllowed,
    UnsupportedMediaType,
    Validation,
    Conflict,
    StorageUnavailable,
    RowBudgetExceeded,
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order (the OpenAPI document lists their codes).
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::BadRequest,
        ErrorKind::BadForwardedFor,
        ErrorKind::QueryTooLong,
        ErrorKind::JsonTooDeep,
        ErrorKind::MalformedJson,
        ErrorKind::PayloadTooLarge,
        ErrorKind::BodyTimeout,
        ErrorKind::HeadTimeout,
        ErrorKind::HeadersTooLarge,
        ErrorKind::IpRateLimited,
        ErrorKind::RequestTimeout,
        ErrorKind::CorsRejected,
        ErrorKind::MissingToken,
        ErrorKind::InvalidToken,
        ErrorKind::MissingSignature,
        ErrorKind::BadSignature,
        ErrorKind::StaleRequest,
        ErrorKind::ReplayedRequest,
        ErrorKind::OriginNotAllowed,
        ErrorKind::RateLimited,
        ErrorKind::RateLimiterUnavailable,
        ErrorKind::CapacityExhausted,
        ErrorKind::Forbidden,
        ErrorKind::IpNotAllowed,
        ErrorKind::SandboxReadOnly,
        ErrorKind::OwnerMismatch,
        ErrorKind::Locked,
        ErrorKind::InjectionDetected,
        ErrorKind::CheckFailed,
        ErrorKind::NotFound,
        ErrorKind::MethodNotAllowed,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::Validation,
        ErrorKind::Conflict,
        ErrorKind::StorageUnavailable,
        ErrorKind::RowBudgetExceeded,
        ErrorKind::Internal,
    ];

    pub fn status(self) -> StatusCode {
        use ErrorKind::*;
        match self {
            BadRequest | BadForwardedFor | QueryTooLong | JsonTooDeep | MalformedJson | RowBudgetExceeded => {
                StatusCode::BAD_REQUEST
            }
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyTimeout | HeadTimeout => StatusCode::REQUEST_TIMEOUT,
            HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            IpRateLimited | RateLimited => StatusCode::TOO_MANY_REQUESTS,
            MissingToken | InvalidToken | MissingSignature | BadSignature | StaleRequest | ReplayedRequest => {
                StatusCode::UNAUTHORIZED
            }
            CorsRejected | OriginNotAllowed | Forbidden | IpNotAllowed | SandboxReadOnly | OwnerMismatch | Locked
            | InjectionDetected | CheckFailed => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Validation => StatusCode::UNPROCESSABLE_ENTITY,
            Conflict => StatusCode::CONFLICT,
            RequestTimeout | RateLimiterUnavailable | CapacityExhausted | StorageUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(self) -> &'static str {
        use ErrorKind::*;
        match self {
            BadRequest => "bad_request",
            BadForwardedFor => "bad_forwarded_for",
            QueryTooLong => "query_too_long",
            JsonTooDeep => "json_too_deep",
            MalformedJson => "malformed_json",
            PayloadTooLarge => "payload_too_large",
            BodyTimeout => "body_timeout",
            HeadTimeout => "head_timeout",
            HeadersTooLarge => "headers_too_large",
            IpRateLimited => "ip_rate_limited",
            RequestTimeout => "request_timeout",
            CorsRejected => "cors_rejected",
            MissingToken => "missing_token",
            InvalidToken => "invalid_token",
            MissingSignature => "missing_signature",
            BadSignature => "bad_signature",
            StaleRequest => "stale_request",
            ReplayedRequest => "replayed_request",
            OriginNotAllowed => "origin_not_allowed",
            RateLimited => "rate_limited",
            RateLimiterUnavailable => "rate_limiter_unavailable",
            CapacityExhausted => "capacity_exhausted",
            Forbidden => "forbidden",
            IpNotAllowed => "ip_not_allowed",
            SandboxReadOnly => "sandbox_read_only",
            OwnerMismatch => "owner_mismatch",
            Locked => "locked",
            InjectionDetected => "injection_detected",
            CheckFailed => "check_failed",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            UnsupportedMediaType => "unsupported_media_type",
            Validation => "validation_failed",
            Conflict => "conflict",
            StorageUnavailable => "storage_unavailable",
            RowBudgetExceeded => "row_budget_exceeded",
            Internal => "internal_error",
        }
    }

    /// The generic message used when no more specific (but still per-cause) one is given.
    pub fn default_message(self) -> &'static str {
        use ErrorKind::*;
        match self {
            BadRequest => "the request is malformed",
            BadForwardedFor => "the X-Forwarded-For header does not name a client address",
            QueryTooLong => "the query string is too long",
            JsonTooDeep => "the JSON body is nested too deeply",
            MalformedJson => "the body is not valid JSON",
            PayloadTooLarge => "the request body is too large",
            BodyTimeout => "the request body arrived too slowly",
            HeadTimeout => "the request head arrived too slowly",
            HeadersTooLarge => "the request head is too large or has too many fields",
            IpRateLimited => "too many requests from this address",
            RequestTimeout => "the request took too long and was cut off",
            CorsRejected => "this cross-origin request is not allowed",
            MissingToken => "an Authorization: Bearer token is required",
            InvalidToken => "the token is not valid",
            MissingSignature => "this token requires X-Timestamp and X-Signature headers",
            BadSignature => "the request signature is not valid",
            StaleRequest => "the request timestamp is outside the allowed window",
            ReplayedRequest => "this signed request was already used",
            OriginNotAllowed => "this origin is not allowed for the token",
            RateLimited => "the token's rate limit is exhausted",
            RateLimiterUnavailable => "the rate limiter cannot decide; try again shortly",
            CapacityExhausted => "the server is tracking too many clients to decide; try again shortly",
            Forbidden => "the token may not do this",
            IpNotAllowed => "the token may not be used from this address",
            SandboxReadOnly => "sandbox tokens are read-only",
            OwnerMismatch => "the row would not belong to the token's owner",
            Locked => "access is locked",
            InjectionDetected => "the request was refused",
            CheckFailed => "the request was refused",
            NotFound => "no such resource",
            MethodNotAllowed => "this method is not allowed here",
            UnsupportedMediaType => "the body must be application/json",
            Validation => "the data is not valid",
            Conflict => "the request conflicts with stored data",
            StorageUnavailable => "storage is unavailable; nothing was changed",
            RowBudgetExceeded => "the query produced more rows than one request may; ask for less",
            Internal => "internal error",
        }
    }
}

/// An error the client will see, plus headers that belong to it.
#[derive(Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: Cow<'static, str>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind, message: Cow::Borrowed(kind.default_message()), headers: Vec::new() }
    }

    /// A message that depends on the cause only (e.g. a column name), never on the request.
    pub fn with_message(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self { kind, message: message.into(), headers: Vec::new() }
    }

    pub fn header(mut self, name: HeaderName, value: impl fmt::Display) -> Self {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            self.headers.push((name, v));
        }
        self
    }

    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_message(ErrorKind::Validation, message)
    }

    /// The same refusal, naming which item of a batch it is about (`row 3: …`, counted
    /// from 0 like the array it came in).
    pub fn at_row(mut self, index: usize) -> Self {
        self.message = Cow::Owned(format!("row {index}: {}", self.message));
        self
    }

    /// The JSON body: `{"error":{"code":…,"message":…}}`.
    pub fn body(&self) -> String {
        serde_json::json!({"error": {"code": self.kind.code(), "message": self.message}}).to_string()
    }

    /// The single mapping from error to HTTP response.
    pub fn into_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.kind.status());
        builder.content_type("application/json");
        for (name, value) in &self.headers {
            builder.insert_header((name.clone(), value.clone()));
        }
        builder.body(self.body())
    }
}

impl From<ErrorKind> for ApiError {
    fn from(kind: ErrorKind) -> Self {
        ApiError::new(kind)
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }
    fn error_response(&self) -> HttpResponse {
        self.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_causes_give_identical_bodies() {
        let a = ApiError::new(ErrorKind::InvalidToken).body();
        let b = ApiError::new(ErrorKind::InvalidToken).body();
        assert_eq!(a, b);
        assert_eq!(a, r#"{"error":{"code":"invalid_token","message":"the token is not valid"}}"#);
    }

    #[test]
    fn all_lists_every_kind_once() {
        assert_eq!(ErrorKind::ALL.len(), ErrorKind::Internal as usize + 1);
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i, "{kind:?}");
        }
    }

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(ErrorKind::PayloadTooLarge.status(), 413);
        assert_eq!(ErrorKind::RateLimiterUnavailable.status(), 503);
        assert_eq!(ErrorKind::Validation.status(), 422);
    }
}
