//! `palisade backup DEST`, `palisade backup verify FILE` and `palisade restore FILE
//! --data-dir DIR`. A backup goes through the admin socket while the server runs (the live
//! writer names the point; serving goes on), directly on the store otherwise; verify and
//! restore only read the archive (restore then writes a new, stopped data dir).
//!
//! `--encrypt` (a passphrase, see [`super::passphrase`]) or `--recipient age1…` makes the
//! archive an age file; verify and restore tell one by its header and ask for the same
//! passphrase, or take `--identity FILE` for recipient keys.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::admin_client::call;
use super::Context;
use crate::api::admin::AdminRequest;
use crate::backup::{Encryption, Keys};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupOpts {
    #[command(subcommand)]
    command: Option<BackupCommand>,
    /// Archive file to write, or an existing directory to write `palisade-backup-<time>.tar.zst` in.
    dest: Option<PathBuf>,
    /// Encrypt the archive with age to a passphrase (from PALISADE_BACKUP_PASSPHRASE, or a
    /// prompt on a terminal).
    #[arg(long)]
    encrypt: bool,
    /// Encrypt to this age X25519 recipient (`age1…`) instead; repeatable.
    #[arg(long = "recipient", value_name = "AGE1…")]
    recipients: Vec<String>,
}

impl BackupOpts {
    /// Whether this runs against a data dir (`backup DEST`), not only on a file (`verify`).
    pub fn needs_store(&self) -> bool {
        self.command.is_none()
    }
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Check an archive: its manifest, every member's checksum and the audit chain inside.
    Verify {
        file: PathBuf,
        #[arg(long)]
        json: bool,
        /// age identity file for an archive encrypted to recipients.
        #[arg(long)]
        identity: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct RestoreOpts {
    /// The archive to restore (into --data-dir, which must be new or empty).
    file: PathBuf,
    /// age identity file for an archive encrypted to recipients.
    #[arg(long)]
    identity: Option<PathBuf>,
}

/// The keys for `file`: none for a plain archive; the identity file, or the passphrase
/// (asked only now that the file is known to be encrypted).
fn keys(file: &std::path::Path, identity: &Option<PathBuf>) -> anyhow::Result<Keys> {
    if !crate::backup::crypt::is_encrypted(file)? {
        return Ok(Keys::default());
    }
    match identity {
        Some(path) => Ok(Keys { identity: Some(path.clone()), passphrase: None }),
        None => Ok(Keys { passphrase: Some(super::passphrase::obtain(false)?), identity: None }),
    }
}

pub fn backup(cx: &Context, opts: &BackupOpts) -> anyhow::Result<()> {
    match (&opts.command, &opts.dest) {
        (Some(BackupCommand::Verify { file, json, identity }), _) => {
            let report = crate::backup::verify(file, &keys(file, identity)?)?;
            if *json {
                say!("{}", serde_json::to_string(&report)?);
            } else {
                let m = &report.manifest;
                say!("ok: {} members, point {}, Palisade {}", m.members.len(), m.point, m.palisade_version);
                for (table, n) in &m.rows {
                    say!("  {table}: {n} rows");
                }
                say!("  audit chain: {} records intact", report.audit_records);
            }
            Ok(())
        }
        (None, Some(dest)) => {
            let dest = std::path::absolute(dest)?;
            let encryption = match (opts.encrypt, opts.recipients.is_empty()) {
                (_, false) => Some(Encryption::Recipients(opts.recipients.clone())),
                (true, true) => Some(Encryption::Passphrase(super::passphrase::obtain(true)?)),
                (false, true) => None,
            };
            if let Some(e) = &encryption {
                e.check()?;
            }
            let created = call(cx, AdminRequest::Backup { dest, encryption })?;
            say!("{}", created["path"].as_str().unwrap_or_default());
            say!(
                "point {}, {} bytes",
                crate::clock::rfc3339(created["point_ms"].as_u64().unwrap_or(0)),
                created["bytes"]
            );
            eprintln!("palisade: the archive holds the install key, tokens and every row: keep it private (mode 0600)");
            Ok(())
        }
        (None, None) => Err(anyhow!("give DEST, or `backup verify FILE`")),
    }
}

pub fn restore(cx: &Context, opts: &RestoreOpts) -> anyhow::Result<()> {
    let dir = &cx.config.server.data_dir;
    let keys = keys(&opts.file, &opts.identity)?;
    let (state, backend) = (&cx.config.state, &cx.config.store);
    let layout = cx.schema.pg_layout();
    let manifest = crate::backup::restore(&opts.file, &keys, dir, state, backend, cx.schema.index_plan(), layout)?;
    say!("restored {} into {} (point {})", opts.file.display(), dir.display(), manifest.point);
    for (table, n) in &manifest.rows {
        say!("  {table}: {n} rows");
    }
    Ok(())
}
