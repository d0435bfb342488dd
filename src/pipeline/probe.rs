//! The server's own health probe: a per-process random key that lets the watchdog's
//! `GET /health` past the client checks (locks, per-IP throttle, injection scan, proxy
//! header) that exist to stop *clients*. A lock on 127.0.0.1 (a scanner behind a same-host
//! proxy) would otherwise refuse the watchdog, and systemd would restart the service for as
//! long as the lock lasts.
//!
//! The key is made at start from the OS's random source, lives only in this process's memory
//! and is compared in constant time; `Debug` prints nothing. A request without it is any
//! client's, checked as always. Only `/health` honours it, so it grants nothing but a
//! liveness answer.

use subtle::ConstantTimeEq;

/// The header the server's own probe carries (never stored: audit records copy no header).
pub const PROBE_HEADER: &str = "x-palisade-probe";

/// This process's probe key (64 hex digits).
#[derive(Clone)]
pub struct ProbeKey(String);

impl ProbeKey {
    pub fn random() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(hex::encode(bytes))
    }

    /// Whether a presented header value is this key.
    pub fn matches(&self, presented: &[u8]) -> bool {
        presented.len() == self.0.len() && bool::from(presented.ct_eq(self.0.as_bytes()))
    }

    /// The key, for the watchdog's own request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ProbeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProbeKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_key_itself_matches() {
        let k = ProbeKey::random();
        assert!(k.matches(k.expose().as_bytes()));
        assert!(!k.matches(b""));
        assert!(!k.matches(&k.expose().as_bytes()[1..]));
        assert!(!ProbeKey::random().matches(k.expose().as_bytes()));
        assert_eq!(format!("{k:?}"), "ProbeKey(..)");
    }
}
