//! The client address every stage sees, resolved once per request.
//!
//! It is the socket peer, unless the peer is a trusted proxy (`server.trusted_proxies`):
//! then it is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
//! Entries left of that are written by the client and cannot be believed. Entries may carry
//! a port (`203.0.113.7:5678`, `[2001:db8::1]:443`) or be bare IPv6. When the right-most
//! untrusted entry does not parse (`unknown`, text), the request is refused
//! (`400 bad_forwarded_for`): falling back to the proxy's own address would give every
//! client behind it one identity (one lock, one throttle), and an entry further left is the
//! client's own word. A header value that is not visible ASCII is refused the same way
//! (skipping it made the proxy the client: CIDR lists passed, the proxy got locked).
//! IPv4-mapped IPv6 addresses are normalised to IPv4 so CIDR lists and
//! locks see one form.
//!
//! A client is then known by keyed hashes only ([`ClientKeys`]): its address (IPv6: its
//! `[checks] ipv6_prefix` network, a /64 — one holder has at least that), and for IPv6 also
//! its `ipv6_wide_prefix` network (a /48), counted beside it so that one allocation's
//! 65 536 /64s share one wider allowance instead of posing as 65 536 clients.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::ChecksConfig;
use crate::store::keys::network_of;
use crate::store::{IpKey, KeyRing};

/// The keys one client is counted and locked under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientKeys {
    /// The address's (IPv6: its `ipv6_prefix` network's).
    pub ip: IpKey,
    /// IPv6 only: its `ipv6_wide_prefix` network's, counted too.
    pub wide: Option<IpKey>,
}

impl ClientKeys {
    /// Hashes `ip` as every per-client table and lock sees it.
    pub fn of(ip: IpAddr, keys: &KeyRing, c: &ChecksConfig) -> Self {
        let wide = match ip {
            IpAddr::V6(_) => Some(keys.net_key(&network_of(ip, c.ipv6_wide_prefix))),
            IpAddr::V4(_) => None,
        };
        Self { ip: keys.ip_key(&tracking_address(ip, c.ipv6_prefix)), wide }
    }
}

/// `::ffff:a.b.c.d` → `a.b.c.d`; anything else unchanged.
pub fn normalise(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn trusted(ip: &IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|net| net.contains(ip))
}

/// The address a client is tracked and locked under: itself for IPv4, its network of
/// `v6_prefix` bits for IPv6 (an attacker holds at least a /64, so one address of it
/// stands for all).
pub fn tracking_address(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, v6_prefix.min(128)).map_or(ip, |n| IpAddr::V6(n.network())),
        v4 => v4,
    }
}

/// The right-most untrusted `X-Forwarded-For` entry is not an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadForwardedFor;

/// One `X-Forwarded-For` entry: `ip`, `ipv4:port`, `[ipv6]`, `[ipv6]:port` or bare IPv6.
pub fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(normalise(ip));
    }
    if let Ok(sock) = entry.parse::<std::net::SocketAddr>() {
        return Some(normalise(sock.ip()));
    }
    let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<std::net::Ipv6Addr>().ok().map(|v6| normalise(IpAddr::V6(v6)))
}

/// Resolves the client address from the peer and the `X-Forwarded-For` header values
/// (`None` for a value that is not visible ASCII: refused, never skipped).
pub fn resolve<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = Option<&'a str>>,
    proxies: &[IpNet],
) -> Result<IpAddr, BadForwardedFor> {
    let peer = normalise(peer);
    if !trusted(&peer, proxies) {
        return Ok(peer);
    }
    let values: Vec<&str> = forwarded_for.collect::<Option<_>>().ok_or(BadForwardedFor)?;
    let entries: Vec<&str> = values.iter().flat_map(|v| v.split(',')).map(str::trim).collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let ip = parse_entry(entry).ok_or(BadForwardedFor)?;
        client = ip;
        if !trusted(&ip, proxies) {
            return Ok(ip);
        }
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_are_tracked_by_prefix() {
        assert_eq!(tracking_address(ip("2001:db8:1::1"), 64), tracking_address(ip("2001:db8:1::2"), 64));
        assert_ne!(tracking_address(ip("2001:db8:1::1"), 64), tracking_address(ip("2001:db8:2::1"), 64));
        assert_eq!(tracking_address(ip("192.0.2.1"), 64), ip("192.0.2.1"));
    }

    #[test]
    fn untrusted_peer_is_the_client() {
        let proxies = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(resolve(ip("1.2.3.4"), [Some("9.9.9.9")].into_iter(), &proxies), Ok(ip("1.2.3.4")));
    }

    #[test]
    fn rightmost_untrusted_entry_wins() {
        let proxies: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let xff = [Some("6.6.6.6, 5.5.5.5"), Some("10.1.1.1")];
        assert_eq!(resolve(ip("127.0.0.1"), xff.into_iter(), &proxies), Ok(ip("5.5.5.5")));
        assert_eq!(resolve(ip("127.0.0.1"), std::iter::empty(), &proxies), Ok(ip("127.0.0.1")));
        assert_eq!(resolve(ip("::ffff:127.0.0.1"), [Some("::ffff:8.8.8.8")].into_iter(), &proxies), Ok(ip("8.8.8.8")));
    }

    #[test]
    fn ports_and_brackets_parse_and_garbage_is_refused_never_the_proxy() {
        let proxies: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let one = |xff: &str| resolve(ip("127.0.0.1"), [Some(xff)].into_iter(), &proxies);
        assert_eq!(one("203.0.113.7:5678"), Ok(ip("203.0.113.7")));
        assert_eq!(one("[2001:db8::1]:443"), Ok(ip("2001:db8::1")));
        assert_eq!(one("[2001:db8::1]"), Ok(ip("2001:db8::1")));
        assert_eq!(one("2001:db8::1"), Ok(ip("2001:db8::1")));
        for bad in ["unknown", "text", "203.0.113.7:x", "", "1.2.3.4, unknown", "unknown, 127.0.0.1"] {
            assert_eq!(one(bad), Err(BadForwardedFor), "{bad:?}");
        }
        // The client's own entries further left are never read past a bad one.
        assert_eq!(one("1.2.3.4, 5.6.7.8"), Ok(ip("5.6.7.8")));
        // An unreadable value anywhere is refused, even with a good one beside it.
        let unreadable = [None, Some("203.0.113.5")];
        assert_eq!(resolve(ip("127.0.0.1"), unreadable.into_iter(), &proxies), Err(BadForwardedFor));
    }
}
