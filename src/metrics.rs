//! Prometheus metrics: counters the pipeline bumps once per request (lock-free: atomics in
//! DashMaps keyed by small static labels, so no label is ever built from client input), and
//! gauges read from the shared state when `/metrics` is scraped. The endpoint is served on its
//! own listener (`[metrics] listen`, loopback, off by default; see `server`), never on the API
//! port, so it needs no token and cannot leak through the public interface.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::state::AppState;

/// Upper bounds of the request latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds of the snapshot duration buckets, in seconds.
const SNAPSHOT_BUCKETS: [f64; 8] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];

/// A cumulative histogram with fixed buckets.
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|b| secs <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in self.bounds.iter().zip(&self.counts) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_us.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Everything counted as requests pass.
pub struct Metrics {
    started: Instant,
    requests: DashMap<(&'static str, u16), AtomicU64>,
    rejections: DashMap<(&'static str, &'static str), AtomicU64>,
    latency: Histogram,
    snapshot: Histogram,
    snapshot_failures: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            requests: DashMap::new(),
            rejections: DashMap::new(),
            latency: Histogram::new(&LATENCY_BUCKETS),
            snapshot: Histogram::new(&SNAPSHOT_BUCKETS),
            snapshot_failures: AtomicU64::new(0),
        }
    }
}

fn bump<K: std::hash::Hash + Eq>(map: &DashMap<K, AtomicU64>, key: K) {
    if let Some(n) = map.get(&key) {
        n.fetch_add(1, Ordering::Relaxed);
        return;
    }
    map.entry(key).or_default().fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// One finished request: its route kind, status, duration, and the refusing stage and
    /// error code if a stage refused it.
    pub fn request(
        &self,
        route: &'static str,
        status: u16,
        elapsed: Duration,
        refused: Option<(&'static str, &'static str)>,
    ) {
        bump(&self.requests, (route, status));
        if let Some(key) = refused {
            bump(&self.rejections, key);
        }
        self.latency.observe(elapsed);
    }

    /// One counter snapshot (see `housekeeper`).
    pub fn snapshot(&self, elapsed: Duration, ok: bool) {
        self.snapshot.observe(elapsed);
        if !ok {
            self.snapshot_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn rejected(&self, stage: &str, code: &str) -> u64 {
        self.rejections
            .iter()
            .filter(|e| e.key().0 == stage && e.key().1 == code)
            .map(|e| e.value().load(Ordering::Relaxed))
            .sum()
    }
}

fn gauge(out: &mut String, kind: &str, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
}

/// Resident set size of this process, from `/proc/self/statm` (0 where unavailable).
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// A counter family with labels, sorted by label for stable output.
fn labelled<K: Copy + Ord + std::hash::Hash + Eq>(
    out: &mut String,
    name: &str,
    help: &str,
    map: &DashMap<K, AtomicU64>,
    labels: impl Fn(K) -> String,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    let mut rows: Vec<(K, u64)> = map.iter().map(|e| (*e.key(), e.value().load(Ordering::Relaxed))).collect();
    rows.sort();
    for (key, n) in rows {
        let _ = writeln!(out, "{name}{{{}}} {n}", labels(key));
    }
}

/// The Prometheus text exposition of everything.
pub fn render(state: &AppState) -> String {
    let m = &state.metrics;
    let mut out = String::with_capacity(8 * 1024);
    labelled(
        &mut out,
        "palisade_requests_total",
        "Finished requests by route kind and status.",
        &m.requests,
        |(route, status)| format!("route=\"{route}\",status=\"{status}\""),
    );
    labelled(
        &mut out,
        "palisade_rejections_total",
        "Requests refused, by stage and error code.",
        &m.rejections,
        |(stage, reason)| format!("stage=\"{stage}\",reason=\"{reason}\""),
    );
    m.latency.render(
        &mut out,
        "palisade_request_duration_seconds",
        "Time from entry to response, all stages included.",
    );
    let c = "counter";
    let g = "gauge";
    gauge(
        &mut out,
        c,
        "palisade_rate_limited_total",
        "Requests refused by the token rate limiter.",
        m.rejected("rate_limit", "rate_limited"),
    );
    gauge(
        &mut out,
        g,
        "palisade_rate_limit_windows",
        "Token rate-limit windows held in memory.",
        state.stages.rate_limit.windows.len(),
    );
    gauge(
        &mut out,
        g,
        "palisade_ip_throttle_windows",
        "Per-IP throttle windows held in memory.",
        state.stages.shield.throttle.len(),
    );
    gauge(
        &mut out,
        g,
        "palisade_replay_cache_entries",
        "Signatures remembered against replay.",
        state.stages.auth.replay.len(),
    );
    gauge(&mut out, g, "palisade_locks_active", "Lock records (IPs, users) currently held.", state.locks.len());
    gauge(
        &mut out,
        c,
        "palisade_locks_created_total",
        "Locks created since start (automatic and by hand).",
        state.locks.created(),
    );
    gauge(
        &mut out,
        g,
        "palisade_audit_queue_depth",
        "Audit records finished but not yet stored.",
        state.audit.queued.load(Ordering::Relaxed),
    );
    gauge(
        &mut out,
        c,
        "palisade_audit_dropped_total",
        "Audit records dropped (storage or writer could not keep up).",
        state.audit.dropped.load(Ordering::Relaxed),
    );
    gauge(&mut out, g, "palisade_audit_records", "Audit records stored since start.", state.audit.written());
    m.snapshot.render(
        &mut out,
        "palisade_snapshot_duration_seconds",
        "Time to snapshot the in-memory counters to sled.",
    );
    gauge(
        &mut out,
        c,
        "palisade_snapshot_failures_total",
        "Counter snapshots that could not be stored.",
        m.snapshot_failures.load(Ordering::Relaxed),
    );
    let health = &state.store.health;
    gauge(&mut out, g, "palisade_storage_writable", "1 when the data dir accepts writes.", u8::from(health.writable()));
    gauge(
        &mut out,
        c,
        "palisade_storage_refused_writes_total",
        "Writes refused because storage was unavailable.",
        health.refused.load(Ordering::Relaxed),
    );
    gauge(&mut out, g, "palisade_tokens", "Tokens loaded (revoked ones included).", state.tokens.len());
    gauge(&mut out, g, "palisade_process_resident_memory_bytes", "Resident set size.", resident_bytes());
    gauge(&mut out, g, "palisade_uptime_seconds", "Seconds since start.", m.started.elapsed().as_secs());
    out
}

/// The metrics listener's only route: `GET /metrics`.
pub async fn endpoint(req: actix_web::HttpRequest, state: actix_web::web::Data<AppState>) -> actix_web::HttpResponse {
    use crate::error::{ApiError, ErrorKind};
    use actix_web::http::{header, Method};
    if req.path() != "/metrics" {
        return ApiError::new(ErrorKind::NotFound).into_response();
    }
    if req.method() != Method::GET {
        return ApiError::new(ErrorKind::MethodNotAllowed).header(header::ALLOW, "GET").into_response();
    }
    actix_web::HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(render(&state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new(&LATENCY_BUCKETS);
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(30));
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"0.0005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"10\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
        assert!(out.contains("x_sum 30.0033\n"), "{out}");
    }
}
