//! `palisade check-injection [--json] [TEXT…]`: the injection detector's verdict on each
//! TEXT (or on each line of standard input), with the rule that decided it and the token
//! fingerprint of the reading it rests on — so an operator can see why an address was locked
//! (the lock and the audit record name the rule, never the payload).

use std::io::BufRead;

use clap::Args;
use serde_json::json;

use crate::checks::injection::explain;

#[derive(Debug, Args)]
pub struct Opts {
    /// One JSON object per input.
    #[arg(long)]
    json: bool,
    /// Values to judge; none: read one value per line from standard input.
    texts: Vec<String>,
}

pub fn run(opts: &Opts) -> anyhow::Result<()> {
    let judge = |text: &str| {
        let (verdict, fingerprint) = explain(text);
        if opts.json {
            let out =
                json!({"input": text, "verdict": verdict.name(), "rule": verdict.rule(), "fingerprint": fingerprint});
            println!("{out}");
        } else {
            println!("{}\t{}\t{}\t{text}", verdict.name(), verdict.rule().unwrap_or("-"), fingerprint);
        }
    };
    if opts.texts.is_empty() {
        for line in std::io::stdin().lock().lines() {
            judge(&line?);
        }
    } else {
        opts.texts.iter().for_each(|t| judge(t));
    }
    Ok(())
}
