//! systemd's watchdog (`WatchdogSec=`), fed only while the server really answers.
//!
//! A timer that sends `WATCHDOG=1` proves only that the timer runs. Here each beat is earned:
//! the watchdog asks the server's own listener for `GET /health` over TCP, which goes through
//! an HTTP worker, the pipeline and a round trip through the store's writer (see
//! `api::health`). Only a `200` within a third of the watchdog interval sends `WATCHDOG=1`. A hung
//! writer, a stuck worker pool or a wedged listener therefore stops the beats, and systemd
//! kills and restarts the service (`Restart=on-failure`).
//!
//! The probe carries the process's own [`ProbeKey`] (`X-Palisade-Probe`), random per start and
//! never written anywhere: with it, `/health` skips the client checks (locks, per-IP throttle,
//! injection scan, proxy header), so one scanner that gets 127.0.0.1 locked cannot make the
//! watchdog restart the service for a day. Without it — anyone else — `/health` passes every
//! check as before. The beat still needs the worker, the pipeline and the writer.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::pipeline::probe::PROBE_HEADER;

/// The watchdog interval systemd asked for (`WATCHDOG_USEC`, for this process when
/// `WATCHDOG_PID` is set).
pub fn interval_from_env() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID") {
        if pid.to_string_lossy().parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Where to reach a listener bound to `listen` from this host.
fn reachable(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// What one probe got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Healthy,
    /// Another status, with the error code of its body when it has one.
    Answered {
        status: u16,
        code: Option<String>,
    },
    /// No complete answer within the deadline.
    TimedOut,
    /// The listener could not be reached or the connection broke.
    Failed(String),
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Healthy => f.write_str("200"),
            Probe::Answered { status, code: Some(code) } => write!(f, "answered {status} {code}"),
            Probe::Answered { status, code: None } => write!(f, "answered {status}"),
            Probe::TimedOut => f.write_str("no answer in time"),
            Probe::Failed(e) => write!(f, "could not ask: {e}"),
        }
    }
}

/// One probe of `GET /health` on `listen`, as the process's own (`key`) or as anyone.
pub async fn probe(listen: SocketAddr, deadline: Duration, key: Option<&str>) -> Probe {
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(reachable(listen)).await.map_err(|e| e.to_string())?;
        let own = key.map(|k| format!("{PROBE_HEADER}: {k}\r\n")).unwrap_or_default();
        let request = format!(
            "GET /health HTTP/1.1\r\nHost: localhost\r\nUser-Agent: palisade-watchdog\r\n{own}Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        stream.take(16 * 1024).read_to_end(&mut answer).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(answer)
    };
    match tokio::time::timeout(deadline, ask).await {
        Err(_) => Probe::TimedOut,
        Ok(Err(e)) => Probe::Failed(e),
        Ok(Ok(answer)) => {
            let text = String::from_utf8_lossy(&answer);
            let status = text.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok());
            match status {
                Some(200) => Probe::Healthy,
                Some(status) => {
                    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
                    let code = serde_json::from_str::<serde_json::Value>(body)
                        .ok()
                        .and_then(|v| v["error"]["code"].as_str().map(String::from));
                    Probe::Answered { status, code }
                }
                None => Probe::Failed("not an HTTP answer".into()),
            }
        }
    }
}

/// Whether `GET /health` on `listen` answers 200 within `deadline` (an outside probe).
pub async fn healthy(listen: SocketAddr, deadline: Duration) -> bool {
    probe(listen, deadline, None).await == Probe::Healthy
}

/// Probes every third of the interval (each probe may take a third) and beats only after a
/// healthy answer, so two beats are never more than two thirds of the interval apart. Runs until the
/// process ends; call inside the actix system.
pub fn start(listen: SocketAddr, interval: Duration, key: String, beat: impl Fn() + 'static) {
    let third = interval / 3;
    actix_rt::spawn(async move {
        loop {
            match probe(listen, third, Some(&key)).await {
                Probe::Healthy => beat(),
                other => tracing::error!(got = %other, "watchdog: /health {other}; not telling systemd we are alive"),
            }
            tokio::time::sleep(third).await;
        }
    });
}
