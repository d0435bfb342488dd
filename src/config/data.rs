//! The configuration of moving data in bulk: how many rows one REST request may create
//! (`[limits]`) and the scheduled backups the housekeeper takes (`[backup]`). Kept beside
//! the main tree (`config.rs`) so that file stays readable; the same rules hold: defaults in
//! one `Default` impl, unknown keys refused, [`LimitsConfig::validate`] and
//! [`BackupConfig::validate`] run at start-up.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// Request-size limits that are not the shield's byte limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most rows one `POST /api/v1/{table}` with a JSON array may create.
    pub max_batch_rows: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self { max_batch_rows: 500 }
    }
}

impl LimitsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_batch_rows == 0 {
            return Err(ConfigError::Invalid { key: "limits.max_batch_rows", message: "must be positive".into() });
        }
        Ok(())
    }
}

/// Scheduled backups (see `housekeeper`). Off while `dir` is unset.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Where scheduled archives go; `None`: no scheduled backups.
    pub dir: Option<PathBuf>,
    /// How often, as a number and a unit: `"30m"`, `"6h"`, `"1d"` (also `s`).
    pub every: String,
    /// How many scheduled archives are kept (the oldest beyond this are deleted).
    pub keep: usize,
    /// A file (mode 0600) holding a passphrase: scheduled archives are then encrypted with
    /// age (`.tar.zst.age`). Unset: they are written plain.
    pub passphrase_file: Option<PathBuf>,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self { dir: None, every: "24h".into(), keep: 7, passphrase_file: None }
    }
}

impl BackupConfig {
    /// The interval `every` names.
    pub fn interval(&self) -> Result<Duration, ConfigError> {
        parse_duration(&self.every).ok_or_else(|| ConfigError::Invalid {
            key: "backup.every",
            message: format!("{:?} is not a duration like \"30m\", \"6h\" or \"1d\"", self.every),
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.interval()?.as_secs() == 0 {
            return Err(ConfigError::Invalid { key: "backup.every", message: "must be at least one second".into() });
        }
        if self.keep == 0 {
            return Err(ConfigError::Invalid { key: "backup.keep", message: "must be at least 1".into() });
        }
        if let Some(path) = &self.passphrase_file {
            use std::os::unix::fs::PermissionsExt;
            let message = match std::fs::metadata(path) {
                Err(e) => format!("{}: {e}", path.display()),
                Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                    format!("{}: must be readable by its owner only (chmod 600)", path.display())
                }
                Ok(_) => return Ok(()),
            };
            return Err(ConfigError::Invalid { key: "backup.passphrase_file", message });
        }
        Ok(())
    }
}

/// `"90s"`, `"30m"`, `"6h"`, `"1d"`: a whole number and one unit.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: u64 = text.get(..text.len() - unit.len_utf8())?.parse().ok()?;
    let secs = match unit {
        's' => n,
        'm' => n.checked_mul(60)?,
        'h' => n.checked_mul(3600)?,
        'd' => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("6h"), Some(Duration::from_secs(21_600)));
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86_400)));
        for bad in ["", "h", "6", "6 h", "-1h", "6w", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        let short = BackupConfig { every: "0s".into(), ..Default::default() };
        assert!(short.validate().unwrap_err().to_string().contains("backup.every"));
        assert!(BackupConfig::default().validate().is_ok());
        assert!(LimitsConfig { max_batch_rows: 0 }.validate().is_err());
    }
}
