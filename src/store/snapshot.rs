//! Snapshots of the in-memory counters, so a restart (or `systemctl restart`) does not hand
//! anyone a fresh quota. The housekeeper writes them every `[state] snapshot_interval_ms`
//! (flushed at once) and the server once more on graceful stop; they are restored on start,
//! keeping only windows and replay entries that are still running. After a crash at most one
//! interval of counter updates is lost.
//!
//! Snapshotted: per-token rate-limit windows and the replay cache (JSON, keyed by token id and
//! signature digest), and the per-IP counters: shield throttle, failed authentications,
//! per-endpoint limits. Those are keyed by the keyed IP hash ([`IpKey`]), never by a legible
//! address, and stored compactly (36 bytes a window); only windows with two or more hits are
//! kept, at most [`MAX_IP_ENTRIES`] a map, so a flood of one-shot addresses cannot turn the
//! snapshot into a disk load.
//!
//! An instance with a name (`[audit] instance`) keeps its own snapshot (`rate_limit@a`): on
//! PostgreSQL several instances share one store, and each restores what it counted itself.

use serde::{Deserialize, Serialize};

use super::{IpKey, Op, Store, StoreError, SysTree};
use crate::limits::replay::ReplayCache;
use crate::limits::window::{FixedWindows, Slot};

const RATE: &str = "rate_limit";
const REPLAY: &str = "replay";
const THROTTLE: &str = "ip_throttle";
const FAILURES: &str = "auth_failures";
const LIMITS: &str = "endpoint_limits";

/// Per-IP windows kept per map and snapshot.
pub const MAX_IP_ENTRIES: usize = 100_000;

/// Every counter map that survives a restart.
pub struct Counters<'a> {
    /// Keyed by the token id as a number (stored as its 16 hex digits).
    pub rate: &'a FixedWindows<u64>,
    pub replay: &'a ReplayCache,
    pub throttle: &'a FixedWindows<IpKey>,
    pub failures: &'a FixedWindows<IpKey>,
    pub limits: &'a FixedWindows<(String, IpKey)>,
    /// Whose counters these are (`[audit] instance`; empty: the one instance).
    pub instance: String,
}

impl Counters<'_> {
    /// The stored key of the map `name` for this instance.
    fn key(&self, name: &str) -> String {
        match self.instance.as_str() {
            "" => name.to_string(),
            instance => format!("{name}@{instance}"),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Snapshot<K> {
    taken_at_ms: u64,
    entries: Vec<(K, Slot)>,
}

/// A key of a per-IP map in the compact encoding.
trait IpMapKey: Sized {
    fn encode(&self, out: &mut Vec<u8>);
    fn decode(buf: &mut &[u8]) -> Option<Self>;
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = (buf.get(..n)?, buf.get(n..)?);
    *buf = rest;
    Some(head)
}

impl IpMapKey for IpKey {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    fn decode(buf: &mut &[u8]) -> Option<Self> {
        Some(IpKey(take(buf, 16)?.try_into().ok()?))
    }
}

impl IpMapKey for (String, IpKey) {
    fn encode(&self, out: &mut Vec<u8>) {
        let id = &self.0.as_bytes()[..self.0.len().min(255)];
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        self.1.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Option<Self> {
        let len = *take(buf, 1)?.first()? as usize;
        let id = String::from_utf8(take(buf, len)?.to_vec()).ok()?;
        Some((id, IpKey::decode(buf)?))
    }
}

fn encode_ip_map<K: IpMapKey + std::hash::Hash + Eq + Clone>(map: &FixedWindows<K>) -> Vec<u8> {
    let entries = map.snapshot_where(2, MAX_IP_ENTRIES);
    let mut out = Vec::with_capacity(entries.len() * 36);
    for (key, slot) in entries {
        key.encode(&mut out);
        out.extend_from_slice(&slot.start_ms.to_be_bytes());
        out.extend_from_slice(&slot.end_ms.to_be_bytes());
        out.extend_from_slice(&slot.count.to_be_bytes());
    }
    out
}

fn decode_ip_map<K: IpMapKey>(mut buf: &[u8]) -> Vec<(K, Slot)> {
    let mut out = Vec::new();
    let u64_at = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
    while !buf.is_empty() {
        let Some(key) = K::decode(&mut buf) else { break };
        let Some(fixed) = take(&mut buf, 20) else { break };
        let count = u32::from_be_bytes(fixed[16..20].try_into().unwrap_or([0; 4]));
        out.push((key, Slot { start_ms: u64_at(&fixed[..8]), end_ms: u64_at(&fixed[8..16]), count }));
    }
    out
}

impl Store {
    /// Writes every counter map through the writer and waits until it is durable.
    pub fn snapshot_counters(&self, c: &Counters<'_>, now_ms: u64) -> Result<(), StoreError> {
        let rate = Snapshot {
            taken_at_ms: now_ms,
            entries: c.rate.snapshot().into_iter().map(|(k, slot)| (format!("{k:016x}"), slot)).collect(),
        };
        let replayed = Snapshot {
            taken_at_ms: now_ms,
            entries: c
                .replay
                .snapshot()
                .into_iter()
                .map(|(sig, exp)| (hex::encode(sig), Slot { start_ms: now_ms, end_ms: exp, count: 1 }))
                .collect(),
        };
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        let entries = vec![
            (c.key(RATE).into_bytes(), serde_json::to_vec(&rate).map_err(corrupt)?),
            (c.key(REPLAY).into_bytes(), serde_json::to_vec(&replayed).map_err(corrupt)?),
            (c.key(THROTTLE).into_bytes(), encode_ip_map(c.throttle)),
            (c.key(FAILURES).into_bytes(), encode_ip_map(c.failures)),
            (c.key(LIMITS).into_bytes(), encode_ip_map(c.limits)),
        ];
        // Durable when answered, so a crash loses at most one interval of counter updates.
        self.write_blocking(Op::Put { tree: SysTree::Counters, entries }).map_err(StoreError::refused)?;
        Ok(())
    }

    /// Restores what a previous run snapshotted (ignoring anything unreadable).
    pub fn restore_counters(&self, c: &Counters<'_>, now_ms: u64) -> Result<(), StoreError> {
        let get = |name: &str| self.sys_get(SysTree::Counters, c.key(name).as_bytes());
        if let Some(bytes) = get(RATE)? {
            if let Ok(s) = serde_json::from_slice::<Snapshot<String>>(&bytes) {
                let entries =
                    s.entries.into_iter().filter_map(|(id, slot)| Some((u64::from_str_radix(&id, 16).ok()?, slot)));
                c.rate.restore(entries, now_ms);
            }
        }
        if let Some(bytes) = get(REPLAY)? {
            if let Ok(s) = serde_json::from_slice::<Snapshot<String>>(&bytes) {
                let entries = s.entries.into_iter().filter_map(|(sig, slot)| {
                    let mut key = [0u8; 32];
                    hex::decode_to_slice(sig, &mut key).ok().map(|_| (key, slot.end_ms))
                });
                c.replay.restore(entries, now_ms);
            }
        }
        if let Some(bytes) = get(THROTTLE)? {
            c.throttle.restore(decode_ip_map(&bytes), now_ms);
        }
        if let Some(bytes) = get(FAILURES)? {
            c.failures.restore(decode_ip_map(&bytes), now_ms);
        }
        if let Some(bytes) = get(LIMITS)? {
            c.limits.restore(decode_ip_map(&bytes), now_ms);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_windows_round_trip_compactly_and_skip_one_hit_windows() {
        let (a, b) = (IpKey([1; 16]), IpKey([2; 16]));
        let map = FixedWindows::new(10);
        for _ in 0..3 {
            map.hit(a, 1_000, 10, 60_000).unwrap();
        }
        map.hit(b, 1_000, 10, 60_000).unwrap();
        let bytes = encode_ip_map(&map);
        assert_eq!(bytes.len(), 36);
        let back: Vec<(IpKey, Slot)> = decode_ip_map(&bytes);
        assert_eq!(back, vec![(a, Slot { start_ms: 0, end_ms: 60_000, count: 3 })]);

        let limits = FixedWindows::new(10);
        limits.hit(("lead_form".to_string(), a), 1_000, 5, 60_000).unwrap();
        limits.hit(("lead_form".to_string(), a), 1_000, 5, 60_000).unwrap();
        let back: Vec<((String, IpKey), Slot)> = decode_ip_map(&encode_ip_map(&limits));
        assert_eq!(back[0].0, ("lead_form".to_string(), a));
        assert_eq!(back[0].1.count, 2);
        // Truncated input decodes what is whole and stops.
        assert!(decode_ip_map::<IpKey>(&bytes[..30]).is_empty());
    }

    /// One instance's counter maps.
    struct Maps(
        FixedWindows<u64>,
        ReplayCache,
        FixedWindows<IpKey>,
        FixedWindows<IpKey>,
        FixedWindows<(String, IpKey)>,
    );

    impl Maps {
        fn new() -> Self {
            Maps(
                FixedWindows::new(10),
                ReplayCache::new(10),
                FixedWindows::new(10),
                FixedWindows::new(10),
                FixedWindows::new(10),
            )
        }

        fn of(&self, instance: &str) -> Counters<'_> {
            let Maps(rate, replay, throttle, failures, limits) = self;
            Counters { rate, replay, throttle, failures, limits, instance: instance.into() }
        }
    }

    /// Several instances on one store (PostgreSQL) each get back what they counted.
    #[test]
    fn each_named_instance_restores_its_own_counters() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &Default::default(), Default::default()).unwrap();
        let (a, b) = (Maps::new(), Maps::new());
        for _ in 0..3 {
            a.0.hit(7, 1_000, 100, 60_000).unwrap();
        }
        b.0.hit(7, 1_000, 100, 60_000).unwrap();
        store.snapshot_counters(&a.of("a"), 1_000).unwrap();
        store.snapshot_counters(&b.of("b"), 1_000).unwrap();
        for (instance, count) in [("a", 3), ("b", 1)] {
            let fresh = Maps::new();
            store.restore_counters(&fresh.of(instance), 2_000).unwrap();
            assert_eq!(fresh.0.snapshot(), vec![(7, Slot { start_ms: 0, end_ms: 60_000, count })], "{instance}");
        }
        let unnamed = Maps::new();
        store.restore_counters(&unnamed.of(""), 2_000).unwrap();
        assert!(unnamed.0.snapshot().is_empty(), "no instance's counters are another's");
    }
}
