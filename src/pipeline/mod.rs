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
//! The order is written once, in [`run`]. Each stage is a module with one shape: a state
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
use actix_web::{Error, HttpMessage, HttpResponse};
use futures_util::future::LocalBoxFuture;

use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use crate::http::body::{has_body, is_json};
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
            let outcome = actix_rt::time::timeout(limit, run(&service, req, &mut cx, &parts, &config)).await;
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

/// A header as text, when it is valid UTF-8.
fn text(req: &ServiceRequest, name: impl header::AsHeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
}

/// The `Authorization` header: refused when sent twice (a proxy that reads the other one
/// would disagree about who this is); read lossily when it is not UTF-8, so it is a token
/// that matches nothing — refused and counted as a failed attempt — never an absent one
/// that a public view would serve anonymously.
fn authorization(req: &ServiceRequest) -> Result<Option<Cow<'_, str>>, Refusal> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let first = values.next();
    if values.next().is_some() {
        let error = ApiError::with_message(ErrorKind::BadRequest, "send one Authorization header");
        return Err(Refusal::new(StageName::Shield, error, "more than one Authorization header"));
    }
    Ok(first.map(|v| String::from_utf8_lossy(v.as_bytes())))
}

/// What the stages decided for a request they let through.
enum Admission {
    /// Answered by the pipeline itself (a CORS preflight, an `OPTIONS` request).
    Answer(HttpResponse),
    /// On to the handler.
    Handle,
}

/// The stages, then (with shared counters) the request's one shared decision, then the
/// handler. Returns the handler's response or the first refusal.
async fn run<S>(
    service: &Rc<S>,
    mut req: ServiceRequest,
    cx: &mut Exchange,
    parts: &Parts,
    config: &Config,
) -> Result<ServiceResponse<BoxBody>, Refusal>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error> + 'static,
{
    let admitted = admit(&mut req, cx, parts, config).await;
    // A GraphQL document's writes are known once its handler has parsed it: an admitted
    // one's tally is left to the handler, which counts them in the same one call.
    let graphql = cx.route_label == Some(route::Route::GraphQl.label())
        && cx.tally.as_ref().is_some_and(|t| t.windows.iter().any(|w| matches!(w.tag, tally::Purpose::Token { .. })));
    let admitted = match &parts.shared {
        Some(_) if graphql && matches!(admitted, Ok(Admission::Handle)) => {
            let deferred = tally::DeferredTally::new(cx.tally.take().unwrap_or_default(), cx);
            req.extensions_mut().insert(deferred);
            admitted
        }
        Some(shared) => tally::settle(shared, cx, admitted, parts, config).await,
        None => admitted,
    };
    match admitted? {
        Admission::Answer(res) => Ok(req.into_response(res)),
        Admission::Handle => service
            .call(req)
            .await
            .map_err(|e| Refusal::new(StageName::Handler, ErrorKind::Internal, format!("handler failed: {e}"))),
    }
}

/// The stage order, written once. With shared counters the stages add their windows to
/// `cx.tally` instead of counting (see `tally`).
async fn admit(
    req: &mut ServiceRequest,
    cx: &mut Exchange,
    parts: &Parts,
    config: &Config,
) -> Result<Admission, Refusal> {
    let stages = &parts.stages;

    // 1. Shield: who the client is (a proxy that names none is refused: no fallback to the
    //    proxy's own address), throttle and sizes before the body is read, then the body
    //    itself (counted while it streams) and its JSON depth.
    //    The server's own probe of `/health` (its per-process key) skips the client checks.
    let own_probe = req.path() == "/health"
        && req.headers().get(probe::PROBE_HEADER).is_some_and(|v| parts.probe.matches(v.as_bytes()));
    if cx.bad_forwarded_for && !own_probe {
        return Err(Refusal::new(StageName::Shield, ErrorKind::BadForwardedFor, "unparseable X-Forwarded-For entry"));
    }
    let content_length = text(req, header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok());
    let wide_multiple = config.checks.ipv6_wide_multiple;
    if !own_probe {
        stages.shield.screen(cx.client, wide_multiple, req.query_string().len(), content_length, &config.shield)?;
        if let Some(tally) = cx.tally.as_mut().filter(|_| req.path() != "/health") {
            shield::throttle_windows(tally, cx.client, wide_multiple, &config.shield);
        }
    }
    let body = if has_body(req) {
        shield::read_body(req.take_payload(), config.shield.max_body_bytes).await?
    } else {
        bytes::Bytes::new()
    };
    let json = shield::inspect_body(&body, is_json(req), config.shield.max_json_depth)?;
    let authorization_header = authorization(req)?;

    // Security checks chain (locks, injection, honeypot, endpoint limits): before auth work.
    let (user_agent, referer) = (text(req, header::USER_AGENT), text(req, header::REFERER));
    let has_headers = user_agent.is_some() || referer.is_some();
    if !own_probe
        && stages.checks.has_work(req.method().as_str(), req.path(), req.query_string(), !body.is_empty(), has_headers)
    {
        let is_form = text(req, header::CONTENT_TYPE)
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        let facts = crate::checks::Inspect {
            method: req.method().as_str(),
            path: req.path(),
            query: req.query_string(),
            json: json.as_ref().map(|j| &*j.0),
            form_body: is_form.then_some(&body[..]),
            ip: cx.ip,
            ip_key: cx.ip_key,
            authorization: authorization_header.as_deref(),
            user_agent,
            referer,
        };
        let mut limits = Vec::new();
        let notes = stages
            .checks
            .inspect(&facts, cx.tally.is_some().then_some(&mut limits))
            .map_err(|b| Refusal::new(StageName::Checks, b.error, b.reason))?;
        if let Some(tally) = cx.tally.as_mut() {
            for limit in limits {
                let name = format!("ep:{}:{}", limit.id, cx.ip_key);
                tally.count(tally::Purpose::Endpoint(limit.id), name, limit.per_minute, 60_000, 1);
            }
        }
        if !notes.is_empty() {
            cx.note = Some(notes.join("; "));
        }
    }

    // 2. CORS preflight, answered from server policy without authentication.
    if req.method() == Method::OPTIONS {
        let preflight = (text(req, header::ORIGIN), text(req, header::ACCESS_CONTROL_REQUEST_METHOD));
        return match preflight {
            (Some(origin), Some(method)) => {
                let requested = text(req, header::ACCESS_CONTROL_REQUEST_HEADERS);
                let headers = stages.cors.preflight(origin, method, requested)?;
                let mut res = HttpResponse::NoContent();
                for h in headers {
                    res.insert_header(h);
                }
                Ok(Admission::Answer(res.finish()))
            }
            _ => {
                let route =
                    route::resolve(&Method::GET, req.path()).or_else(|_| route::resolve(&Method::POST, req.path()));
                let route = route.map_err(|e| Refusal::new(StageName::Router, e, "no such route"))?;
                // With a valid token: what that token may do here (as its own OpenAPI
                // document says), decided by the scope stage itself.
                let allow = match stages.auth.identify(authorization_header.as_deref()) {
                    Some(p) => route
                        .methods()
                        .iter()
                        .filter(|m| stages.scope.authorize(&p, &route, m, cx.ip).is_ok())
                        .map(Method::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    None => route::allow_header(&route),
                };
                Ok(Admission::Answer(HttpResponse::NoContent().insert_header(("allow", allow)).finish()))
            }
        };
    }

    let route = route::resolve(req.method(), req.path()).map_err(|e| {
        Refusal::new(StageName::Router, e, format!("no route for {} (path in the record's shape)", req.method()))
    })?;

    let authorization = authorization_header.as_deref();
    let anonymous = authorization.is_none() && parts.serves_anonymously(&route);
    if anonymous {
        // A public view (or the anonymous OpenAPI document): no token, a window per client
        // address instead of per token, and the scope stage as for any token.
        match cx.tally.as_mut() {
            Some(tally) => rate_limit::RateLimitState::public_windows(cx.client, wide_multiple, &config.public, tally),
            None => {
                cx.extra_headers.extend(stages.rate_limit.count_public(cx.client, wide_multiple, &config.public)?)
            }
        }
        if text(req, header::ORIGIN).is_some() {
            cx.extra_headers.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, header::HeaderValue::from_static("*")));
        }
        stages.scope.authorize(&parts.public, &route, req.method(), cx.ip)?;
        cx.principal = Some(parts.public.clone());
        req.extensions_mut().insert(parts.public.clone());
    } else if route.needs_auth() {
        // 3. Auth.
        let presented = auth::Presented {
            authorization,
            timestamp: text(req, auth::X_TIMESTAMP),
            signature: text(req, auth::X_SIGNATURE),
            method: req.method().as_str(),
            path: req.uri().path(),
            query: req.query_string(),
            body: &body,
            ip: cx.ip,
            ip_key: cx.ip_key,
        };
        let auth::Authenticated { principal, signature } = stages.auth.authenticate(&presented, cx.tally.as_mut())?;
        cx.principal = Some(principal.clone());

        // 2. CORS, second half: the token's own origin list (nothing to decide without
        //    Origin; one that is not UTF-8 is read lossily and so matches no list).
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let origin = String::from_utf8_lossy(origin.as_bytes());
            cx.extra_headers.extend(stages.cors.check_origin(&origin, &principal)?);
        }

        // 4. Rate limit (its refusals carry their own headers).
        match cx.tally.as_mut() {
            Some(tally) => {
                // A JSON array of rows counts every row in this one call (the handler then
                // counts nothing more; see `BatchCounted`).
                let rows = match (&route, req.method(), json.as_ref().map(|j| &*j.0)) {
                    (route::Route::Table { id: None, .. }, &Method::POST, Some(serde_json::Value::Array(items)))
                        if (1..=config.limits.max_batch_rows).contains(&items.len()) =>
                    {
                        u32::try_from(items.len()).unwrap_or(u32::MAX)
                    }
                    _ => 1,
                };
                if rows > 1 {
                    req.extensions_mut().insert(crate::http::body::BatchCounted);
                }
                rate_limit::RateLimitState::token_window(&principal, &config.rate_limit, rows, tally)
            }
            None => cx.extra_headers.extend(stages.rate_limit.count(&principal, &config.rate_limit)?),
        }

        // 5. Scope.
        stages.scope.authorize(&principal, &route, req.method(), cx.ip)?;

        // 3. Auth, last part: the admitted request's signature is recorded against replay.
        if let Some(signature) = signature {
            stages.auth.record_signature(signature, &cx.ip, cx.ip_key, cx.tally.as_mut())?;
        }
        req.extensions_mut().insert(principal);
    }

    cx.route_label = Some(route.label());
    req.extensions_mut().insert(route);
    if let Some(json) = json {
        req.extensions_mut().insert(json);
    }
    if !body.is_empty() {
        req.set_payload(crate::http::body::replay_payload(body));
    }
    Ok(Admission::Handle)
}
