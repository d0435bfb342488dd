//! The configuration tree's defaults, parsing, validation and reloads.

use super::*;

#[test]
fn a_reload_applies_the_live_keys_and_names_the_rest() {
    let current = Config::default();
    let mut new = Config::default();
    new.rate_limit.requests = 5;
    new.shield.ip_requests = 7;
    new.shield.max_tracked_ips = 9;
    new.graphql.max_depth = 3;
    new.server.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    new.cors.allowed_origins = vec!["https://crm.example".into()];
    new.log.level = "debug".into();
    let (next, pending) = current.reloaded(&new);
    assert_eq!((next.rate_limit.requests, next.shield.ip_requests, next.graphql.max_depth), (5, 7, 3));
    assert_eq!(next.server.trusted_proxies, new.server.trusted_proxies);
    assert_eq!(next.log.level, "debug");
    // Not live: kept as they run, and named.
    assert_eq!(next.shield.max_tracked_ips, current.shield.max_tracked_ips);
    assert!(next.cors.allowed_origins.is_empty());
    assert_eq!(pending, ["shield.max_tracked_ips", "cors"]);
    assert!(current.reloaded(&current).1.is_empty());
}

#[test]
fn defaults_match_the_contract() {
    let c = Config::default();
    assert_eq!(c.shield.max_body_bytes, 262_144);
    assert_eq!(c.shield.max_json_depth, 10);
    assert_eq!(c.rate_limit.requests, 60);
    assert_eq!(c.auth.replay_window_secs, 300);
    assert_eq!(c.graphql.max_depth, 5);
    assert_eq!(c.audit.seal_epoch_secs, 900);
    assert!(c.validate().is_ok());
    let mut zero = Config::default();
    zero.audit.seal_epoch_secs = 0;
    assert!(zero.validate().unwrap_err().to_string().contains("audit.seal_epoch_secs"));
}

#[test]
fn unknown_keys_are_named() {
    let err = Config::parse("[shield]\nmax_body_byts = 5\n").unwrap_err();
    assert!(err.contains("max_body_byts"), "{err}");
    let err = Config::parse("[shields]\n").unwrap_err();
    assert!(err.contains("shields"), "{err}");
}

#[test]
fn shipped_config_parses_and_restates_the_defaults() {
    let shipped = Config::parse(include_str!("../../data/palisade.toml")).unwrap();
    assert!(shipped.validate().is_ok());
    assert_eq!(format!("{shipped:?}"), format!("{:?}", Config::default()));
}

#[test]
fn the_wide_prefix_must_hold_the_tracking_prefix() {
    for (text, key) in [
        ("[checks]\nipv6_wide_prefix = 0\n", "checks.ipv6_wide_prefix"),
        ("[checks]\nipv6_prefix = 56\nipv6_wide_prefix = 64\n", "checks.ipv6_wide_prefix"),
        ("[checks]\nipv6_wide_multiple = 0\n", "checks.ipv6_wide_multiple"),
        ("[checks]\nmax_locks = 0\n", "checks.max_locks"),
        ("[checks]\nprefix_lock_after = 1\n", "checks.prefix_lock_after"),
    ] {
        let err = Config::parse(text).unwrap().validate().unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
    assert!(Config::parse("[checks]\nipv6_prefix = 56\nipv6_wide_prefix = 56\n").unwrap().validate().is_ok());
}

#[test]
fn wildcard_origin_is_refused() {
    let c = Config::parse("[cors]\nallowed_origins = [\"*\"]\n").unwrap();
    assert!(c.validate().unwrap_err().to_string().contains("cors.allowed_origins"));
}

#[test]
fn shared_counters_are_checked_and_fixed_at_start() {
    for (text, key) in [
        ("[shared]\nredis_url = \"http://cache:6379\"\n", "shared.redis_url"),
        ("[shared]\ntimeout_ms = 0\n", "shared.timeout_ms"),
        ("[shared]\nkey_prefix = \"\"\n", "shared.key_prefix"),
        ("[shared]\nredis_url = \"redis://cache:6379\"\ntls_ca_file = \"/etc/ca.pem\"\n", "shared.tls_ca_file"),
    ] {
        let err = Config::parse(text).unwrap().validate().unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
    let shared = Config::parse("[shared]\nredis_url = \"redis://127.0.0.1:6379\"\n").unwrap();
    assert!(shared.validate().is_ok() && shared.shared.enabled());
    assert!(!Config::default().shared.enabled());
    // A reload cannot move the counters: it keeps them and names the key.
    let (next, pending) = Config::default().reloaded(&shared);
    assert!(!next.shared.enabled());
    assert_eq!(pending, ["shared"]);
}

#[test]
fn an_instance_name_is_a_plain_word() {
    let named = |name: &str| {
        let mut c = Config::default();
        c.audit.instance = name.into();
        c.validate()
    };
    for good in ["", "a", "eu-1", "node_2.prod"] {
        assert!(named(good).is_ok(), "{good:?}");
    }
    for bad in ["a b", "a/b", "\u{e9}", "x\n", &"n".repeat(65)] {
        assert!(named(bad).unwrap_err().to_string().contains("audit.instance"), "{bad:?}");
    }
}

#[test]
fn a_postgres_url_is_parsed_at_start_and_a_ca_file_needs_tls() {
    let with = |url: &str, ca: &str| {
        let text = format!("[store]\nbackend = \"postgres\"\nurl = \"{url}\"\ntls_ca_file = \"{ca}\"\n");
        Config::parse(&text).unwrap().validate().map_err(|e| e.to_string())
    };
    assert!(with("postgres://palisade:secret@10.0.0.6:5432/palisade", "").is_ok());
    assert!(with("postgresql:///palisade?host=/run/postgresql", "").is_ok());
    assert!(with("postgres://u@h/db?sslmode=require", "/etc/palisade/db-ca.pem").is_ok());
    assert!(with("mysql://u@h/db", "").unwrap_err().contains("store.url"));
    assert!(with("postgres://u@h:notaport/db", "").unwrap_err().contains("not a PostgreSQL URL"));
    assert!(with("postgres://u@h/db?sslmode=prefer", "/etc/ca.pem").unwrap_err().contains("store.tls_ca_file"));
    let sled_with_url = Config::parse("[store]\nurl = \"postgres://u@h/db\"\n").unwrap();
    assert!(sled_with_url.validate().unwrap_err().to_string().contains("store.url"));
    let rediss = Config::parse("[shared]\nredis_url = \"rediss://cache:6380\"\ntls_ca_file = \"/etc/ca.pem\"\n");
    assert!(rediss.unwrap().validate().is_ok());
}
