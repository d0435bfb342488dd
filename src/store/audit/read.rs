//! Reading the trail back for people: the last records that match a [`Filter`] (who, which
//! token, status, path prefix, time range), and a [`Follower`] that hands out records as they
//! are appended (`audit tail -f`). Both read the segment files directly, so they need no
//! server and no database, and they never write.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::segments::{self, Segment};
use super::{ReadRecord, StoreError};

/// Records arrive in the workers' batches, so a segment's records may start a little before
/// the time in its name; older segments are read while they could still hold a match.
const BATCH_SLACK_MS: u64 = 60_000;

/// Which records to keep; every field left `None` keeps everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The token owner (the token's `--name`).
    pub user: Option<String>,
    pub token_id: Option<String>,
    pub status: Option<u16>,
    /// A prefix of the path (`/graphql`, `/api/v1/leads`).
    pub path_prefix: Option<String>,
    /// Unix milliseconds, inclusive.
    pub since_ms: Option<u64>,
    /// Unix milliseconds, inclusive.
    pub until_ms: Option<u64>,
}

impl Filter {
    pub fn matches(&self, r: &ReadRecord) -> bool {
        let r = &r.record;
        let same = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        if !same(&self.user, &r.user) || !same(&self.token_id, &r.token_id) {
            return false;
        }
        if self.status.is_some_and(|s| s != r.status) {
            return false;
        }
        if self.path_prefix.as_deref().is_some_and(|p| !r.path.starts_with(p)) {
            return false;
        }
        if self.since_ms.is_none() && self.until_ms.is_none() {
            return true;
        }
        // A time that does not read is outside every range.
        let Some(ms) = time_ms(&r.time) else { return false };
        self.since_ms.is_none_or(|s| ms >= s) && self.until_ms.is_none_or(|u| ms <= u)
    }
}

/// Unix milliseconds of an RFC 3339 time.
pub fn time_ms(text: &str) -> Option<u64> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("audit record: {e}"))
}

/// The last `n` records of the trail in `dir` that `filter` keeps, by request time.
pub fn tail_matching(dir: &Path, n: usize, filter: &Filter) -> Result<Vec<ReadRecord>, StoreError> {
    let io = |source| StoreError::Io { path: dir.to_path_buf(), source };
    let mut out: Vec<ReadRecord> = Vec::new();
    for seg in segments::list(dir).map_err(io)?.iter().rev() {
        if out.len() >= n {
            break;
        }
        for line in segments::read_lines(&seg.path).map_err(io)?.iter().rev() {
            let record: ReadRecord = serde_json::from_slice(line).map_err(corrupt)?;
            if filter.matches(&record) {
                out.push(record);
                if out.len() >= n {
                    break;
                }
            }
        }
        // Everything before this segment is older than `since`.
        if filter.since_ms.is_some_and(|s| seg.first_ms.saturating_add(BATCH_SLACK_MS) < s) {
            break;
        }
    }
    out.reverse();
    // Workers hand over their batches independently, so the file order (the chain's) is
    // arrival order; readers get the records in the order the requests came in.
    out.sort_by(|a, b| a.record.time.cmp(&b.record.time));
    Ok(out)
}

/// Hands out the records appended to the trail since it last looked, in the order they were
/// stored (`audit tail -f`). It remembers a segment and a byte offset into its plain text,
/// which stays right when the segment is closed and compressed meanwhile.
pub struct Follower {
    dir: PathBuf,
    segment: u64,
    offset: usize,
}

impl Follower {
    /// Starts at the end of the trail as it is now.
    pub fn at_end(dir: &Path) -> Result<Self, StoreError> {
        let io = |source| StoreError::Io { path: dir.to_path_buf(), source };
        let (segment, offset) = match segments::list(dir).map_err(io)?.last() {
            None => (0, 0),
            Some(seg) => (seg.number, complete_len(&segments::read_plain(&seg.path).map_err(io)?)),
        };
        Ok(Self { dir: dir.to_path_buf(), segment, offset })
    }

    /// The records stored since the last call (none while nothing new is complete).
    pub fn poll(&mut self) -> Result<Vec<ReadRecord>, StoreError> {
        let io = |source| StoreError::Io { path: self.dir.clone(), source };
        let mut out = Vec::new();
        for seg in segments::list(&self.dir).map_err(io)? {
            if seg.number < self.segment {
                continue;
            }
            let from = if seg.number == self.segment { self.offset } else { 0 };
            let bytes = match read_from(&seg, from) {
                Ok(b) => b,
                // Being compressed or pruned this instant: read it on the next call.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(io(e)),
            };
            let complete = complete_len(&bytes);
            for line in bytes[..complete].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                out.push(serde_json::from_slice(line).map_err(corrupt)?);
            }
            (self.segment, self.offset) = (seg.number, from + complete);
        }
        Ok(out)
    }
}

/// The bytes of a segment's plain text from `offset` on.
fn read_from(seg: &Segment, offset: usize) -> std::io::Result<Vec<u8>> {
    if seg.compressed {
        let plain = segments::read_plain(&seg.path)?;
        return Ok(plain.get(offset..).map(<[u8]>::to_vec).unwrap_or_default());
    }
    let mut file = std::fs::File::open(&seg.path)?;
    file.seek(SeekFrom::Start(offset as u64))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// How many bytes of `bytes` are complete lines.
fn complete_len(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b == b'\n').map_or(0, |at| at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::tests::{log, record};

    #[test]
    fn filters_keep_the_last_matching_records_and_the_follower_sees_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let a = log(dir.path(), Default::default());
        let base = 1_700_000_000_000;
        let mut batch = Vec::new();
        for i in 0..10u64 {
            let mut r = record(base + i * 1000, if i % 2 == 0 { "/graphql" } else { "/api/v1/leads/1" });
            r.user = Some(if i < 5 { "alice" } else { "bob" }.into());
            r.status = if i == 7 { 403 } else { 200 };
            batch.push(r);
        }
        a.append(&batch, &()).unwrap();
        let audit = dir.path().join("audit");
        let user = Filter { user: Some("bob".into()), path_prefix: Some("/graphql".into()), ..Default::default() };
        let found = tail_matching(&audit, 10, &user).unwrap();
        assert_eq!(found.iter().map(|r| (time_ms(&r.record.time).unwrap() - base) / 1000).collect::<Vec<_>>(), [6, 8]);
        let status = Filter { status: Some(403), ..Default::default() };
        assert_eq!(tail_matching(&audit, 10, &status).unwrap().len(), 1);
        let range = Filter { since_ms: Some(base + 2000), until_ms: Some(base + 4000), ..Default::default() };
        assert_eq!(tail_matching(&audit, 10, &range).unwrap().len(), 3);
        assert_eq!(tail_matching(&audit, 2, &Filter::default()).unwrap().len(), 2);

        let mut follower = Follower::at_end(&audit).unwrap();
        assert!(follower.poll().unwrap().is_empty());
        a.append(&[record(base + 20_000, "/health")], &()).unwrap();
        let new = follower.poll().unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].record.path, "/health");
        assert!(follower.poll().unwrap().is_empty());
    }
}
