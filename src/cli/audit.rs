//! `palisade audit tail [-n N] [--json]` and `palisade audit verify [--json]`. Both read the
//! segment files under `DATA_DIR/audit/` directly, whether or not a server runs.

use clap::Subcommand;

use super::Context;
use crate::store::audit::{tail, verify::verify};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the last N audit records, oldest first.
    Tail {
        #[arg(short = 'n', default_value_t = 20)]
        n: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Walk the hash chain; exit 1 naming the first record that does not match.
    Verify {
        /// One JSON object with the report.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cx: &Context, command: &AuditCommand) -> anyhow::Result<()> {
    let dir = cx.config.server.data_dir.join("audit");
    match command {
        AuditCommand::Tail { n, json } => {
            for r in tail(&dir, *n)? {
                if *json {
                    say!("{}", serde_json::to_string(&r)?);
                } else {
                    let refused = r
                        .stage
                        .as_deref()
                        .map(|st| format!(" refused by {st}: {}", r.reason.as_deref().unwrap_or("-")));
                    say!(
                        "{} {} {} {} {}us token={} ip={}{}",
                        r.time,
                        r.method,
                        r.path,
                        r.status,
                        r.duration_us,
                        r.token_id.as_deref().unwrap_or("-"),
                        r.ip_hash,
                        refused.unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        AuditCommand::Verify { json } => {
            let report = verify(&dir)?;
            if *json {
                say!("{}", serde_json::to_string(&report)?);
            } else if report.ok {
                say!("audit trail intact: {} records in {} segments", report.records, report.segments);
                if !report.pruned.is_empty() {
                    say!("pruned by retention (not tampering): {}", report.pruned.join(", "));
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
    }
}
