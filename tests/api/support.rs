//! The test harness: `TestApp` starts the real server (real sled in a temp dir, real HTTP
//! on 127.0.0.1:0, an injectable clock) on its own thread; `Req` is a small raw HTTP/1.1
//! client so tests control every byte (chunked bodies, trickling, odd headers).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use palisade::clock::{ManualClock, SharedClock, SystemClock};
use palisade::config::Config;
use palisade::schema::Schema;
use palisade::server::{launch, run_until_stopped, Launch};
use palisade::state::AppState;
use palisade::tokens::TokenSpec;

mod backend;
mod http;
mod spawned;
use backend::on_the_backend_under_test;
pub use backend::{backend_toml, on_postgres, pg_columns, runs_on_the_sled_run};
pub use http::{read_response, KeepAlive, Req, Resp};
pub use spawned::{init_store, Spawned};

/// A created token, its text in the clear (tests send it).
pub struct Created {
    pub id: String,
    pub token: String,
    pub signing_secret: Option<String>,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    pub clock: Option<Arc<ManualClock>>,
    pub dir: tempfile::TempDir,
    /// The `/metrics` listener, when `[metrics] listen` was set.
    pub metrics_addr: Option<SocketAddr>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub struct Builder {
    config: Config,
    schema: Option<String>,
    manual_clock: bool,
    seed: bool,
    dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub fn builder() -> Builder {
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".into();
        config.server.workers = 2;
        config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        config.shield.ip_requests = 100_000;
        config.rate_limit.requests = 10_000;
        config.audit.flush_interval_ms = 20;
        Builder { config, schema: None, manual_clock: false, seed: true, dir: None }
    }

    pub fn start() -> Self {
        Self::builder().start()
    }

    /// Creates a token directly in the running server's registry.
    pub fn token_with(&self, f: impl FnOnce(&mut TokenSpec)) -> Created {
        let mut spec = TokenSpec { name: "tester".into(), ..Default::default() };
        f(&mut spec);
        let c = self.state.tokens.create(&spec, self.state.schema(), self.state.clock.now_ms()).expect("token create");
        Created { id: c.id, token: c.token.expose().to_string(), signing_secret: c.signing_secret }
    }

    /// A token with the given scopes.
    pub fn token(&self, scopes: &[&str]) -> String {
        self.token_with(|s| s.scopes = scopes.iter().map(|x| x.to_string()).collect()).token
    }

    pub fn req(&self, method: &str, path: &str) -> Req {
        Req::to(self.addr, method, path)
    }

    pub fn get(&self, path: &str, token: &str) -> Resp {
        self.req("GET", path).bearer(token).send()
    }

    pub fn manual_clock(&self) -> &ManualClock {
        self.clock.as_deref().expect("built with manual_clock()")
    }

    /// Every audit record written so far (waits for the actors' flush).
    pub fn audit(&self) -> Vec<palisade::store::audit::AuditRecord> {
        std::thread::sleep(Duration::from_millis(150));
        self.state.audit.tail(100_000).unwrap()
    }

    /// Stops the server (flushing state) and hands back the data dir.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.shutdown();
        // Worker threads let go of the shared state (and with it the sled lock) as they
        // wind down; wait for that so the data dir can be reopened at once.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&self.state) > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }

        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    fn shutdown(&mut self) {
        if let Some(t) = self.thread.take() {
            let handle = self.handle.clone();
            futures_lite_block_on(handle.stop(true));
            let _ = t.join();
        }
    }
}

fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    actix_rt::System::new().block_on(f)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Builder {
    pub fn config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }
    pub fn schema(mut self, text: &str) -> Self {
        self.schema = Some(text.into());
        self
    }
    pub fn manual_clock(mut self) -> Self {
        self.manual_clock = true;
        self
    }
    pub fn no_seed(mut self) -> Self {
        self.seed = false;
        self
    }
    /// Reuse a data dir (restart tests).
    pub fn dir(mut self, dir: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    pub fn start(self) -> TestApp {
        self.try_start().map_err(|(e, _)| e).expect("server starts")
    }

    /// Starts, or hands back why not and the data dir (a refused start changes nothing).
    pub fn try_start(self) -> Result<TestApp, (String, tempfile::TempDir)> {
        let dir = self.dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let mut config = self.config;
        config.server.data_dir = dir.path().to_path_buf();
        on_the_backend_under_test(&mut config, &dir);
        let schema = match &self.schema {
            Some(text) => Schema::parse(text).expect("test schema"),
            None => Schema::parse(palisade::schema::EMBEDDED_SCHEMA).unwrap(),
        };
        // A fixed, realistic start time, aligned so window arithmetic is easy to read.
        let manual = self.manual_clock.then(|| Arc::new(ManualClock::new(1_800_000_000_000)));
        let clock: SharedClock = match &manual {
            Some(m) => m.clone(),
            None => Arc::new(SystemClock),
        };
        let seed = self.seed;
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let mut launched = Err(anyhow::anyhow!("not started"));
                // A restarted app may find sled's lock still held for a moment by the previous
                // instance's background flusher.
                for _ in 0..100 {
                    let l = Launch {
                        config: config.clone(),
                        schema: schema.clone(),
                        clock: clock.clone(),
                        seed,
                        handle_signals: false,
                        checks: Vec::new(),
                    };
                    launched = launch(l);
                    match &launched {
                        Err(e) if format!("{e:#}").contains("another palisade") => {
                            actix_rt::time::sleep(Duration::from_millis(50)).await
                        }
                        _ => break,
                    }
                }
                match launched {
                    Ok(running) => {
                        tx.send(Ok((
                            running.addr,
                            running.metrics_addr,
                            running.state.clone(),
                            running.server.handle(),
                        )))
                        .unwrap();
                        run_until_stopped(running).await.unwrap();
                    }
                    Err(e) => tx.send(Err(format!("{e:#}"))).unwrap(),
                }
            })
        });
        let (addr, metrics_addr, state, handle) = match rx.recv().unwrap() {
            Ok(started) => started,
            Err(e) => {
                let _ = thread.join();
                return Err((e, dir));
            }
        };
        Ok(TestApp { addr, state, clock: manual, dir, metrics_addr, handle, thread: Some(thread) })
    }
}
