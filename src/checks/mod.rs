//! The security checks chain: an ordered list of checks run on every request right after
//! the shield and before any auth work is spent (see `pipeline`).
//!
//! `[checks] chain` names the checks in run order (list order; there are no numeric keys).
//! Built in: `locked` (client IP or the presented token's owner is locked → 403 `locked`),
//! `injection` (SQL-injection shapes in any query value or JSON/form string, keys included,
//! and in every string literal of a GraphQL query, escapes decoded → 403
//! `injection_detected`, and the IP is locked for `lock_secs` unless the endpoint turns
//! `auto_lock` off), and `honeypot` (a configured body field filled → 403
//! `check_failed`, optionally locking the IP) — the last written only against the public
//! [`SecurityCheck`] trait, exactly as a user's own check would be.
//!
//! `[[checks.endpoints]]` policies, matched by method and path pattern (first match wins),
//! choose which checks run there, whether injection locks, and a per-IP
//! `max_requests_per_minute` counted per `limit_id` (routes sharing an id share the
//! counter) → 429 `rate_limited` with `Retry-After`. Refusals are generic for the client;
//! the audit record gets the check's name and reason.

mod honeypot;
pub mod injection;
mod locked;
mod lockout;
mod policy;
mod request;

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::header::RETRY_AFTER;
use serde_json::Value;

pub use honeypot::Honeypot;
pub use lockout::{lock_and_record, lock_client_and_record, lock_event, BruteForceGuard};
pub use policy::Policy;
pub use request::{CheckRequest, Reads, Refusal, SecurityCheck};

use crate::clock::SharedClock;
use crate::config::ChecksConfig;
use crate::error::{ApiError, ErrorKind};
use crate::http::literals;
use crate::http::query::decode_pairs;
use crate::http::route::GRAPHQL_PATH;
use crate::limits::window::{FixedWindows, WindowDecision};
use crate::redact;
use crate::store::audit::AuditLog;
use crate::store::locks::{LockKind, LockRecord, LockSource, LockStore};
use crate::store::IpKey;
use crate::tokens::TokenRegistry;

/// Checks every install knows by name.
pub const BUILTIN_CHECKS: &[&str] = &["locked", "injection", "honeypot"];

/// The checks stage's shared state.
pub struct ChecksState {
    chain: Vec<Arc<dyn SecurityCheck>>,
    by_name: HashMap<String, Arc<dyn SecurityCheck>>,
    policies: Vec<Policy>,
    pub limits: FixedWindows<(String, IpKey)>,
    /// Attack verdicts per verified token owner (see `[checks] user_lock_after`).
    pub user_attacks: FixedWindows<String>,
    user_lock_after: u32,
    pub locks: Arc<LockStore>,
    tokens: Arc<TokenRegistry>,
    audit: Arc<AuditLog>,
    clock: SharedClock,
    lock_secs: u64,
}

impl ChecksState {
    /// Builds the chain from config, the built-in checks and any extra (user) checks.
    pub fn new(
        config: &ChecksConfig,
        extra: Vec<Arc<dyn SecurityCheck>>,
        locks: Arc<LockStore>,
        tokens: Arc<TokenRegistry>,
        audit: Arc<AuditLog>,
        clock: SharedClock,
    ) -> Result<Self, String> {
        let mut by_name: HashMap<String, Arc<dyn SecurityCheck>> = HashMap::new();
        let builtins: Vec<Arc<dyn SecurityCheck>> = vec![
            Arc::new(locked::Locked { locks: locks.clone() }),
            Arc::new(InjectionCheck),
            Arc::new(Honeypot::new(config.honeypot.field.clone(), config.honeypot.lock)),
        ];
        for check in builtins.into_iter().chain(extra) {
            by_name.insert(check.name().to_string(), check);
        }
        let resolve = |names: &[String]| -> Result<Vec<Arc<dyn SecurityCheck>>, String> {
            names
                .iter()
                .map(|n| {
                    by_name.get(n).cloned().ok_or_else(|| {
                        let mut known: Vec<&str> = by_name.keys().map(String::as_str).collect();
                        known.sort_unstable();
                        format!("config key checks.chain: unknown check {n:?} (known: {})", known.join(", "))
                    })
                })
                .collect()
        };
        let chain = resolve(&config.chain)?;
        let mut policies = Vec::new();
        for p in &config.endpoints {
            let checks = match &p.checks {
                Some(names) => Some(resolve(names)?),
                None => None,
            };
            policies.push(Policy::new(p, checks));
        }
        Ok(Self {
            chain,
            by_name,
            policies,
            limits: FixedWindows::sheddable(config.max_tracked_keys),
            user_attacks: FixedWindows::sheddable(config.max_tracked_keys),
            user_lock_after: config.user_lock_after,
            locks,
            tokens,
            audit,
            clock,
            lock_secs: config.lock_secs,
        })
    }

    /// Whether running the chain could refuse this request at all, derived from what each
    /// check of the chain [`reads`](SecurityCheck::reads): a route with an endpoint policy
    /// always runs; otherwise the chain runs when one of its checks reads something this
    /// request carries (a query, a body, a lock on record) or reads anything at all. The
    /// verdict is the same as running it, only cheaper.
    pub fn has_work(&self, method: &str, path: &str, query: &str, has_body: bool, has_headers: bool) -> bool {
        if self.policies.iter().any(|p| p.matches(method, path)) {
            return true;
        }
        let locks = !self.locks.is_empty();
        self.chain.iter().map(|c| c.reads()).any(|r| {
            r.anything
                || (r.query && (!query.is_empty() || path_needs_scan(path)))
                || (r.body && has_body)
                || (r.locks && locks)
                || (r.headers && has_headers)
        })
    }

    /// Names of the registered checks.
    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }

    pub fn sweep(&self, now_ms: u64) {
        self.limits.evict_expired(now_ms, false);
        self.user_attacks.evict_expired(now_ms, false);
        self.locks.sweep(now_ms);
    }
}

impl ChecksState {
    /// An attack sent with a valid token counts against its owner; past
    /// `user_lock_after` in an hour the owner is locked (all their tokens, every address).
    fn count_against_owner(&self, authorization: Option<&str>, now: u64) {
        if self.user_lock_after == 0 {
            return;
        }
        let Some(owner) = authorization.and_then(|a| self.tokens.verified_owner(a, now)) else { return };
        let over = match self.user_attacks.hit(owner.clone(), now, self.user_lock_after, 3_600_000) {
            Ok(d) => !d.allowed || d.remaining == 0,
            Err(_) => true,
        };
        if over && self.locks.active(LockKind::User, &owner, now).is_none() {
            let mut record = LockRecord::new(
                LockKind::User,
                owner.clone(),
                LockSource::Automatic,
                now,
                now + self.lock_secs * 1000,
                format!("{} attack verdicts within an hour", self.user_lock_after),
            );
            record.rule = Some("user_lock_after".into());
            record.owner = Some(owner);
            lock_and_record(&self.locks, &self.audit, record, now);
        }
    }
}

/// Whether a path holds more than route names and ids (letters, digits, `_`, `.`, `/`):
/// only such a path can carry an injection, so only it is scanned.
pub fn path_needs_scan(path: &str) -> bool {
    !path.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'.'))
}

/// A path's non-empty segments, percent-decoded.
fn decode_segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

/// The facts the chain looks at, borrowed from the request.
pub struct Inspect<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub json: Option<&'a Value>,
    /// The raw body when it is declared `application/x-www-form-urlencoded`.
    pub form_body: Option<&'a [u8]>,
    pub ip: IpAddr,
    pub ip_key: IpKey,
    pub authorization: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub referer: Option<&'a str>,
}

impl Inspect<'_> {
    /// The decoded string literals of the GraphQL query this request carries (the handler
    /// executes `query` of a JSON object body on `/graphql`); none for other routes.
    fn graphql_strings(&self) -> Vec<Cow<'_, str>> {
        if self.path != GRAPHQL_PATH {
            return Vec::new();
        }
        let query = self.json.and_then(|body| body.get("query")).and_then(Value::as_str);
        query.map(literals::string_values).unwrap_or_default()
    }
}

/// An endpoint policy's per-minute limit, for the shared counters to count (per client
/// address, under the key `ep:{id}:{ip_key}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointLimit {
    pub id: String,
    pub per_minute: u32,
}

/// An endpoint policy's spent limit: 429 `rate_limited` with `Retry-After`.
pub fn endpoint_limit_exceeded(id: &str, d: &WindowDecision) -> Blocked {
    let error = ApiError::new(ErrorKind::RateLimited).header(RETRY_AFTER, d.retry_after_secs());
    Blocked { error, reason: format!("endpoint limit {id} exceeded") }
}

/// Why the chain refused a request: the client's error, and the exact cause for the audit.
#[derive(Debug)]
pub struct Blocked {
    pub error: ApiError,
    pub reason: String,
}

impl ChecksState {
    /// Runs the chain (the endpoint's own, or `[checks] chain`) and the endpoint's limit.
    /// Passing, it hands back what the checks noticed (for the audit record). With shared
    /// counters (`shared_limits`), the endpoint's limit is handed there instead of counted.
    pub fn inspect(
        &self,
        msg: &Inspect<'_>,
        shared_limits: Option<&mut Vec<EndpointLimit>>,
    ) -> Result<Vec<String>, Blocked> {
        let now = self.clock.now_ms();
        let policy = self.policies.iter().find(|p| p.matches(msg.method, msg.path)).unwrap_or(&policy::DEFAULT);
        let query = decode_pairs(msg.query);
        let path_segments = if path_needs_scan(msg.path) { decode_segments(msg.path) } else { Vec::new() };
        let form = msg.form_body.map(|b| decode_pairs(&String::from_utf8_lossy(b))).unwrap_or_default();
        let user = msg.authorization.and_then(|a| self.tokens.owner_of(a));
        let graphql_strings = msg.graphql_strings();
        let request = CheckRequest {
            method: msg.method,
            path: msg.path,
            query: &query,
            path_segments: &path_segments,
            json: msg.json,
            form: &form,
            graphql_strings: &graphql_strings,
            ip: msg.ip,
            ip_key: msg.ip_key,
            user: user.as_deref(),
            user_agent: msg.user_agent,
            referer: msg.referer,
            now_ms: now,
            notes: Default::default(),
        };
        for check in policy.checks.as_deref().unwrap_or(&self.chain) {
            if let Err(refusal) = check.check(&request, policy) {
                if refusal.lock_ip && policy.auto_lock {
                    let mut record = LockRecord::new(
                        LockKind::Ip,
                        msg.ip_key.to_string(),
                        LockSource::Automatic,
                        now,
                        now + self.lock_secs * 1000,
                        format!("{}: {}", check.name(), refusal.reason),
                    );
                    record.sample =
                        refusal.sample.as_deref().map(|s| redact::redact_text(redact::truncate(s, 200)).into_owned());
                    record.rule = Some(format!("{}: {}", check.name(), refusal.reason));
                    record.route = Some(crate::http::route::Route::describe(msg.method, msg.path));
                    record.owner = msg.authorization.and_then(|a| self.tokens.verified_owner(a, now));
                    lock_client_and_record(&self.locks, &self.audit, &msg.ip, record, now);
                }
                if refusal.lock_ip {
                    self.count_against_owner(msg.authorization, now);
                }
                let reason = format!("check {}: {}", check.name(), refusal.reason);
                return Err(Blocked { error: ApiError::new(refusal.kind), reason });
            }
        }
        if let Some((id, per_minute)) = policy.limit() {
            if let Some(limits) = shared_limits {
                limits.push(EndpointLimit { id: id.to_string(), per_minute });
                return Ok(request.notes.into_inner());
            }
            match self.limits.hit((id.to_string(), msg.ip_key), now, per_minute, 60_000) {
                Ok(d) if d.allowed => {}
                Ok(d) => return Err(endpoint_limit_exceeded(id, &d)),
                Err(_) => {
                    let error = ApiError::new(ErrorKind::CapacityExhausted).header(RETRY_AFTER, 1);
                    return Err(Blocked { error, reason: "checks cannot decide: endpoint limit table full".into() });
                }
            }
        }
        Ok(request.notes.into_inner())
    }
}

/// The `injection` check: every value a client controls that the product reads. An
/// `attack` verdict refuses and locks (where the endpoint allows); found only in a header
/// (`User-Agent`, `Referer`, which reach the audit log but no query) it refuses without a
/// lock. A `suspicious` verdict is noted for the audit record, or refused (no lock) where
/// the endpoint policy sets `refuse_suspicious`. The lock and the audit keep the rule, never
/// the value.
struct InjectionCheck;

impl SecurityCheck for InjectionCheck {
    fn name(&self) -> &str {
        "injection"
    }

    fn reads(&self) -> Reads {
        Reads { query: true, body: true, headers: true, ..Reads::NOTHING }
    }

    fn check(&self, request: &CheckRequest<'_>, policy: &Policy) -> Result<(), Refusal> {
        let headers = [("User-Agent", request.user_agent), ("Referer", request.referer)];
        let values = request.strings().into_iter().map(|v| (None, v));
        let header_values = headers.iter().filter_map(|(name, v)| v.map(|v| (Some(*name), v)));
        let mut suspicious = None;
        for (header, value) in values.chain(header_values) {
            match injection::classify(value) {
                injection::Verdict::Clean => {}
                injection::Verdict::Attack(rule) => {
                    let reason = match header {
                        Some(h) => format!("SQL injection in {h} ({rule})"),
                        None => format!("SQL injection ({rule})"),
                    };
                    let lock_ip = header.is_none();
                    return Err(Refusal { kind: ErrorKind::InjectionDetected, reason, lock_ip, sample: None });
                }
                injection::Verdict::Suspicious(rule) => {
                    suspicious.get_or_insert((header, rule));
                }
            }
        }
        if let Some((header, rule)) = suspicious {
            let place = header.map(|h| format!(" in {h}")).unwrap_or_default();
            if policy.refuse_suspicious {
                let reason = format!("suspicious SQL{place} ({rule}), refused by the endpoint policy");
                return Err(Refusal { kind: ErrorKind::InjectionDetected, reason, lock_ip: false, sample: None });
            }
            request.notes.borrow_mut().push(format!("suspicious SQL{place} ({rule})"));
        }
        Ok(())
    }
}
