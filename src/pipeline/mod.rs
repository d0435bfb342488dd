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
//!         ─▶ 2 CORS origin     the token's own origin list
//!         ─▶ 4 Rate limit      per-token fixed window; fails closed (503)
//!         ─▶ 5 Scope           table × action matrix, views, CIDR list, sensitive tables
//!         ─▶   handler         REST / GraphQL
//!         ─▶ 6 Audit           record opened at entry, finished with status and duration,
//!                              written off the hot path by the audit actor
//! ```
//!
//! The order is written once, in [`run`]. Each stage is a module with one shape: a state
//! type holding its config and shared maps, a message, and a plain `decide` function
//! (`Decide` impl) unit-tested without HTTP. The actix glue is generic: [`StageActor`] wraps
//! any state, and [`ask`] sends it a message under a deadline, turning a stage that cannot
//! answer (stopped, overloaded) into a 503 — the pipeline fails closed. Every HTTP worker
//! starts its own actor instances ([`Stages::start`]) over the shared lock-free maps, so no
//! stage funnels traffic through one thread; a hop is a same-thread mailbox message.

pub mod audit;
pub mod auth;
pub mod client_ip;
pub mod cors;
pub mod headers;
pub mod rate_limit;
pub mod scope;
pub mod shield;
pub mod window;

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::{ready, Ready};
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::body::BoxBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::{Error, HttpMessage, HttpResponse};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;

use crate::api::route;
use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;
use headers::RequestId;

/// The stage a refusal came from (recorded in the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageName {
    Shield,
    Checks,
    Cors,
    Router,
    Auth,
    RateLimit,
    Scope,
    Handler,
}

impl StageName {
    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Shield => "shield",
            StageName::Checks => "checks",
            StageName::Cors => "cors",
            StageName::Router => "router",
            StageName::Auth => "auth",
            StageName::RateLimit => "rate_limit",
            StageName::Scope => "scope",
            StageName::Handler => "handler",
        }
    }
}

/// A stage's refusal: what the client sees, and the exact cause for the audit record.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub stage: StageName,
    pub error: ApiError,
    pub reason: Cow<'static, str>,
}

impl Rejection {
    pub fn new(stage: StageName, error: impl Into<ApiError>, reason: impl Into<Cow<'static, str>>) -> Self {
        Self { stage, error: error.into(), reason: reason.into() }
    }
}

/// A message one stage answers; `Output` is what a pass hands back to the pipeline.
pub trait StageMessage: Send + 'static {
    type Output: Send + 'static;
}

/// A stage's decision logic: a plain function of (message, shared state) → verdict.
pub trait Decide<M: StageMessage>: Send + Sync + 'static {
    fn decide(&self, msg: M) -> Result<M::Output, Rejection>;
}

/// The actor every stage runs as: owns a handle to its state, answers its messages.
pub struct StageActor<S: 'static>(pub Arc<S>);

impl<S: Send + Sync + 'static> Actor for StageActor<S> {
    type Context = Context<Self>;
}

/// The envelope a stage message travels in.
pub struct Ask<M>(pub M);

impl<M: StageMessage> Message for Ask<M> {
    type Result = Result<M::Output, Rejection>;
}

impl<S, M> Handler<Ask<M>> for StageActor<S>
where
    M: StageMessage,
    S: Decide<M>,
{
    type Result = Result<M::Output, Rejection>;
    fn handle(&mut self, msg: Ask<M>, _: &mut Context<Self>) -> Self::Result {
        self.0.decide(msg.0)
    }
}

/// Stops a stage actor (graceful shutdown; fault-injection tests).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

impl<S: Send + Sync + 'static> Handler<Stop> for StageActor<S> {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Sends a message to a stage under a deadline. A stage that does not answer in time or is
/// gone fails the request closed with 503.
pub async fn ask<S, M>(
    addr: &Addr<StageActor<S>>,
    msg: M,
    stage: StageName,
    deadline: Duration,
) -> Result<M::Output, Rejection>
where
    M: StageMessage,
    S: Decide<M>,
{
    match addr.send(Ask(msg)).timeout(deadline).await {
        Ok(verdict) => verdict,
        Err(mailbox) => Err(unavailable(stage, &mailbox.to_string())),
    }
}

/// The fail-closed answer of a stage that cannot decide.
pub fn unavailable(stage: StageName, why: &str) -> Rejection {
    let kind =
        if stage == StageName::RateLimit { ErrorKind::RateLimiterUnavailable } else { ErrorKind::StageUnavailable };
    let error = ApiError::new(kind).header(actix_web::http::header::RETRY_AFTER, 1);
    Rejection::new(stage, error, format!("{} unavailable: {why}", stage.as_str()))
}

/// Addresses of every worker's stage actors, by stage, so they can be stopped.
#[derive(Default)]
pub struct ActorRegistry {
    actors: Mutex<HashMap<StageName, Vec<Recipient<Stop>>>>,
}

impl ActorRegistry {
    fn register(&self, stage: StageName, recipient: Recipient<Stop>) {
        if let Ok(mut map) = self.actors.lock() {
            map.entry(stage).or_default().push(recipient);
        }
    }

    /// Stops every worker's actor of one stage (requests then fail closed at that stage).
    pub fn stop(&self, stage: StageName) -> usize {
        let Ok(map) = self.actors.lock() else { return 0 };
        let recipients = map.get(&stage).cloned().unwrap_or_default();
        for r in &recipients {
            r.do_send(Stop);
        }
        recipients.len()
    }
}

/// One worker's stage actors.
pub struct Stages {
    pub shield: Addr<StageActor<shield::ShieldState>>,
    pub checks: Addr<StageActor<crate::checks::ChecksState>>,
    pub cors: Addr<StageActor<cors::CorsState>>,
    pub auth: Addr<StageActor<auth::AuthState>>,
    pub rate_limit: Addr<StageActor<rate_limit::RateLimitState>>,
    pub scope: Addr<StageActor<scope::ScopeState>>,
    pub audit: Addr<audit::AuditActor>,
}

impl Stages {
    /// Starts this worker's actor instances (call on the worker's own thread).
    pub fn start(state: &AppState, audit_writer: &Addr<audit::AuditWriter>) -> Self {
        let s = &state.stages;
        let stages = Self {
            shield: StageActor(s.shield.clone()).start(),
            checks: StageActor(s.checks.clone()).start(),
            cors: StageActor(s.cors.clone()).start(),
            auth: StageActor(s.auth.clone()).start(),
            rate_limit: StageActor(s.rate_limit.clone()).start(),
            scope: StageActor(s.scope.clone()).start(),
            audit: audit::AuditActor::new(
                audit_writer.clone(),
                state.audit.clone(),
                state.config.get().audit.flush_interval_ms,
            )
            .start(),
        };
        let r = &state.actors;
        r.register(StageName::Shield, stages.shield.clone().recipient());
        r.register(StageName::Checks, stages.checks.clone().recipient());
        r.register(StageName::Cors, stages.cors.clone().recipient());
        r.register(StageName::Auth, stages.auth.clone().recipient());
        r.register(StageName::RateLimit, stages.rate_limit.clone().recipient());
        r.register(StageName::Scope, stages.scope.clone().recipient());
        stages
    }
}

/// The pipeline middleware (one per worker).
pub struct Pipeline {
    state: Arc<AppState>,
    audit_writer: Addr<audit::AuditWriter>,
}

impl Pipeline {
    pub fn new(state: Arc<AppState>, audit_writer: Addr<audit::AuditWriter>) -> Self {
        Self { state, audit_writer }
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
        let stages = Rc::new(Stages::start(&self.state, &self.audit_writer));
        ready(Ok(PipelineService { service: Rc::new(service), state: self.state.clone(), stages }))
    }
}

pub struct PipelineService<S> {
    service: Rc<S>,
    state: Arc<AppState>,
    stages: Rc<Stages>,
}

/// What the stages learn about one request as it goes through them.
pub struct Exchange {
    pub ip: IpAddr,
    /// The keyed hash every per-IP counter and lock uses.
    pub ip_key: crate::store::IpKey,
    pub started_ms: u64,
    /// Headers every response to this request carries (rate limit, CORS).
    pub extra_headers: Vec<(HeaderName, HeaderValue)>,
    pub principal: Option<Arc<crate::tokens::Principal>>,
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
        let state = self.state.clone();
        let stages = self.stages.clone();
        Box::pin(async move {
            let started = Instant::now();
            let http_req = req.request().clone();
            let peer = req.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
            // One config snapshot per request: a reload never splits a request.
            let config = state.config.get();
            let ip = client_ip::resolve(peer, forwarded, &config.server.trusted_proxies);
            let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
            let ip_key = state.store.keys.ip_key(&ip);
            let draft = audit::AuditDraft::open(&state, &req, ip_key, request_id);
            let mut cx = Exchange { ip, ip_key, started_ms: draft.time_ms, extra_headers: Vec::new(), principal: None };
            let limit = Duration::from_secs(config.server.request_timeout_secs);
            let outcome = actix_rt::time::timeout(limit, run(&service, req, &mut cx, &stages, &state, &config)).await;
            let (mut res, rejection) = match outcome {
                Ok(Ok(res)) => {
                    let reason = res
                        .response()
                        .error()
                        .map(|e| Rejection::new(StageName::Handler, ErrorKind::Internal, e.to_string()));
                    (res, reason)
                }
                Ok(Err(rej)) => (ServiceResponse::new(http_req, rej.error.into_response()), Some(rej)),
                Err(_) => {
                    let rej = Rejection::new(
                        StageName::Shield,
                        ErrorKind::RequestTimeout,
                        "request exceeded server.request_timeout_secs",
                    );
                    (ServiceResponse::new(http_req, rej.error.into_response()), Some(rej))
                }
            };
            let headers = res.headers_mut();
            for (name, value) in cx.extra_headers.drain(..) {
                if name == actix_web::http::header::VARY {
                    headers.append(name, value);
                } else {
                    headers.insert(name, value);
                }
            }
            let route = route_label(res.request());
            let refused = rejection.as_ref().map(|r| (r.stage.as_str(), r.error.kind.code()));
            let (status, elapsed) = (res.status().as_u16(), started.elapsed());
            state.metrics.request(route, status, elapsed, refused);
            let record = draft.finish(status, elapsed, cx.principal.as_deref(), rejection.as_ref());
            stages.audit.do_send(audit::Finish(record));
            Ok(res)
        })
    }
}

/// The metrics label of a request's route (resolved again for requests refused before the
/// router ran).
fn route_label(req: &actix_web::HttpRequest) -> &'static str {
    if let Some(route) = req.extensions().get::<route::Route>() {
        return route.label();
    }
    let path = req.path();
    route::resolve(&Method::GET, path)
        .or_else(|_| route::resolve(&Method::POST, path))
        .map_or("unmatched", |r| r.label())
}

/// The stage order, written once. Returns the handler's response or the first refusal.
async fn run<S>(
    service: &Rc<S>,
    mut req: ServiceRequest,
    cx: &mut Exchange,
    stages: &Stages,
    state: &AppState,
    config: &Config,
) -> Result<ServiceResponse<BoxBody>, Rejection>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error> + 'static,
{
    let deadline = Duration::from_millis(config.rate_limit.decision_deadline_ms);

    // 1. Shield: the stateful screen (throttle) in its actor, then the body, read here
    //    because the payload stream cannot travel to an actor; its checks are pure functions.
    let screen = shield::Screen::from_request(&req, cx.ip_key, &config.shield);
    ask(&stages.shield, screen, StageName::Shield, deadline).await?;
    let body = if shield::has_body(&req) {
        shield::read_body(req.take_payload(), config.shield.max_body_bytes).await?
    } else {
        bytes::Bytes::new()
    };
    let json = shield::inspect_body(&body, shield::is_json(&req), config.shield.max_json_depth)?;

    // Security checks chain (locks, injection, honeypot, endpoint limits): before auth work.
    if state.stages.checks.has_work(req.method().as_str(), req.path(), req.query_string(), !body.is_empty()) {
        let inspect =
            crate::checks::Inspect::from_request(&req, cx.ip, cx.ip_key, json.as_ref().map(|j| j.0.clone()), &body);
        ask(&stages.checks, inspect, StageName::Checks, deadline).await?;
    }

    // 2. CORS preflight, answered from server policy without authentication.
    if req.method() == Method::OPTIONS {
        return match cors::Preflight::from_request(&req) {
            Some(preflight) => {
                let headers = ask(&stages.cors, preflight, StageName::Cors, deadline).await?;
                let mut res = HttpResponse::NoContent();
                for h in headers {
                    res.insert_header(h);
                }
                Ok(req.into_response(res.finish()))
            }
            None => {
                let route =
                    route::resolve(&Method::GET, req.path()).or_else(|_| route::resolve(&Method::POST, req.path()));
                let route = route.map_err(|e| Rejection::new(StageName::Router, e, "no such route"))?;
                let allow = route::allow_header(&route);
                Ok(req.into_response(HttpResponse::NoContent().insert_header(("allow", allow)).finish()))
            }
        };
    }

    let route = route::resolve(req.method(), req.path()).map_err(|e| {
        Rejection::new(
            StageName::Router,
            e,
            format!("no route for {} {}", req.method(), crate::redact::truncate(req.path(), 200)),
        )
    })?;

    if route.needs_auth() {
        // 3. Auth.
        let principal =
            ask(&stages.auth, auth::Authenticate::from_request(&req, &body, cx.ip_key), StageName::Auth, deadline)
                .await?;
        cx.principal = Some(principal.clone());

        // 2. CORS, second half: the token's own origin list (nothing to decide without Origin).
        if let Some(check) = cors::CheckOrigin::from_request(&req, principal.clone()) {
            cx.extra_headers.extend(ask(&stages.cors, check, StageName::Cors, deadline).await?);
        }

        // 4. Rate limit (its refusals carry their own headers).
        let rate_headers = ask(
            &stages.rate_limit,
            rate_limit::Count::for_principal(&principal, config),
            StageName::RateLimit,
            deadline,
        )
        .await?;
        cx.extra_headers.extend(rate_headers);

        // 5. Scope.
        let authorize = scope::Authorize {
            principal: principal.clone(),
            route: route.clone(),
            method: req.method().clone(),
            ip: cx.ip,
        };
        ask(&stages.scope, authorize, StageName::Scope, deadline).await?;
        req.extensions_mut().insert(principal);
    }

    req.extensions_mut().insert(route);
    if let Some(json) = json {
        req.extensions_mut().insert(json);
    }
    if !body.is_empty() {
        req.set_payload(shield::replay_payload(body));
    }
    service
        .call(req)
        .await
        .map_err(|e| Rejection::new(StageName::Handler, ErrorKind::Internal, format!("handler failed: {e}")))
}
