//! The admin commands that move data in bulk — `export` and `import` — as the admin socket
//! and the offline CLI run them (see `admin`). An export to standard output is a stream:
//! over the socket it travels in frames (a 4-byte big-endian length, then that many bytes;
//! a zero length ends the data) followed by the usual one-line JSON answer, so a failure
//! half-way is reported as a failure, never as a short file.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::admin_request::{AdminRequest, AdminResponse};
use crate::state::AppState;
use crate::transfer::{export, import, Format};

/// `export --dir` (files written by this process) or one table's rows into `out`.
pub fn export(state: &AppState, table: Option<String>, format: Format, dir: Option<PathBuf>) -> Result<Value, String> {
    let schema = state.schema();
    match (dir, table) {
        (Some(dir), None) => {
            let counts = export::dir(&state.store, schema, &dir, format).map_err(|e| e.to_string())?;
            Ok(json!({"dir": dir, "rows": export::counts_json(&counts)}))
        }
        (Some(dir), Some(table)) => {
            let t = export::find(schema, &table).map_err(|e| e.to_string())?;
            let path = dir.join(format!("{table}.{}", format.extension()));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let n = export::table(&state.store, t, format, &mut std::io::BufWriter::new(file))
                .map_err(|e| e.to_string())?;
            Ok(json!({"dir": dir, "rows": {table: n}}))
        }
        (None, _) => Err("an export without --dir is streamed".into()),
    }
}

/// Runs a streamed command, writing its bytes to `out`; answers its summary.
pub fn execute_stream(state: &AppState, request: AdminRequest, out: &mut dyn Write) -> Result<Value, String> {
    match request {
        AdminRequest::Export { table: Some(table), format, dir: None } => {
            let t = export::find(state.schema(), &table).map_err(|e| e.to_string())?;
            let n = export::table(&state.store, t, format, out).map_err(|e| e.to_string())?;
            Ok(json!({"rows": {table: n}}))
        }
        AdminRequest::Export { table: None, dir: None, .. } => Err("name a table, or give --dir".into()),
        _ => Err("not a streamed command".into()),
    }
}

/// Frames everything written (see the module docs).
struct Framed<W: Write>(W);

impl<W: Write> Write for Framed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        self.0.write_all(&len.to_be_bytes())?;
        self.0.write_all(&buf[..len as usize])?;
        Ok(len as usize)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The server's side of a streamed command on the admin socket (a blocking thread).
pub fn serve_stream(state: &AppState, request: AdminRequest, stream: std::os::unix::net::UnixStream) {
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let Ok(mut raw) = stream.try_clone() else { return };
    let mut framed = std::io::BufWriter::with_capacity(256 * 1024, Framed(stream));
    let outcome = execute_stream(state, request, &mut framed);
    let flushed = framed.flush();
    let response = match (outcome, flushed) {
        (Ok(v), Ok(())) => AdminResponse::Ok(v),
        (Err(e), _) => AdminResponse::Error(e),
        (_, Err(e)) => AdminResponse::Error(format!("cannot send the data: {e}")),
    };
    let mut line = serde_json::to_vec(&response).unwrap_or_default();
    line.push(b'\n');
    let _ = raw.write_all(&0u32.to_be_bytes()).and_then(|()| raw.write_all(&line));
    let _ = raw.shutdown(std::net::Shutdown::Both);
}

/// The client's side: copies the framed bytes to `out`, then reads the answer.
pub fn receive_stream(stream: UnixStream, out: &mut dyn Write) -> std::io::Result<AdminResponse> {
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    let mut buf = Vec::new();
    loop {
        let mut len = [0u8; 4];
        reader.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 {
            break;
        }
        buf.resize(len, 0);
        reader.read_exact(&mut buf)?;
        out.write_all(&buf)?;
    }
    out.flush()?;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    serde_json::from_str(&line).map_err(std::io::Error::other)
}

/// Takes a backup (see `backup::create`), counts it in the metrics and records it in the
/// audit trail (method `BACKUP`, the archive's file name, 200 or 500 and the cause).
pub fn backup(
    state: &AppState,
    dest: &std::path::Path,
    encryption: Option<&crate::backup::Encryption>,
) -> Result<crate::backup::Created, String> {
    let started = std::time::Instant::now();
    let result = crate::backup::create(&state.store, state.audit.dir(), dest, encryption).map_err(|e| e.to_string());
    let now = state.clock.now_ms();
    state.metrics.backup(now, started.elapsed(), result.is_ok());
    let name = match &result {
        Ok(c) => c.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    state.audit.append_or_defer(crate::store::audit::AuditRecord {
        time: String::new(),
        time_ms: now,
        request_id: String::new(),
        method: "BACKUP".into(),
        path: name,
        query: None,
        status: if result.is_ok() { 200 } else { 500 },
        duration_us: started.elapsed().as_micros() as u64,
        token_id: None,
        user: None,
        owner: None,
        ip_hash: String::new(),
        stage: None,
        reason: result.as_ref().err().cloned(),
        instance: None,
        prev: String::new(),
    });
    result
}

/// `import TABLE FILE` or `import --dir DIR`, through the writer.
pub fn import(
    state: &AppState,
    table: Option<String>,
    file: Option<PathBuf>,
    dir: Option<PathBuf>,
    skip_bad: bool,
    now_ms: u64,
) -> Result<Value, String> {
    let schema = state.schema();
    let report = match (table, file, dir) {
        (Some(table), Some(file), None) => {
            import::file(&state.store, schema, &table, &file, None, skip_bad, now_ms).map_err(|e| e.to_string())?
        }
        (None, None, Some(dir)) => {
            import::dir(&state.store, schema, &dir, skip_bad, now_ms).map_err(|e| e.to_string())?
        }
        _ => return Err("give TABLE FILE, or --dir DIR".into()),
    };
    serde_json::to_value(report).map_err(|e| e.to_string())
}
