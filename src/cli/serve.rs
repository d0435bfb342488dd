//! `palisade serve`: runs the server until SIGINT/SIGTERM, then flushes state.

use std::sync::Arc;

use clap::Args;

use super::Context;
use crate::clock::SystemClock;
use crate::server::{launch, run_until_stopped, Launch};

#[derive(Debug, Args)]
pub struct Opts {
    /// Address to listen on (overrides server.listen), e.g. 127.0.0.1:8080 or 127.0.0.1:0.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Do not seed a new, empty data dir with the demo data.
    #[arg(long)]
    no_seed: bool,
}

pub fn run(cx: Context, opts: &Opts) -> anyhow::Result<()> {
    let mut config = cx.config;
    crate::init_logging(&config.log);
    if let Some(listen) = &opts.listen {
        config.server.listen = listen.clone();
    }
    let data_dir = config.server.data_dir.clone();
    actix_rt::System::new().block_on(async move {
        let running = launch(Launch {
            config,
            schema: cx.schema,
            clock: Arc::new(SystemClock),
            seed: !opts.no_seed,
            handle_signals: true,
            checks: Vec::new(),
        })?;
        println!("listening on http://{}", running.addr);
        tracing::info!(listen = %running.addr, data_dir = %data_dir.display(), metrics = ?running.metrics_addr, "palisade started");
        if let Some(rows) = running.seeded {
            println!("seeded {rows} demo rows into {}", data_dir.display());
        }
        if running.state.tokens.is_empty() {
            println!(
                "no tokens yet; create one with: palisade --data-dir {} token create --name demo --scope '*:r'",
                data_dir.display()
            );
        }
        if let Some(addr) = running.metrics_addr {
            println!("metrics on http://{addr}/metrics");
        }
        run_until_stopped(running).await
    })
}
