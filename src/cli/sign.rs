//! `palisade sign`: prints the `X-Timestamp` and `X-Signature` header lines a signed
//! request needs (the same canonical form the auth stage verifies).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::pipeline::auth::{canonical, sign};

#[derive(Debug, Args)]
pub struct Opts {
    /// The token's signing secret, exactly as printed by `token create --sign`.
    #[arg(long)]
    secret: String,
    #[arg(long)]
    method: String,
    /// Absolute URL, or a path with its query.
    #[arg(long)]
    url: String,
    /// File holding the exact request body.
    #[arg(long, value_name = "FILE")]
    body: Option<PathBuf>,
    /// Unix seconds (default: now).
    #[arg(long)]
    timestamp: Option<u64>,
}

/// Splits an absolute URL or a path into (path, query).
pub fn path_and_query(url: &str) -> (String, String) {
    let without_scheme = url.split_once("://").map(|(_, rest)| rest);
    let target = match without_scheme {
        Some(rest) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => url,
    };
    let target = target.split('#').next().unwrap_or("");
    match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    }
}

pub fn run(o: &Opts) -> anyhow::Result<()> {
    let body = match &o.body {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        None => Vec::new(),
    };
    let ts = o.timestamp.unwrap_or_else(|| crate::clock::Clock::now_secs(&crate::clock::SystemClock));
    let (path, query) = path_and_query(&o.url);
    let canonical = canonical(&o.method, &path, &query, &body, &ts.to_string());
    say!("X-Timestamp: {ts}");
    say!("X-Signature: {}", sign(&o.secret, &canonical));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::path_and_query;

    #[test]
    fn urls_and_paths() {
        assert_eq!(path_and_query("http://h:1/a/b?x=1&y=2"), ("/a/b".into(), "x=1&y=2".into()));
        assert_eq!(path_and_query("/a?"), ("/a".into(), "".into()));
        assert_eq!(path_and_query("https://h"), ("/".into(), "".into()));
    }
}
