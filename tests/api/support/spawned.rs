//! The real `palisade` binary as a child process: CLI commands and `serve`, as an operator
//! (or systemd) runs them.

use std::net::SocketAddr;

use serde_json::Value;

use super::Req;

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
