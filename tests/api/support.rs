//! The test harness: `TestApp` starts the real server (real sled in a temp dir, real HTTP
//! on 127.0.0.1:0, an injectable clock) on its own thread; `Req` is a small raw HTTP/1.1
//! client so tests control every byte (chunked bodies, trickling, odd headers).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use palisade::clock::{ManualClock, SharedClock, SystemClock};
use palisade::config::Config;
use palisade::schema::Schema;
use palisade::server::{launch, run_until_stopped, Launch};
use palisade::state::AppState;
use palisade::tokens::TokenSpec;
use serde_json::Value;

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

/// Whether this run keeps rows on PostgreSQL (`PALISADE_TEST_BACKEND=postgres`). A test of
/// something only the embedded store has (its data dir's disk, its writer thread, rows
/// written by an older version) says so and passes on that run; it runs on the sled run.
pub fn on_postgres(what: &str) -> bool {
    let pg = the_postgres_run();
    if pg {
        eprintln!("sled only, not on the PostgreSQL run: {what}");
    }
    pg
}

/// `PALISADE_TEST_BACKEND=postgres`: the one place that reads it.
fn the_postgres_run() -> bool {
    std::env::var("PALISADE_TEST_BACKEND").as_deref() == Ok("postgres")
}

/// Whether this is the PostgreSQL run, for a test that starts every engine it needs itself
/// (its instances' backend does not depend on the run): it runs once, on the sled run.
pub fn runs_on_the_sled_run() -> bool {
    let pg = the_postgres_run();
    if pg {
        eprintln!("starts its own engines: run once, on the sled run");
    }
    pg
}

/// With `PALISADE_TEST_BACKEND=postgres`, every test app keeps its rows in a database of its
/// own on one PostgreSQL cluster the test process starts (`engines::Postgres::shared`): the
/// same suite, run against the second backend. The database is chosen once per data dir, so
/// a restarted app (or a CLI command given [`backend_toml`]) finds its rows again.
fn on_the_backend_under_test(config: &mut Config, dir: &tempfile::TempDir) {
    if let Some(url) = database_of(dir.path()) {
        config.store.backend = palisade::config::Backend::Postgres;
        config.store.url = url;
        config.store.pool_size = 4;
    }
}

/// The PostgreSQL database of `data_dir` on the PostgreSQL run (made on first use).
fn database_of(data_dir: &std::path::Path) -> Option<String> {
    static DATABASES: std::sync::Mutex<Vec<(std::path::PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
    if !the_postgres_run() {
        return None;
    }
    let mut known = DATABASES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, url)) = known.iter().find(|(d, _)| d == data_dir) {
        return Some(url.clone());
    }
    let url = crate::engines::Postgres::shared().fresh_database();
    known.push((data_dir.to_path_buf(), url.clone()));
    Some(url)
}

/// On the PostgreSQL run, the columns `table` has in the database of `data_dir` (`None` on
/// the sled run, whose rows have no columns).
pub fn pg_columns(data_dir: &std::path::Path, table: &str) -> Option<Vec<String>> {
    let url = database_of(data_dir)?;
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let sql = "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() \
               AND table_name = $1 ORDER BY ordinal_position";
    Some(client.query(sql, &[&table]).unwrap().iter().map(|r| r.get(0)).collect())
}

/// The `[store]` section a config file for `data_dir` needs on this run (empty on the sled
/// run): CLI commands then reach the database the test app of that dir uses.
pub fn backend_toml(data_dir: &std::path::Path) -> String {
    match database_of(data_dir) {
        Some(url) => format!("[store]\nbackend = \"postgres\"\nurl = \"{url}\"\npool_size = 2\n"),
        None => String::new(),
    }
}

/// A raw HTTP/1.1 request.
#[derive(Clone)]
pub struct Req {
    addr: SocketAddr,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    chunks: Option<Vec<Vec<u8>>>,
    source: Option<std::net::IpAddr>,
}

impl Req {
    pub fn to(addr: SocketAddr, method: &str, path: &str) -> Self {
        let (headers, body) = (Vec::new(), Vec::new());
        Req { addr, method: method.into(), path: path.into(), headers, body, chunks: None, source: None }
    }
    /// Connect from this local address (another loopback one, `127.0.0.2`, is a client no
    /// trusted-proxy list names).
    pub fn from(mut self, source: std::net::IpAddr) -> Self {
        self.source = Some(source);
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }
    pub fn client_ip(self, ip: &str) -> Self {
        self.header("X-Forwarded-For", ip)
    }
    pub fn json(self, v: &Value) -> Self {
        self.header("Content-Type", "application/json").body(v.to_string().into_bytes())
    }
    pub fn body(mut self, b: Vec<u8>) -> Self {
        self.body = b;
        self
    }
    /// Send the body with `Transfer-Encoding: chunked`, in these chunks.
    pub fn chunked(mut self, chunks: Vec<Vec<u8>>) -> Self {
        self.chunks = Some(chunks);
        self
    }

    pub fn head_bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\nConnection: close\r\n", self.method, self.path);
        if !self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            head.push_str(&format!("Host: {}\r\n", self.addr));
        }
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if self.chunks.is_some() {
            head.push_str("Transfer-Encoding: chunked\r\n");
        } else if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    pub fn send(&self) -> Resp {
        self.try_send().expect("a response")
    }

    /// `None` when the server cannot be reached or closes without a complete answer.
    pub fn try_send(&self) -> Option<Resp> {
        let mut stream = match self.source {
            None => TcpStream::connect(self.addr).ok()?,
            Some(source) => {
                let socket = socket2::Socket::new(socket2::Domain::for_address(self.addr), socket2::Type::STREAM, None);
                let socket = socket.ok()?;
                socket.bind(&SocketAddr::new(source, 0).into()).ok()?;
                socket.connect(&self.addr.into()).ok()?;
                socket.into()
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let mut out = self.head_bytes();
        match &self.chunks {
            Some(chunks) => {
                for c in chunks {
                    out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    out.extend_from_slice(c);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
            None => out.extend_from_slice(&self.body),
        }
        // The server may answer (413) and close before reading everything: ignore write errors.
        let _ = stream.write_all(&out);
        try_read_response(&mut stream)
    }
}

/// Reads and parses one response until the server closes the connection.
pub fn read_response(stream: &mut TcpStream) -> Resp {
    try_read_response(stream).expect("a complete response")
}

fn try_read_response(stream: &mut TcpStream) -> Option<Resp> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) if !raw.is_empty() => break,
            Err(_) => return None,
        }
    }
    Resp::parse(&raw)
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn parse(raw: &[u8]) -> Option<Self> {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
            body = dechunk(&body);
        }
        Some(Resp { status, headers, body })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error code of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_string()
    }

    /// Asserts the six contract headers (and the two extra ones) are present.
    pub fn assert_security_headers(&self) {
        for (k, v) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
            ("x-xss-protection", "0"),
            ("cache-control", "no-store, no-cache, must-revalidate, max-age=0"),
            ("pragma", "no-cache"),
            ("cross-origin-resource-policy", "same-origin"),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-embedder-policy", "require-corp"),
        ] {
            assert_eq!(self.header(k), Some(v), "header {k} on a {} response", self.status);
        }
        assert!(self.header("content-security-policy").is_some(), "CSP on a {} response", self.status);
        assert!(self.header("permissions-policy").is_some_and(|p| p.contains("camera=()")), "Permissions-Policy");
        assert!(self.header("server").is_none());
        assert!(self.header("x-request-id").is_some());
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
    out
}

/// Makes an empty store in `dir`, as the first `serve` does: admin commands refuse a
/// directory without one.
pub fn init_store(dir: &std::path::Path) {
    let store = palisade::store::Store::open(dir, &Default::default(), Default::default()).expect("store");
    drop(store);
}

/// The real `palisade` binary, run as a child process on a data dir.
pub struct Spawned {
    pub child: std::process::Child,
    pub addr: SocketAddr,
}

impl Spawned {
    /// Runs `palisade` with this data dir and config (a CLI command, not `serve`).
    pub fn cli(dir: &std::path::Path, config: &std::path::Path, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(dir)
            .args(args)
            .output()
            .unwrap()
    }

    /// `token create ... --json`; returns the token.
    pub fn create_token(dir: &std::path::Path, config: &std::path::Path, args: &[&str]) -> String {
        let out = Self::cli(dir, config, &[&["token", "create"], args, &["--json"]].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"].as_str().unwrap().to_string()
    }

    /// Starts `palisade serve --listen 127.0.0.1:0` and waits for its address.
    pub fn serve(dir: &std::path::Path, config: &std::path::Path) -> Self {
        Self::serve_logging_to(dir, config, std::process::Stdio::null())
    }

    /// The same, with the server's stderr (its log) going to `log`.
    pub fn serve_logging_to(
        dir: &std::path::Path,
        config: &std::path::Path,
        log: impl Into<std::process::Stdio>,
    ) -> Self {
        Self::serve_with(dir, config, log, &[])
    }

    /// The same, with extra environment variables.
    pub fn serve_with(
        dir: &std::path::Path,
        config: &std::path::Path,
        log: impl Into<std::process::Stdio>,
        env: &[(&str, &str)],
    ) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
            .envs(env.iter().copied())
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("serve prints its address").unwrap();
        let addr = first.strip_prefix("listening on http://").unwrap_or_else(|| panic!("{first}")).parse().unwrap();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Spawned { child, addr }
    }

    pub fn req(&self, method: &str, path: &str) -> Req {
        Req::to(self.addr, method, path)
    }

    /// Sends a signal (by name, as `kill -s` takes it) and waits for the exit status.
    pub fn signal(mut self, name: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(std::process::Command::new("kill").args(["-s", name, &pid]).status().unwrap().success());
        self.child.wait().unwrap()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One persistent HTTP/1.1 connection for many requests (floods, where a connection per
/// request would exhaust ephemeral ports).
pub struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Where it connects, and how long it waits (to connect again after `Connection: close`).
    addr: SocketAddr,
    timeout: Duration,
    /// The last answer said `Connection: close` (a proxy ends keep-alive connections after
    /// so many requests): the next request goes on a new connection.
    closing: bool,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> Self {
        Self::try_connect(addr, Duration::from_secs(30)).expect("connect")
    }

    /// `None` when the server cannot be reached; reads give up after `timeout`.
    pub fn try_connect(addr: SocketAddr, timeout: Duration) -> Option<Self> {
        let stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
        stream.set_read_timeout(Some(timeout)).ok()?;
        stream.set_nodelay(true).ok()?;
        Some(Self { stream, buf: Vec::new(), addr, timeout, closing: false })
    }

    /// Sends a body-less request with these extra header lines; returns the status, or
    /// `None` when the server closed the connection.
    pub fn get(&mut self, path: &str, headers: &str) -> Option<u16> {
        self.send("GET", path, headers, b"").map(|(status, _)| status)
    }

    /// Sends any request (a `Content-Length` is added for a body); returns status and body.
    pub fn send(&mut self, method: &str, path: &str, headers: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
        if self.closing {
            *self = Self::try_connect(self.addr, self.timeout)?;
        }
        let length = if body.is_empty() { String::new() } else { format!("Content-Length: {}\r\n", body.len()) };
        let mut out = format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}{length}\r\n").into_bytes();
        out.extend_from_slice(body);
        self.stream.write_all(&out).ok()?;
        let mut chunk = [0u8; 16384];
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let status = head.split(' ').nth(1)?.parse().ok()?;
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while self.buf.len() < end + 4 + length {
                    let n = self.stream.read(&mut chunk).ok()?;
                    if n == 0 {
                        return None;
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                let body = self.buf[end + 4..end + 4 + length].to_vec();
                self.buf.drain(..end + 4 + length);
                self.closing = head.lines().any(|l| l.starts_with("connection:") && l.contains("close"));
                return Some((status, body));
            }
            let n = self.stream.read(&mut chunk).ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
