//! `palisade backup DEST`, `palisade backup verify FILE` and `palisade restore FILE
//! --data-dir DIR`. A backup goes through the admin socket while the server runs (the live
//! writer names the point; serving goes on), directly on the store otherwise; verify and
//! restore only read the archive (restore then writes a new, stopped data dir).

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::admin_client::call;
use super::Context;
use crate::api::admin::AdminRequest;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupOpts {
    #[command(subcommand)]
    command: Option<BackupCommand>,
    /// Archive file to write, or an existing directory to write `palisade-backup-<time>.tar.zst` in.
    dest: Option<PathBuf>,
    /// Encrypt the archive to a passphrase (not available in this build: see README).
    #[arg(long)]
    encrypt: bool,
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
    },
}

#[derive(Debug, Args)]
pub struct RestoreOpts {
    /// The archive to restore (into --data-dir, which must be new or empty).
    file: PathBuf,
}

pub fn backup(cx: &Context, opts: &BackupOpts) -> anyhow::Result<()> {
    match (&opts.command, &opts.dest) {
        (Some(BackupCommand::Verify { file, json }), _) => {
            let report = crate::backup::verify(file)?;
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
        (None, Some(_)) if opts.encrypt => Err(anyhow!(
            "--encrypt is not available in this build; encrypt the archive with an external tool (e.g. age -p)"
        )),
        (None, Some(dest)) => {
            let dest = std::path::absolute(dest)?;
            let created = call(cx, AdminRequest::Backup { dest })?;
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
    let manifest = crate::backup::restore(&opts.file, dir, &cx.config.state, cx.schema.index_plan())?;
    say!("restored {} into {} (point {})", opts.file.display(), dir.display(), manifest.point);
    for (table, n) in &manifest.rows {
        say!("  {table}: {n} rows");
    }
    Ok(())
}
