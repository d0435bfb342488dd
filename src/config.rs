//! The one configuration tree.
//!
//! Every section has `#[serde(default, deny_unknown_fields)]`, so a mistyped key stops the
//! server at start-up with the key's name instead of silently turning a protection off.
//! Defaults live in the `Default` impls below and nowhere else; they are restrictive.
//! [`Config::validate`] runs before anything listens.

use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

mod checks;
mod data;
mod reload;
mod shared;
mod store;
mod validate;
pub use checks::{BruteForceConfig, ChecksConfig, EndpointPolicy, HoneypotConfig};
pub use data::{parse_duration, BackupConfig, LimitsConfig};
pub use shared::SharedConfig;
pub use store::{Backend, StoreConfig};

/// Where `--config` points when it is not given.
pub const DEFAULT_CONFIG_PATH: &str = "data/palisade.toml";

/// The whole configuration, as read from TOML.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub shield: ShieldConfig,
    pub cors: CorsConfig,
    pub sensitive: SensitiveConfig,
    pub auth: AuthConfig,
    pub rate_limit: RateLimitConfig,
    pub public: PublicConfig,
    pub audit: AuditConfig,
    pub graphql: GraphqlConfig,
    pub checks: ChecksConfig,
    pub state: StateConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
    pub limits: LimitsConfig,
    pub backup: BackupConfig,
    pub shared: SharedConfig,
    pub store: StoreConfig,
}

/// The running config, swapped whole by a reload (see [`Config::reloaded`]). Readers take an
/// `Arc` snapshot once per request, so a request sees one consistent config.
#[derive(Debug)]
pub struct LiveConfig(std::sync::RwLock<std::sync::Arc<Config>>);

impl LiveConfig {
    pub fn new(config: Config) -> Self {
        Self(std::sync::RwLock::new(std::sync::Arc::new(config)))
    }

    pub fn get(&self) -> std::sync::Arc<Config> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, config: Config) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(config);
    }
}

/// The Prometheus endpoint (`GET /metrics`) on its own listener.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the metrics listener; empty = off. Must be a loopback address unless
    /// `allow_remote` (the endpoint has no authentication).
    pub listen: String,
    pub allow_remote: bool,
}

/// Log output (stderr; journald picks it up under systemd).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json` (one JSON object per line).
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `palisade=debug`; `RUST_LOG` overrides it.
    pub level: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, level: "info".into() }
    }
}

/// Snapshots of in-memory counters (see `store::snapshot`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    pub snapshot_interval_ms: u64,
    /// Writes are refused (503 `storage_unavailable`) while the data dir's disk has less free.
    pub min_free_bytes: u64,
    /// sled's page cache (rows, tokens, audit) held in memory.
    pub cache_bytes: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self { snapshot_interval_ms: 1000, min_free_bytes: 64 * 1024 * 1024, cache_bytes: 32 * 1024 * 1024 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the HTTP listener binds.
    pub listen: String,
    /// Directory holding the sled store, the key file and the admin socket.
    pub data_dir: PathBuf,
    /// Table schema; `None` means `data/schema.toml` when it exists, else the embedded one.
    pub schema: Option<PathBuf>,
    /// Peers whose `X-Forwarded-For` is believed (CIDR list).
    pub trusted_proxies: Vec<IpNet>,
    /// Where clients reach the server (`https://api.example.com`): its origin (scheme, host,
    /// port) is the server's own for CORS. Empty: only the tokens' origin lists count.
    pub public_url: String,
    /// A request still running after this many seconds gets 503 `request_timeout`.
    pub request_timeout_secs: u64,
    /// HTTP worker threads; 0 means one per core (on PostgreSQL at least `[store] pool_size`).
    pub workers: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data/state"),
            schema: None,
            trusted_proxies: Vec::new(),
            public_url: String::new(),
            request_timeout_secs: 10,
            workers: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShieldConfig {
    pub max_body_bytes: usize,
    pub max_json_depth: usize,
    pub max_query_bytes: usize,
    pub ip_requests: u32,
    pub ip_window_secs: u64,
    /// How many client IPs the throttle tracks at most (bounded memory under floods).
    pub max_tracked_ips: usize,
}

impl Default for ShieldConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 262_144,
            max_json_depth: 10,
            max_query_bytes: 4096,
            ip_requests: 600,
            ip_window_secs: 60,
            max_tracked_ips: 250_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allowed_methods: ["GET", "POST", "PUT", "PATCH", "DELETE"].map(String::from).to_vec(),
            allowed_headers: ["Authorization", "Content-Type", "X-Timestamp", "X-Signature"].map(String::from).to_vec(),
            max_age_secs: 600,
        }
    }
}

/// Layer 1 of the sensitive-table defence: such tables are not served unless listed here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensitiveConfig {
    pub expose: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub replay_window_secs: u64,
    /// Signatures remembered for replay detection at most (bounded memory).
    pub max_replay_entries: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { replay_window_secs: 300, max_replay_entries: 1_000_000 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub requests: u32,
    pub window_secs: u64,
    /// Ignored: stage decisions are direct calls and cannot be late. Still read, so config
    /// files written for earlier versions load (a warning says it can go).
    pub decision_deadline_ms: Option<u64>,
    /// How many token windows are tracked at most; past that the limiter fails closed.
    pub max_tracked_tokens: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self { requests: 60, window_secs: 60, decision_deadline_ms: None, max_tracked_tokens: 100_000 }
    }
}

/// Views marked `public = true` in the schema, served without a token: each client address
/// (IPv6 by its `[checks] ipv6_prefix`) gets `requests` per `window_secs`, shared across them;
/// an IPv6 client's `ipv6_wide_prefix` network gets `ipv6_wide_multiple` times that.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublicConfig {
    pub requests: u32,
    pub window_secs: u64,
    /// How many client windows are tracked at most. When full, one-hit windows are shed
    /// (like the throttle's); with none to shed, public views fail closed (503).
    pub max_tracked_clients: usize,
}

impl Default for PublicConfig {
    fn default() -> Self {
        Self { requests: 60, window_secs: 60, max_tracked_clients: 100_000 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Segments whose records are all older than this are deleted.
    pub keep_days: u64,
    /// The oldest segments are deleted while the trail takes more disk than this.
    pub max_bytes: u64,
    /// A segment file is closed (and a new one begun) at this size.
    pub segment_bytes: u64,
    /// How often buffered records are written to the trail.
    pub flush_interval_ms: u64,
    /// Records a worker's batcher, or the writer, holds while they cannot be stored (writer
    /// behind, storage unavailable); beyond it records are dropped and counted.
    pub max_pending: usize,
    /// Length of a sealing epoch: the trail is sealed and the sealing key evolved this often
    /// (once `audit setup-keys` ran; the length is fixed then, in the verification key).
    pub seal_epoch_secs: u64,
    /// The name every record of this instance carries (`"instance":"a"`), where several
    /// instances serve one deployment; empty: records name none.
    pub instance: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            keep_days: 90,
            max_bytes: 1 << 30,
            segment_bytes: 16 << 20,
            flush_interval_ms: 50,
            max_pending: 100_000,
            seal_epoch_secs: 900,
            instance: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphqlConfig {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_directives: usize,
    pub max_tokens: usize,
    pub max_query_bytes: usize,
    /// Rows one request may produce while it executes (every list, relation and lookup
    /// counts); past it the remaining fields fail with `row_budget_exceeded`.
    pub max_rows: u64,
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        Self {
            max_depth: 5,
            max_complexity: 1000,
            max_aliases: 15,
            max_directives: 10,
            max_tokens: 2000,
            max_query_bytes: 16_384,
            max_rows: 5000,
        }
    }
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config key {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Config {
    /// Loads `path`, or the default path when it exists, or built-in defaults.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_CONFIG_PATH).exists() => PathBuf::from(DEFAULT_CONFIG_PATH),
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse { path, message })
    }

    /// Parses TOML text; unknown keys are errors naming the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
    }
}

#[cfg(test)]
mod tests;
