//! `[checks]`: the ordered security checks, their locks and bounds, and per-endpoint
//! policies (part of the one configuration tree, see the parent module).

use serde::Deserialize;

/// The security checks chain (see `checks`). Checks run in the order of `chain`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChecksConfig {
    /// Names of the checks run on every request, in this order.
    pub chain: Vec<String>,
    /// How long an automatic lock (injection, honeypot) lasts.
    pub lock_secs: u64,
    pub honeypot: HoneypotConfig,
    pub brute_force: BruteForceConfig,
    /// Per-endpoint policies; the first whose method and path match applies.
    pub endpoints: Vec<EndpointPolicy>,
    /// Keys (IP × limit id) the per-endpoint limits track at most.
    pub max_tracked_keys: usize,
    /// IPv6 clients are tracked (throttle, failed authentications, endpoint limits) and
    /// locked by this prefix: one holder has at least a /64.
    pub ipv6_prefix: u8,
    /// This many `attack` verdicts from one token owner within an hour lock the owner (all
    /// their tokens) for `lock_secs`, whatever addresses they came from; 0 turns it off.
    pub user_lock_after: u32,
    /// IPv6 clients are also counted by this wider prefix (one site's allocation), so a
    /// holder of many /64s cannot pose as that many clients: the shield's throttle and the
    /// public views' windows give the whole network `ipv6_wide_multiple` times one client's
    /// allowance. It is also the network many automatic locks escalate into.
    pub ipv6_wide_prefix: u8,
    /// The wide network's allowance, as a multiple of one client's.
    pub ipv6_wide_multiple: u32,
    /// Lock records held at most. Past it, automatic locks are evicted (the one closest to
    /// expiry first); a lock made by an administrator never is.
    pub max_locks: usize,
    /// This many automatic locks inside one network (IPv6: `ipv6_wide_prefix`; IPv4: /24)
    /// become one lock on the network, and the single ones are removed; 0 turns it off.
    pub prefix_lock_after: u32,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        Self {
            chain: ["locked", "injection", "honeypot"].map(String::from).to_vec(),
            lock_secs: 86_400,
            honeypot: HoneypotConfig::default(),
            brute_force: BruteForceConfig::default(),
            endpoints: Vec::new(),
            max_tracked_keys: 250_000,
            ipv6_prefix: 64,
            user_lock_after: 20,
            ipv6_wide_prefix: 48,
            ipv6_wide_multiple: 16,
            max_locks: 10_000,
            prefix_lock_after: 16,
        }
    }
}

/// A body field real users never fill (hidden in forms); bots that fill it are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HoneypotConfig {
    /// The field name; no field, no honeypot.
    pub field: Option<String>,
    /// Also lock the client IP for `checks.lock_secs`.
    pub lock: bool,
}

/// Failed authentications from one IP beyond `max_failures` per `window_secs` lock it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BruteForceConfig {
    pub max_failures: u32,
    pub window_secs: u64,
    pub lock_secs: u64,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        Self { max_failures: 20, window_secs: 300, lock_secs: 3600 }
    }
}

/// What applies on one endpoint: `method` (or any) and `path` (`*` matches one path segment
/// or the rest of one, a trailing `**` everything below).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointPolicy {
    #[serde(default)]
    pub method: Option<String>,
    pub path: String,
    /// Checks run here, in order (default: the global chain).
    #[serde(default)]
    pub checks: Option<Vec<String>>,
    /// Whether a detected injection also locks the client IP.
    #[serde(default = "yes")]
    pub auto_lock: bool,
    /// Whether a *suspicious* injection verdict is refused here too (403, no lock); by
    /// default it is only audited.
    #[serde(default)]
    pub refuse_suspicious: bool,
    /// Requests per minute per client IP, counted per `limit_id` (60 when only the id is set).
    #[serde(default)]
    pub max_requests_per_minute: Option<u32>,
    /// Routes with the same id share one counter.
    #[serde(default)]
    pub limit_id: Option<String>,
}

fn yes() -> bool {
    true
}

impl EndpointPolicy {
    /// The effective per-minute limit, if any.
    pub fn per_minute(&self) -> Option<u32> {
        self.max_requests_per_minute.or(self.limit_id.as_ref().map(|_| 60))
    }
}
