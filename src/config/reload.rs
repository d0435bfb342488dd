//! What a SIGHUP may change while the server runs, and what waits for a restart (the
//! caller logs those names): limits and log level are safe to swap mid-flight, listeners,
//! stores and the pipeline's tables are not.

use super::{Config, ShieldConfig};

impl Config {
    /// What a reload (SIGHUP) makes of `new`: the running config with the keys that change
    /// live taken from `new`, and the names of everything else that differs (it takes effect
    /// on restart). Live: `[shield]` limits (not `max_tracked_ips`), `[rate_limit]`
    /// `requests`/`window_secs`, `[public]` `requests`/`window_secs`, `[graphql]`, `[server]` `trusted_proxies` and
    /// `request_timeout_secs`, `[log] level`.
    pub fn reloaded(&self, new: &Config) -> (Config, Vec<&'static str>) {
        let mut next = self.clone();
        next.shield = ShieldConfig { max_tracked_ips: self.shield.max_tracked_ips, ..new.shield.clone() };
        next.rate_limit.requests = new.rate_limit.requests;
        next.rate_limit.window_secs = new.rate_limit.window_secs;
        next.public.requests = new.public.requests;
        next.public.window_secs = new.public.window_secs;
        next.graphql = new.graphql.clone();
        next.server.trusted_proxies = new.server.trusted_proxies.clone();
        next.server.request_timeout_secs = new.server.request_timeout_secs;
        next.log.level = new.log.level.clone();
        let differs = |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
        let pending: [(&'static str, bool); 18] = [
            ("server", differs(&next.server, &new.server)),
            ("shield.max_tracked_ips", next.shield.max_tracked_ips != new.shield.max_tracked_ips),
            ("cors", differs(&next.cors, &new.cors)),
            ("sensitive", differs(&next.sensitive, &new.sensitive)),
            ("auth", differs(&next.auth, &new.auth)),
            ("rate_limit", differs(&next.rate_limit, &new.rate_limit)),
            ("public.max_tracked_clients", differs(&next.public, &new.public)),
            ("audit", differs(&next.audit, &new.audit)),
            ("graphql", false),
            ("checks", differs(&next.checks, &new.checks)),
            ("state", differs(&next.state, &new.state)),
            ("metrics", differs(&next.metrics, &new.metrics)),
            ("log.format", next.log.format != new.log.format),
            ("log.level", false),
            ("limits", differs(&next.limits, &new.limits)),
            ("backup", differs(&next.backup, &new.backup)),
            ("shared", next.shared != new.shared),
            ("store", next.store != new.store),
        ];
        (next, pending.into_iter().filter(|(_, d)| *d).map(|(name, _)| name).collect())
    }
}
