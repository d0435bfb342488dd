//! How every instance learns, within a second, that another one changed a token or a lock.
//!
//! Tokens and locks are served from in-memory mirrors (a request never reads them from the
//! database). A write to either tree sends `NOTIFY palisade_sys, '<tree>'` in its own
//! transaction, so the notice goes out exactly when the change is visible. Each instance
//! keeps one connection that `LISTEN`s, on a thread of its own, and re-reads the tree named
//! ([`super::PgStore::watch`]).
//!
//! A notice sent while the listening connection was down is lost, so a mirror that lost its
//! feed does not trust itself: on every (re)connect both trees are read again, and while
//! the connection cannot be made the trees are read again every second (when the database
//! answers reads at all), so no grant outlives its revocation by more than about a second.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;

use super::endpoint::Endpoint;

use crate::store::op::SysTree;

/// The notification channel.
pub const CHANNEL: &str = "palisade_sys";

/// What the watcher tells its owner: a tree to read again, or (`None`) only "still there?".
/// The owner answers `false` once it is gone, and the watcher stops.
pub type OnChange = Box<dyn Fn(Option<SysTree>) -> bool + Send>;

/// Runs the watcher on its own thread until `on_change` answers `false`.
pub fn start(endpoint: Endpoint, on_change: OnChange) -> std::io::Result<()> {
    std::thread::Builder::new().name("palisade-pg-watch".into()).spawn(move || run(&endpoint, &*on_change))?;
    Ok(())
}

fn both(on_change: &dyn Fn(Option<SysTree>) -> bool) -> bool {
    on_change(Some(SysTree::Tokens)) && on_change(Some(SysTree::Locks))
}

fn run(endpoint: &Endpoint, on_change: &dyn Fn(Option<SysTree>) -> bool) {
    loop {
        match connect(endpoint) {
            Ok(mut client) => {
                // Whatever was announced while nobody listened: read it all again.
                if !both(on_change) {
                    return;
                }
                match listen(&mut client, on_change) {
                    Listen::OwnerGone => return,
                    Listen::Lost(e) => tracing::warn!(error = %e, "lock and token feed lost; reading both again"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %super::endpoint::describe(&e), "lock and token feed cannot connect; reading both every second");
                if !both(on_change) {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

fn connect(endpoint: &Endpoint) -> Result<Client, postgres::Error> {
    let mut client = endpoint.connect()?;
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    Ok(client)
}

enum Listen {
    OwnerGone,
    Lost(postgres::Error),
}

fn listen(client: &mut Client, on_change: &dyn Fn(Option<SysTree>) -> bool) -> Listen {
    loop {
        let mut trees = Vec::new();
        {
            let mut notifications = client.notifications();
            let mut batch = notifications.timeout_iter(Duration::from_millis(500));
            loop {
                match batch.next() {
                    Ok(Some(n)) => {
                        let tree = match n.payload() {
                            "sys:tokens" => SysTree::Tokens,
                            "sys:locks" => SysTree::Locks,
                            _ => continue,
                        };
                        if !trees.contains(&tree) {
                            trees.push(tree);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Listen::Lost(e),
                }
            }
        }
        for tree in trees {
            if !on_change(Some(tree)) {
                return Listen::OwnerGone;
            }
        }
        if !on_change(None) {
            return Listen::OwnerGone;
        }
        // A closed connection shows itself here at the latest.
        if let Err(e) = client.simple_query("") {
            return Listen::Lost(e);
        }
    }
}
