//! `Accept: text/csv` on a list or a view: the whole filtered result, streamed. The rows
//! come from [`rows::list`](super::rows::list) a page at a time (cursor paging, so each
//! page is one seek, and memory holds one page), each presented by
//! [`rows::present`](super::rows::present) — the same scopes, secret stripping and sandbox
//! fakes as the JSON answer — and encoded by `transfer::csv`. `select` narrows the columns.
//! An order on an unindexed column ranks each page of 10 000 in a bounded heap over a scan.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

use super::plan::Plan;
use super::rows::{list, shown_columns};
use crate::error::{ApiError, ErrorKind};
use crate::schema::Table;
use crate::state::AppState;
use crate::store::ListQuery;
use crate::tokens::Principal;
use crate::transfer::csv::Encoder;

/// Rows a streamed page reads.
const PAGE: usize = 1000;
/// Rows a streamed page of a sorted list reads.
const SORTED_PAGE: usize = 10_000;

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
    /// `false` once the last page was sent.
    more: bool,
}

/// The CSV answer for a list plan (its `limit`, `offset` and `after` are ignored: the whole
/// result).
pub fn respond(
    req: &HttpRequest,
    table: &Table,
    plan: Plan,
    principal: &Arc<Principal>,
    columns: Option<&[String]>,
) -> Result<HttpResponse, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| ApiError::new(ErrorKind::Internal))?;
    let header = plan.select.clone().unwrap_or_else(|| shown_columns(table, principal, columns));
    let mut encoder = Encoder::new(header);
    encoder.header().map_err(|_| ApiError::new(ErrorKind::Internal))?;
    // An order the store walks on an index pages cheaply; any other order ranks the whole
    // result in memory once (as its JSON pages do), in big pages.
    let page = if plan.q.order.is_empty() { PAGE } else { SORTED_PAGE };
    let cursor = Cursor {
        state,
        table: table.clone(),
        principal: principal.clone(),
        columns: columns.map(<[String]>::to_vec),
        q: ListQuery { offset: 0, limit: page, after: None, skip_total: true, ..plan.q },
        encoder,
        more: true,
    };
    let body = futures_util::stream::unfold(cursor, |mut c| async move {
        if !c.more {
            return None;
        }
        let chunk = next_page(&mut c);
        Some((chunk, c))
    });
    Ok(HttpResponse::Ok().content_type("text/csv; charset=utf-8").streaming(body))
}

/// Encodes the next page (and the header before the first); marks the end.
fn next_page(c: &mut Cursor) -> Result<Bytes, std::io::Error> {
    let page = list(&c.state, &c.table, &c.q, &c.principal, c.columns.as_deref()).map_err(|e| {
        c.more = false;
        std::io::Error::other(e.message.into_owned())
    })?;
    c.more = page.next.is_some();
    c.q.after = page.next;
    for row in &page.rows {
        if let Some(row) = row.as_object() {
            c.encoder.row(row)?;
        }
    }
    c.encoder.take().map(Bytes::from)
}
