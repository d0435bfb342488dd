//! The per-install key file and what is derived from it.
//!
//! `secret.key` (32 random bytes, mode 0600) never leaves the data dir. Two sub-keys are
//! derived from it with HMAC-SHA256 and fixed labels: one keys the IP hash (a plain hash of
//! an IPv4 address is reversed by trying all 2^32 of them; a keyed one is not), the other
//! seals signing secrets at rest with XChaCha20-Poly1305.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Keys derived from the install secret. `Debug` prints nothing secret.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Keys>,
}

struct Keys {
    /// HMAC already keyed for IP hashing (cloned per use: saves the key schedule).
    ip_hash: HmacSha256,
    seal: [u8; 32],
    sandbox: HmacSha256,
    /// Tells rings apart in the per-thread cache of [`KeyRing::ip_key`] (never reused).
    id: u64,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRing(..)")
    }
}

/// A sealed value could not be opened (wrong key file or tampering).
#[derive(Debug, thiserror::Error)]
#[error("sealed secret cannot be opened")]
pub struct SealError;

fn derive(master: &[u8], label: &str) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).expect("HMAC takes keys of any length");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The IPv4 network a client belongs to for lock escalation: a /24, the smallest block
/// commonly routed to one site.
pub const IPV4_NETWORK_PREFIX: u8 = 24;

/// The network `ip` belongs to: its `v6_wide` prefix for IPv6, its /24 for IPv4.
pub fn network_of(ip: IpAddr, v6_wide: u8) -> IpNet {
    let len = match ip {
        IpAddr::V4(_) => IPV4_NETWORK_PREFIX,
        IpAddr::V6(_) => v6_wide.min(128),
    };
    IpNet::new(ip, len).map_or_else(|_| IpNet::from(ip), |n| n.trunc())
}

/// A client address's keyed hash (see [`KeyRing::ip_key`]); shown and stored as hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpKey(pub [u8; 16]);

impl std::fmt::Display for IpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::str::FromStr for IpKey {
    type Err = hex::FromHexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut key = [0u8; 16];
        hex::decode_to_slice(s, &mut key)?;
        Ok(IpKey(key))
    }
}

impl serde::Serialize for IpKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for IpKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl KeyRing {
    /// Reads the key file, creating it (0600) with fresh random bytes when absent.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        let master = match std::fs::read(path) {
            Ok(bytes) if bytes.len() == 32 => bytes,
            Ok(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} must hold exactly 32 bytes", path.display()),
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = vec![0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path)?;
                file.write_all(&bytes)?;
                file.sync_all()?;
                bytes
            }
            Err(e) => return Err(e),
        };
        super::restrict_permissions(path, 0o600)?;
        Ok(Self::from_master(&master))
    }

    pub fn from_master(master: &[u8]) -> Self {
        Self {
            inner: Arc::new(Keys {
                ip_hash: <HmacSha256 as Mac>::new_from_slice(&derive(master, "palisade ip-hash v1"))
                    .expect("HMAC takes keys of any length"),
                seal: derive(master, "palisade secret-seal v1"),
                sandbox: <HmacSha256 as Mac>::new_from_slice(&derive(master, "palisade sandbox v1"))
                    .expect("HMAC takes keys of any length"),
                id: {
                    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                },
            }),
        }
    }

    /// Keyed hash of a client address: the first 16 bytes of HMAC-SHA256. Every per-IP
    /// counter is keyed by it, so counters can be snapshotted without a legible IP.
    /// A keep-alive connection sends many requests from one address, so each thread keeps
    /// the last address it hashed (per ring) and skips the two SHA-256 blocks when it
    /// comes again.
    pub fn ip_key(&self, ip: &IpAddr) -> IpKey {
        thread_local!(static LAST: std::cell::Cell<Option<(u64, IpAddr, IpKey)>> = const { std::cell::Cell::new(None) });
        if let Some((ring, last, key)) = LAST.get() {
            if ring == self.inner.id && last == *ip {
                return key;
            }
        }
        let mut mac = self.inner.ip_hash.clone();
        match ip {
            IpAddr::V4(v4) => mac.update(&v4.octets()),
            IpAddr::V6(v6) => mac.update(&v6.octets()),
        }
        let mut key = [0u8; 16];
        key.copy_from_slice(&mac.finalize().into_bytes()[..16]);
        LAST.set(Some((self.inner.id, *ip, IpKey(key))));
        IpKey(key)
    }

    /// Keyed hash of a network (an IPv6 /48, an IPv4 /24): the key its wider window and a
    /// lock on the whole network are held under, so no legible prefix reaches memory
    /// snapshots or sled either. The input is the network's canonical form — a marker byte,
    /// the prefix length, the masked address — whose length (6 or 18 bytes) no address
    /// (4 or 16) has, so a network's key is never an address's. Cached per thread like
    /// [`KeyRing::ip_key`].
    pub fn net_key(&self, net: &IpNet) -> IpKey {
        thread_local!(static LAST: std::cell::Cell<Option<(u64, IpNet, IpKey)>> = const { std::cell::Cell::new(None) });
        let net = net.trunc();
        if let Some((ring, last, key)) = LAST.get() {
            if ring == self.inner.id && last == net {
                return key;
            }
        }
        let mut mac = self.inner.ip_hash.clone();
        mac.update(&[0xff, net.prefix_len()]);
        match net.network() {
            IpAddr::V4(v4) => mac.update(&v4.octets()),
            IpAddr::V6(v6) => mac.update(&v6.octets()),
        }
        let mut key = [0u8; 16];
        key.copy_from_slice(&mac.finalize().into_bytes()[..16]);
        LAST.set(Some((self.inner.id, net, IpKey(key))));
        IpKey(key)
    }

    /// The same, as the hex string stored in audit and lock records.
    pub fn hash_ip(&self, ip: &IpAddr) -> String {
        self.ip_key(ip).to_string()
    }

    /// The RNG seed for the sandbox fake of one real value (see `sandbox`).
    pub fn sandbox_seed(&self, token_id: &str, kind: &str, value: &[u8]) -> [u8; 32] {
        let mut mac = self.inner.sandbox.clone();
        for part in [token_id.as_bytes(), kind.as_bytes(), value] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Encrypts a secret for storage: hex(nonce ‖ ciphertext).
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let cipher = XChaCha20Poly1305::new((&self.inner.seal).into());
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher.encrypt(XNonce::from_slice(&nonce), plaintext).expect("encryption into a Vec cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        hex::encode(out)
    }

    /// Decrypts what [`KeyRing::seal`] produced.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError> {
        let bytes = hex::decode(sealed).map_err(|_| SealError)?;
        if bytes.len() < 24 {
            return Err(SealError);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.inner.seal).into());
        cipher.decrypt(XNonce::from_slice(nonce), ciphertext).map_err(|_| SealError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_detects_tampering() {
        let k = KeyRing::from_master(&[7; 32]);
        let sealed = k.seal(b"pals_secret");
        assert!(!sealed.contains("secret"));
        assert_eq!(k.open(&sealed).unwrap(), b"pals_secret");
        let other = KeyRing::from_master(&[8; 32]);
        assert!(other.open(&sealed).is_err());
    }

    #[test]
    fn ip_hash_is_keyed() {
        let a = KeyRing::from_master(&[1; 32]);
        let b = KeyRing::from_master(&[2; 32]);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(a.hash_ip(&ip), a.hash_ip(&ip));
        assert_ne!(a.hash_ip(&ip), b.hash_ip(&ip));
        assert!(!a.hash_ip(&ip).contains("10.0"));
        // The per-thread cache answers for its own ring and address only.
        let (first, other) = (a.ip_key(&ip), "10.0.0.2".parse().unwrap());
        assert_ne!(a.ip_key(&other), first);
        assert_ne!(b.ip_key(&ip), first);
        assert_eq!(a.ip_key(&ip), first);
        let again = KeyRing::from_master(&[1; 32]);
        assert_eq!(again.ip_key(&ip), first);
    }

    #[test]
    fn a_network_key_covers_the_network_and_is_never_an_address_key() {
        let k = KeyRing::from_master(&[1; 32]);
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        assert_eq!(k.net_key(&net("2001:db8:1::/48")), k.net_key(&net("2001:db8:1:ffff::7/48")));
        assert_ne!(k.net_key(&net("2001:db8:1::/48")), k.net_key(&net("2001:db8:2::/48")));
        assert_ne!(k.net_key(&net("2001:db8:1::/48")), k.net_key(&net("2001:db8:1::/47")));
        // The /48's network address is also the first /64's: their keys still differ.
        assert_ne!(k.net_key(&net("2001:db8:1::/48")), k.ip_key(&"2001:db8:1::".parse().unwrap()));
        assert_ne!(k.net_key(&net("192.0.2.0/24")), k.ip_key(&"192.0.2.0".parse().unwrap()));
    }
}
