//! Logging: `tracing` to stderr (journald under systemd), as text or one JSON object per line
//! (`[log] format`), coloured only when stderr is a terminal. The level filter stays swappable so SIGHUP can apply a new `[log] level`.
//! Nothing secret is ever logged: tokens, signatures and client IPs never reach a log call
//! (locks are logged by their keyed IP hash).

use std::sync::OnceLock;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

type SetFilter = Box<dyn Fn(EnvFilter) -> bool + Send + Sync>;
static SET_FILTER: OnceLock<SetFilter> = OnceLock::new();

/// Installs the global subscriber (`RUST_LOG` overrides `[log] level` at start).
pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    // Colour codes only for a person at a terminal: journald and files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match log.format {
        LogFormat::Json => {
            let builder = builder.json().flatten_event(true).with_current_span(false).with_filter_reloading();
            let handle = builder.reload_handle();
            if builder.try_init().is_ok() {
                let _ = SET_FILTER.set(Box::new(move |f| handle.reload(f).is_ok()));
            }
        }
        LogFormat::Text => {
            let builder = builder.with_filter_reloading();
            let handle = builder.reload_handle();
            if builder.try_init().is_ok() {
                let _ = SET_FILTER.set(Box::new(move |f| handle.reload(f).is_ok()));
            }
        }
    }
}

/// Applies a new level filter (validated by `Config::validate`); `false` if logging was not
/// initialised here or the filter is invalid.
pub fn set_level(level: &str) -> bool {
    match (SET_FILTER.get(), EnvFilter::try_new(level)) {
        (Some(set), Ok(filter)) => set(filter),
        _ => false,
    }
}
