//! # Palisade
//!
//! A single-binary server that serves a small team's business tables (declared in
//! `data/schema.toml`, stored in an embedded sled database) over REST, behind a security
//! pipeline a reviewer can read top to bottom.
//!
//! ```text
//!  main.rs ── cli/ (one file per subcommand) ── server.rs (assembly)
//!                                                  │
//!   HTTP ─▶ pipeline::headers ─▶ pipeline (shield ▸ checks ▸ cors ▸ route ▸ auth ▸ cors ▸
//!           rate_limit ▸ scope ▸ handler ▸ audit) ─▶ api::dispatch ─▶ api::rest | api::graphql
//!                                                  │
//!   admin.sock ─▶ api::admin::execute ◀── cli (when no server runs, directly)
//!                                                  │
//!   state.rs (AppState) ── catalog.rs (who may touch which table) ── tokens.rs
//!   checks/ (security checks chain, injection detector) ── sandbox.rs (PII fakes)
//!   api::rows::present (the one place rows leave: secrets stripped, sandbox applied)
//!   tables.rs (the one write path: REST and GraphQL writes become store ops here)
//!   store/ (sled trees read anywhere, written only by store::writer — group commit;
//!           secondary indexes; audit/ segment files with a hash chain; key file, locks,
//!           seed, counter snapshots, storage health)
//!   watchdog.rs (systemd WATCHDOG=1 only while /health answers through the writer)
//!   schema/ (tables, views, PII kinds) ── clock.rs (injectable time)
//!   housekeeper.rs (sweeps, expiry, retention, snapshots) ── metrics.rs (/metrics listener)
//!   logging.rs (text/JSON, live level) ── notify.rs (systemd readiness)
//! ```
//!
//! Errors reach clients only through `error::ApiError`; secrets only through the types in
//! `tokens` (whose `Debug` prints nothing) and never reach logs or sled (`redact`).

#![forbid(unsafe_code)]

pub mod api;
pub mod catalog;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod housekeeper;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod redact;
pub mod sandbox;
pub mod schema;
pub mod server;
pub mod state;
pub mod store;
pub mod tables;
pub mod tokens;
pub mod watchdog;
