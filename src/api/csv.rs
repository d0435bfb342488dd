//! `Accept: text/csv` on a list or a view: the whole filtered result, streamed. The rows
//! come from [`rows::list`](super::rows::list) a page at a time (keyset paging by id, so
//! each page is one seek, and memory holds one page), each presented by
//! [`rows::present`](super::rows::present) — the same scopes, secret stripping and sandbox
//! fakes as the JSON answer — and encoded by `transfer::csv`. A sorted view (`order`) is
//! the exception: it is sorted whole in memory, as its JSON pages are.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde_json::Value;

use super::rows::{list, shown_columns};
use crate::error::{ApiError, ErrorKind};
use crate::schema::Table;
use crate::state::AppState;
use crate::store::ListQuery;
use crate::tokens::Principal;
use crate::transfer::csv::Encoder;

/// Rows a streamed page reads.
const PAGE: usize = 1000;

/// Whether the client asked for CSV (`Accept: text/csv`, parameters and other types allowed).
pub fn wanted(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.split(';').next().is_some_and(|essence| essence.trim().eq_ignore_ascii_case("text/csv")))
}

struct Cursor {
    state: web::Data<AppState>,
    table: Table,
    principal: Arc<Principal>,
    columns: Option<Vec<String>>,
    q: ListQuery,
    encoder: Encoder,
    /// `None` once the last page was sent.
    after: Option<u64>,
}

/// The CSV answer for `q` (its `limit` and `offset` are ignored: the whole result).
pub fn respond(
    req: &HttpRequest,
    table: &Table,
    q: ListQuery,
    principal: &Arc<Principal>,
    columns: Option<&[String]>,
) -> Result<HttpResponse, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| ApiError::new(ErrorKind::Internal))?;
    let mut encoder = Encoder::new(shown_columns(table, principal, columns));
    encoder.header().map_err(|_| ApiError::new(ErrorKind::Internal))?;
    let cursor = Cursor {
        state,
        table: table.clone(),
        principal: principal.clone(),
        columns: columns.map(<[String]>::to_vec),
        q: ListQuery { offset: 0, ..q },
        encoder,
        after: Some(0),
    };
    let body = futures_util::stream::unfold(cursor, |mut c| async move {
        let after = c.after?;
        let chunk = next_page(&mut c, after);
        Some((chunk, c))
    });
    Ok(HttpResponse::Ok().content_type("text/csv; charset=utf-8").streaming(body))
}

/// Encodes the next page (and the header before the first); marks the end.
fn next_page(c: &mut Cursor, after: u64) -> Result<Bytes, std::io::Error> {
    let sorted = c.q.order.is_some();
    let q = ListQuery { after: Some(after), limit: if sorted { usize::MAX } else { PAGE }, ..c.q.clone() };
    let page = list(&c.state, &c.table, &q, &c.principal, c.columns.as_deref()).map_err(|e| {
        c.after = None;
        std::io::Error::other(e.message.into_owned())
    })?;
    let read = page.rows.len();
    c.after = page.rows.last().and_then(|r| r.get("id")).and_then(Value::as_u64).filter(|_| !sorted && read == PAGE);
    for row in &page.rows {
        if let Some(row) = row.as_object() {
            c.encoder.row(row)?;
        }
    }
    c.encoder.take().map(Bytes::from)
}
