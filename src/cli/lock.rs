//! `palisade lock ip|user`, `palisade unlock ip|user`, `palisade locks list`.

use clap::{Args, Subcommand};

use super::admin_client::call;
use super::Context;
use crate::api::admin::AdminRequest;
use crate::store::locks::LockKind;

#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Lock a client address, or a whole network automatic locks escalate into (an IPv6
    /// `[checks] ipv6_wide_prefix`, e.g. 2001:db8:7::/48, or an IPv4 /24).
    Ip(LockOpts),
    /// Lock a token owner (the token's --name).
    User(LockOpts),
}

#[derive(Debug, Args)]
pub struct LockOpts {
    /// The address or user name.
    subject: String,
    /// Lock duration in seconds.
    #[arg(long = "for", value_name = "SECS", default_value_t = 86_400)]
    secs: u64,
    /// Why (kept with the lock and in the audit log).
    #[arg(long)]
    reason: Option<String>,
    /// `lock user`: lock the name even though no token carries it.
    #[arg(long)]
    force: bool,
}

/// `palisade unlock ID` or `palisade unlock ip ADDR` / `unlock user NAME`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct UnlockOpts {
    #[command(subcommand)]
    by: Option<UnlockCommand>,
    /// The lock's id, as `palisade locks list` shows it.
    #[arg(required = true)]
    id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UnlockCommand {
    /// Unlock a client address.
    Ip { subject: String },
    /// Unlock a token owner.
    User { subject: String },
}

#[derive(Debug, Subcommand)]
pub enum LocksCommand {
    /// Current lock records (IPs appear only hashed).
    List {
        #[arg(long)]
        json: bool,
    },
}

pub fn lock(cx: &Context, command: &LockCommand) -> anyhow::Result<()> {
    let (kind, o) = match command {
        LockCommand::Ip(o) => (LockKind::Ip, o),
        LockCommand::User(o) => (LockKind::User, o),
    };
    let request =
        AdminRequest::Lock { kind, subject: o.subject.clone(), secs: o.secs, reason: o.reason.clone(), force: o.force };
    let shown = call(cx, request)?;
    say!("locked {} until {}", o.subject, shown["expires_at"].as_str().unwrap_or("?"));
    Ok(())
}

pub fn unlock(cx: &Context, opts: &UnlockOpts) -> anyhow::Result<()> {
    let (kind, subject) = match (&opts.by, &opts.id) {
        (Some(UnlockCommand::Ip { subject }), _) => (LockKind::Ip, subject),
        (Some(UnlockCommand::User { subject }), _) => (LockKind::User, subject),
        (None, Some(id)) => {
            let answer = call(cx, AdminRequest::UnlockId { id: id.clone() })?;
            match answer["unlocked"] == true {
                true => say!("unlocked {id}"),
                false => say!("{id} was already lifted"),
            }
            return Ok(());
        }
        (None, None) => anyhow::bail!("name a lock id (see palisade locks list), or ip ADDR / user NAME"),
    };
    let answer = call(cx, AdminRequest::Unlock { kind, subject: subject.clone() })?;
    if answer["unlocked"] == true {
        say!("unlocked {subject}");
    } else {
        say!("{subject} was not locked");
    }
    Ok(())
}

pub fn list(cx: &Context, command: &LocksCommand) -> anyhow::Result<()> {
    let LocksCommand::List { json } = command;
    let locks = call(cx, AdminRequest::LocksList)?;
    for l in locks.as_array().into_iter().flatten() {
        if *json {
            say!("{l}");
        } else {
            let s = |k: &str| l[k].as_str().unwrap_or("-").to_string();
            // A network lock shows its prefix length beside its kind: `ip/48`.
            let kind = format!("{}{}", s("kind"), l["prefix"].as_str().unwrap_or(""));
            say!(
                "{}  {:<7} {:<24} until {}  rule={}  route={}  owner={}",
                s("id"),
                kind,
                crate::redact::truncate(&s("subject"), 24),
                s("expires"),
                s("rule"),
                s("route"),
                s("owner")
            );
        }
    }
    Ok(())
}
