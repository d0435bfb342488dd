//! `palisade audit tail` (see `audit_tail`), `audit verify [--key K]` and `audit setup-keys`.
//! `tail` and `verify` read the files under `DATA_DIR/audit/` directly, whether or not a
//! server runs (`tail` first asks a running one to store what it holds);
//! `setup-keys` goes through the admin socket when a server runs (so its writer starts
//! sealing at once), and opens the data dir itself when none does.

use std::io::BufRead;

use anyhow::Context as _;
use clap::Subcommand;

use super::admin_client::call;
use super::Context;
use crate::api::admin::AdminRequest;
use crate::clock::{Clock, SystemClock};
use crate::store::audit::seal::VerificationKey;
use crate::store::audit::verify::verify_with;

/// `--key`: the verification key, or `-` to read it from stdin (kept out of `ps` and shell
/// history). `Debug` prints nothing of it.
#[derive(Debug, Clone)]
pub enum KeyArg {
    Stdin,
    Given(VerificationKey),
}

fn key_arg(text: &str) -> Result<KeyArg, String> {
    match text {
        "-" => Ok(KeyArg::Stdin),
        _ => text.parse().map(KeyArg::Given).map_err(|e| e.to_string()),
    }
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the last N audit records that match, oldest first; -f keeps following.
    Tail(super::audit_tail::TailOpts),
    /// Walk the hash chain (and with --key, the seals); exit 1 naming the first failure.
    Verify {
        /// One JSON object with the report.
        #[arg(long)]
        json: bool,
        /// The verification key `audit setup-keys` printed (`-`: read it from stdin).
        #[arg(long, value_name = "K", value_parser = key_arg)]
        key: Option<KeyArg>,
    },
    /// Start forward-secure sealing; prints the verification key once.
    SetupKeys {
        /// Print exactly {"verification_key": "…"}.
        #[arg(long)]
        json: bool,
        /// Replace the key of an already sealed trail (the old key then covers no new records).
        #[arg(long)]
        force: bool,
    },
}

pub fn run(cx: &Context, command: &AuditCommand) -> anyhow::Result<()> {
    let dir = cx.config.server.data_dir.join("audit");
    match command {
        AuditCommand::Tail(opts) => super::audit_tail::run(cx, opts),
        AuditCommand::Verify { json, key } => {
            let key = match key {
                None => None,
                Some(KeyArg::Given(k)) => Some(k.clone()),
                Some(KeyArg::Stdin) => {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line).context("reading the key from stdin")?;
                    Some(line.trim().parse::<VerificationKey>()?)
                }
            };
            verify(&dir, key.as_ref(), *json)
        }
        AuditCommand::SetupKeys { json, force } => {
            let answer = call(cx, AdminRequest::AuditSetupKeys { force: *force })?;
            let key = answer["verification_key"].as_str().context("no verification key in the answer")?;
            if *json {
                say!("{}", serde_json::json!({ "verification_key": key }));
            } else {
                let epoch_secs = key.parse::<VerificationKey>().map_or(0, |k| k.epoch_secs);
                say!("Verification key (shown only now; keep it off this machine):");
                say!("");
                say!("    {key}");
                say!("");
                say!("The trail is sealed every {epoch_secs} s from now. Check it with");
                say!("    palisade audit verify --key -   (and paste the key)");
            }
            Ok(())
        }
    }
}

fn verify(dir: &std::path::Path, key: Option<&VerificationKey>, json: bool) -> anyhow::Result<()> {
    let report = verify_with(dir, key, SystemClock.now_ms())?;
    if json {
        say!("{}", serde_json::to_string(&report)?);
    } else if report.ok {
        say!("audit trail intact: {} records in {} segments", report.records, report.segments);
        if !report.pruned.is_empty() {
            say!("pruned by retention (not tampering): {}", report.pruned.join(", "));
        }
        match &report.seals {
            Some(s) => {
                say!(
                    "sealed: {} seals of key {}, the last of epoch {} at {}; they vouch for {} records",
                    s.seals,
                    s.key_id,
                    s.last_epoch.unwrap_or_default(),
                    s.last_seal.as_deref().unwrap_or("-"),
                    s.sealed_records
                );
                say!("unsealed tail: {} records (written after the last seal; not vouched for)", s.unsealed_tail);
                if s.unsealed_pruned > 0 {
                    say!("unsealed retention notes: {} (for segments no seal covered)", s.unsealed_pruned);
                }
                if s.other_key_seals > 0 {
                    say!("seals of other keys (before a setup-keys --force), not checked: {}", s.other_key_seals);
                }
                if let Some(w) = &s.warning {
                    say!("warning: {w}");
                }
            }
            None => say!("not vouched for: {}", report.note),
        }
    }
    match report.first_break {
        None => Ok(()),
        Some(b) => Err(anyhow::anyhow!(
            "audit trail broken: {} line {}{}: {}",
            b.segment,
            b.line,
            b.request_id.map(|id| format!(" (request {id})")).unwrap_or_default(),
            b.problem
        )),
    }
}
