//! TLS to the engines: a deployment whose PostgreSQL or Redis is across a network keeps rows,
//! tokens and counters off the wire in clear (`sslmode=require`, `rediss://`), and trusts
//! only the CA it is told to (`tls_ca_file`): a server whose certificate another CA signed
//! is refused, so a man in the middle gets nothing.

use palisade::config::Backend;

use crate::engines::{Pki, Postgres, Redis};
use crate::support::{runs_on_the_sled_run, TestApp};

/// PostgreSQL's view of the connections of role `palisade` in database `db`: (TLS, plain).
fn connections(pg: &Postgres, db: &str) -> (i64, i64) {
    let mut client = postgres::Client::connect(&pg.url("postgres"), postgres::NoTls).unwrap();
    let sql = "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) FROM pg_stat_ssl s \
               JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1 AND a.usename = 'palisade'";
    let row = client.query_one(sql, &[&db]).unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn rows_and_counters_travel_over_tls_to_servers_the_ca_file_vouches_for() {
    if runs_on_the_sled_run() {
        return;
    }
    let pki = Pki::make();
    let pg = Postgres::start_tls(&pki.path("server.crt"), &pki.path("server.key"));
    pg.create_database("tls");
    let redis = Redis::start_tls(&pki.path("server.crt"), &pki.path("server.key"), &pki.path("ca.pem"));
    let (tls_port, _) = redis.tls.clone().unwrap();
    let ca = pki.path("ca.pem").to_string_lossy().into_owned();
    let pg_url = format!("postgres://palisade@127.0.0.1:{}/tls?sslmode=require", pg.port);
    let redis_url = format!("rediss://127.0.0.1:{tls_port}");
    // Rows on the database (and, with `redis`, counters on Redis), trusting `ca` only.
    let app_trusting = |ca: &str, redis: bool| {
        TestApp::builder().config(|c| {
            c.store.backend = Backend::Postgres;
            c.store.url = pg_url.clone();
            c.store.tls_ca_file = ca.to_string();
            c.store.pool_size = 2;
            if redis {
                c.shared.redis_url = redis_url.clone();
                c.shared.tls_ca_file = ca.to_string();
            }
        })
    };
    let app = app_trusting(&ca, true).start();
    let token = app.token(&["clients:rc"]);
    let listed = app.get("/api/v1/clients?limit=5", &token);
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert!(listed.header("x-ratelimit-remaining").is_some(), "counted in Redis, over TLS");
    let made = app
        .req("POST", "/api/v1/clients")
        .bearer(&token)
        .json(&serde_json::json!({"company": "Over TLS", "status": "active"}))
        .send();
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.json()["data"]["id"].as_u64().unwrap();
    assert_eq!(app.get(&format!("/api/v1/clients/{id}"), &token).json()["data"]["company"], "Over TLS");
    // Every connection Palisade holds to the database is TLS (the pool's and the feed's).
    let (tls, plain) = connections(&pg, "tls");
    assert!(tls >= 1 && plain == 0, "{tls} TLS and {plain} plain connections");
    assert!(redis.script_calls() >= 3, "the counting script ran on the TLS port");
    drop(app);

    // Trusting another CA: the database refuses to start the server, naming the cause; the
    // counters refuse every counted request (fail closed).
    let other = pki.path("other-ca.pem").to_string_lossy().into_owned();
    let refused = app_trusting(&other, false).try_start();
    let Err((why, _)) = refused else { panic!("started against a certificate it should not trust") };
    assert!(why.to_lowercase().contains("certificate"), "{why}");
    let app = TestApp::builder()
        .config(|c| {
            c.shared.redis_url = redis_url.clone();
            c.shared.tls_ca_file = other.clone();
            c.shared.timeout_ms = 1_000;
        })
        .start();
    let token = app.token(&["clients:r"]);
    let answer = app.get("/api/v1/clients?limit=1", &token);
    assert_eq!((answer.status, answer.code().as_str()), (503, "rate_limiter_unavailable"), "{}", answer.text());
}
