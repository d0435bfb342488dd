//! What one GraphQL request may spend while it executes: rows produced and time.
//!
//! The guards bound what a document *asks for* before it runs; this bounds what it *does*.
//! Execution runs on the blocking pool, where the request timeout cannot cancel it: without
//! a deadline checked inside the resolvers, a query cut off at the HTTP layer would go on
//! reading rows. Every resolver that reads the store takes from the budget first, so once the
//! deadline passes or the rows run out, each remaining field fails at once with its own error
//! and execution winds down without touching the store again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::error::{ApiError, ErrorKind};

/// Rows and time left for one request.
#[derive(Debug)]
pub struct Budget {
    deadline: Instant,
    rows_left: AtomicU64,
}

impl Budget {
    pub fn new(deadline: Instant, max_rows: u64) -> Self {
        Self { deadline, rows_left: AtomicU64::new(max_rows) }
    }

    /// Refuses once the deadline has passed.
    pub fn check_time(&self) -> Result<(), ApiError> {
        if Instant::now() >= self.deadline {
            return Err(ApiError::new(ErrorKind::RequestTimeout));
        }
        Ok(())
    }

    /// How many rows a read may still fetch (checks the deadline too).
    pub fn allowance(&self) -> Result<u64, ApiError> {
        self.check_time()?;
        match self.rows_left.load(Ordering::Relaxed) {
            0 => Err(ApiError::new(ErrorKind::RowBudgetExceeded)),
            n => Ok(n),
        }
    }

    /// Takes `n` produced rows from the budget; refuses when fewer than `n` were left.
    pub fn take(&self, n: u64) -> Result<(), ApiError> {
        let taken = self.rows_left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(n));
        match taken {
            Ok(_) => Ok(()),
            Err(_) => {
                self.rows_left.store(0, Ordering::Relaxed);
                Err(ApiError::new(ErrorKind::RowBudgetExceeded))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rows_run_out_and_stay_out() {
        let b = Budget::new(Instant::now() + Duration::from_secs(60), 10);
        assert!(b.take(6).is_ok());
        assert_eq!(b.allowance().unwrap(), 4);
        assert_eq!(b.take(5).unwrap_err().kind, ErrorKind::RowBudgetExceeded);
        assert_eq!(b.allowance().unwrap_err().kind, ErrorKind::RowBudgetExceeded);
        assert!(b.take(1).is_err());
    }

    #[test]
    fn a_passed_deadline_refuses_every_read() {
        let b = Budget::new(Instant::now(), 10);
        assert_eq!(b.allowance().unwrap_err().kind, ErrorKind::RequestTimeout);
        assert!(b.check_time().is_err());
    }
}
