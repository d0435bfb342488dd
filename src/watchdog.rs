//! systemd's watchdog (`WatchdogSec=`), fed only while the server really answers.
//!
//! A timer that sends `WATCHDOG=1` proves only that the timer runs. Here each beat is earned:
//! the watchdog asks the server's own listener for `GET /health` over TCP, which goes through
//! an HTTP worker, the pipeline and a round trip through the store's writer (see
//! `api::health`). Only a `200` within a third of the watchdog interval sends `WATCHDOG=1`. A hung
//! writer, a stuck worker pool or a wedged listener therefore stops the beats, and systemd
//! kills and restarts the service (`Restart=on-failure`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// One probe: whether `GET /health` on `listen` answers 200 within `deadline`.
pub async fn healthy(listen: SocketAddr, deadline: Duration) -> bool {
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(reachable(listen)).await.ok()?;
        let request =
            "GET /health HTTP/1.1\r\nHost: localhost\r\nUser-Agent: palisade-watchdog\r\nConnection: close\r\n\r\n";
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 200"))
    };
    matches!(tokio::time::timeout(deadline, probe).await, Ok(Some(true)))
}

/// Probes every third of the interval (each probe may take a third) and beats only after a
/// healthy answer, so two beats are never more than two thirds of the interval apart. Runs until the
/// process ends; call inside the actix system.
pub fn start(listen: SocketAddr, interval: Duration, beat: impl Fn() + 'static) {
    let third = interval / 3;
    actix_rt::spawn(async move {
        loop {
            if healthy(listen, third).await {
                beat();
            } else {
                tracing::error!("watchdog: /health did not answer in time; not telling systemd we are alive");
            }
            tokio::time::sleep(third).await;
        }
    });
}
