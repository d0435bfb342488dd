//! Runs an admin command through the live server's socket, or directly on the store when
//! no server is running (see `api::admin`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use serde_json::Value;

use super::Context;
use crate::api::admin::{execute, AdminRequest, AdminResponse};
use crate::clock::SystemClock;
use crate::state::AppState;
use crate::store::{Op, Store};

/// Runs a streamed command (see `api::admin_data`): its bytes go to `out`; answers the
/// summary.
pub fn call_stream(cx: &Context, request: AdminRequest, out: &mut dyn Write) -> anyhow::Result<Value> {
    let data_dir = &cx.config.server.data_dir;
    if let Ok(mut stream) = UnixStream::connect(Store::admin_socket_path(data_dir)) {
        let mut line = serde_json::to_vec(&request)?;
        line.push(b'\n');
        stream.write_all(&line).context("admin socket write")?;
        return match crate::api::admin_data::receive_stream(stream, out).context("admin socket read")? {
            AdminResponse::Ok(v) => Ok(v),
            AdminResponse::Error(e) => Err(anyhow!(e)),
        };
    }
    let state = open_offline(cx)?;
    crate::api::admin::execute_stream(&state, request, out).map_err(|e| anyhow!(e))
}

/// The store opened by this process (no server runs on the data dir).
fn open_offline(cx: &Context) -> anyhow::Result<AppState> {
    let data_dir = &cx.config.server.data_dir;
    let (plan, layout) = (cx.schema.index_plan(), cx.schema.pg_layout());
    let store = Store::open_with(data_dir, &cx.config.state, &cx.config.store, plan, layout)
        .map_err(|e| crate::server::open_error(data_dir, e))?;
    AppState::new(cx.config.clone(), cx.schema.clone(), store, Arc::new(SystemClock))
}

pub fn call(cx: &Context, request: AdminRequest) -> anyhow::Result<Value> {
    let request = match live(cx, request)? {
        Live::Answered(v) => return Ok(v),
        Live::NoServer(request) => request,
    };
    let state = open_offline(cx)?;
    let result = execute(&state, request).map_err(|e| anyhow!(e));
    // Everything the command queued (a lock, say) is durable once the writer answers this.
    state.store.write_blocking(Op::Ping).map_err(|e| anyhow!(e.message))?;
    result
}

/// What asking the live server gave.
pub enum Live {
    Answered(Value),
    /// No server answers on the admin socket; the request is handed back.
    NoServer(AdminRequest),
}

/// Sends the request to the running server only; never opens the store.
pub fn live(cx: &Context, request: AdminRequest) -> anyhow::Result<Live> {
    let socket = Store::admin_socket_path(&cx.config.server.data_dir);
    let Ok(mut stream) = UnixStream::connect(&socket) else { return Ok(Live::NoServer(request)) };
    let mut line = serde_json::to_vec(&request)?;
    line.push(b'\n');
    stream.write_all(&line).context("admin socket write")?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).context("admin socket read")?;
    match serde_json::from_str::<AdminResponse>(&answer).context("admin socket answer")? {
        AdminResponse::Ok(v) => Ok(Live::Answered(v)),
        AdminResponse::Error(e) => Err(anyhow!(e)),
    }
}
