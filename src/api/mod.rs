//! The HTTP surface behind the pipeline: one dispatcher serves the route the pipeline
//! resolved (see [`route`]); REST handlers live in [`rest`], row presentation (secret
//! stripping, the sandbox seam) in [`rows`], and the admin unix socket in [`admin`].

pub mod admin;
pub mod explorer;
pub mod graphql;
pub mod rest;
pub mod route;
pub mod rows;

use std::sync::Arc;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use crate::error::{ApiError, ErrorKind};
use crate::pipeline::shield::parsed_body;
use crate::state::AppState;
use crate::tokens::Principal;
use route::Route;

/// Serves whatever route the pipeline resolved for this request.
pub async fn dispatch(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let route = req.extensions().get::<Route>().cloned().ok_or_else(|| ApiError::new(ErrorKind::NotFound))?;
    match &route {
        Route::Health => return Ok(health()),
        Route::Explorer { asset } => return Ok(explorer::serve(asset)),
        _ => {}
    }
    let principal =
        req.extensions().get::<Arc<Principal>>().cloned().ok_or_else(|| ApiError::new(ErrorKind::MissingToken))?;
    let cx = rest::Call { state: &state, principal: &principal, req: &req, body: parsed_body(&req) };
    match route {
        // Answered above, before a token is needed.
        Route::Health | Route::Explorer { .. } => Err(ApiError::new(ErrorKind::NotFound)),
        Route::Index => rest::index(&cx),
        Route::View { view } => rest::view(&cx, &view),
        Route::Table { table, id } => rest::table(&cx, &table, id).await,
        Route::GraphQl => Ok(graphql::handle(&req, state.clone(), principal.clone()).await),
    }
}

fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}
