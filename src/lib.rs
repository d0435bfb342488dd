//! # Palisade
//!
//! A single-binary server that serves a small team's business tables (declared in
//! `data/schema.toml`, stored in an embedded sled database) over REST and GraphQL, behind a
//! security pipeline a reviewer can read top to bottom.
//!
//! ## Layers, lowest first
//!
//! A module imports only from its own layer or a lower one, top-level modules never import
//! each other in a loop, and no two files of one folder import each other (what both need
//! goes into a lower file, like `store/codec.rs` or `api/graphql/node.rs`);
//! `tests/api/architecture.rs` keeps all three true.
//!
//! ```text
//!  0  clock digits error config redact logging notify metrics tls   foundations, no I/O of their own
//!  1  http        route table, bodies (JSON depth, parsed body), query pairs, GraphQL literals
//!  2  limits      counting engines: fixed windows, replay cache (no HTTP)
//!  3  store       sled, read anywhere, written only by store::writer (group commit); indexes;
//!                 audit/ segment files with a hash chain and forward-secure seals; key
//!                 file, locks, counter snapshots
//!  4  schema      the tables, columns, relations, views and index plan of data/schema.toml
//!  5  tokens catalog sandbox tables seed transfer backup   domain rules; `tables` is the one
//!                 write path (`transfer`: import/export, `backup`: archives, both through it
//!                 or the writer)
//!  6  checks      the ordered security checks (locks, injection, honeypot, endpoint limits)
//!  7  pipeline    stage.rs (Stage, Refusal, StageActor) + one file per stage; mod.rs draws
//!                 the order once and calls each decision directly (pipeline::Parts)
//!  8  state       AppState: everything shared, built once
//!  9  api         thin adapters: REST, GraphQL, admin socket, explorer, /metrics
//! 10  housekeeper watchdog connection server cli main   assembly, upkeep and commands
//! ```
//!
//! A request: `connection` (HTTP/1 over a TCP stream whose protocol-level error answers get
//! the same headers and JSON body as the rest) → `pipeline::headers` (outermost: security headers, request id, panics → 500)
//! → `pipeline::run` (shield ▸ checks ▸ CORS preflight ▸ route ▸ auth ▸ CORS origin ▸ rate
//! limit ▸ scope ▸ replay record) → `api::dispatch` → REST or GraphQL → `tables` → `store::writer`; the audit
//! record is finished after the handler and written by `pipeline::audit`'s writer thread.
//!
//! Errors reach clients only through `error::ApiError`; secrets only through the types in
//! `tokens` (whose `Debug` prints nothing) and never reach logs or sled (`redact`).

#![forbid(unsafe_code)]

pub mod api;
pub mod backup;
pub mod catalog;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connection;
pub mod digits;
pub mod error;
pub mod housekeeper;
pub mod http;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod redact;
pub mod sandbox;
pub mod schema;
pub mod seed;
pub mod server;
pub mod state;
pub mod store;
pub mod tables;
pub mod tls;
pub mod tokens;
pub mod transfer;
pub mod watchdog;
