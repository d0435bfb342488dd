use std::net::IpAddr;

use super::*;

fn open(policy: LockPolicy) -> (tempfile::TempDir, Store, LockStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &Default::default(), Default::default()).unwrap();
    let locks = LockStore::load(store.clone(), policy).unwrap();
    (dir, store, locks)
}

fn record(subject: &str, source: LockSource, expires_at_ms: u64) -> LockRecord {
    LockRecord::new(LockKind::Ip, subject.into(), source, 0, expires_at_ms, "test".into())
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn locks_expire_and_are_swept() {
    let (_dir, store, locks) = open(LockPolicy::default());
    let subject = locks.ip_subject(&ip("192.0.2.1"));
    locks.lock(record(&subject, LockSource::Manual, 1_000));
    assert!(locks.active(LockKind::Ip, &subject, 999).is_some());
    assert!(locks.active(LockKind::Ip, &subject, 1_000).is_none());
    // The count beside the mirror follows it: a second lock on the same subject
    // replaces the first; another subject adds one; an unlock takes one away.
    locks.lock(record(&subject, LockSource::Manual, 1_000));
    assert_eq!(locks.len(), 1);
    locks.lock(record("other", LockSource::Manual, 1_000));
    assert_eq!(locks.len(), 2);
    assert!(locks.unlock(LockKind::Ip, "other").unwrap());
    assert!(!locks.unlock(LockKind::Ip, "other").unwrap());
    assert_eq!(locks.len(), 1);
    store.write_blocking(Op::Ping).unwrap();
    assert_eq!(LockStore::load(store.clone(), LockPolicy::default()).unwrap().len(), 1, "stored");
    assert_eq!(locks.sweep(1_000), 1);
    assert!(locks.is_empty());
    assert!(LockStore::load(store, LockPolicy::default()).unwrap().is_empty());
}

#[test]
fn many_automatic_locks_in_one_network_become_one_network_lock() {
    let policy = LockPolicy { max_locks: 1_000, prefix_lock_after: 4, ipv6_network_prefix: 48 };
    let (_dir, store, locks) = open(policy);
    // A manual lock inside the network, made first, is kept through the escalation.
    let manual = locks.ip_subject(&ip("2001:db8:7:9::"));
    locks.lock(record(&manual, LockSource::Manual, 10_000));
    for i in 0..3u16 {
        let addr = ip(&format!("2001:db8:7:{i}::1"));
        let outcome =
            locks.lock_client(&addr, record(&locks.ip_subject(&addr), LockSource::Automatic, 5_000 + i as u64));
        assert_eq!(outcome, LockOutcome::Locked);
    }
    assert_eq!(locks.len(), 4);
    let fourth = ip("2001:db8:7:3::1");
    let LockOutcome::Escalated(network) =
        locks.lock_client(&fourth, record(&locks.ip_subject(&fourth), LockSource::Automatic, 6_000))
    else {
        panic!("the fourth lock escalates")
    };
    assert_eq!((network.prefix_len, network.expires_at_ms, network.source), (Some(48), 6_000, LockSource::Automatic));
    // One network lock and the manual lock are left.
    assert_eq!(locks.len(), 2);
    assert!(locks.active(LockKind::Ip, &manual, 1).is_some());
    // Any address of the /48 matches it; one outside does not.
    let inside = ip("2001:db8:7:ffff::42");
    assert!(locks.active_client(&inside, store.keys.ip_key(&inside), 1).is_some());
    let outside = ip("2001:db8:8::1");
    assert!(locks.active_client(&outside, store.keys.ip_key(&outside), 1).is_none());
    // Another automatic lock inside it adds nothing; the stored table agrees after a restart.
    assert_eq!(locks.lock_client(&inside, record("x", LockSource::Automatic, 9_000)), LockOutcome::Covered);
    store.write_blocking(Op::Ping).unwrap();
    let again = LockStore::load(store.clone(), policy).unwrap();
    assert_eq!(again.len(), 2);
    assert!(again.active_client(&inside, store.keys.ip_key(&inside), 1).is_some());
    // IPv4 escalates by /24.
    for i in 1..=4u8 {
        let addr = ip(&format!("198.51.100.{i}"));
        locks.lock_client(&addr, record(&locks.ip_subject(&addr), LockSource::Automatic, 5_000));
    }
    let other = ip("198.51.100.200");
    assert_eq!(locks.active_client(&other, store.keys.ip_key(&other), 1).unwrap().prefix_len, Some(24));
    assert_eq!(locks.escalated(), 2);
}

#[test]
fn a_full_table_evicts_automatic_locks_closest_to_expiry_never_manual_ones() {
    let policy = LockPolicy { max_locks: 10, prefix_lock_after: 0, ipv6_network_prefix: 48 };
    let (_dir, _store, locks) = open(policy);
    for i in 0..3 {
        locks.lock(record(&format!("manual-{i}"), LockSource::Manual, 100));
    }
    for i in 0..7u64 {
        locks.lock(record(&format!("auto-{i}"), LockSource::Automatic, 1_000 + i));
    }
    assert_eq!(locks.len(), 10);
    assert_eq!(locks.lock(record("auto-new", LockSource::Automatic, 5_000)), LockOutcome::Locked);
    assert_eq!(locks.len(), 10);
    assert!(locks.active(LockKind::Ip, "auto-0", 1).is_none(), "closest to expiry: evicted");
    assert!(locks.active(LockKind::Ip, "auto-1", 1).is_some());
    assert_eq!(locks.evicted(), 1);
    // An automatic lock never replaces a manual one on the same subject.
    assert_eq!(locks.lock(record("manual-0", LockSource::Automatic, 5_000)), LockOutcome::Covered);
    assert_eq!(locks.active(LockKind::Ip, "manual-0", 1).unwrap().source, LockSource::Manual);
    // Full of manual locks: a new automatic one is dropped, a manual one kept beyond the cap.
    for i in 3..10 {
        locks.lock(record(&format!("manual-{i}"), LockSource::Manual, 100));
    }
    assert_eq!(locks.len(), 10);
    assert!((0..10).all(|i| locks.active(LockKind::Ip, &format!("manual-{i}"), 1).is_some()));
    assert_eq!(locks.lock(record("auto-late", LockSource::Automatic, 5_000)), LockOutcome::Dropped);
    assert_eq!(locks.lock(record("manual-10", LockSource::Manual, 100)), LockOutcome::Locked);
    assert_eq!(locks.len(), 11);
    // Once they expire, room again.
    let mut later = record("auto-later", LockSource::Automatic, 5_000);
    later.created_at_ms = 100;
    assert_eq!(locks.lock(later), LockOutcome::Locked);
    assert_eq!(locks.len(), 1);
}

#[test]
fn network_locks_are_evicted_after_single_address_ones() {
    let policy = LockPolicy { max_locks: 5, prefix_lock_after: 2, ipv6_network_prefix: 48 };
    let (_dir, store, locks) = open(policy);
    for i in 0..2u16 {
        let addr = ip(&format!("2001:db8:1:{i}::1"));
        locks.lock_client(&addr, record(&locks.ip_subject(&addr), LockSource::Automatic, 1_000));
    }
    assert_eq!(locks.len(), 1, "escalated");
    // Later single locks, each in its own network, fill the table and keep coming.
    for i in 0..10u16 {
        let addr = ip(&format!("2001:db8:{}::1", 100 + i));
        locks.lock_client(&addr, record(&locks.ip_subject(&addr), LockSource::Automatic, 2_000 + i as u64));
        assert!(locks.len() <= 5);
    }
    let inside = ip("2001:db8:1:77::1");
    assert!(locks.active_client(&inside, store.keys.ip_key(&inside), 1).is_some(), "the network lock stays");
}

/// Holds the store's writer until the returned sender is dropped (or sent to): what is
/// submitted meanwhile waits, as a write still on its way does.
fn hold_writer(store: &Store) -> std::sync::mpsc::Sender<()> {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started, running) = std::sync::mpsc::channel();
    store.submit(Op::Ping, move |_| {
        started.send(()).unwrap();
        let _ = held.recv();
    });
    running.recv().unwrap();
    release
}

#[test]
fn a_reread_never_brings_back_a_lock_evicted_here_nor_undoes_a_change_on_its_way() {
    let policy = LockPolicy { max_locks: 2, prefix_lock_after: 0, ipv6_network_prefix: 48 };
    let (_dir, store, locks) = open(policy);
    let (a, b, c) = (ip("192.0.2.1"), ip("198.51.100.1"), ip("203.0.113.1"));
    let auto = |addr: &IpAddr, expires| record(&locks.ip_subject(addr), LockSource::Automatic, expires);
    locks.lock_client(&a, auto(&a, 1_000));
    locks.lock_client(&b, auto(&b, 2_000));
    store.write_blocking(Op::Ping).unwrap();
    // While the writer is busy: a third lock evicts the first (closest to expiry) and the
    // second is made longer. Storage still holds the first and the old second.
    let release = hold_writer(&store);
    locks.lock_client(&c, auto(&c, 3_000));
    locks.lock_client(&b, auto(&b, 9_000));
    locks.reload().unwrap();
    assert!(locks.active(LockKind::Ip, &locks.ip_subject(&a), 0).is_none(), "the evicted lock came back");
    assert_eq!(locks.active(LockKind::Ip, &locks.ip_subject(&b), 0).unwrap().expires_at_ms, 9_000);
    assert_eq!(locks.len(), 2);
    drop(release);
    store.write_blocking(Op::Ping).unwrap();
    // Once stored, a re-read finds what this process made.
    locks.reload().unwrap();
    assert!(locks.active(LockKind::Ip, &locks.ip_subject(&a), 0).is_none());
    assert_eq!(locks.active(LockKind::Ip, &locks.ip_subject(&b), 0).unwrap().expires_at_ms, 9_000);
    assert!(locks.active(LockKind::Ip, &locks.ip_subject(&c), 0).is_some());
    assert_eq!(locks.len(), 2);
}
