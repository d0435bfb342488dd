//! Server assembly: open the store, seed a fresh one, build the shared state, wire the
//! middleware stack in order, bind, and start the admin socket and the housekeeper.
//! Used by `palisade serve` and by the integration tests (which inject a clock).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use actix_web::{web, App};
use anyhow::Context as _;

use crate::api;
use crate::api::graphql::GraphqlApi;
use crate::checks::SecurityCheck;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::connection::{self, Listening};
use crate::housekeeper::Housekeeper;
use crate::pipeline::audit::{AuditWriter, Shutdown};
use crate::pipeline::headers::SecurityHeaders;
use crate::pipeline::Pipeline;
use crate::schema::Schema;
use crate::seed;
use crate::state::AppState;
use crate::store::Store;

/// What to start.
pub struct Launch {
    pub config: Config,
    pub schema: Schema,
    pub clock: SharedClock,
    /// Seed an empty data dir with the demo data.
    pub seed: bool,
    /// Let actix stop on SIGINT/SIGTERM (off in tests).
    pub handle_signals: bool,
    /// Extra security checks, registered by name for `[checks] chain`.
    pub checks: Vec<Arc<dyn SecurityCheck>>,
}

/// What happened to a fresh data dir's demo rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeding {
    /// Not a fresh data dir, or seeding was turned off.
    No,
    /// This many demo rows were written.
    Seeded(usize),
    /// The schema is not the demo's own: the data dir starts empty.
    NotDemoSchema,
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    pub server: actix_web::dev::Server,
    /// Whether a fresh data dir was seeded with the demo rows.
    pub seeded: Seeding,
    pub audit_writer: Addr<AuditWriter>,
    /// Where `GET /metrics` is served, when `[metrics] listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    metrics: Option<actix_web::dev::Server>,
}

/// The file beside the database that names the serving process, so a second server on the
/// same data dir can say who holds it.
pub const PID_FILE: &str = "palisade.pid";

/// How long a stopping server lets in-flight requests finish. Under load, keep-alive clients
/// keep their connections busy to the end of it; the bound for SIGTERM is 5 s.
const SHUTDOWN_GRACE_SECS: u64 = 3;

/// Why the data dir cannot be opened, in one line: another server holds it (named by its pid
/// file), or the store's own error.
pub fn open_error(data_dir: &std::path::Path, e: crate::store::StoreError) -> anyhow::Error {
    let shown = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    if !e.is_locked() {
        return anyhow::anyhow!("cannot open data dir {}: {e}", shown.display());
    }
    let pid = std::fs::read_to_string(data_dir.join(PID_FILE)).ok().and_then(|p| p.trim().parse::<u32>().ok());
    match pid {
        Some(pid) => anyhow::anyhow!("another palisade is serving {} (pid {pid})", shown.display()),
        None => anyhow::anyhow!("another palisade process has {} open; try again when it is done", shown.display()),
    }
}

/// Binds the listener; a port in use is said so, in one line.
fn bind(listen: &str) -> anyhow::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(listen).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            anyhow::anyhow!("cannot listen on {listen}: the address is already in use (another server?)")
        }
        _ => anyhow::anyhow!("cannot listen on {listen}: {e}"),
    })
}

/// HTTP worker threads: `[server] workers`, or one per core. On PostgreSQL a read waits for
/// the database on its worker thread (the store's read interface is synchronous), so the
/// default there is at least one worker per connection of the pool.
fn workers(config: &crate::config::Config) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match (config.server.workers, config.store.backend) {
        (0, crate::config::Backend::Postgres) => cores.max(config.store.pool_size),
        (0, crate::config::Backend::Sled) => cores,
        (n, _) => n,
    }
}

/// Starts everything; call inside an actix `System`.
pub fn launch(l: Launch) -> anyhow::Result<Running> {
    l.config.validate()?;
    let data_dir = l.config.server.data_dir.clone();
    // First: a port in use then leaves nothing to wind down (no actor, no thread) and no
    // data dir created.
    let listen = l.config.server.listen.clone();
    let listener = bind(&listen)?;
    let (plan, layout) = (l.schema.index_plan(), l.schema.pg_layout());
    let store = Store::open_with(&data_dir, &l.config.state, &l.config.store, plan, layout)
        .map_err(|e| open_error(&data_dir, e))?;
    let fresh = store.is_empty();
    let mut schema = l.schema;
    // The data follows the schema file before anything is served (see `schema::migrate`).
    crate::schema::migrate::apply(&store, &mut schema)?;
    let seeded = match (l.seed && fresh, seed::is_demo_schema(&schema)) {
        (true, true) => Seeding::Seeded(
            seed::seed_demo(&store, &schema).map_err(|e| anyhow::anyhow!("seeding demo data: {}", e.message))?,
        ),
        (true, false) => Seeding::NotDemoSchema,
        (false, _) => Seeding::No,
    };
    if let Err(e) = std::fs::write(data_dir.join(PID_FILE), format!("{}\n", std::process::id())) {
        tracing::warn!(error = %e, "pid file not written");
    }
    // Before the audit trail opens (and its compressor starts).
    crate::store::audit::segments::remove_stale_tmp(&data_dir.join("audit"));
    let state = Arc::new(AppState::with_checks(l.config.clone(), schema, store, l.clock, l.checks)?);
    state.store.restore_counters(&state.counters(), state.clock.now_ms())?;
    let audit_writer = AuditWriter::start(state.audit.clone(), state.pipeline.audit_names.clone(), state.clock.clone());
    state.stages().start_actors(&state.clock);
    let graphql = web::Data::new(GraphqlApi::new(state.catalog.clone()));
    let factory_state = state.clone();
    let factory_writer = audit_writer.clone();
    let addr = listener.local_addr().context("listener has no address")?;
    let how = Listening {
        workers: workers(&l.config),
        handle_signals: l.handle_signals,
        shutdown_timeout_secs: l.config.server.request_timeout_secs.min(SHUTDOWN_GRACE_SECS),
    };
    let server = connection::serve(listener, how, move || {
        let state = factory_state.clone();
        // Outermost last: SecurityHeaders wraps the Pipeline, which wraps the dispatcher.
        App::new()
            .app_data(web::Data::from(state.clone()))
            .app_data(graphql.clone())
            .default_service(web::to(api::dispatch))
            .wrap(Pipeline::new(state.pipeline.clone(), factory_writer.clone()))
            .wrap(SecurityHeaders)
    })
    .with_context(|| format!("cannot serve on {listen}"))?;
    state.stages().cors.listening_on(addr);
    let (metrics_addr, metrics) = match metrics_listener(&state)? {
        Some((addr, server)) => (Some(addr), Some(server)),
        None => (None, None),
    };
    api::admin::listen(&Store::admin_socket_path(&data_dir), state.clone())
        .with_context(|| format!("cannot open admin socket in {}", data_dir.display()))?;
    Housekeeper::new(state.clone(), audit_writer.clone()).start();
    Ok(Running { addr, state, server, seeded, audit_writer, metrics_addr, metrics })
}

/// The separate `/metrics` listener (one worker, no token, loopback by config validation).
fn metrics_listener(state: &Arc<AppState>) -> anyhow::Result<Option<(SocketAddr, actix_web::dev::Server)>> {
    let listen = state.config.get().metrics.listen.clone();
    if listen.is_empty() {
        return Ok(None);
    }
    let state = state.clone();
    let listener =
        std::net::TcpListener::bind(&listen).with_context(|| format!("cannot listen for metrics on {listen}"))?;
    let addr = listener.local_addr().context("metrics listener has no address")?;
    let how = Listening { workers: 1, handle_signals: false, shutdown_timeout_secs: 1 };
    let server = connection::serve(listener, how, move || {
        App::new()
            .app_data(web::Data::from(state.clone()))
            .default_service(web::to(crate::api::metrics::endpoint))
            .wrap(SecurityHeaders)
    })?;
    Ok(Some((addr, server)))
}

/// The server stopped because sled failed a write (see `store::health`); `palisade serve`
/// exits with status 75 (EX_TEMPFAIL) so the service manager restarts it.
#[derive(Debug, thiserror::Error)]
#[error("storage failed; restart to recover on the last durable state")]
pub struct StorageFailed;

impl StorageFailed {
    pub const EXIT: i32 = 75;
}

/// Waits for the server to stop (or for storage to fail), then makes everything durable.
pub async fn run_until_stopped(running: Running) -> anyhow::Result<()> {
    let Running { state, server, audit_writer, metrics, .. } = running;
    let handle = server.handle();
    let metrics_handle = metrics.map(|m| {
        let h = m.handle();
        actix_rt::spawn(m);
        h
    });
    let failed = async {
        while !state.store.health.failed() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        tracing::error!("storage failed; stopping so the service manager restarts on the last durable state");
    };
    let result = tokio::select! {
        r = server => r,
        () = failed => {
            handle.stop(true).await;
            Ok(())
        }
    };
    tracing::info!("listener stopped; flushing state");
    // Workers are gone and their audit actors have handed over what they held; wait until
    // the writer has stored it, then sync the store.
    if let Some(h) = metrics_handle {
        h.stop(true).await;
    }
    let _ = audit_writer.send(Shutdown).await;
    if state.store.health.failed() {
        // sled keeps a failed write's error for good; a flush now could stall. Everything
        // acknowledged is already durable.
        return Err(StorageFailed.into());
    }
    Housekeeper::snapshot(&state);
    let _ = std::fs::remove_file(Store::admin_socket_path(&state.store.data_dir));
    let _ = std::fs::remove_file(state.store.data_dir.join(PID_FILE));
    result.context("server failed")
}
