//! `GET /metrics` (Prometheus text format): the pipeline's counters plus gauges read from the
//! shared state when scraped. Served on its own listener (`[metrics] listen`, loopback, off by
//! default; see `server`), never on the API port, so it needs no token and cannot leak
//! through the public interface.

use std::sync::atomic::Ordering;

use crate::metrics::{gauge, labelled, resident_bytes};
use crate::state::AppState;

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
        state.stages().rate_limit.windows.len(),
    );
    gauge(
        &mut out,
        g,
        "palisade_ip_throttle_windows",
        "Per-IP throttle windows held in memory.",
        state.stages().shield.throttle.len(),
    );
    gauge(
        &mut out,
        g,
        "palisade_replay_cache_entries",
        "Signatures remembered against replay.",
        state.stages().auth.replay.len(),
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
        c,
        "palisade_locks_evicted_total",
        "Automatic locks evicted to keep the table within [checks] max_locks.",
        state.locks.evicted(),
    );
    gauge(
        &mut out,
        c,
        "palisade_locks_escalated_total",
        "Network locks made from prefix_lock_after automatic locks in one network.",
        state.locks.escalated(),
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
    let seconds = |ms: u64| ms as f64 / 1000.0;
    gauge(
        &mut out,
        g,
        "palisade_backup_last_success_timestamp_seconds",
        "When the last backup succeeded (0: none since start).",
        seconds(m.backup_last_success_ms.load(Ordering::Relaxed)),
    );
    gauge(
        &mut out,
        g,
        "palisade_backup_duration_seconds",
        "How long the last successful backup took.",
        seconds(m.backup_last_duration_ms.load(Ordering::Relaxed)),
    );
    gauge(
        &mut out,
        c,
        "palisade_backup_failures_total",
        "Backups that failed.",
        m.backup_failures.load(Ordering::Relaxed),
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
