//! `[shared]`: the engine several instances count on together. With `redis_url` set (Redis
//! ≥ 6 or Valkey), the per-token windows, the per-IP throttle, the public views' windows,
//! failed authentications, endpoint limits and the replay cache are counted there, exactly
//! across every instance, in one script call per request (`limits::shared`). Unset, each
//! process counts in its own maps, as a single instance always has. Read at start-up only:
//! a reload that changes it is refused.

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharedConfig {
    /// `redis://[user:password@]host:port[/db]`, `rediss://…` (TLS, the server's certificate
    /// checked) or `unix:///path/to/socket`; empty: counters stay in this process.
    pub redis_url: String,
    /// With `rediss://`: a PEM file of the CAs to trust instead of the system's (see `tls`).
    pub tls_ca_file: String,
    /// A shared decision that takes longer than this fails closed (503
    /// `rate_limiter_unavailable`).
    pub timeout_ms: u64,
    /// Every key this deployment writes starts with this, so several deployments can share
    /// one server.
    pub key_prefix: String,
}

impl Default for SharedConfig {
    fn default() -> Self {
        Self { redis_url: String::new(), tls_ca_file: String::new(), timeout_ms: 250, key_prefix: "palisade:".into() }
    }
}

impl SharedConfig {
    /// Whether counting is shared.
    pub fn enabled(&self) -> bool {
        !self.redis_url.trim().is_empty()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.redis_url.trim();
        if !(url.is_empty()
            || url.starts_with("redis://")
            || url.starts_with("rediss://")
            || url.starts_with("unix://"))
        {
            return Err(ConfigError::Invalid {
                key: "shared.redis_url",
                message:
                    "expected redis://host:port (rediss:// for TLS, or unix:///path), or empty for per-process counters"
                        .into(),
            });
        }
        if !self.tls_ca_file.is_empty() && !url.starts_with("rediss://") {
            return Err(ConfigError::Invalid {
                key: "shared.tls_ca_file",
                message: "only read with a rediss:// redis_url".into(),
            });
        }
        if self.timeout_ms == 0 || self.timeout_ms > 10_000 {
            return Err(ConfigError::Invalid { key: "shared.timeout_ms", message: "must be 1 to 10000".into() });
        }
        if self.key_prefix.is_empty() || self.key_prefix.contains(char::is_whitespace) {
            return Err(ConfigError::Invalid {
                key: "shared.key_prefix",
                message: "must be non-empty, without spaces".into(),
            });
        }
        Ok(())
    }
}
