//! Where the CLI gets a backup passphrase: `PALISADE_BACKUP_PASSPHRASE` first (scripts,
//! cron), else a prompt when stdin is a terminal, with echo turned off for the line (the
//! terminal is put back however the read ends). Without either it refuses rather than
//! read a secret from a pipe that may not carry one.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{anyhow, Context as _};
use nix::sys::termios::{self, LocalFlags, SetArg};

use crate::backup::{crypt::PASSPHRASE_ENV, Passphrase};

/// A passphrase from the environment or the terminal; `confirm` asks twice (a new archive).
pub fn obtain(confirm: bool) -> anyhow::Result<Passphrase> {
    if let Some(p) = Passphrase::from_env() {
        return Ok(p?);
    }
    if !std::io::stdin().is_terminal() {
        return Err(anyhow!("a passphrase is needed: set {PASSPHRASE_ENV} (stdin is not a terminal)"));
    }
    let first = prompt("Backup passphrase: ")?;
    if confirm && prompt("Again: ")? != first {
        return Err(anyhow!("the passphrases differ"));
    }
    Ok(Passphrase::new(first)?)
}

fn prompt(label: &str) -> anyhow::Result<String> {
    eprint!("{label}");
    std::io::stderr().flush().ok();
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).context("terminal settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("terminal settings")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let restored = termios::tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    read.context("reading the passphrase")?;
    restored.context("terminal settings")?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
}
