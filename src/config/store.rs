//! `[store]`: where rows, tokens, locks and counter snapshots live. `sled` (the default) is
//! the embedded database in the data dir and needs nothing installed; `postgres` keeps them
//! in PostgreSQL (`url`), so several instances can serve one deployment. Either way the
//! data dir holds the install key, the audit trail and the admin socket. Read at start-up
//! only.

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Sled,
    Postgres,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    pub backend: Backend,
    /// `postgres://user:password@host:port/database` (libpq's URL form); with `backend =
    /// "postgres"` only.
    pub url: String,
    /// Connections to PostgreSQL, each on a thread of its own.
    pub pool_size: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self { backend: Backend::Sled, url: String::new(), pool_size: 8 }
    }
}

impl StoreConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| Err(ConfigError::Invalid { key, message: message.into() });
        match self.backend {
            Backend::Postgres => {
                let url = self.url.trim();
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return invalid(
                        "store.url",
                        "expected postgres://user@host:5432/database with backend = \"postgres\"",
                    );
                }
                let parsed = match url.parse::<postgres::Config>() {
                    Ok(c) => c,
                    Err(e) => return invalid("store.url", &format!("not a PostgreSQL URL: {e}")),
                };
                // Connections are plain TCP or a Unix socket: asking for TLS would only fail
                // later, at every connection, as "the database cannot be reached".
                if !matches!(
                    parsed.get_ssl_mode(),
                    postgres::config::SslMode::Disable | postgres::config::SslMode::Prefer
                ) {
                    return invalid(
                        "store.url",
                        "sslmode asks for TLS, and TLS to PostgreSQL is not built in; keep the database on loopback, a Unix socket or a private network (see README, Running more than one instance)",
                    );
                }
            }
            Backend::Sled if !self.url.trim().is_empty() => {
                return invalid("store.url", "only read with backend = \"postgres\"");
            }
            Backend::Sled => {}
        }
        if self.pool_size == 0 || self.pool_size > 256 {
            return invalid("store.pool_size", "must be 1 to 256");
        }
        Ok(())
    }
}
