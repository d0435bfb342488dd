//! REST handlers: list, get, create, replace (PUT), merge (PATCH), delete, views and the
//! index. The pipeline has already authenticated, rate-limited and scope-checked the call;
//! what is left here is the data: query parsing and pages; writes go through `tables` (the
//! one write path) and are acknowledged once durable.

use std::sync::Arc;

use actix_web::http::header::{self, LOCATION};
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::rows::{as_stored, list, present};
use crate::error::{ApiError, ErrorKind};
use crate::http::body::is_json_content_type;
use crate::http::query::query_params;
use crate::redact::truncate;
use crate::schema::{parse_filter_value, Table, View};
use crate::state::AppState;
use crate::store::ListQuery;
use crate::tables::{self, Update};
use crate::tokens::Principal;

/// Default and maximum page sizes.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// What every handler works with.
pub struct Call<'a> {
    pub state: &'a AppState,
    pub principal: &'a Arc<Principal>,
    pub req: &'a HttpRequest,
    pub body: Option<Arc<Value>>,
}

fn bad_request(message: String) -> ApiError {
    ApiError::with_message(ErrorKind::BadRequest, message)
}

/// Pagination and equality filters from the query string.
pub fn list_query(
    table: &Table,
    params: &[(String, String)],
    allowed: Option<&[String]>,
    sandbox: bool,
) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery { limit: DEFAULT_LIMIT, ..Default::default() };
    for (key, value) in params {
        match key.as_str() {
            "limit" => {
                let n: usize = value.parse().map_err(|_| bad_request("limit must be a whole number".into()))?;
                q.limit = n.min(MAX_LIMIT);
            }
            "offset" => {
                q.offset = value.parse().map_err(|_| bad_request("offset must be a whole number".into()))?;
            }
            "id" => {
                // Ids are int64, as the document says.
                let id: u64 = value
                    .parse()
                    .ok()
                    .filter(|id| *id <= i64::MAX as u64)
                    .ok_or_else(|| bad_request("filter 'id' must be int".into()))?;
                q.filters.push(("id".into(), Value::from(id)));
            }
            column => {
                let def = table
                    .column(column)
                    .filter(|c| !c.secret && allowed.is_none_or(|cols| cols.iter().any(|a| a == column)))
                    // A sandbox token filtering on real PII could confirm guesses: refused.
                    .filter(|c| !(sandbox && c.pii().is_some()))
                    .ok_or_else(|| bad_request(format!("unknown filter column '{}'", truncate(column, 64))))?;
                q.filters.push((column.to_string(), parse_filter_value(def, value)?));
            }
        }
    }
    Ok(q)
}

fn page_envelope(rows: Vec<Value>, total: usize, q: &ListQuery) -> HttpResponse {
    HttpResponse::Ok().json(json!({"data": rows, "total": total, "limit": q.limit, "offset": q.offset}))
}

/// `GET /api/v1`: what this token may read.
pub fn index(cx: &Call) -> Result<HttpResponse, ApiError> {
    let catalog = &cx.state.catalog;
    Ok(HttpResponse::Ok().json(json!({
        "tables": catalog.readable_tables(cx.principal),
        "views": catalog.readable_views(cx.principal),
        "sandbox": cx.principal.record.sandbox,
    })))
}

/// `GET /api/v1/views/{view}`.
pub fn view(cx: &Call, name: &str) -> Result<HttpResponse, ApiError> {
    let (view, table): (&View, &Table) =
        cx.state.catalog.view(name).ok_or_else(|| ApiError::new(ErrorKind::NotFound))?;
    let params = query_params(cx.req.query_string())?;
    let mut q = list_query(table, &params, Some(&view.columns), cx.principal.record.sandbox)?;
    q.filters.extend(view.filter.iter().map(|(k, v)| (k.clone(), v.clone())));
    q.order = view.order.as_ref().map(|o| (o.column.clone(), o.descending));
    if super::csv::wanted(cx.req) {
        return super::csv::respond(cx.req, table, q, cx.principal, Some(&view.columns));
    }
    let page = list(cx.state, table, &q, cx.principal, Some(&view.columns))?;
    Ok(page_envelope(page.rows, page.total, &q))
}

/// `/api/v1/{table}[/{id}]`, every method.
pub async fn table(cx: &Call<'_>, name: &str, id: Option<u64>) -> Result<HttpResponse, ApiError> {
    let table = cx.state.catalog.table(name).ok_or_else(|| ApiError::new(ErrorKind::NotFound))?;
    let store = &cx.state.store;
    // HEAD is GET without the body (actix drops it and keeps the headers).
    let method = match cx.req.method() {
        &Method::HEAD => Method::GET,
        m => m.clone(),
    };
    match (method, id) {
        (Method::GET, None) => {
            let q = list_query(table, &query_params(cx.req.query_string())?, None, cx.principal.record.sandbox)?;
            if super::csv::wanted(cx.req) {
                return super::csv::respond(cx.req, table, q, cx.principal, None);
            }
            let page = list(cx.state, table, &q, cx.principal, None)?;
            Ok(page_envelope(page.rows, page.total, &q))
        }
        (Method::GET, Some(id)) if as_stored(table, cx.principal, None) => {
            let raw = store.get_row_bytes(name, id)?.ok_or_else(|| ApiError::new(ErrorKind::NotFound))?;
            let mut body = Vec::with_capacity(raw.len() + 10);
            body.extend_from_slice(b"{\"data\":");
            body.extend_from_slice(&raw);
            body.push(b'}');
            Ok(HttpResponse::Ok().content_type("application/json").body(body))
        }
        (Method::GET, Some(id)) => {
            let row = store.get_row(name, id)?.ok_or_else(|| ApiError::new(ErrorKind::NotFound))?;
            Ok(HttpResponse::Ok().json(json!({"data": present(cx.state, table, row, cx.principal, None)})))
        }
        (Method::POST, None) if matches!(cx.body.as_deref(), Some(Value::Array(_))) => create_many(cx, table).await,
        (Method::POST, None) => {
            let op = tables::create(table, &cx.state.real_values, body_object(cx)?, cx.state.clock.now_ms())?;
            let stored = tables::stored(store.write(op).await?)?;
            let id = stored.get("id").and_then(Value::as_u64).unwrap_or_default();
            Ok(HttpResponse::Created()
                .insert_header((LOCATION, format!("/api/v1/{name}/{id}")))
                .json(json!({"data": present(cx.state, table, stored, cx.principal, None)})))
        }
        (Method::PUT | Method::PATCH, Some(id)) => {
            let how = if cx.req.method() == Method::PATCH { Update::Merge } else { Update::Replace };
            let op = tables::update(table, &cx.state.real_values, id, body_object(cx)?, how)?;
            let row = tables::stored(store.write(op).await?)?;
            Ok(HttpResponse::Ok().json(json!({"data": present(cx.state, table, row, cx.principal, None)})))
        }
        (Method::DELETE, Some(id)) => {
            tables::deleted(store.write(tables::delete(cx.state.schema(), table, id)).await?)?;
            Ok(HttpResponse::NoContent().finish())
        }
        _ => Err(ApiError::new(ErrorKind::MethodNotAllowed)),
    }
}

/// `POST /api/v1/{table}` with a JSON array: every row or none, in one writer op (one
/// group commit). Each row counts against the token's rate limit (the pipeline counted the
/// first), before anything is validated, so an invalid batch still spends its quota and
/// cannot be used to probe for free.
async fn create_many(cx: &Call<'_>, table: &Table) -> Result<HttpResponse, ApiError> {
    if !is_json_content_type(cx.req.headers().get(header::CONTENT_TYPE)) {
        return Err(ApiError::new(ErrorKind::UnsupportedMediaType));
    }
    let Some(Value::Array(items)) = cx.body.as_deref() else {
        return Err(ApiError::with_message(ErrorKind::BadRequest, "a JSON array body is required"));
    };
    let config = cx.state.config.get();
    let max = config.limits.max_batch_rows;
    if items.is_empty() || items.len() > max {
        return Err(ApiError::validation(format!("an array must hold 1 to {max} rows")));
    }
    if items.len() > 1 {
        let more = u32::try_from(items.len() - 1).unwrap_or(u32::MAX);
        cx.state.stages().rate_limit.count_n(cx.principal, &config.rate_limit, more).map_err(|r| r.error)?;
    }
    let op = tables::create_many(table, &cx.state.real_values, items, cx.state.clock.now_ms())?;
    let rows = tables::stored_rows(cx.state.store.write(op).await?)?;
    let data: Vec<Value> = rows.into_iter().map(|r| present(cx.state, table, r, cx.principal, None)).collect();
    Ok(HttpResponse::Created().json(json!({"data": data})))
}

/// The write body: declared JSON, and an object.
fn body_object(cx: &Call) -> Result<Map<String, Value>, ApiError> {
    if !is_json_content_type(cx.req.headers().get(header::CONTENT_TYPE)) {
        return Err(ApiError::new(ErrorKind::UnsupportedMediaType));
    }
    match cx.body.as_deref() {
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(ApiError::validation("the body must be a JSON object")),
        None => Err(ApiError::with_message(ErrorKind::BadRequest, "a JSON object body is required")),
    }
}
