//! # The security pipeline
//!
//! Every request passes these stages in this order; each can refuse it on its own:
//!
//! ```text
//!  client ─▶ SecurityHeaders   outermost: OWASP headers, X-Request-Id, panics → 500
//!         ─▶ 1 Shield          IP throttle, query size, body size (counted while streaming),
//!                              JSON depth and validity; the whole request runs under a timeout
//!         ─▶   checks          ordered security checks: locks, SQL injection (auto-lock),
//!                              honeypot, per-endpoint limits (see `checks`)
//!         ─▶ 2 CORS preflight  OPTIONS answered from server policy, without auth
//!         ─▶   route           path shape → 404, method → 405 (+ Allow)
//!         ─▶ 3 Auth            bearer token (SHA-256, constant time), signature, replay
//!                              (a signature already recorded is refused here)
//!         ─▶ 2 CORS origin     the token's own origin list
//!         ─▶ 4 Rate limit      per-token fixed window; fails closed (503)
//!         ─▶ 5 Scope           table × action matrix, views, CIDR list, sensitive tables
//!         ─▶ 3 Auth, replay    the admitted request's signature is recorded (only now, so
//!                              requests refused above cannot fill the replay cache)
//!         ─▶   handler         REST / GraphQL
//!         ─▶ 6 Audit           record opened at entry, finished with status and duration,
//!                              written off the hot path by the audit actor
//! ```
//!
//! The order is written once, in [`order::run`]. Each stage is a module with one shape: a state
//! type (its shared, lock-free maps) with one decision method, called directly with facts
//! borrowed from the request and unit-tested without HTTP, and a [`stage::Stage`] impl whose
//! actor ([`stage::StageActor`], one per stage) owns the stage's time: sweeps and expiry.
//! A request never waits on a mailbox for a decision. It fails closed where failing is real:
//! a stage whose bounded table is full answers 503 (`Refusal::full`), and the whole request
//! runs under `[server] request_timeout_secs`. The pipeline holds [`Parts`], the narrow set
//! of handles it needs, not the whole application state.

pub mod audit;
pub mod auth;
pub mod client_ip;
pub mod cors;
pub mod headers;
mod order;
mod parts;
pub mod probe;
pub mod rate_limit;
pub mod scope;
pub mod shield;
pub mod stage;
pub mod tally;

use std::borrow::Cow;
use std::future::{ready, Ready};
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::body::BoxBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::{Error, HttpMessage};
use futures_util::future::LocalBoxFuture;

use crate::error::{ApiError, ErrorKind};
use crate::http::route;
use headers::RequestId;
pub use parts::{Parts, Stages};
pub use stage::{Refusal, StageName};

/// The pipeline middleware (one per worker).
pub struct Pipeline {
    parts: Arc<Parts>,
    audit_writer: Addr<audit::AuditWriter>,
}

impl Pipeline {
    pub fn new(parts: Arc<Parts>, audit_writer: Addr<audit::AuditWriter>) -> Self {
        Self { parts, audit_writer }
    }
}

impl<S> Transform<S, ServiceRequest> for Pipeline
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error> + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = PipelineService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        // Each worker batches its own audit records (see `audit`).
        let interval = self.parts.config.get().audit.flush_interval_ms;
        let batch = audit::AuditBatch::new(self.audit_writer.clone());
        let actor = audit::AuditActor::new(batch.clone(), self.parts.audit.clone(), interval).start();
        self.parts.audit_flush.register(actor.clone(), &self.audit_writer);
        ready(Ok(PipelineService { service: Rc::new(service), parts: self.parts.clone(), audit: batch, actor }))
    }
}

pub struct PipelineService<S> {
    service: Rc<S>,
    parts: Arc<Parts>,
    audit: Rc<audit::AuditBatch>,
    actor: Addr<audit::AuditActor>,
}

/// What the stages learn about one request as it goes through them.
pub struct Exchange {
    pub ip: IpAddr,
    /// The keyed hash every per-IP counter and lock uses.
    pub ip_key: crate::store::IpKey,
    /// The client's keys (its address's and, for IPv6, its wide network's).
    pub client: client_ip::ClientKeys,
    /// Headers every response to this request carries (rate limit, CORS).
    pub extra_headers: Vec<(HeaderName, HeaderValue)>,
    pub principal: Option<Arc<crate::tokens::Principal>>,
    /// What the checks noticed without refusing (audited as the record's `reason`).
    pub note: Option<String>,
    /// The proxy's `X-Forwarded-For` names no client address (see `client_ip`).
    pub bad_forwarded_for: bool,
    /// The metrics label of the resolved route (the handler takes the route itself).
    pub route_label: Option<&'static str>,
    /// With shared counters: the windows this request counts, decided in one call.
    pub tally: Option<tally::Tally<tally::Purpose>>,
}

impl<S> Service<ServiceRequest> for PipelineService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error> + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let parts = self.parts.clone();
        let audit = self.audit.clone();
        let actor = self.actor.clone();
        Box::pin(async move {
            let started = Instant::now();
            let http_req = req.request().clone();
            let peer = req.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            // A value that is not visible ASCII stays in the list as unreadable: skipping it
            // would make the proxy itself the client.
            let forwarded = req.headers().get_all(header::X_FORWARDED_FOR).map(|v| v.to_str().ok());
            // One config snapshot per request: a reload never splits a request.
            let config = parts.config.get();
            if config.server.trusted_proxies.is_empty() && req.headers().contains_key(header::X_FORWARDED_FOR) {
                parts.warn_untrusted_proxy(peer, parts.clock.now_ms());
            }
            let resolved = client_ip::resolve(peer, forwarded, &config.server.trusted_proxies);
            let ip = resolved.unwrap_or_else(|_| client_ip::normalise(peer));
            let request_id = req.extensions().get::<RequestId>().copied().unwrap_or(RequestId(0));
            let client = client_ip::ClientKeys::of(ip, &parts.keys, &config.checks);
            let ip_key = client.ip;
            let draft = audit::AuditDraft::open(parts.clock.now_ms(), request_id, &req, ip_key);
            let mut cx = Exchange {
                ip,
                ip_key,
                client,
                extra_headers: Vec::new(),
                principal: None,
                note: None,
                bad_forwarded_for: resolved.is_err(),
                route_label: None,
                tally: parts.shared.as_ref().map(|_| tally::Tally::default()),
            };
            let limit = Duration::from_secs(config.server.request_timeout_secs);
            let outcome = actix_rt::time::timeout(limit, order::run(&service, req, &mut cx, &parts, &config)).await;
            let (mut res, refusal) = match outcome {
                Ok(Ok(res)) => {
                    // A handler's refusal (404, 422, …) is counted under its own code; only
                    // an error that is not an `ApiError` is an internal one.
                    let reason = res.response().error().map(|e| {
                        let kind = e.as_error::<ApiError>().map_or(ErrorKind::Internal, |a| a.kind);
                        Refusal::new(StageName::Handler, kind, e.to_string())
                    });
                    (res, reason)
                }
                Ok(Err(refusal)) => {
                    // Refused before auth ran (shield, checks, router): the record still says
                    // whose token it was, when the token is valid (a hash lookup; the request
                    // stays refused), so an operator can tell which customer was locked out.
                    let before_auth = matches!(
                        refusal.stage,
                        StageName::Shield | StageName::Checks | StageName::Cors | StageName::Router
                    );
                    if cx.principal.is_none() && before_auth {
                        let authorization = http_req.headers().get(header::AUTHORIZATION);
                        let authorization = authorization.map(|v| String::from_utf8_lossy(v.as_bytes()));
                        cx.principal = parts.stages.auth.identify(authorization.as_deref());
                    }
                    (ServiceResponse::new(http_req, refusal.error.clone().into_response()), Some(refusal))
                }
                Err(_) => {
                    let refusal = Refusal::new(
                        StageName::Shield,
                        ErrorKind::RequestTimeout,
                        "request exceeded server.request_timeout_secs",
                    );
                    (ServiceResponse::new(http_req, refusal.error.clone().into_response()), Some(refusal))
                }
            };
            let headers = res.headers_mut();
            for (name, value) in cx.extra_headers.drain(..) {
                if name == header::VARY {
                    headers.append(name, value);
                } else {
                    headers.insert(name, value);
                }
            }
            let route = cx.route_label.unwrap_or_else(|| route_label(res.request().path()));
            let refused = refusal.as_ref().map(|r| (r.stage.as_str(), r.error.kind.code()));
            let (status, elapsed) = (res.status().as_u16(), started.elapsed());
            parts.metrics.request(route, status, elapsed, refused);
            let (stage, reason) = match refusal {
                Some(r) => (Some(r.stage), Some(r.reason)),
                None => (None, cx.note.take().map(Cow::Owned)),
            };
            // The GraphQL handler leaves what the operation did in the request's extensions.
            let graphql = match cx.route_label {
                Some(label) if label == route::Route::GraphQl.label() => {
                    res.request().extensions_mut().remove::<Box<crate::store::audit::GraphqlFacts>>()
                }
                _ => None,
            };
            let entry = draft.finish(status, elapsed, cx.principal.take(), stage, reason).with_graphql(graphql);
            if audit.push(entry) {
                actor.do_send(audit::Flush);
            }
            Ok(res)
        })
    }
}

/// The metrics label of a request refused before the router ran (its path resolved again).
fn route_label(path: &str) -> &'static str {
    route::resolve(&Method::GET, path)
        .or_else(|_| route::resolve(&Method::POST, path))
        .map_or("unmatched", |r| r.label())
}
