//! Prometheus metrics: counters the pipeline bumps once per request (lock-free: atomics in
//! DashMaps keyed by small static labels, so no label is ever built from client input), and
//! the text format's writers. The gauges read from the shared state and the endpoint are in
//! `api::metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

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

    pub fn render(&self, out: &mut String, name: &str, help: &str) {
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
    pub started: Instant,
    pub requests: DashMap<(&'static str, u16), AtomicU64>,
    pub rejections: DashMap<(&'static str, &'static str), AtomicU64>,
    pub latency: Histogram,
    pub snapshot: Histogram,
    pub snapshot_failures: AtomicU64,
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

    pub fn rejected(&self, stage: &str, code: &str) -> u64 {
        self.rejections
            .iter()
            .filter(|e| e.key().0 == stage && e.key().1 == code)
            .map(|e| e.value().load(Ordering::Relaxed))
            .sum()
    }
}

pub fn gauge(out: &mut String, kind: &str, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
}

/// Resident set size of this process, from `/proc/self/statm` (0 where unavailable).
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// A counter family with labels, sorted by label for stable output.
pub fn labelled<K: Copy + Ord + std::hash::Hash + Eq>(
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
