//! Time as the stages see it. Windows, expiries and replay checks read an injected [`Clock`]
//! so tests can move time forward instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> u64;
    fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }
}

/// Shared handle to the clock in use.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests, benchmarks).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(start_ms: u64) -> Self {
        Self(AtomicU64::new(start_ms))
    }
    pub fn advance_ms(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn set_ms(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339, UTC, always with three fractional digits (so the strings sort by time).
pub fn rfc3339(ms: u64) -> String {
    Stamp::of(ms).as_str().to_owned()
}

/// An RFC 3339 UTC timestamp with milliseconds, on the stack (the audit writer formats one
/// per record). Times past the year 9999 read as the epoch, as `time` would refuse them.
pub struct Stamp([u8; 24]);

impl Stamp {
    const EPOCH: [u8; 24] = *b"1970-01-01T00:00:00.000Z";
    /// Milliseconds in 0000-01-01..=9999-12-31T23:59:59.999 after the epoch.
    const LAST_MS: u64 = 253_402_300_799_999;

    pub fn of(ms: u64) -> Self {
        if ms > Self::LAST_MS {
            return Self(Self::EPOCH);
        }
        let (days, rem) = (ms / 86_400_000, ms % 86_400_000);
        let (year, month, day) = civil_from_days(days);
        let mut out = Self::EPOCH;
        let mut put = |at: usize, width: usize, mut n: u64| {
            for i in (0..width).rev() {
                out[at + i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, rem / 3_600_000);
        put(14, 2, rem / 60_000 % 60);
        put(17, 2, rem / 1_000 % 60);
        put(20, 3, rem % 1_000);
        Self(out)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or("1970-01-01T00:00:00.000Z")
    }
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's algorithm, for
/// the proleptic Gregorian calendar).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the `time` crate prints for the same instant.
    fn reference(ms: u64) -> String {
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap().format(&format).unwrap()
    }

    #[test]
    fn stamps_match_the_time_crate_from_the_epoch_to_the_year_9999() {
        let mut ms = 0u64;
        for edge in [0, 951_782_400_000, 951_868_799_999, 4_107_542_400_000, Stamp::LAST_MS] {
            assert_eq!(Stamp::of(edge).as_str(), reference(edge), "at {edge}");
        }
        for _ in 0..200_000 {
            ms = ms.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let t = ms % (Stamp::LAST_MS + 1);
            assert_eq!(Stamp::of(t).as_str(), reference(t), "at {t}");
        }
        assert_eq!(Stamp::of(Stamp::LAST_MS + 1).as_str(), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_001), "1970-01-01T00:00:01.001Z");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_secs(), 1);
        c.advance_ms(61_000);
        assert_eq!(c.now_ms(), 62_000);
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
    }
}
