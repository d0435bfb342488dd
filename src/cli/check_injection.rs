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
            say!("{out}");
        } else {
            say!("{}\t{}\t{}\t{text}", verdict.name(), verdict.rule().unwrap_or("-"), fingerprint);
        }
    };
    if !opts.texts.is_empty() {
        opts.texts.iter().for_each(|t| judge(t));
        return Ok(());
    }
    // Each line is judged on its own: one that is not UTF-8 is reported in its place (so
    // output lines still match input lines) and the rest of the batch is still judged.
    let mut unreadable = 0usize;
    for (n, line) in std::io::stdin().lock().split(b'\n').enumerate() {
        let mut line = line?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        match std::str::from_utf8(&line) {
            Ok(text) => judge(text),
            Err(_) => {
                unreadable += 1;
                if opts.json {
                    say!("{}", json!({"line": n + 1, "verdict": null, "error": "the line is not UTF-8"}));
                } else {
                    say!("error\t-\t-\tline {} is not UTF-8", n + 1);
                }
            }
        }
    }
    if unreadable > 0 {
        anyhow::bail!("{unreadable} input line(s) are not UTF-8 and were not judged");
    }
    Ok(())
}
