//! Two real `palisade serve` processes on copies of one data dir, counting on one real Redis
//! (`[shared] redis_url`): the layout the multi-instance tests (`shared`, `cluster`) start.
//!
//! Copies of one data dir hold the same tokens and the same install key (per-IP counters
//! are keyed by it: instances with different keys would count one client under two names).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engines::Redis;
use crate::support::{Req, Resp, Spawned};

pub struct Pair {
    pub a: Spawned,
    pub b: Spawned,
    /// The config both serve with.
    pub config: PathBuf,
    /// Their data dirs, `a`'s first.
    pub dirs: [PathBuf; 2],
    _dir: tempfile::TempDir,
}

impl Pair {
    /// The two servers, in turn.
    pub fn nth(&self, i: usize) -> SocketAddr {
        if i % 2 == 0 {
            self.a.addr
        } else {
            self.b.addr
        }
    }
}

/// A data dir with `tokens` created (each the arguments of `token create`), copied for a
/// second instance, and both served with `[shared] redis_url` plus `extra` config; the
/// created tokens as `token create --json` prints them.
pub fn pair(redis: &Redis, extra: &str, tokens: &[&[&str]]) -> (Pair, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("palisade.toml");
    let text =
        format!("[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[shared]\nredis_url = \"{}\"\n{extra}", redis.url());
    std::fs::write(&config, text).unwrap();
    let first = dir.path().join("a");
    crate::support::init_store(&first);
    let created = tokens
        .iter()
        .map(|args| {
            let out = Spawned::cli(&first, &config, &[&["token", "create"], *args, &["--json"]].concat());
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        })
        .collect();
    let second = dir.path().join("b");
    copy_dir(&first, &second);
    let a = Spawned::serve(&first, &config);
    let b = Spawned::serve(&second, &config);
    (Pair { a, b, config, dirs: [first, second], _dir: dir }, created)
}

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(status.success());
}

/// The token of a created one.
pub fn token(v: &Value) -> String {
    v["token"].as_str().unwrap().to_string()
}

/// The signed request `GET /api/v1/clients?limit=2` to `addr`, timestamped now, with the
/// headers of a `--sign` token created as `created`.
pub fn signed_read(created: &Value) -> impl Fn(SocketAddr) -> Req {
    let (token, secret) = (token(created), created["signing_secret"].as_str().unwrap().to_string());
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let canonical = palisade::pipeline::auth::canonical("GET", "/api/v1/clients", "limit=2", b"", &ts);
    let signature = palisade::pipeline::auth::sign(&secret, &canonical);
    move |addr| {
        Req::to(addr, "GET", "/api/v1/clients?limit=2")
            .bearer(&token)
            .header("X-Timestamp", &ts)
            .header("X-Signature", &signature)
    }
}

/// `n` requests (`make(i)` the i-th) sent by `threads` clients at once; the answers.
pub fn spread(n: usize, threads: usize, make: impl Fn(usize) -> Req + Sync) -> Vec<Resp> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut all = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut got = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            break got;
                        }
                        got.push(make(i).send());
                    }
                })
            })
            .collect();
        for h in handles {
            all.extend(h.join().unwrap());
        }
    });
    all
}

/// The config of the window tests: one address may send 40 requests an hour.
pub const THROTTLE_40: &str = "[shield]\nip_requests = 40\nip_window_secs = 3600\n";

/// The tokens of the window tests: `limited` may send 100 requests an hour, `wide` 100000.
pub const WINDOW_TOKENS: &[&[&str]] = &[
    &["--name", "limited", "--scope", "clients:r", "--rate", "100", "--window", "3600"],
    &["--name", "wide", "--scope", "clients:r", "--rate", "100000"],
];

/// 300 requests with the `limited` token from 6 clients at once, each request from its own
/// address (so that the throttle stays out of it), the i-th sent to `target(i)`: exactly 100
/// are served, each seeing its own place in the one window, and 200 refused `rate_limited`.
/// The answers.
pub fn one_window(limited: &str, target: impl Fn(usize) -> SocketAddr + Sync) -> Vec<Resp> {
    let got = spread(300, 6, |i| {
        Req::to(target(i), "GET", "/api/v1/clients?limit=1")
            .bearer(limited)
            .client_ip(&format!("198.51.100.{}", i % 250))
    });
    assert_eq!((count(&got, 200), count(&got, 429)), (100, 200), "{:?}", got.iter().find(|r| r.status >= 500));
    for refused in got.iter().filter(|r| r.status == 429) {
        assert_eq!(refused.code(), "rate_limited");
        assert!(refused.header("retry-after").is_some());
        assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    }
    let served = got.iter().filter(|r| r.status == 200).map(|r| r.header("x-ratelimit-remaining").unwrap());
    let mut remaining: Vec<u32> = served.map(|v| v.parse().unwrap()).collect();
    remaining.sort_unstable();
    assert_eq!(remaining, (0..100).collect::<Vec<_>>(), "each request saw its own place in the one window");
    got
}

/// How many of `responses` have `status`.
pub fn count(responses: &[Resp], status: u16) -> usize {
    responses.iter().filter(|r| r.status == status).count()
}
