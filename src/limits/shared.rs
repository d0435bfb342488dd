//! Counting shared by several instances, on the Redis protocol (Redis ≥ 6 or Valkey).
//!
//! A request's windows — the per-IP throttle, an endpoint limit, a public view's window, a
//! failed authentication, the token's window — and its signature for the replay cache are
//! gathered into one [`Tally`] and decided by one script call ([`SharedCounters::settle`]):
//! one round trip, atomic on the server, so that across any number of instances exactly
//! `limit` hits pass per window. The script walks the windows in the order the stages
//! added them and stops at the first that refuses, as the stages do in one process: an
//! earlier window stays counted, a later one is not touched. A signature is refused when it
//! is already recorded, and recorded only when every window passed.
//!
//! Windows are aligned to the epoch on the Redis server's clock (`TIME`), so instances
//! whose clocks drift apart still agree on where a window starts. Each window is a key
//! `{prefix}{name}:{window_ms}:{start_ms}` that expires a second after its window ends.
//!
//! When the server cannot be reached, answers with an error, or takes longer than
//! `[shared] timeout_ms`, the caller gets [`Unavailable`] and must fail closed. A broken
//! connection is dropped and made again on a later call; while connecting fails, calls for
//! the next half second fail at once instead of each waiting for a connect.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

use super::window::WindowDecision;
use crate::config::SharedConfig;

/// How a window is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse when the window is spent; otherwise count `n`.
    Count,
    /// Refuse when the window is spent; count nothing (a wider network looked at before
    /// its member is counted).
    Peek,
}

/// One window of a tally, tagged with what it is for.
#[derive(Debug, Clone)]
pub struct Window<T> {
    pub tag: T,
    /// The key's name below the prefix (`t:42`, `ip:…`).
    pub name: String,
    pub limit: u32,
    pub window_ms: u64,
    pub n: u32,
    pub mode: Mode,
}

/// A signature to record once (the replay cache).
#[derive(Debug, Clone)]
pub struct Once<T> {
    pub tag: T,
    pub name: String,
    /// How long the record lives.
    pub ttl_ms: u64,
}

/// Everything one request counts, in stage order.
#[derive(Debug, Clone)]
pub struct Tally<T> {
    pub windows: Vec<Window<T>>,
    pub once: Option<Once<T>>,
}

impl<T> Default for Tally<T> {
    fn default() -> Self {
        Self { windows: Vec::new(), once: None }
    }
}

impl<T> Tally<T> {
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.once.is_none()
    }

    pub fn count(&mut self, tag: T, name: String, limit: u32, window_ms: u64, n: u32) {
        self.windows.push(Window { tag, name, limit, window_ms: window_ms.max(1), n, mode: Mode::Count });
    }

    pub fn peek(&mut self, tag: T, name: String, limit: u32, window_ms: u64) {
        self.windows.push(Window { tag, name, limit, window_ms: window_ms.max(1), n: 1, mode: Mode::Peek });
    }

    /// One hit on `name` that also counts against a wider key (an IPv6 client's network),
    /// as [`super::window::FixedWindows::hit_within`] does it: the wider window is looked
    /// at first, then `name` is counted, then the wider one.
    pub fn count_within(&mut self, tag: T, name: String, limit: u32, outer: Option<(String, u32)>, window_ms: u64)
    where
        T: Clone,
    {
        if let Some((wide, wide_limit)) = &outer {
            self.peek(tag.clone(), wide.clone(), *wide_limit, window_ms);
        }
        self.count(tag.clone(), name, limit, window_ms, 1);
        if let Some((wide, wide_limit)) = outer {
            self.count(tag, wide, wide_limit, window_ms, 1);
        }
    }
}

/// The script's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<T> {
    /// Every window passed (and the signature, if any, is recorded): each window's decision.
    Passed(Vec<(T, WindowDecision)>),
    /// This window refused; the windows before it were counted.
    Refused(T, WindowDecision, Vec<(T, WindowDecision)>),
    /// The signature was recorded before; nothing was counted.
    Replayed(T),
}

/// The shared counters could not decide; the caller fails closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

/// KEYS: the windows' names, then the signature's. ARGV[1]: how many windows; then four per
/// window (peek, limit, window_ms, n); last, the signature's lifetime in ms.
/// Returns {refused (1-based, 0 for none), count, reset_ms, count, reset_ms, …} for the
/// windows reached.
const SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local windows = tonumber(ARGV[1])
local out = {0}
local once = #KEYS > windows
if once and redis.call('EXISTS', KEYS[#KEYS]) == 1 then
  out[1] = #KEYS
  return out
end
for i = 1, windows do
  local a = 1 + (i - 1) * 4
  local peek = ARGV[a + 1] == '1'
  local limit = tonumber(ARGV[a + 2])
  local w = tonumber(ARGV[a + 3])
  local n = tonumber(ARGV[a + 4])
  local start = now - (now % w)
  local key = KEYS[i] .. ':' .. w .. ':' .. start
  local c = tonumber(redis.call('GET', key) or '0')
  local refused = (peek and c >= limit) or ((not peek) and c + n > limit)
  if not refused and not peek then
    c = redis.call('INCRBY', key, n)
    if c == n then redis.call('PEXPIREAT', key, start + w + 1000) end
  end
  out[#out + 1] = c
  out[#out + 1] = start + w - now
  if refused then
    out[1] = i
    return out
  end
end
if once then
  redis.call('SET', KEYS[#KEYS], '1', 'PX', ARGV[#ARGV])
end
return out
"#;

/// After a failed connect, calls fail at once for this long.
const BACKOFF_MS: u64 = 500;

/// The shared counters: one multiplexed connection (requests pipelined on it), made when
/// first needed and again after it breaks.
pub struct SharedCounters {
    client: redis::Client,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
    connection: Mutex<Option<MultiplexedConnection>>,
    connecting: tokio::sync::Mutex<()>,
    /// Milliseconds after `epoch` before which no connect is tried.
    retry_after_ms: AtomicU64,
    epoch: Instant,
    /// Whether the last call reached the server (for `/health`).
    reachable: AtomicBool,
    last_error: Mutex<String>,
}

impl SharedCounters {
    /// Parses the URL (and reads `tls_ca_file`); nothing is connected until the first call.
    /// A `rediss://` URL speaks TLS and checks the server's certificate and name, against
    /// the system's CAs or only those of `tls_ca_file` (see `crate::tls`).
    pub fn new(config: &SharedConfig) -> Result<Self, String> {
        let url = config.redis_url.trim();
        let client = match config.tls_ca_file.as_str() {
            "" => redis::Client::open(url),
            ca_file => {
                // Read and checked here, so a bad file stops the start naming the key.
                let (pem, _) = crate::tls::ca_file("shared.tls_ca_file", ca_file)?;
                let certs = redis::TlsCertificates { client_tls: None, root_cert: Some(pem) };
                redis::Client::build_with_tls(url, certs)
            }
        }
        .map_err(|e| format!("shared.redis_url: {e}"))?;
        Ok(Self {
            client,
            script: redis::Script::new(SCRIPT),
            prefix: config.key_prefix.clone(),
            timeout: Duration::from_millis(config.timeout_ms),
            connection: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            retry_after_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            reachable: AtomicBool::new(true),
            last_error: Mutex::new(String::new()),
        })
    }

    /// Whether the last call reached the server, and if not, why.
    pub fn status(&self) -> Result<(), String> {
        if self.reachable.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(self.last_error.lock().map(|e| e.clone()).unwrap_or_default())
        }
    }

    /// Decides a tally in one script call.
    pub async fn settle<T: Clone>(&self, tally: &Tally<T>) -> Result<Verdict<T>, Unavailable> {
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(tally.windows.len());
        for w in &tally.windows {
            invocation.key(format!("{}{}", self.prefix, w.name));
            invocation.arg(u8::from(w.mode == Mode::Peek)).arg(w.limit).arg(w.window_ms).arg(w.n);
        }
        if let Some(once) = &tally.once {
            invocation.key(format!("{}{}", self.prefix, once.name));
            invocation.arg(once.ttl_ms.max(1));
        }
        let mut connection = self.connection().await?;
        let answer = tokio::time::timeout(self.timeout, invocation.invoke_async::<Vec<i64>>(&mut connection)).await;
        let answer = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(self.failed(format!("shared counters: {e}"), !e.is_io_error())),
            Err(_) => return Err(self.failed(format!("shared counters: no answer in {:?}", self.timeout), false)),
        };
        self.reachable.store(true, Ordering::Relaxed);
        read_verdict(tally, &answer)
            .ok_or_else(|| Unavailable(format!("shared counters: unreadable answer {answer:?}")))
    }

    /// Asks the server for a `PONG` (what `/health` reports).
    pub async fn ping(&self) -> Result<(), Unavailable> {
        let mut connection = self.connection().await?;
        let cmd = redis::cmd("PING");
        match tokio::time::timeout(self.timeout, cmd.query_async::<String>(&mut connection)).await {
            Ok(Ok(_)) => {
                self.reachable.store(true, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(e)) => Err(self.failed(format!("shared counters: {e}"), !e.is_io_error())),
            Err(_) => Err(self.failed(format!("shared counters: no answer in {:?}", self.timeout), false)),
        }
    }

    /// The live connection, or a new one (one caller connects; the others wait for it).
    async fn connection(&self) -> Result<MultiplexedConnection, Unavailable> {
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let _one = self.connecting.lock().await;
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let now = self.epoch.elapsed().as_millis() as u64;
        if now < self.retry_after_ms.load(Ordering::Relaxed) {
            return Err(Unavailable(self.last_error.lock().map(|e| e.clone()).unwrap_or_default()));
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        match self.client.get_multiplexed_async_connection_with_config(&config).await {
            Ok(c) => {
                if let Ok(mut slot) = self.connection.lock() {
                    *slot = Some(c.clone());
                }
                Ok(c)
            }
            Err(e) => {
                let error = self.failed(format!("shared counters unreachable: {e}"), false);
                self.retry_after_ms.store(now + BACKOFF_MS, Ordering::Relaxed);
                Err(error)
            }
        }
    }

    fn current(&self) -> Option<MultiplexedConnection> {
        self.connection.lock().ok().and_then(|c| c.clone())
    }

    /// Notes a failure; a connection that may be broken is dropped (`keep` for an error
    /// the server answered, which says the connection works).
    fn failed(&self, message: String, keep: bool) -> Unavailable {
        if !keep {
            if let Ok(mut slot) = self.connection.lock() {
                *slot = None;
            }
        }
        self.reachable.store(false, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            last.clone_from(&message);
        }
        Unavailable(message)
    }
}

/// The script's answer read against the tally it was given.
fn read_verdict<T: Clone>(tally: &Tally<T>, answer: &[i64]) -> Option<Verdict<T>> {
    let (&refused, pairs) = answer.split_first()?;
    let refused = usize::try_from(refused).ok()?;
    if let Some(once) = &tally.once {
        if refused == tally.windows.len() + 1 {
            return Some(Verdict::Replayed(once.tag.clone()));
        }
    }
    let mut decisions = Vec::with_capacity(tally.windows.len());
    for (i, pair) in pairs.chunks_exact(2).enumerate() {
        let w = tally.windows.get(i)?;
        let count = u32::try_from(pair[0].max(0)).unwrap_or(u32::MAX);
        let allowed = refused != i + 1;
        let decision = WindowDecision {
            allowed,
            limit: w.limit,
            remaining: w.limit.saturating_sub(count),
            reset_after_ms: u64::try_from(pair[1]).unwrap_or(0),
        };
        decisions.push((w.tag.clone(), decision));
    }
    match refused {
        0 if decisions.len() == tally.windows.len() => Some(Verdict::Passed(decisions)),
        0 => None,
        i => {
            let (tag, decision) = decisions.pop().filter(|_| decisions.len() + 1 == i)?;
            Some(Verdict::Refused(tag, decision, decisions))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally() -> Tally<&'static str> {
        let mut t = Tally::default();
        t.count("ip", "ip:1".into(), 10, 60_000, 1);
        t.count("token", "t:1".into(), 2, 60_000, 1);
        t.once = Some(Once { tag: "replay", name: "r:ab".into(), ttl_ms: 5_000 });
        t
    }

    #[test]
    fn a_network_is_looked_at_before_its_member_is_counted() {
        let mut t = Tally::default();
        t.count_within("ip", "ip:1".into(), 5, Some(("ipw:9".into(), 50)), 60_000);
        let shape: Vec<_> = t.windows.iter().map(|w| (w.name.as_str(), w.limit, w.mode)).collect();
        assert_eq!(shape, [("ipw:9", 50, Mode::Peek), ("ip:1", 5, Mode::Count), ("ipw:9", 50, Mode::Count)]);
        let mut t = Tally::default();
        t.count_within("ip", "ip:1".into(), 5, None, 60_000);
        assert_eq!(t.windows.len(), 1);
    }

    #[test]
    fn answers_are_read_window_by_window() {
        let t = tally();
        let passed = read_verdict(&t, &[0, 3, 59_000, 2, 59_000]).unwrap();
        let Verdict::Passed(d) = passed else { panic!("{passed:?}") };
        assert_eq!((d[0].1.remaining, d[1].1.remaining, d[1].1.retry_after_secs()), (7, 0, 59));
        let refused = read_verdict(&t, &[2, 4, 1_000, 2, 1_000]).unwrap();
        let Verdict::Refused(tag, d, before) = refused else { panic!("{refused:?}") };
        assert_eq!((tag, d.allowed, d.remaining, before.len()), ("token", false, 0, 1));
        assert_eq!(read_verdict(&t, &[3]), Some(Verdict::Replayed("replay")));
        // A short or inconsistent answer is not trusted.
        assert_eq!(read_verdict(&t, &[0, 3, 59_000]), None);
        assert_eq!(read_verdict(&t, &[2, 4, 1_000]), None);
        assert_eq!(read_verdict(&t, &[]), None);
    }
}
