//! What the benchmarks that start a real server share: its config and its launch.

use std::path::Path;
use std::sync::Arc;

use palisade::clock::SystemClock;
use palisade::config::Config;
use palisade::schema::Schema;
use palisade::server::{launch, Launch, Running};

/// Loopback on a free port, limits out of the load generator's reach, two workers.
pub fn config(dir: &Path) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.server.data_dir = dir.to_path_buf();
    config.shield.ip_requests = u32::MAX;
    config.rate_limit.requests = u32::MAX;
    config.server.workers = 2;
    config
}

/// The real server on the embedded schema and demo data; call inside an actix system.
pub fn launch_demo(config: Config) -> Running {
    let schema = Schema::parse(palisade::schema::EMBEDDED_SCHEMA).unwrap();
    launch(Launch {
        config,
        schema,
        clock: Arc::new(SystemClock),
        seed: true,
        handle_signals: false,
        checks: Vec::new(),
    })
    .unwrap()
}
