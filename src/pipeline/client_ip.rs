//! The client address every stage sees, resolved once per request.
//!
//! It is the socket peer, unless the peer is a trusted proxy (`server.trusted_proxies`):
//! then it is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
//! Entries left of that are written by the client and cannot be believed. IPv4-mapped IPv6
//! addresses are normalised to IPv4 so CIDR lists and locks see one form.

use std::net::IpAddr;

use ipnet::IpNet;

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

/// Resolves the client address from the peer and the `X-Forwarded-For` header values.
pub fn resolve<'a>(peer: IpAddr, forwarded_for: impl Iterator<Item = &'a str>, proxies: &[IpNet]) -> IpAddr {
    let peer = normalise(peer);
    if !trusted(&peer, proxies) {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).map(str::trim).collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Ok(ip) = entry.parse::<IpAddr>().map(normalise) else {
            // An unparseable hop: stop at the last address we could trust.
            return client;
        };
        client = ip;
        if !trusted(&ip, proxies) {
            return ip;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_is_the_client() {
        let proxies = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(resolve(ip("1.2.3.4"), ["9.9.9.9"].into_iter(), &proxies), ip("1.2.3.4"));
    }

    #[test]
    fn rightmost_untrusted_entry_wins() {
        let proxies: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let xff = ["6.6.6.6, 5.5.5.5", "10.1.1.1"];
        assert_eq!(resolve(ip("127.0.0.1"), xff.into_iter(), &proxies), ip("5.5.5.5"));
        assert_eq!(resolve(ip("127.0.0.1"), std::iter::empty(), &proxies), ip("127.0.0.1"));
        assert_eq!(resolve(ip("::ffff:127.0.0.1"), ["::ffff:8.8.8.8"].into_iter(), &proxies), ip("8.8.8.8"));
        assert_eq!(resolve(ip("127.0.0.1"), ["garbage, 10.0.0.9"].into_iter(), &proxies), ip("10.0.0.9"));
    }
}
