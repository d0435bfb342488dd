//! `POST /graphql`: the same tables as REST through juniper, behind the same pipeline (auth,
//! rate limit — one request counts once —, scope, audit, headers), plus GraphQL's own
//! guards checked before execution (see [`guard`]) and a budget of rows and time enforced
//! while it runs (see [`budget`]). Each mutation field counts once against the token's rate
//! limit, like a REST write.
//!
//! Only `POST` with `Content-Type: application/json` is served (CSRF: no GET, no form or
//! text/plain bodies → 415); a JSON array body (batching) → 400 `batching_not_allowed`.
//! Answers use the GraphQL-over-HTTP shape: `{"data":…}` and/or
//! `{"errors":[{"message":…,"extensions":{"code":…}}]}`. No GraphiQL page is served.
//!
//! What the operation did (type, name, tables, each mutation's table, action and row id) is
//! left in the request's extensions as a `GraphqlFacts`; the pipeline moves it into the
//! request's audit record. It costs one small allocation a request and no work on the
//! writer's hot path.

pub mod budget;
pub mod guard;
pub mod model;
mod mutate;
mod node;
mod query;
mod schema;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::catalog::Catalog;
use crate::http::body::{is_json_content_type, parsed_body};
use crate::state::AppState;
use crate::store::audit::GraphqlFacts;
use crate::tokens::Principal;
pub use model::Model;
pub use node::Ctx;
pub use schema::Root;

/// The GraphQL model and juniper root, built once at start-up.
pub struct GraphqlApi {
    pub model: Arc<Model>,
    pub root: Root,
}

impl GraphqlApi {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        let model = Arc::new(Model::build(catalog));
        Self { root: schema::root(model.clone()), model }
    }
}

/// One GraphQL error answer.
fn refusal(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(json!({"errors": [{"message": message, "extensions": {"code": code}}]}).to_string())
}

/// Validation messages may name types; keep only the part before ` on type`.
fn sanitize(message: &str) -> String {
    let cut = message.find(" on type").unwrap_or(message.len());
    message[..cut].replace("Did you mean", "").trim().to_string()
}

/// A document read, checked and measured, ready to run.
struct Prepared {
    query: String,
    operation: Option<String>,
    variables: Value,
    api: Arc<GraphqlApi>,
    measure: guard::Measure,
}

pub async fn handle(req: &HttpRequest, state: web::Data<AppState>, principal: Arc<Principal>) -> HttpResponse {
    // With shared counters the pipeline left this request's windows to be counted here, with
    // the document's writes, in the one call (see `pipeline::tally::DeferredTally`).
    let deferred = req.extensions_mut().remove::<crate::pipeline::tally::DeferredTally>();
    let config = state.config.get();
    let prepared = prepare(req, &principal, &config);
    let writes = prepared.as_ref().map_or(1, |p| u32::try_from(p.measure.writes).unwrap_or(u32::MAX));
    let mut headers = Vec::new();
    match deferred {
        Some(tally) => match tally.settle(writes, &state.pipeline, &config).await {
            Ok(h) => headers = h,
            Err((refused, h)) => {
                let mut res = HttpResponse::from_error(refused.error);
                h.into_iter().for_each(|(n, v)| drop(res.headers_mut().insert(n, v)));
                return res;
            }
        },
        // The pipeline counted this request once; every further write in it counts too,
        // all before anything runs, so a document with more writes than are left runs none.
        None if writes > 1 => {
            if let Err(refused) = state.stages().rate_limit.count_n(&principal, &config.rate_limit, writes - 1) {
                return refused.error.into_response();
            }
        }
        None => {}
    }
    let mut res = match prepared {
        Ok(p) => execute(req, state, principal, p, &config).await,
        Err(refused) => *refused,
    };
    for (name, value) in headers {
        res.headers_mut().insert(name, value);
    }
    res
}

/// Reads, checks and measures the document (nothing runs yet).
fn prepare(
    req: &HttpRequest,
    principal: &Principal,
    config: &crate::config::Config,
) -> Result<Prepared, Box<HttpResponse>> {
    if !is_json_content_type(req.headers().get(CONTENT_TYPE)) {
        return Err(Box::new(refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the query as application/json",
        )));
    }
    let Some(body) = parsed_body(req) else {
        return Err(Box::new(refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "a JSON body {\"query\": …} is required",
        )));
    };
    let request = match body.as_ref() {
        Value::Array(_) => {
            return Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                "batching_not_allowed",
                "batched queries are not allowed",
            )))
        }
        Value::Object(map) => map,
        _ => {
            return Err(Box::new(refusal(StatusCode::BAD_REQUEST, "invalid_request", "the body must be a JSON object")))
        }
    };
    let Some(query) = request.get("query").and_then(Value::as_str).map(str::to_string) else {
        return Err(Box::new(refusal(StatusCode::BAD_REQUEST, "invalid_request", "\"query\" must be a string")));
    };
    let operation = match request.get("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "\"operationName\" must be a string",
            )))
        }
    };
    let variables = match request.get("variables") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            return Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "\"variables\" must be an object",
            )))
        }
    };
    let Some(api) = req.app_data::<web::Data<GraphqlApi>>().map(|d| d.clone().into_inner()) else {
        return Err(Box::new(refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error")));
    };
    let measure = guard::check(
        &query,
        operation.as_deref(),
        &variables,
        &api.root.schema,
        &api.model,
        &config.graphql,
        principal.record.introspection,
    )
    .map_err(|e| Box::new(refusal(StatusCode::BAD_REQUEST, e.code, &e.message)))?;
    Ok(Prepared { query, operation, variables, api, measure })
}

/// Runs a prepared document.
async fn execute(
    req: &HttpRequest,
    state: web::Data<AppState>,
    principal: Arc<Principal>,
    prepared: Prepared,
    config: &crate::config::Config,
) -> HttpResponse {
    let Prepared { query, operation, variables, api, measure } = prepared;
    let deadline = Instant::now() + Duration::from_secs(config.server.request_timeout_secs);
    let budget = budget::Budget::new(deadline, config.graphql.max_rows);
    let Ok(vars) = serde_json::from_value::<juniper::Variables>(variables) else {
        return refusal(StatusCode::BAD_REQUEST, "invalid_request", "\"variables\" cannot be read");
    };
    let state = state.into_inner();
    let mut facts = GraphqlFacts {
        operation: measure.operation,
        name: measure.name,
        tables: measure.tables,
        mutations: Vec::new(),
    };
    let executed = web::block(move || {
        let ctx = Ctx { state, principal, budget, writes: Default::default() };
        let answer = match juniper::execute_sync(&query, operation.as_deref(), &api.root, &vars, &ctx) {
            Ok((data, errors)) => {
                let mut out = json!({"data": data});
                if !errors.is_empty() {
                    out["errors"] = serde_json::to_value(&errors).unwrap_or_default();
                }
                (StatusCode::OK, out)
            }
            Err(e) => {
                let message = sanitize(&e.to_string());
                (
                    StatusCode::BAD_REQUEST,
                    json!({"errors": [{"message": message, "extensions": {"code": "invalid_query"}}]}),
                )
            }
        };
        (answer, ctx.writes.into_inner().unwrap_or_else(|p| p.into_inner()))
    })
    .await;
    match executed {
        Ok(((status, body), writes)) => {
            // For the audit record (see `pipeline::audit`).
            facts.mutations = writes;
            req.extensions_mut().insert(Box::new(facts));
            HttpResponse::build(status).content_type("application/json").body(body.to_string())
        }
        Err(_) => refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error"),
    }
}
