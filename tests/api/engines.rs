//! Real engines for the tests that need them, run from Debian's packages as in production:
//! each test starts its own server on a free loopback port in a temp dir and stops it when
//! dropped. `tests/engines/install.sh` (the first step of the README's test command)
//! installs the packages; a test that finds one missing fails saying so.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
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

    /// A cluster that also speaks TLS (`ssl = on`) with `cert` and `key` (PEM files): a
    /// client may ask for it (`sslmode=require`) or not.
    pub fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Self {
        let mut pg = Self::start();
        pg.stop();
        let data = pg.data();
        std::fs::copy(cert, data.join("server.crt")).unwrap();
        std::fs::copy(key, data.join("server.key")).unwrap();
        let mut conf = std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf")).unwrap();
        conf.write_all(b"\nssl = on\n").unwrap();
        for file in ["server.crt", "server.key"] {
            let path = data.join(file);
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
            if is_root() {
                let status = Command::new("chown").arg("postgres:postgres").arg(&path).status().unwrap();
                assert!(status.success(), "chown {file} to postgres");
            }
        }
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
        let port = self.port.to_string();
        let ready = || {
            Command::new(pg_binary("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port, "-U", "palisade", "-d", "postgres"])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        wait_until(20, ready, || format!("postgres did not start on port {port}"));
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
    appendfsync: &'static str,
    /// With [`Redis::start_tls`]: the port that speaks TLS only, and the server's
    /// certificate, key and CA (PEM files). `port` stays plain for the tests' own commands.
    pub tls: Option<(u16, [PathBuf; 3])>,
}

impl Redis {
    pub fn start() -> Self {
        Self::start_syncing("always")
    }

    /// With `appendfsync` `always` (every write on disk before its answer: what the tests
    /// stop and start) or `everysec` (the README's production setting, for benchmarks).
    pub fn start_syncing(appendfsync: &'static str) -> Self {
        let mut redis =
            Redis { port: free_port(), dir: tempfile::tempdir().unwrap(), child: None, appendfsync, tls: None };
        redis.resume();
        redis
    }

    /// A server that also listens for TLS on a port of its own (`rediss://`), with `cert`
    /// and `key` signed by `ca` (PEM files); clients present no certificate.
    pub fn start_tls(cert: &std::path::Path, key: &std::path::Path, ca: &std::path::Path) -> Self {
        let tls = Some((free_port(), [cert, key, ca].map(std::path::Path::to_path_buf)));
        let mut redis =
            Redis { port: free_port(), dir: tempfile::tempdir().unwrap(), child: None, appendfsync: "always", tls };
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
            .args(["--appendonly", "yes", "--appendfsync", self.appendfsync])
            .args(self.tls_args())
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_until(10, || self.answers(), || format!("redis-server did not answer on port {}", self.port));
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

    /// Sends one command line; the raw answer.
    pub fn command(&self, line: &str) -> String {
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        s.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 16384];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// How many script calls the server ran (`INFO commandstats`).
    pub fn script_calls(&self) -> u64 {
        let info = self.command("INFO commandstats");
        info.lines()
            .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
            .filter_map(|l| l.split("calls=").nth(1)?.split(',').next()?.parse::<u64>().ok())
            .sum()
    }

    fn tls_args(&self) -> Vec<std::ffi::OsString> {
        let Some((port, [cert, key, ca])) = &self.tls else { return Vec::new() };
        let mut args: Vec<std::ffi::OsString> = vec!["--tls-port".into(), port.to_string().into()];
        for (flag, path) in [("--tls-cert-file", cert), ("--tls-key-file", key), ("--tls-ca-cert-file", ca)] {
            args.extend([flag.into(), path.clone().into_os_string()]);
        }
        args.extend(["--tls-auth-clients".into(), "no".into()]);
        args
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

/// The nginx site the README's production layout installs, which [`Nginx`] runs.
pub const NGINX_SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/nginx-palisade.conf");

/// Debian's nginx running the shipped site ([`NGINX_SITE`]) in front of `upstreams`: its
/// upstream servers become those addresses (with the site's own parameters) and it listens
/// on a free loopback port. Every answer also carries `X-Upstream` (nginx's
/// `$upstream_addr`: the instance that answered, or `a, b` when it tried `a` first), a
/// header the site itself does not send.
pub struct Nginx {
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Nginx {
    pub fn start(upstreams: &[SocketAddr]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let site = site_for(&std::fs::read_to_string(NGINX_SITE).unwrap(), addr, upstreams);
        let root = dir.path().display();
        // Run as root (CI), the master would hand the workers to `nobody`, who cannot
        // enter this private (0700) dir, where nginx keeps request bodies over 16 KiB; as
        // anyone else the workers run as the master's user.
        let user = if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) { "user root;" } else { "" };
        let conf = format!(
            "{user}\nworker_processes 2;\nerror_log {root}/error.log warn;\npid {root}/nginx.pid;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
             access_log off;\n\
             client_body_temp_path {root}/body;\nproxy_temp_path {root}/proxy;\n\
             fastcgi_temp_path {root}/fastcgi;\nuwsgi_temp_path {root}/uwsgi;\nscgi_temp_path {root}/scgi;\n\
             add_header X-Upstream $upstream_addr always;\n\
             {site}\n}}\n"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let mut child = Command::new(binary(&["nginx"]))
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let log = || std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
        let listening = || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("nginx exited ({status}):\n{}", log());
            }
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        };
        wait_until(10, listening, || format!("nginx did not listen on {addr}:\n{}", log()));
        Nginx { addr, dir, child: Some(child) }
    }

    /// What nginx logged (warnings and errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

/// The site's text with its listen lines replaced by one on `addr`, and its upstream
/// servers (`server 127.0.0.1:…`) by one line each for `upstreams`, keeping the first's
/// parameters.
fn site_for(site: &str, addr: SocketAddr, upstreams: &[SocketAddr]) -> String {
    let (mut listens, mut servers, mut out) = (0, 0, Vec::new());
    for line in site.lines() {
        let code = line.trim_start();
        if code.starts_with("listen ") {
            listens += 1;
            if listens == 1 {
                out.push(format!("    listen {addr};"));
            }
        } else if let Some(rest) = code.strip_prefix("server 127.0.0.1:") {
            servers += 1;
            if servers == 1 {
                let params = rest.split_once(' ').map_or(";", |(_, p)| p);
                out.extend(upstreams.iter().map(|u| format!("    server {u} {params}")));
            }
        } else {
            out.push(line.to_string());
        }
    }
    assert!(listens > 0 && servers > 0, "{NGINX_SITE} has no listen or upstream server lines to point at the test's");
    out.join("\n")
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers too (SIGKILL would leave them listening).
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-s", "TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}

/// Polls `ready` until it holds (an engine answers); after `secs`, fails saying `why()`.
fn wait_until(secs: u64, mut ready: impl FnMut() -> bool, why: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "{}", why());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A private CA and a server certificate it signed for `127.0.0.1` and `localhost`, made
/// with Debian's `openssl` in a temp dir; and a second CA that signed nothing here (the
/// wrong one to trust).
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    pub fn make() -> Self {
        let pki = Pki { dir: tempfile::tempdir().unwrap() };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for (name, subject) in [("ca", "/CN=Palisade test CA"), ("other-ca", "/CN=Another CA")] {
            pki.openssl(&["req", "-x509"])
                .args(ec)
                .args(["-keyout", &format!("{name}.key"), "-out", &format!("{name}.pem"), "-days", "2"])
                .args(["-subj", subject, "-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
                .run();
        }
        pki.openssl(&["req"])
            .args(ec)
            .args(["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"])
            .run();
        let ext = "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n\
                   basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n";
        std::fs::write(pki.path("server.ext"), ext).unwrap();
        pki.openssl(&["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key"])
            .args(["-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext"])
            .run();
        // The servers read them as their own users.
        for file in ["server.crt", "server.key", "ca.pem"] {
            std::fs::set_permissions(pki.path(file), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        }
        std::fs::set_permissions(pki.dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        pki
    }

    /// A file of it: `ca.pem`, `other-ca.pem`, `server.crt`, `server.key`.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn openssl(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary(&["openssl"]));
        c.args(args).current_dir(self.dir.path());
        c
    }
}

/// Runs a command to its end, failing with what it printed.
trait Run {
    fn run(&mut self);
}

impl Run for Command {
    fn run(&mut self) {
        let out = self.output().unwrap();
        assert!(out.status.success(), "{:?}: {}", self, String::from_utf8_lossy(&out.stderr));
    }
}
