//! Palisade's integration suite: one binary, real HTTP on 127.0.0.1:0, real sled in temp dirs.

mod support;

mod architecture;
mod audit;
mod audit_privacy;
mod audit_seal;
mod auth;
mod checks;
mod cli;
mod cors;
mod crash;
mod faults;
mod flood;
mod graphql;
mod graphql_guard;
mod hardening;
mod headers;
mod injection_corpus;
mod observability;
mod openapi;
mod operations;
mod oracle;
mod rate_limit;
mod rest;
mod review;
mod sandbox;
mod schema_changes;
mod scope;
mod shield;
mod soak;
mod systemd;
