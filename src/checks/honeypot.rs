//! The `honeypot` check, written only against the public `SecurityCheck` API — the way a
//! user would write their own: a body field real users never fill (hidden in a form) that
//! bots fill. Filled → 403 `check_failed`, and optionally the IP is locked.

use serde_json::Value;

use super::{CheckRequest, Policy, Refusal, SecurityCheck};
use crate::error::ErrorKind;

pub struct Honeypot {
    field: Option<String>,
    lock: bool,
}

impl Honeypot {
    /// `field: None` disables it (it then lets everything through).
    pub fn new(field: Option<String>, lock: bool) -> Self {
        Self { field, lock }
    }
}

impl SecurityCheck for Honeypot {
    fn name(&self) -> &str {
        "honeypot"
    }

    fn reads(&self) -> super::Reads {
        super::Reads { body: true, ..super::Reads::NOTHING }
    }

    fn check(&self, req: &CheckRequest<'_>, _: &Policy) -> Result<(), Refusal> {
        let Some(field) = &self.field else { return Ok(()) };
        let in_json = req.field(field).is_some_and(|v| !matches!(v, Value::Null) && v.as_str() != Some(""));
        let in_form = req.form.iter().any(|(k, v)| k == field && !v.is_empty());
        if in_json || in_form {
            return Err(Refusal {
                kind: ErrorKind::CheckFailed,
                reason: format!("honeypot field {field:?} filled"),
                lock_ip: self.lock,
                sample: None,
            });
        }
        Ok(())
    }
}
