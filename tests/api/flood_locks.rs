//! Lock-table floods (finding M-3): every injection attempt from a new address makes a 24 h
//! lock, and an IPv6 holder has millions of addresses. The table stays within
//! `[checks] max_locks`, many locks in one network become one network lock, a lock made by
//! hand survives, and an honest client elsewhere is served.

use std::net::{IpAddr, Ipv6Addr};

use palisade::api::admin::{execute, AdminRequest};
use palisade::checks::Inspect;
use palisade::pipeline::client_ip::ClientKeys;
use palisade::state::AppState;
use palisade::store::locks::LockKind;

use crate::measure::{disk_bytes, mib, one_at_a_time, rss};
use crate::support::{KeepAlive, TestApp};

const ATTACK: &str = "/api/v1/clients?status=%27%20OR%201%3D1--";
const VIEW: &str = "/api/v1/views/service_list";

fn v6(net: u16, sub: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, net, sub, 0, 0, 0, 1))
}

fn xff(ip: IpAddr) -> String {
    format!("X-Forwarded-For: {ip}\r\n")
}

fn manual_lock(app: &TestApp, subject: &str) {
    let lock = AdminRequest::Lock {
        kind: LockKind::Ip,
        subject: subject.into(),
        secs: 7 * 86_400,
        reason: Some("by hand".into()),
        force: false,
    };
    execute(&app.state, lock).unwrap();
}

/// The lock listing's network locks, by prefix (`"/48"`, `"/24"`).
fn network_locks(app: &TestApp, prefix: &str) -> usize {
    let list = execute(&app.state, AdminRequest::LocksList).unwrap();
    list.as_array().unwrap().iter().filter(|l| l["prefix"] == prefix && l["kind"] == "ip").count()
}

#[test]
fn a_lock_flood_from_rotating_64s_stays_within_max_locks_and_escalates_by_network() {
    let _one = one_at_a_time();
    let app = TestApp::builder()
        .manual_clock()
        .config(|c| {
            c.checks.max_locks = 300;
            c.checks.prefix_lock_after = 16;
        })
        .start();
    // Made by hand before the flood, one inside a network the flood gets locked.
    manual_lock(&app, "2001:db8:0:ffff::1");
    manual_lock(&app, "203.0.113.9");
    let mut conn = KeepAlive::connect(app.addr);
    let clock = app.manual_clock();
    let mut attack = |ip: IpAddr| {
        clock.advance_ms(10);
        let status = conn.get(ATTACK, &xff(ip)).unwrap();
        assert_eq!(status, 403, "{ip}");
        assert!(app.state.locks.len() <= 300, "{} locks", app.state.locks.len());
    };
    // 1. 40 /64s in each of 8 /48s: each network is locked after its 16th.
    for net in 0..8 {
        (0..40).for_each(|sub| attack(v6(net, sub)));
    }
    assert_eq!(network_locks(&app, "/48"), 8);
    // 2. One /64 in each of 1 000 other /48s: nothing to fold; the table stays at its cap.
    (0..1_000).for_each(|net| attack(v6(100 + net, 1)));
    // 3. IPv4: 20 addresses in each of 3 /24s.
    for net in 0..3u8 {
        (1..=20u8).for_each(|host| attack(IpAddr::from([198, 51, net, host])));
    }
    assert_eq!(network_locks(&app, "/24"), 3);

    let locks = &app.state.locks;
    assert!(locks.len() <= 300);
    assert!(locks.evicted() > 0);
    assert_eq!(network_locks(&app, "/48"), 8, "network locks outlast single ones");
    let list = execute(&app.state, AdminRequest::LocksList).unwrap().to_string();
    assert_eq!(list.matches("by hand").count(), 2, "manual locks survive");
    assert!(!list.contains("2001:db8") && !list.contains("198.51"), "no legible address or prefix");
    // A /64 never seen, inside a locked /48 (and an address in a locked /24), is refused;
    // the addresses locked by hand still are; honest clients elsewhere are served.
    assert_eq!(conn.get(VIEW, &xff(v6(3, 0x7777))), Some(403));
    assert_eq!(conn.get(VIEW, &xff(IpAddr::from([198, 51, 1, 200]))), Some(403));
    assert_eq!(conn.get(VIEW, "X-Forwarded-For: 2001:db8:0:ffff::2\r\n"), Some(403));
    assert_eq!(conn.get(VIEW, "X-Forwarded-For: 203.0.113.9\r\n"), Some(403));
    assert_eq!(conn.get(VIEW, "X-Forwarded-For: 192.0.2.10\r\n"), Some(200));
    assert_eq!(conn.get(VIEW, "X-Forwarded-For: 2001:db9:1:2::3\r\n"), Some(200));
    // Unlocking the network by hand lets its addresses in again.
    let unlock = AdminRequest::Unlock { kind: LockKind::Ip, subject: "2001:db8:3::/48".into() };
    assert_eq!(execute(&app.state, unlock).unwrap()["unlocked"], true);
    assert_eq!(conn.get(VIEW, &xff(v6(3, 0x7777))), Some(200));
}

/// One injection attempt through the checks stage, as the pipeline makes it.
pub fn attack_directly(state: &AppState, ip: IpAddr) {
    let config = state.config.get();
    let client = ClientKeys::of(ip, &state.pipeline.keys, &config.checks);
    let facts = Inspect {
        method: "GET",
        path: "/api/v1/clients",
        query: "status=%27%20OR%201%3D1--",
        json: None,
        form_body: None,
        ip,
        ip_key: client.ip,
        authorization: None,
        user_agent: None,
        referer: None,
    };
    assert!(state.stages().checks.inspect(&facts, None).is_err());
}

#[test]
fn a_flood_of_100k_attacks_from_rotating_64s_keeps_the_default_cap_and_serves_others() {
    let _one = one_at_a_time();
    let app = TestApp::builder().manual_clock().start();
    manual_lock(&app, "2001:db8:ffff:1::1");
    let max = app.state.config.get().checks.max_locks;
    let db = app.dir.path().join("db");
    let (rss_before, disk_before) = (rss(), disk_bytes(&db));
    // 100 000 /64s of one /32, spread so that most /48s see one or two (no folding), and a
    // dense run of 20 000 in one /48 (folded into one lock after 16).
    let clock = app.manual_clock();
    for i in 0..80_000u32 {
        clock.advance_ms(1);
        attack_directly(&app.state, v6(i as u16, 0x8000 | (i >> 16) as u16));
        if i % 10_000 == 0 {
            assert!(app.state.locks.len() <= max);
        }
    }
    for sub in 0..20_000u16 {
        clock.advance_ms(1);
        attack_directly(&app.state, v6(0xfffe, sub));
    }
    let locks = &app.state.locks;
    assert!(locks.len() <= max, "{} locks", locks.len());
    assert!(locks.escalated() >= 1);
    assert!(execute(&app.state, AdminRequest::LocksList).unwrap().to_string().contains("by hand"));
    app.state.store.write_blocking(palisade::store::Op::Ping).unwrap();
    let (rss_after, disk_after) = (rss(), disk_bytes(&db));
    eprintln!(
        "lock flood: 100 000 attacks from distinct /64s; {} locks held (max {max}), {} evicted, {} networks \
         folded; RSS {:.1} → {:.1} MiB; sled {:.1} → {:.1} MiB",
        locks.len(),
        locks.evicted(),
        locks.escalated(),
        mib(rss_before),
        mib(rss_after),
        mib(disk_before),
        mib(disk_after),
    );
    assert!(rss_after.saturating_sub(rss_before) < 64 * 1024 * 1024, "RSS grew {:.1} MiB", mib(rss_after - rss_before));
    let mut conn = KeepAlive::connect(app.addr);
    assert_eq!(conn.get(VIEW, "X-Forwarded-For: 192.0.2.10\r\n"), Some(200));
    assert_eq!(conn.get(VIEW, &xff(v6(0xfffe, 0xffff))), Some(403), "the folded /48 is locked");
}

#[test]
fn a_network_locked_by_hand_refuses_every_address_inside_it_and_is_listed_by_prefix() {
    let app = TestApp::builder().start();
    let lock = |subject: &str| {
        let request = AdminRequest::Lock {
            kind: LockKind::Ip,
            subject: subject.into(),
            secs: 600,
            reason: Some("by hand".into()),
            force: false,
        };
        execute(&app.state, request)
    };
    lock("2001:db8:5::/48").unwrap();
    let refused = lock("2001:db8:5::/56").unwrap_err();
    assert!(refused.contains("/48"), "{refused}");
    assert_eq!(app.req("GET", VIEW).client_ip("2001:db8:5:abcd::1").send().code(), "locked");
    assert_eq!(app.req("GET", VIEW).client_ip("2001:db8:6::1").send().status, 200);
    let list = execute(&app.state, AdminRequest::LocksList).unwrap();
    let network = &list.as_array().unwrap()[0];
    assert_eq!((network["kind"].as_str(), network["prefix"].as_str()), (Some("ip"), Some("/48")));
    assert_eq!(network["source"], "manual");
    assert!(!list.to_string().contains("2001:db8"));
}
