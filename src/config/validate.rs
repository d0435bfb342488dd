//! The checks a config passes before anything listens: each refusal names the key, so a
//! config that would misbehave (a zero window, a wildcard origin, a metrics endpoint open to
//! the network) stops the start instead of turning a protection off.

use std::net::SocketAddr;

use super::{Config, ConfigError};

impl Config {
    /// Refuses configurations that would misbehave, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| Err(ConfigError::Invalid { key, message: message.into() });
        // A host name (`localhost:8080`) is resolved as the listener will resolve it.
        if std::net::ToSocketAddrs::to_socket_addrs(self.server.listen.as_str())
            .map_or(true, |mut a| a.next().is_none())
        {
            return invalid("server.listen", "expected an address like 127.0.0.1:8080 or localhost:8080");
        }
        if !(16..=128).contains(&self.checks.ipv6_prefix) {
            return invalid("checks.ipv6_prefix", "must be between 16 and 128");
        }
        if self.checks.ipv6_wide_prefix == 0 || self.checks.ipv6_wide_prefix > self.checks.ipv6_prefix {
            return invalid("checks.ipv6_wide_prefix", "must be positive and at most checks.ipv6_prefix");
        }
        if self.checks.ipv6_wide_multiple == 0 {
            return invalid("checks.ipv6_wide_multiple", "must be at least 1");
        }
        if self.checks.max_locks == 0 {
            return invalid("checks.max_locks", "must be positive");
        }
        if self.checks.prefix_lock_after == 1 {
            return invalid("checks.prefix_lock_after", "must be 0 (off) or at least 2");
        }
        let url = self.server.public_url.trim();
        let authority = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
        if !url.is_empty()
            && authority.is_none_or(|a| a.split('/').next().is_none_or(str::is_empty) || a.contains(['*', ' ']))
        {
            return invalid("server.public_url", "expected http(s)://host[:port], e.g. https://api.example.com");
        }
        if !self.metrics.listen.is_empty() {
            match self.metrics.listen.parse::<SocketAddr>() {
                Err(_) => return invalid("metrics.listen", "expected an address like 127.0.0.1:9898, or empty for off"),
                Ok(a) if !a.ip().is_loopback() && !self.metrics.allow_remote => {
                    return invalid("metrics.listen", "must be a loopback address (the endpoint has no authentication); set metrics.allow_remote = true to override")
                }
                Ok(_) => {}
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid("log.level", "expected a tracing filter such as info or palisade=debug");
        }
        if self.server.request_timeout_secs == 0 {
            return invalid("server.request_timeout_secs", "must be at least 1");
        }
        let s = &self.shield;
        if s.max_body_bytes == 0 || s.max_json_depth == 0 || s.max_query_bytes == 0 {
            return invalid("shield", "max_body_bytes, max_json_depth and max_query_bytes must be positive");
        }
        if s.ip_requests == 0 || s.ip_window_secs == 0 {
            return invalid("shield.ip_requests", "ip_requests and ip_window_secs must be positive");
        }
        if s.max_tracked_ips == 0 {
            return invalid("shield.max_tracked_ips", "must be positive");
        }
        if self.rate_limit.requests == 0 || self.rate_limit.window_secs == 0 {
            return invalid("rate_limit.requests", "requests and window_secs must be positive");
        }
        if self.public.requests == 0 || self.public.window_secs == 0 || self.public.max_tracked_clients == 0 {
            return invalid("public.requests", "requests, window_secs and max_tracked_clients must be positive");
        }
        if self.auth.replay_window_secs == 0 || self.auth.max_replay_entries == 0 {
            return invalid("auth.replay_window_secs", "replay window and capacity must be positive");
        }
        for origin in &self.cors.allowed_origins {
            if origin == "*" || !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return invalid(
                    "cors.allowed_origins",
                    &format!("{origin:?} is not an origin like https://app.example.com (no wildcards)"),
                );
            }
        }
        if self.audit.max_bytes == 0 || self.audit.segment_bytes == 0 || self.audit.flush_interval_ms == 0 {
            return invalid("audit.max_bytes", "max_bytes, segment_bytes and flush_interval_ms must be positive");
        }
        if self.audit.seal_epoch_secs == 0 {
            return invalid("audit.seal_epoch_secs", "must be positive");
        }
        let instance = &self.audit.instance;
        if instance.len() > 64 || !instance.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return invalid("audit.instance", "at most 64 letters, digits, '-', '_' or '.' (e.g. \"a\"), or empty");
        }
        if self.checks.lock_secs == 0
            || self.checks.brute_force.window_secs == 0
            || self.checks.brute_force.lock_secs == 0
        {
            return invalid("checks.lock_secs", "lock and window durations must be positive");
        }
        for e in &self.checks.endpoints {
            if !e.path.starts_with('/') {
                return invalid("checks.endpoints.path", &format!("{:?} must start with /", e.path));
            }
            if e.max_requests_per_minute == Some(0) {
                return invalid("checks.endpoints.max_requests_per_minute", "must be positive");
            }
        }
        if self.state.snapshot_interval_ms == 0 {
            return invalid("state.snapshot_interval_ms", "must be positive");
        }
        if self.graphql.max_depth == 0 || self.graphql.max_complexity == 0 {
            return invalid("graphql.max_depth", "max_depth and max_complexity must be positive");
        }
        if self.graphql.max_rows == 0 {
            return invalid("graphql.max_rows", "max_rows must be positive");
        }
        self.limits.validate()?;
        self.backup.validate()?;
        self.shared.validate()?;
        self.store.validate()?;
        Ok(())
    }
}
