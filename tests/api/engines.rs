//! Real engines for the tests that need them, run from Debian's packages as in production:
//! each test starts its own server on a free loopback port in a temp dir and stops it when
//! dropped. `tests/engines/install.sh` (the first step of the README's test command)
//! installs the packages; a test that finds one missing fails saying so.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The first of `names` found in `PATH` or in Debian's own directories.
pub fn binary(names: &[&str]) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = path.split(':').map(PathBuf::from).chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from));
    let dirs: Vec<PathBuf> = dirs.collect();
    for name in names {
        for dir in &dirs {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("{} is not installed: run tests/engines/install.sh (the README's test command does)", names.join(" or "))
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A PostgreSQL cluster of its own: `initdb` in a temp dir, `postgres` on a free loopback
/// port, trust authentication for the role `palisade` on loopback only. As root (CI), both
/// run as the `postgres` user, which owns the directory (PostgreSQL refuses to run as root).
pub struct Postgres {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Postgres {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pg = Postgres { port: free_port(), dir, child: None };
        if is_root() {
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(pg.dir.path()).status().unwrap();
            assert!(status.success(), "chown the cluster's dir to postgres");
        }
        let data = pg.data().to_string_lossy().into_owned();
        let initdb = pg_binary("initdb");
        let out = pg
            .as_owner(&initdb)
            .args(["-D", &data, "-U", "palisade", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "-N"])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let mut pg = pg;
        pg.resume();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `program` as the cluster's owner (`postgres` when this process is root).
    fn as_owner(&self, program: &std::path::Path) -> Command {
        if is_root() {
            // setpriv execs (one process, so signals reach the server itself).
            let mut c = Command::new("setpriv");
            c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// A connection URL for database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://palisade@127.0.0.1:{}/{db}", self.port)
    }

    /// Starts the server (again, after [`Postgres::stop`]) on its port and waits for it.
    /// It runs under a small shell that stops it (fast shutdown) when its standard input
    /// closes: when [`Postgres::stop`] drops the pipe, or when this process ends however it
    /// ends, so no server outlives the tests.
    pub fn resume(&mut self) {
        let script = format!(
            "{} -D '{}' -p {} -h 127.0.0.1 -k '{}' & pid=$!; read _; kill -INT $pid; wait $pid",
            pg_binary("postgres").display(),
            self.data().display(),
            self.port,
            self.dir.path().display()
        );
        let child = self
            .as_owner(std::path::Path::new("/bin/sh"))
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = Command::new(pg_binary("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "palisade", "-d", "postgres"])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "postgres did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The cluster every test of this process shares (started on first use), for the suite
    /// run against the PostgreSQL backend.
    pub fn shared() -> &'static Postgres {
        static SHARED: std::sync::OnceLock<Postgres> = std::sync::OnceLock::new();
        SHARED.get_or_init(Postgres::start)
    }

    /// A new, empty database of its own: its URL.
    pub fn fresh_database(&self) -> String {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("t{}_{n}", std::process::id());
        self.create_database(&name);
        self.url(&name)
    }

    /// Creates database `name` (each test its own).
    pub fn create_database(&self, name: &str) {
        let out = Command::new(pg_binary("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "palisade", name])
            .output()
            .unwrap();
        assert!(out.status.success(), "createdb: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Stops it as systemd does (fast shutdown): committed data stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A PostgreSQL server program from Debian's versioned directory (the newest there).
fn pg_binary(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin").join(name)).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    versions.sort();
    versions.pop().unwrap_or_else(|| binary(&[name]))
}

/// A Redis (or Valkey) server of its own.
pub struct Redis {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Self {
        let mut redis = Redis { port: free_port(), dir: tempfile::tempdir().unwrap(), child: None };
        redis.resume();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again, after [`Redis::stop`]) on its port.
    pub fn resume(&mut self) {
        let child = Command::new(binary(&["valkey-server", "redis-server"]))
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(Instant::now() < deadline, "redis-server did not answer on port {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it as systemd does (SIGTERM): its append-only file keeps every key for
    /// [`Redis::resume`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-s", "TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }

    /// Kills it (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn answers(&self) -> bool {
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 16];
        s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
