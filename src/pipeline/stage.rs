//! What every stage shares: its name, the one [`Refusal`] type, and the [`Stage`] trait with
//! the actor that owns the stage's time.
//!
//! A stage's per-request decision is a plain method on its state, called directly by
//! `pipeline::run` with facts borrowed from the request: no message, no mailbox, no failure
//! mode a function call cannot have. What a stage does over time — sweeping expired windows
//! and replay entries, deleting expired locks — belongs to its [`StageActor`], one per stage,
//! started with the server and ticking on its own interval, so no request ever pays for it.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde::Serialize;

use crate::clock::SharedClock;
use crate::error::{ApiError, ErrorKind};

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
pub struct Refusal {
    pub stage: StageName,
    pub error: ApiError,
    pub reason: Cow<'static, str>,
}

impl Refusal {
    pub fn new(stage: StageName, error: impl Into<ApiError>, reason: impl Into<Cow<'static, str>>) -> Self {
        Self { stage, error: error.into(), reason: reason.into() }
    }

    /// A stage whose bounded table is full of live entries cannot decide: it fails closed
    /// with 503 and `Retry-After` rather than letting the request through.
    pub fn full(stage: StageName, what: &'static str) -> Self {
        let kind = match stage {
            StageName::RateLimit => ErrorKind::RateLimiterUnavailable,
            _ => ErrorKind::CapacityExhausted,
        };
        let error = ApiError::new(kind).header(actix_web::http::header::RETRY_AFTER, 1);
        Self::new(stage, error, format!("{} cannot decide: {what} full", stage.as_str()))
    }
}

/// A stage's state, as its actor sees it.
pub trait Stage: Send + Sync + 'static {
    const NAME: StageName;
    /// Time-driven upkeep (expired windows, replay entries, locks); runs on the stage's actor.
    fn upkeep(&self, now_ms: u64);
}

/// How often a stage's actor runs its upkeep.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The actor that owns a stage's time.
pub struct StageActor<S: Stage> {
    state: Arc<S>,
    clock: SharedClock,
}

impl<S: Stage> StageActor<S> {
    pub fn new(state: Arc<S>, clock: SharedClock) -> Self {
        Self { state, clock }
    }
}

impl<S: Stage> Actor for StageActor<S> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(UPKEEP_EVERY, |actor, _| actor.state.upkeep(actor.clock.now_ms()));
    }
}

/// What a shared window is for: which stage refuses when it is spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// The shield's per-IP throttle (and an IPv6 client's network).
    Throttle,
    /// A `[[checks.endpoints]]` policy's per-minute limit.
    Endpoint(String),
    /// An anonymous client's public-view window.
    Public,
    /// A failed authentication, counted towards the brute-force lock.
    FailedAuth { reason: String, route: String },
    /// The token's own window.
    Token { window_secs: u64 },
    /// The signature of a signed request (replay cache).
    Replay,
}
