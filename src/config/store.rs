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
    /// With `sslmode=require` in `url`: a PEM file of the CAs to trust instead of the
    /// system's (see `tls`).
    pub tls_ca_file: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self { backend: Backend::Sled, url: String::new(), pool_size: 8, tls_ca_file: String::new() }
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
                // TLS is spoken when the URL requires it, and then the certificate is
                // checked (see `tls`); `prefer` (libpq's default) connects in plain, since a
                // certificate that cannot be checked would stop a working setup.
                let tls = parsed.get_ssl_mode() == postgres::config::SslMode::Require;
                if !self.tls_ca_file.is_empty() && !tls {
                    return invalid("store.tls_ca_file", "only read with sslmode=require in store.url");
                }
            }
            Backend::Sled if !self.url.trim().is_empty() || !self.tls_ca_file.is_empty() => {
                return invalid("store.url", "url and tls_ca_file are only read with backend = \"postgres\"");
            }
            Backend::Sled => {}
        }
        if self.pool_size == 0 || self.pool_size > 256 {
            return invalid("store.pool_size", "must be 1 to 256");
        }
        Ok(())
    }
}
