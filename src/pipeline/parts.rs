//! What the pipeline holds: every stage's state ([`Stages`]) and the narrow set of shared
//! handles the request path needs ([`Parts`]), rather than the whole application state.
//! The stage order itself is in `mod.rs`.

use std::net::IpAddr;
use std::sync::Arc;

use actix::prelude::*;

use super::stage::{Stage, StageActor, StageName};
use super::{audit, auth, client_ip, cors, probe, rate_limit, route, scope, shield};
use crate::checks::ChecksState;
use crate::clock::SharedClock;
use crate::config::LiveConfig;
use crate::metrics::Metrics;
use crate::store::audit::AuditLog;
use crate::store::KeyRing;

impl Stage for ChecksState {
    const NAME: StageName = StageName::Checks;
    fn upkeep(&self, now_ms: u64) {
        self.sweep(now_ms);
    }
}

/// Every stage's state. The pipeline's decisions read it; the stage actors keep it.
pub struct Stages {
    pub shield: Arc<shield::ShieldState>,
    pub checks: Arc<ChecksState>,
    pub cors: Arc<cors::CorsState>,
    pub auth: Arc<auth::AuthState>,
    pub rate_limit: Arc<rate_limit::RateLimitState>,
    pub scope: Arc<scope::ScopeState>,
}

impl Stages {
    /// Starts one actor per stage (call inside the actix system).
    pub fn start_actors(&self, clock: &SharedClock) {
        StageActor::new(self.shield.clone(), clock.clone()).start();
        StageActor::new(self.checks.clone(), clock.clone()).start();
        StageActor::new(self.cors.clone(), clock.clone()).start();
        StageActor::new(self.auth.clone(), clock.clone()).start();
        StageActor::new(self.rate_limit.clone(), clock.clone()).start();
        StageActor::new(self.scope.clone(), clock.clone()).start();
    }

    /// Every stage's upkeep at once (what the actors do on their interval; tests call it).
    pub fn upkeep(&self, now_ms: u64) {
        self.shield.upkeep(now_ms);
        self.checks.upkeep(now_ms);
        self.cors.upkeep(now_ms);
        self.auth.upkeep(now_ms);
        self.rate_limit.upkeep(now_ms);
        self.scope.upkeep(now_ms);
    }
}

/// What the pipeline needs, and nothing more.
pub struct Parts {
    /// The running config; one snapshot is taken per request.
    pub config: Arc<LiveConfig>,
    /// Keys the client address (every per-IP counter and lock uses the keyed hash).
    pub keys: KeyRing,
    pub clock: SharedClock,
    pub stages: Stages,
    pub audit: Arc<AuditLog>,
    pub metrics: Arc<Metrics>,
    /// Query names whose values the audit record keeps: `limit`, `offset`, `id` and the
    /// filter columns that hold no personal data; every other value is redacted.
    pub audit_names: Arc<crate::redact::AuditNames>,
    /// Who an anonymous request to a public view (or the anonymous OpenAPI document) is; its
    /// `views` are the public views.
    pub public: Arc<crate::tokens::Principal>,
    /// The key of the server's own `/health` probe (see `probe`).
    pub probe: probe::ProbeKey,
    /// When the last "X-Forwarded-For from a proxy that is not trusted" warning was logged.
    pub proxy_warned_ms: std::sync::atomic::AtomicU64,
    /// Every worker's audit batcher, for an admin flush.
    pub audit_flush: audit::AuditFlushers,
    /// With `[shared] redis_url`: the counters every instance counts on (see `tally`).
    pub shared: Option<Arc<crate::limits::shared::SharedCounters>>,
}

impl Parts {
    /// Logs, at most once an hour, that a loopback or private peer sends `X-Forwarded-For`
    /// while `[server] trusted_proxies` is empty: a reverse proxy whose clients all look like
    /// the proxy (one throttle, one lock for everyone behind it).
    pub(super) fn warn_untrusted_proxy(&self, peer: IpAddr, now_ms: u64) {
        let private = match client_ip::normalise(peer) {
            IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
            IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
        };
        let last = self.proxy_warned_ms.load(std::sync::atomic::Ordering::Relaxed);
        if private && (last == 0 || now_ms.saturating_sub(last) >= 3_600_000) {
            let swapped = self.proxy_warned_ms.compare_exchange(
                last,
                now_ms.max(1),
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
            );
            if swapped.is_ok() {
                tracing::warn!(
                    peer = %peer,
                    "requests from a proxy carry X-Forwarded-For but [server] trusted_proxies is empty: every client behind it \
                     is treated as the proxy itself (one throttle, one lock); list the proxy in trusted_proxies"
                );
            }
        }
    }
}

impl Parts {
    /// Routes served without a token when none is presented: public views and the OpenAPI
    /// document (which then describes only those).
    pub(super) fn serves_anonymously(&self, route: &route::Route) -> bool {
        match route {
            route::Route::OpenApi => true,
            route::Route::View { view } => self.public.record.views.iter().any(|v| v == view),
            _ => false,
        }
    }
}
