//! The HTTP surface behind the pipeline: one dispatcher serves the route the pipeline
//! resolved (see `http::route`); REST handlers live in [`rest`], row presentation (secret
//! stripping, the sandbox seam) in [`rows`], and the admin unix socket in [`admin`].

pub mod admin;
pub mod admin_data;
pub mod admin_request;
pub mod csv;
pub mod explorer;
pub mod graphql;
pub mod metrics;
pub mod openapi;
pub mod owner;
pub mod plan;
pub mod rest;
pub mod rows;

use std::sync::Arc;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use crate::error::{ApiError, ErrorKind};
use crate::http::body::parsed_body;
use crate::http::route::Route;
use crate::state::AppState;
use crate::tokens::Principal;

/// Serves whatever route the pipeline resolved for this request (taking the route and the
/// principal out of the request: nothing after the handler reads them there).
pub async fn dispatch(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let route = req.extensions_mut().remove::<Route>().ok_or_else(|| ApiError::new(ErrorKind::NotFound))?;
    match &route {
        Route::Health => return health(&state, &req).await,
        Route::Explorer { asset } => return Ok(explorer::serve(asset)),
        _ => {}
    }
    let principal =
        req.extensions_mut().remove::<Arc<Principal>>().ok_or_else(|| ApiError::new(ErrorKind::MissingToken))?;
    let cx = rest::Call { state: &state, principal: &principal, req: &req, body: parsed_body(&req) };
    match route {
        // Answered above, before a token is needed.
        Route::Health | Route::Explorer { .. } => Err(ApiError::new(ErrorKind::NotFound)),
        Route::Index => rest::index(&cx),
        Route::View { view } => rest::view(&cx, &view),
        Route::Table { table, id } => rest::table(&cx, &table, id).await,
        Route::GraphQl => Ok(graphql::handle(&req, state.clone(), principal.clone()).await),
        Route::OpenApi => {
            let public_url = state.config.get().server.public_url.clone();
            let doc = openapi::document(&state.catalog, openapi::Audience::Token(&principal), &public_url);
            Ok(HttpResponse::Ok().json(doc))
        }
    }
}

/// How long `/health` waits for the store's writer.
const HEALTH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);

/// `GET /health`: `ok` only when the store's writer answers a round trip in time, so a hung
/// writer shows up here (and stops the systemd watchdog, see `watchdog`). With shared
/// counters, an outside probe (a load balancer) also learns when they are unreachable: 503
/// `rate_limiter_unavailable` saying why. The server's own watchdog probe skips that check:
/// restarting this process would not bring the counters back.
async fn health(state: &AppState, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let own_probe = req
        .headers()
        .get(crate::pipeline::probe::PROBE_HEADER)
        .is_some_and(|v| state.pipeline.probe.matches(v.as_bytes()));
    if let Some(shared) = state.pipeline.shared.as_ref().filter(|_| !own_probe) {
        if let Err(why) = shared.ping().await {
            tracing::warn!(error = %why.0, "health: the shared counters cannot be reached");
            let message = "the shared counters (Redis) cannot be reached: rate-limited routes answer 503";
            let error = ApiError::with_message(ErrorKind::RateLimiterUnavailable, message);
            return Err(error.header(actix_web::http::header::RETRY_AFTER, 1));
        }
    }
    match actix_rt::time::timeout(HEALTH_DEADLINE, state.store.write(crate::store::Op::Ping)).await {
        Ok(Ok(_)) => Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            tracing::error!("health: the store writer did not answer within 3 s");
            Err(ApiError::new(ErrorKind::StorageUnavailable))
        }
    }
}
