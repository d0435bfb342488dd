//! REST handlers: list, get, create, replace (PUT), merge (PATCH), delete, views and the
//! index. The pipeline has already authenticated, rate-limited and scope-checked the call;
//! what is left here is the data: query parsing and pages; writes go through `tables` (the
//! one write path) and are acknowledged once durable.

use std::sync::Arc;

use actix_web::http::header::{self, LOCATION};
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::owner::{bind, fill as fill_owner, owns};
use super::plan::{self, Allowed, Plan};
use super::rows::{as_stored, list, present, Listed};
use crate::error::{ApiError, ErrorKind};
use crate::http::body::is_json_content_type;
use crate::http::query::list_params;
use crate::schema::{Table, View};
use crate::state::AppState;
use crate::tables::{self, Update};
use crate::tokens::Principal;

pub use super::plan::{DEFAULT_LIMIT, MAX_LIMIT};

/// What every handler works with.
pub struct Call<'a> {
    pub state: &'a AppState,
    pub principal: &'a Arc<Principal>,
    pub req: &'a HttpRequest,
    pub body: Option<Arc<Value>>,
}

/// A list's JSON answer: the page, the total, and the cursor of the next page.
fn page_envelope(listed: Listed, plan: &Plan) -> HttpResponse {
    let next = listed.next.as_ref().map(|after| plan.cursor(after));
    let rows: Vec<Value> = match &plan.select {
        Some(cols) => listed.rows.into_iter().map(|row| select(row, cols)).collect(),
        None => listed.rows,
    };
    let q = &plan.q;
    HttpResponse::Ok()
        .json(json!({"data": rows, "total": listed.total, "limit": q.limit, "offset": q.offset, "next": next}))
}

/// Keeps the `select`ed columns of a presented row, in the order asked for.
fn select(row: Value, columns: &[String]) -> Value {
    let Value::Object(mut row) = row else { return row };
    let mut out = Map::new();
    for c in columns {
        if let Some(v) = row.remove(c) {
            out.insert(c.clone(), v);
        }
    }
    Value::Object(out)
}

/// The plan of a list request on `table` (a view's columns, filters and order when `view`).
fn plan_of(cx: &Call, table: &Table, view: Option<&View>) -> Result<Plan, ApiError> {
    let params = list_params(cx.req.query_string())?;
    let allowed = Allowed { columns: view.map(|v| v.columns.as_slice()), sandbox: cx.principal.record.sandbox };
    plan::parse(table, &params, &allowed, view)
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
    let plan = plan_of(cx, table, Some(view))?;
    if super::csv::wanted(cx.req) {
        return super::csv::respond(cx.req, table, plan, cx.principal, Some(&view.columns));
    }
    let listed = list(cx.state, table, &plan.q, cx.principal, Some(&view.columns))?;
    Ok(page_envelope(listed, &plan))
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
            let plan = plan_of(cx, table, None)?;
            if super::csv::wanted(cx.req) {
                return super::csv::respond(cx.req, table, plan, cx.principal, None);
            }
            let listed = list(cx.state, table, &plan.q, cx.principal, None)?;
            Ok(page_envelope(listed, &plan))
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
            // Another owner's row is not found (its existence is not revealed).
            let row = store
                .get_row(name, id)?
                .filter(|row| owns(cx.state, table, row, cx.principal).unwrap_or(false))
                .ok_or_else(|| ApiError::new(ErrorKind::NotFound))?;
            Ok(HttpResponse::Ok().json(json!({"data": present(cx.state, table, row, cx.principal, None)})))
        }
        (Method::POST, None) if matches!(cx.body.as_deref(), Some(Value::Array(_))) => create_many(cx, table).await,
        (Method::POST, None) => {
            let mut body = body_object(cx)?;
            fill_owner(cx.state, table, cx.principal, &mut body);
            let op = tables::create(table, &cx.state.real_values, body, cx.state.clock.now_ms())?;
            let stored = tables::stored(store.write(bind(cx.state, table, cx.principal, op)?).await?)?;
            let id = stored.get("id").and_then(Value::as_u64).unwrap_or_default();
            Ok(HttpResponse::Created()
                .insert_header((LOCATION, format!("/api/v1/{name}/{id}")))
                .json(json!({"data": present(cx.state, table, stored, cx.principal, None)})))
        }
        (Method::PUT | Method::PATCH, Some(id)) => {
            let how = if cx.req.method() == Method::PATCH { Update::Merge } else { Update::Replace };
            let op = tables::update(table, &cx.state.real_values, id, body_object(cx)?, how)?;
            let row = tables::stored(store.write(bind(cx.state, table, cx.principal, op)?).await?)?;
            Ok(HttpResponse::Ok().json(json!({"data": present(cx.state, table, row, cx.principal, None)})))
        }
        (Method::DELETE, Some(id)) => {
            let op = bind(cx.state, table, cx.principal, tables::delete(cx.state.schema(), table, id))?;
            tables::deleted(store.write(op).await?)?;
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
    let counted = actix_web::HttpMessage::extensions(cx.req).get::<crate::http::body::BatchCounted>().is_some();
    if items.len() > 1 && !counted {
        let more = u32::try_from(items.len() - 1).unwrap_or(u32::MAX);
        cx.state.stages().rate_limit.count_n(cx.principal, &config.rate_limit, more).map_err(|r| r.error)?;
    }
    let mut items = items.to_vec();
    for item in items.iter_mut() {
        if let Value::Object(body) = item {
            fill_owner(cx.state, table, cx.principal, body);
        }
    }
    let op = tables::create_many(table, &cx.state.real_values, &items, cx.state.clock.now_ms())?;
    let rows = tables::stored_rows(cx.state.store.write(bind(cx.state, table, cx.principal, op)?).await?)?;
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
