//! Command-line interface: one file per subcommand, each with its `Opts` and `run()`.
//! Exit status: 0 on success, 1 with a one-line message on stderr on failure, 2 on bad
//! usage (clap's own).

/// `println!` for command output: a closed pipe (`palisade locks list | head`) ends the
/// command quietly with status 0, as a Unix tool does, instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => { $crate::cli::say_line(format_args!($($arg)*)) };
}

mod admin_client;
mod audit;
mod audit_tail;
mod backup;
mod check_injection;
mod lock;
mod passphrase;
mod schema;
mod serve;
mod sign;
mod token;
mod transfer;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::schema::Schema;

#[derive(Debug, Parser)]
#[command(name = "palisade", version, about = "Tables over REST and GraphQL behind a six-stage security pipeline")]
pub struct Cli {
    /// Config file (default: data/palisade.toml when it exists, else built-in defaults).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Data directory (overrides server.data_dir).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::Opts),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Read the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Inspect the table schema.
    #[command(subcommand)]
    Schema(schema::SchemaCommand),
    /// Print X-Timestamp and X-Signature headers for a request (client helper).
    Sign(sign::Opts),
    /// Judge values with the injection detector: verdict, rule and fingerprint.
    CheckInjection(check_injection::Opts),
    /// Lock a client address or a token owner.
    #[command(subcommand)]
    Lock(lock::LockCommand),
    /// Lift a lock: by the id `locks list` shows, or by address or user name.
    Unlock(lock::UnlockOpts),
    /// List lock records.
    #[command(subcommand)]
    Locks(lock::LocksCommand),
    /// Write every row of a table (or of every table) as CSV or JSON lines.
    Export(transfer::ExportOpts),
    /// Read rows into a table from CSV (header row) or JSON lines.
    Import(transfer::ImportOpts),
    /// Write a consistent archive of everything (or check one with `backup verify FILE`).
    Backup(backup::BackupOpts),
    /// Recreate a data dir from an archive (server stopped, new or empty --data-dir).
    Restore(backup::RestoreOpts),
}

/// Writes one line to standard output (see `say!`).
pub(crate) fn say_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("palisade: cannot write output: {e}");
        std::process::exit(1);
    }
}

/// Config and schema as every command sees them.
pub struct Context {
    pub config: Config,
    pub schema: Schema,
    /// How the config was found, so `serve` can read it again on SIGHUP.
    pub config_file: Option<PathBuf>,
    /// The schema file in use (`None`: the schema embedded in the binary).
    pub schema_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
}

impl Context {
    /// Reads and validates the config again, as at start.
    pub fn reload_config(&self) -> anyhow::Result<Config> {
        load_config(self.config_file.as_deref(), self.data_dir.as_deref())
    }
}

fn load_config(file: Option<&std::path::Path>, data_dir: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let mut config = Config::load(file)?;
    if let Some(dir) = data_dir {
        config.server.data_dir = dir.to_path_buf();
    }
    config.validate()?;
    Ok(config)
}

impl Cli {
    fn context(&self) -> anyhow::Result<Context> {
        let config = load_config(self.config.as_deref(), self.data_dir.as_deref())?;
        let schema_path = config.server.schema.clone().or_else(|| {
            let default = PathBuf::from("data/schema.toml");
            default.exists().then_some(default)
        });
        let schema = Schema::load(schema_path.as_deref())?;
        Ok(Context {
            config,
            schema,
            config_file: self.config.clone(),
            schema_file: schema_path,
            data_dir: self.data_dir.clone(),
        })
    }
}

/// Only `serve` creates a data dir: an admin command run from the wrong directory (or with
/// a mistyped `--data-dir`) would otherwise make a new store and, say, print a token that
/// works on no server.
fn check_data_dir(command: &Command, cx: &Context) -> anyhow::Result<()> {
    let admin = match command {
        // `restore` makes a new data dir from an archive; `backup verify` reads only a file.
        Command::Serve(_) | Command::Sign(_) | Command::CheckInjection(_) | Command::Restore(_) => false,
        Command::Backup(o) => o.needs_store(),
        Command::Schema(c) => c.needs_store(),
        Command::Token(_)
        | Command::Audit(_)
        | Command::Lock(_)
        | Command::Unlock(_)
        | Command::Locks(_)
        | Command::Export(_)
        | Command::Import(_) => true,
    };
    let dir = &cx.config.server.data_dir;
    if admin && !crate::store::Store::exists(dir) {
        let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
        anyhow::bail!("no Palisade data dir at {} — start the server once or pass --data-dir", shown.display());
    }
    Ok(())
}

/// Parses arguments, runs the command, and exits with the contract's status codes.
pub fn main() {
    // Everything Palisade creates (sled's files, audit segments, the key file) is the
    // owner's alone.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Sign(opts) => sign::run(opts),
        Command::CheckInjection(opts) => check_injection::run(opts),
        command => {
            cli.context().and_then(|cx| check_data_dir(command, &cx).map(|()| cx)).and_then(|cx| match command {
                Command::Serve(opts) => serve::run(cx, opts),
                Command::Token(c) => token::run(&cx, c),
                Command::Audit(c) => audit::run(&cx, c),
                Command::Schema(c) => schema::run(&cx, c),
                Command::Lock(c) => lock::lock(&cx, c),
                Command::Unlock(c) => lock::unlock(&cx, c),
                Command::Locks(c) => lock::list(&cx, c),
                Command::Export(o) => transfer::export(&cx, o),
                Command::Import(o) => transfer::import(&cx, o),
                Command::Backup(o) => backup::backup(&cx, o),
                Command::Restore(o) => backup::restore(&cx, o),
                Command::Sign(_) | Command::CheckInjection(_) => unreachable!("handled above"),
            })
        }
    };
    if let Err(e) = result {
        let message = format!("{e:#}").replace('\n', " ");
        eprintln!("palisade: {message}");
        let storage_failed = e.downcast_ref::<crate::server::StorageFailed>().is_some();
        std::process::exit(if storage_failed { crate::server::StorageFailed::EXIT } else { 1 });
    }
}
