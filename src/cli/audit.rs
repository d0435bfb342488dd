//! `palisade audit tail [-n N] [--json]`.

use clap::Subcommand;

use super::admin_client::call;
use super::Context;
use crate::api::admin::AdminRequest;

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
}

pub fn run(cx: &Context, command: &AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::Tail { n, json } = command;
    let records = call(cx, AdminRequest::AuditTail { n: *n })?;
    for r in records.as_array().into_iter().flatten() {
        if *json {
            println!("{r}");
        } else {
            let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
            println!(
                "{} {} {} {} {}us token={} ip={}{}",
                s("time"),
                s("method"),
                s("path"),
                r["status"],
                r["duration_us"],
                s("token_id"),
                s("ip_hash"),
                r["stage"].as_str().map(|st| format!(" refused by {st}: {}", s("reason"))).unwrap_or_default()
            );
        }
    }
    Ok(())
}
