//! The `locked` check: the client IP, or the owner of the presented token, is on the lock
//! list → 403 `locked`: a lock on the address, or on the network it belongs to (see
//! `store::locks`). One DashMap probe per request, a second while a network lock is held.

use std::sync::Arc;

use super::{CheckRequest, Policy, Refusal, SecurityCheck};
use crate::error::ErrorKind;
use crate::store::locks::{LockKind, LockStore};

pub struct Locked {
    pub locks: Arc<LockStore>,
}

impl SecurityCheck for Locked {
    fn name(&self) -> &str {
        "locked"
    }

    fn reads(&self) -> super::Reads {
        super::Reads { locks: true, ..super::Reads::NOTHING }
    }

    fn check(&self, req: &CheckRequest<'_>, _: &Policy) -> Result<(), Refusal> {
        let refuse = |reason: String| Refusal { kind: ErrorKind::Locked, reason, lock_ip: false, sample: None };
        if self.locks.is_empty() {
            return Ok(());
        }
        if let Some(lock) = self.locks.active_client(&req.ip, req.ip_key, req.now_ms) {
            return Err(refuse(format!("ip locked: {}", lock.reason)));
        }
        if let Some(user) = req.user {
            if let Some(lock) = self.locks.active(LockKind::User, user, req.now_ms) {
                return Err(refuse(format!("user locked: {}", lock.reason)));
            }
        }
        Ok(())
    }
}
