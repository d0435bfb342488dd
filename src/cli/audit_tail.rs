//! `palisade audit tail [-n N] [--json] [--user NAME] [--token ID] [--status N] [--path P]
//! [--since T] [--until T] [-f]`: the last records that match, oldest first; with `-f` it
//! then keeps printing new ones as they are stored, until SIGINT/SIGTERM or a closed pipe.
//!
//! The trail's files are read directly (no server needed). A running server holds each
//! worker's newest records in memory for up to a flush interval, so `tail` first asks it,
//! through the admin socket, to store them: a request refused a moment ago is then there.

use std::collections::HashSet;
use std::time::Duration;

use clap::Args;

use super::admin_client::live;
use super::Context;
use crate::api::admin::AdminRequest;
use crate::store::audit::read::{tail_matching, Filter, Follower};
use crate::store::audit::ReadRecord;

/// How often `-f` looks for new records.
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Args)]
pub struct TailOpts {
    /// How many records (the last N that match).
    #[arg(short = 'n', default_value_t = 20)]
    n: usize,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Only requests made with a token of this owner (the token's --name).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Only requests made with this token id.
    #[arg(long = "token", value_name = "ID")]
    token_id: Option<String>,
    /// Only answers with this status code.
    #[arg(long, value_name = "N")]
    status: Option<u16>,
    /// Only paths starting with P (e.g. /graphql, /api/v1/leads).
    #[arg(long, value_name = "P")]
    path: Option<String>,
    /// Only requests at or after T (RFC 3339, e.g. 2026-05-01T12:00:00Z, or unix seconds).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    since: Option<u64>,
    /// Only requests at or before T (RFC 3339 or unix seconds).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    until: Option<u64>,
    /// Keep printing new records as they are stored (stop with Ctrl-C).
    #[arg(short = 'f', long = "follow")]
    follow: bool,
}

/// RFC 3339 or unix seconds → unix milliseconds.
fn parse_time(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return secs.checked_mul(1000).ok_or_else(|| format!("{text} is too far in the future"));
    }
    crate::store::audit::read::time_ms(text)
        .ok_or_else(|| format!("{text:?} is neither RFC 3339 (2026-05-01T12:00:00Z) nor unix seconds"))
}

pub fn run(cx: &Context, opts: &TailOpts) -> anyhow::Result<()> {
    let dir = cx.config.server.data_dir.join("audit");
    // Best effort: without a server (or with one that cannot flush) the files are read as
    // they are.
    let _ = live(cx, AdminRequest::AuditFlush);
    let filter = Filter {
        user: opts.user.clone(),
        token_id: opts.token_id.clone(),
        status: opts.status,
        path_prefix: opts.path.clone(),
        since_ms: opts.since,
        until_ms: opts.until,
    };
    // Placed before the tail is read, so nothing stored in between is missed.
    let follower = opts.follow.then(|| Follower::at_end(&dir)).transpose()?;
    let shown = tail_matching(&dir, opts.n, &filter)?;
    for r in &shown {
        print(r, opts.json)?;
    }
    match follower {
        None => Ok(()),
        Some(follower) => {
            let seen: HashSet<String> = shown.into_iter().map(|r| r.record.prev).collect();
            follow(follower, &filter, opts.json, seen)
        }
    }
}

/// Prints new records until SIGINT or SIGTERM (a closed pipe ends it in `say!`).
fn follow(mut follower: Follower, filter: &Filter, json: bool, mut seen: HashSet<String>) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let (mut interrupt, mut terminate) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
        loop {
            for r in follower.poll()? {
                // Stored between placing the follower and reading the tail: shown already.
                if filter.matches(&r) && !seen.remove(&r.record.prev) {
                    print(&r, json)?;
                }
            }
            seen.clear();
            tokio::select! {
                _ = interrupt.recv() => return Ok(()),
                _ = terminate.recv() => return Ok(()),
                () = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

fn print(r: &ReadRecord, json: bool) -> anyhow::Result<()> {
    if json {
        say!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    let (g, r) = (&r.graphql, &r.record);
    let refused = r.stage.as_deref().map(|st| format!(" refused by {st}: {}", r.reason.as_deref().unwrap_or("-")));
    let graphql = g.as_ref().map(|g| format!(" graphql: {}", g.summary()));
    say!(
        "{} {} {} {} {}us user={} token={} ip={}{}{}",
        r.time,
        r.method,
        r.path,
        r.status,
        r.duration_us,
        r.user.as_deref().unwrap_or("-"),
        r.token_id.as_deref().unwrap_or("-"),
        r.ip_hash,
        refused.unwrap_or_default(),
        graphql.unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_read_as_rfc3339_or_unix_seconds() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("2023-11-14T23:13:20.5+01:00"), Ok(1_700_000_000_500));
        assert!(parse_time("yesterday").is_err());
    }
}
