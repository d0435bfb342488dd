//! Encrypted archives: the whole zstd tar stream is the payload of an [age] file, so an
//! archive that leaves the machine (it holds the install key, the tokens and every row) is
//! of no use without its passphrase or key. age encrypts in 64 KiB chunks, so writing and
//! reading stay streams with bounded memory, and a changed or cut file fails its
//! authentication instead of yielding altered rows.
//!
//! Two ways to name the key: a passphrase (age's scrypt recipient) or one or more age
//! X25519 recipients (`age1…`), whose identity file (`AGE-SECRET-KEY-1…`) decrypts. A
//! reader recognises an encrypted archive by age's header line, so `backup verify` and
//! `restore` need no flag to tell them.
//!
//! [age]: https://age-encryption.org/v1

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{io, BackupError};

/// How every age file starts.
pub const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";

/// The environment variable a passphrase is read from.
pub const PASSPHRASE_ENV: &str = "PALISADE_BACKUP_PASSPHRASE";

/// A backup passphrase. Its `Debug` prints nothing of it; it reaches no log or error.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Passphrase(String);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

impl Passphrase {
    /// A passphrase; an empty one is refused.
    pub fn new(text: String) -> Result<Self, BackupError> {
        match text.is_empty() {
            true => Err(BackupError::Crypt("the passphrase is empty".into())),
            false => Ok(Self(text)),
        }
    }

    /// From [`PASSPHRASE_ENV`], when set.
    pub fn from_env() -> Option<Result<Self, BackupError>> {
        std::env::var(PASSPHRASE_ENV).ok().map(Self::new)
    }

    /// From a file only its owner may read (mode 0600 or stricter); one trailing newline
    /// is not part of it.
    pub fn from_file(path: &Path) -> Result<Self, BackupError> {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(io(path))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(BackupError::Crypt(format!(
                "{}: mode {:o}; a passphrase file must be readable by its owner only (chmod 600)",
                path.display(),
                mode & 0o777
            )));
        }
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        Self::new(text.strip_suffix('\r').unwrap_or(text).to_string())
    }

    fn secret(&self) -> SecretString {
        SecretString::from(self.0.clone())
    }
}

/// What a new archive is encrypted to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    Passphrase(Passphrase),
    /// age X25519 recipients, `age1…`.
    Recipients(Vec<String>),
}

impl Encryption {
    /// Checks the recipients parse (so a typo fails before any work).
    pub fn check(&self) -> Result<(), BackupError> {
        self.encryptor().map(drop)
    }

    fn encryptor(&self) -> Result<age::Encryptor, BackupError> {
        match self {
            Encryption::Passphrase(p) => Ok(age::Encryptor::with_user_passphrase(p.secret())),
            Encryption::Recipients(list) => {
                let parsed = list
                    .iter()
                    .map(|r| {
                        age::x25519::Recipient::from_str(r.trim())
                            .map_err(|e| BackupError::Crypt(format!("recipient {r:?}: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if parsed.is_empty() {
                    return Err(BackupError::Crypt("no recipient given".into()));
                }
                age::Encryptor::with_recipients(parsed.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| BackupError::Crypt(e.to_string()))
            }
        }
    }
}

/// What may decrypt an archive: a passphrase, an identity file, or nothing (plain
/// archives only).
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub passphrase: Option<Passphrase>,
    pub identity: Option<PathBuf>,
}

/// Whether `file` is an age file (by its header line).
pub fn is_encrypted(file: &Path) -> Result<bool, BackupError> {
    let mut head = [0u8; AGE_MAGIC.len()];
    let mut f = std::fs::File::open(file).map_err(io(file))?;
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]).map_err(io(file))? {
            0 => break,
            n => got += n,
        }
    }
    Ok(&head[..got] == AGE_MAGIC)
}

/// The archive's zstd tar bytes: the file itself, or its decrypted payload.
pub fn open(file: &Path, keys: &Keys) -> Result<Box<dyn Read>, BackupError> {
    let encrypted = is_encrypted(file)?;
    let f = BufReader::with_capacity(1 << 20, std::fs::File::open(file).map_err(io(file))?);
    if !encrypted {
        return Ok(Box::new(f));
    }
    let identities: Vec<Box<dyn age::Identity>> = match (&keys.identity, &keys.passphrase) {
        (Some(path), _) => age::IdentityFile::from_file(path.to_string_lossy().into_owned())
            .map_err(io(path))?
            .into_identities()
            .map_err(|e| BackupError::Crypt(format!("{}: {e}", path.display())))?
            .into_iter()
            .map(|i| i as Box<dyn age::Identity>)
            .collect(),
        (None, Some(p)) => vec![Box::new(age::scrypt::Identity::new(p.secret()))],
        (None, None) => {
            return Err(BackupError::Crypt(format!(
                "{} is encrypted: set {PASSPHRASE_ENV} or give --identity FILE",
                file.display()
            )))
        }
    };
    let refused = |e: age::DecryptError| {
        BackupError::Crypt(format!("cannot decrypt {}: wrong passphrase or key ({e})", file.display()))
    };
    let decryptor = age::Decryptor::new_buffered(f).map_err(refused)?;
    let reader = decryptor.decrypt(identities.iter().map(|i| i.as_ref())).map_err(refused)?;
    Ok(Box::new(reader))
}

/// Where a new archive's bytes go: straight to the file, or through age first.
pub enum Sink<W: Write> {
    Plain(W),
    Sealed(age::stream::StreamWriter<W>),
}

impl<W: Write> Sink<W> {
    pub fn new(inner: W, encryption: Option<&Encryption>) -> Result<Self, BackupError> {
        match encryption {
            None => Ok(Sink::Plain(inner)),
            Some(e) => {
                let writer = e.encryptor()?.wrap_output(inner).map_err(|e| BackupError::Crypt(e.to_string()))?;
                Ok(Sink::Sealed(writer))
            }
        }
    }

    /// Ends the stream (age's last chunk) and hands back the file's writer.
    pub fn finish(self) -> std::io::Result<W> {
        match self {
            Sink::Plain(w) => Ok(w),
            Sink::Sealed(w) => w.finish(),
        }
    }
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Sealed(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Sealed(w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passphrase_never_shows_in_debug() {
        let p = Passphrase::new("hunter2".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
        let e = Encryption::Passphrase(p);
        assert!(!format!("{e:?}").contains("hunter2"));
    }

    #[test]
    fn a_bad_recipient_is_refused_before_any_work() {
        let e = Encryption::Recipients(vec!["age1nope".into()]);
        assert!(e.check().unwrap_err().to_string().contains("age1nope"));
    }
}
