//! Where and how a connection to PostgreSQL is made, parsed once from `[store] url`: the
//! pool's threads and the lock and token feed connect through the same [`Endpoint`]. With
//! `sslmode=require` the connection is TLS and the server's certificate and host name are
//! checked (`crate::tls`: the system's CAs, or `[store] tls_ca_file`); otherwise it is plain
//! TCP or a Unix socket, as libpq's `prefer` would be against a server without TLS.

use std::time::Duration;

use postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How long a connection attempt may take before the database counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A parsed URL and, when it requires TLS, the TLS client to speak it with.
#[derive(Clone)]
pub struct Endpoint {
    config: postgres::Config,
    tls: Option<MakeRustlsConnect>,
}

impl Endpoint {
    /// `url` as libpq reads it; `ca_file` (may be empty) as [`crate::tls::client_config`].
    pub fn new(url: &str, ca_file: &str) -> Result<Self, String> {
        let mut config: postgres::Config = url.parse().map_err(|e| format!("store.url: {e}"))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => {
                let client = crate::tls::client_config("store.tls_ca_file", ca_file)?;
                Some(MakeRustlsConnect::new((*client).clone()))
            }
            _ => None,
        };
        Ok(Self { config, tls })
    }

    /// A new connection.
    pub fn connect(&self) -> Result<Client, postgres::Error> {
        match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        }
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// A connection error with its causes: the client's own text stops at "error performing TLS
/// handshake", and the operator needs the rest ("invalid peer certificate: UnknownIssuer").
pub fn describe(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}
