//! `palisade serve`: runs the server until SIGINT/SIGTERM, then flushes state. Under systemd
//! (`Type=notify`) it reports `READY=1` once the listener is bound, `STOPPING=1` on the way
//! out, and `RELOADING=1`…`READY=1` around a SIGHUP reload. With `WatchdogSec=` it sends
//! `WATCHDOG=1` only while its own `/health` answers (see `watchdog`).
//!
//! SIGHUP reads the config file again. An invalid file is refused (logged; the running config
//! stays). The keys listed at `Config::reloaded` (shield limits, default token rate, GraphQL
//! limits, trusted proxies, request timeout, log level) take effect at once, for the next
//! request; the log names the sections that changed but need a restart. A restart is cheap:
//! in-flight requests finish, counters are snapshotted and restored, so no quota is handed
//! out afresh.

use std::sync::Arc;

use clap::Args;

use super::Context;
use crate::clock::SystemClock;
use crate::config::LiveConfig;
use crate::notify::{notify, reloading};
use crate::server::{launch, run_until_stopped, Launch, Seeding};

#[derive(Debug, Args)]
pub struct Opts {
    /// Address to listen on (overrides server.listen), e.g. 127.0.0.1:8080, localhost:8080 or
    /// 127.0.0.1:0.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Do not seed a new, empty data dir with the demo data.
    #[arg(long)]
    no_seed: bool,
}

pub fn run(cx: Context, opts: &Opts) -> anyhow::Result<()> {
    let mut config = cx.config.clone();
    crate::logging::init(&config.log);
    if let Some(listen) = &opts.listen {
        config.server.listen = listen.clone();
    }
    let data_dir = config.server.data_dir.clone();
    if config.rate_limit.decision_deadline_ms.is_some() {
        tracing::warn!("[rate_limit] decision_deadline_ms is ignored (stage decisions are direct calls); remove it");
    }
    actix_rt::System::new().block_on(async move {
        let running = launch(Launch {
            config,
            schema: cx.schema.clone(),
            clock: Arc::new(SystemClock),
            seed: !opts.no_seed,
            handle_signals: true,
            checks: Vec::new(),
        })?;
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        println!("listening on http://{}", running.addr);
        let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let config_file = cx.config_file.clone().or_else(|| {
            let default = std::path::PathBuf::from(crate::config::DEFAULT_CONFIG_PATH);
            default.exists().then_some(default)
        });
        let shown = |p: Option<&std::path::Path>, none: &str| p.map_or(none.to_string(), |p| absolute(p).display().to_string());
        let (config_shown, schema_shown) =
            (shown(config_file.as_deref(), "built-in defaults"), shown(cx.schema_file.as_deref(), "built-in demo schema"));
        let data_shown = absolute(&data_dir).display().to_string();
        println!("config {config_shown}; schema {schema_shown}; data dir {data_shown}");
        tracing::info!(config = %config_shown, schema = %schema_shown, data_dir = %data_shown, "files in use");
        match running.seeded {
            Seeding::Seeded(rows) => println!("seeded {rows} demo rows into {}", data_dir.display()),
            Seeding::NotDemoSchema => {
                println!("the schema is not the demo's own: the new data dir starts empty (nothing seeded)")
            }
            Seeding::No => {}
        }
        if running.state.tokens.is_empty() {
            println!(
                "no tokens yet; create one with: palisade --data-dir {} token create --name demo --scope '*:r'",
                data_dir.display()
            );
        }
        for view in running.state.catalog.public_views() {
            println!("warning: public view {view} is served without a token at /api/v1/views/{view}");
            tracing::warn!(view = %view, "public view served without a token");
        }
        if let Some(addr) = running.metrics_addr {
            println!("metrics on http://{addr}/metrics");
        }
        println!("API explorer: http://{}/explorer", running.addr);
        println!("stop with Ctrl-C (or SIGTERM): requests in flight finish, state is flushed");
        tracing::info!(listen = %running.addr, data_dir = %data_dir.display(), metrics = ?running.metrics_addr, "palisade started");
        notify(&format!("READY=1\nSTATUS=listening on {}", running.addr));
        if let Some(interval) = crate::watchdog::interval_from_env() {
            tracing::info!(interval_ms = interval.as_millis() as u64, "systemd watchdog on: beats follow /health");
            let key = running.state.pipeline.probe.expose().to_string();
            crate::watchdog::start(running.addr, interval, key, || {
                notify("WATCHDOG=1");
            });
        }
        let live = running.state.config.clone();
        actix_rt::spawn(async move {
            while hangup.recv().await.is_some() {
                reload(&cx, &live);
            }
        });
        let result = run_until_stopped(running).await;
        notify("STOPPING=1");
        result
    })
}

/// One SIGHUP.
fn reload(cx: &Context, live: &LiveConfig) {
    notify(&reloading());
    match cx.reload_config() {
        Err(e) => tracing::error!(error = %format!("{e:#}"), "reload refused; the running config stays"),
        Ok(mut new) => {
            let current = live.get();
            // `--listen` given on the command line still wins.
            new.server.listen = current.server.listen.clone();
            let (next, pending) = current.reloaded(&new);
            if next.log.level != current.log.level && crate::logging::set_level(&next.log.level) {
                tracing::info!(level = %next.log.level, "log level changed");
            }
            live.set(next);
            if pending.is_empty() {
                tracing::info!("config reloaded");
            } else {
                tracing::warn!(sections = ?pending, "config reloaded; these sections change only on restart");
            }
        }
    }
    notify("READY=1");
}
