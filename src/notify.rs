//! systemd's readiness protocol (`sd_notify`), without libsystemd: one datagram to the socket
//! named by `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace). Outside systemd
//! the variable is unset and every call is a no-op.

use std::os::unix::net::UnixDatagram;

/// Sends `state` (e.g. `READY=1`); `false` when not under systemd or the send failed.
pub fn notify(state: &str) -> bool {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else { return false };
    let Ok(socket) = UnixDatagram::unbound() else { return false };
    let target = target.to_string_lossy().into_owned();
    let sent = match target.strip_prefix('@') {
        Some(name) => abstract_addr(name).and_then(|addr| socket.send_to_addr(state.as_bytes(), &addr)),
        None => socket.send_to(state.as_bytes(), &target),
    };
    if let Err(e) = &sent {
        tracing::warn!(error = %e, socket = %target, "sd_notify failed");
    }
    sent.is_ok()
}

#[cfg(target_os = "linux")]
fn abstract_addr(name: &str) -> std::io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
}

#[cfg(not(target_os = "linux"))]
fn abstract_addr(_: &str) -> std::io::Result<std::os::unix::net::SocketAddr> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "abstract sockets need Linux"))
}

/// `RELOADING=1` with the monotonic timestamp systemd's `Type=notify-reload` asks for.
pub fn reloading() -> String {
    let now = nix_monotonic_usec();
    format!("RELOADING=1\nMONOTONIC_USEC={now}")
}

fn nix_monotonic_usec() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reloading_carries_a_monotonic_timestamp() {
        let msg = super::reloading();
        let usec: u64 = msg.strip_prefix("RELOADING=1\nMONOTONIC_USEC=").unwrap().parse().unwrap();
        assert!(usec > 0);
    }
}
