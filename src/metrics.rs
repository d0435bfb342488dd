//! Prometheus metrics: counters the pipeline bumps once per request (lock-free: atomics in
//! DashMaps keyed by small static labels, so no label is ever built from client input), and
//! the text format's writers. Every counter is kept in [`SHARDS`] copies, one per group of
//! threads, each on its own cache lines: two workers bumping the same counter would
//! otherwise pass its cache line back and forth on every request. A scrape adds them up. The gauges read from the shared state and the endpoint are in
//! `api::metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Upper bounds of the request latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds of the snapshot duration buckets, in seconds.
const SNAPSHOT_BUCKETS: [f64; 8] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];

/// Copies of every counter (a power of two).
const SHARDS: usize = 8;

/// This thread's copy (threads are numbered as they first count).
fn shard() -> usize {
    thread_local!(static MINE: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS
    });
    MINE.with(|i| *i)
}

/// One thread group's copy, alone on its cache lines.
#[repr(align(128))]
struct Padded<T>(T);

/// A cumulative histogram with fixed buckets.
pub struct Histogram {
    bounds: &'static [f64],
    shards: Box<[Padded<HistogramShard>]>,
}

struct HistogramShard {
    counts: Vec<AtomicU64>,
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        let shard = || HistogramShard {
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        };
        Self { bounds, shards: (0..SHARDS).map(|_| Padded(shard())).collect() }
    }

    pub fn observe(&self, d: Duration) {
        let shard = &self.shards[shard()].0;
        let secs = d.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|b| secs <= *b) {
            shard.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        shard.sum_us.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        shard.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let total = |f: &dyn Fn(&HistogramShard) -> &AtomicU64| -> u64 {
            self.shards.iter().map(|s| f(&s.0).load(Ordering::Relaxed)).sum()
        };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += total(&|s| &s.counts[i]);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = total(&|s| &s.count);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", total(&|s| &s.sum_us) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// A counter family keyed by static labels.
pub struct Family<K: std::hash::Hash + Eq> {
    shards: Box<[Padded<DashMap<K, AtomicU64>>]>,
}

impl<K: std::hash::Hash + Eq + Copy + Ord> Default for Family<K> {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| Padded(DashMap::new())).collect() }
    }
}

impl<K: std::hash::Hash + Eq + Copy + Ord> Family<K> {
    pub fn bump(&self, key: K) {
        let map = &self.shards[shard()].0;
        if let Some(n) = map.get(&key) {
            n.fetch_add(1, Ordering::Relaxed);
            return;
        }
        map.entry(key).or_default().fetch_add(1, Ordering::Relaxed);
    }

    /// Every key with its total, sorted by key.
    pub fn rows(&self) -> Vec<(K, u64)> {
        let mut totals = std::collections::BTreeMap::new();
        for shard in self.shards.iter() {
            for e in shard.0.iter() {
                *totals.entry(*e.key()).or_insert(0) += e.value().load(Ordering::Relaxed);
            }
        }
        totals.into_iter().collect()
    }
}

/// Everything counted as requests pass.
pub struct Metrics {
    pub started: Instant,
    pub requests: Family<(&'static str, u16)>,
    pub rejections: Family<(&'static str, &'static str)>,
    pub latency: Histogram,
    pub snapshot: Histogram,
    pub snapshot_failures: AtomicU64,
    /// The last backup that succeeded: when (ms since the epoch) and how long it took (ms).
    pub backup_last_success_ms: AtomicU64,
    pub backup_last_duration_ms: AtomicU64,
    pub backup_failures: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            requests: Family::default(),
            rejections: Family::default(),
            latency: Histogram::new(&LATENCY_BUCKETS),
            snapshot: Histogram::new(&SNAPSHOT_BUCKETS),
            snapshot_failures: AtomicU64::new(0),
            backup_last_success_ms: AtomicU64::new(0),
            backup_last_duration_ms: AtomicU64::new(0),
            backup_failures: AtomicU64::new(0),
        }
    }
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
        self.requests.bump((route, status));
        if let Some(key) = refused {
            self.rejections.bump(key);
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

    /// One backup (see `housekeeper`, `palisade backup`).
    pub fn backup(&self, finished_ms: u64, elapsed: Duration, ok: bool) {
        if ok {
            self.backup_last_success_ms.store(finished_ms, Ordering::Relaxed);
            self.backup_last_duration_ms.store(elapsed.as_millis() as u64, Ordering::Relaxed);
        } else {
            self.backup_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn rejected(&self, stage: &str, code: &str) -> u64 {
        self.rejections.rows().into_iter().filter(|((s, c), _)| *s == stage && *c == code).map(|(_, n)| n).sum()
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
    family: &Family<K>,
    labels: impl Fn(K) -> String,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (key, n) in family.rows() {
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
        std::thread::scope(|t| {
            t.spawn(|| h.observe(Duration::from_millis(3)));
        });
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

    #[test]
    fn a_family_adds_up_what_every_thread_counted() {
        let f: Family<(&str, u16)> = Family::default();
        std::thread::scope(|t| {
            for _ in 0..(SHARDS + 3) {
                t.spawn(|| {
                    for _ in 0..100 {
                        f.bump(("rows", 200));
                    }
                    f.bump(("rows", 404));
                });
            }
        });
        assert_eq!(f.rows(), vec![(("rows", 200), 100 * (SHARDS as u64 + 3)), (("rows", 404), SHARDS as u64 + 3)]);
    }
}
