//! The stage order, written once: [`admit`] runs the stages in the order the module docs of
//! `pipeline` draw, and [`run`] settles the request's shared counters (if any) before the
//! handler. Everything else in the pipeline is plumbing around these two functions.

use std::borrow::Cow;
use std::rc::Rc;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::Method;
use actix_web::{Error, HttpMessage, HttpResponse};

use super::{auth, probe, rate_limit, shield, tally, Exchange, Parts, Refusal, StageName};
use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use crate::http::body::{has_body, is_json};
use crate::http::route;

/// A header as text, when it is valid UTF-8.
fn text(req: &ServiceRequest, name: impl header::AsHeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
}

/// The `Authorization` header: refused when sent twice (a proxy that reads the other one
/// would disagree about who this is); read lossily when it is not UTF-8, so it is a token
/// that matches nothing — refused and counted as a failed attempt — never an absent one
/// that a public view would serve anonymously.
fn authorization(req: &ServiceRequest) -> Result<Option<Cow<'_, str>>, Refusal> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let first = values.next();
    if values.next().is_some() {
        let error = ApiError::with_message(ErrorKind::BadRequest, "send one Authorization header");
        return Err(Refusal::new(StageName::Shield, error, "more than one Authorization header"));
    }
    Ok(first.map(|v| String::from_utf8_lossy(v.as_bytes())))
}

/// What the stages decided for a request they let through.
enum Admission {
    /// Answered by the pipeline itself (a CORS preflight, an `OPTIONS` request).
    Answer(HttpResponse),
    /// On to the handler.
    Handle,
}

/// The stages, then (with shared counters) the request's one shared decision, then the
/// handler. Returns the handler's response or the first refusal.
pub(super) async fn run<S>(
    service: &Rc<S>,
    mut req: ServiceRequest,
    cx: &mut Exchange,
    parts: &Parts,
    config: &Config,
) -> Result<ServiceResponse<BoxBody>, Refusal>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error> + 'static,
{
    let admitted = admit(&mut req, cx, parts, config).await;
    // A GraphQL document's writes are known once its handler has parsed it: an admitted
    // one's tally is left to the handler, which counts them in the same one call.
    let graphql = cx.route_label == Some(route::Route::GraphQl.label())
        && cx.tally.as_ref().is_some_and(|t| t.windows.iter().any(|w| matches!(w.tag, tally::Purpose::Token { .. })));
    let admitted = match &parts.shared {
        Some(_) if graphql && matches!(admitted, Ok(Admission::Handle)) => {
            let deferred = tally::DeferredTally::new(cx.tally.take().unwrap_or_default(), cx);
            req.extensions_mut().insert(deferred);
            admitted
        }
        Some(shared) => tally::settle(shared, cx, admitted, parts, config).await,
        None => admitted,
    };
    match admitted? {
        Admission::Answer(res) => Ok(req.into_response(res)),
        Admission::Handle => service
            .call(req)
            .await
            .map_err(|e| Refusal::new(StageName::Handler, ErrorKind::Internal, format!("handler failed: {e}"))),
    }
}

/// The stage order, written once. With shared counters the stages add their windows to
/// `cx.tally` instead of counting (see `tally`).
async fn admit(
    req: &mut ServiceRequest,
    cx: &mut Exchange,
    parts: &Parts,
    config: &Config,
) -> Result<Admission, Refusal> {
    let stages = &parts.stages;

    // 1. Shield: who the client is (a proxy that names none is refused: no fallback to the
    //    proxy's own address), throttle and sizes before the body is read, then the body
    //    itself (counted while it streams) and its JSON depth.
    //    The server's own probe of `/health` (its per-process key) skips the client checks.
    let own_probe = req.path() == "/health"
        && req.headers().get(probe::PROBE_HEADER).is_some_and(|v| parts.probe.matches(v.as_bytes()));
    if cx.bad_forwarded_for && !own_probe {
        return Err(Refusal::new(StageName::Shield, ErrorKind::BadForwardedFor, "unparseable X-Forwarded-For entry"));
    }
    let content_length = text(req, header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok());
    let wide_multiple = config.checks.ipv6_wide_multiple;
    if !own_probe {
        stages.shield.screen(cx.client, wide_multiple, req.query_string().len(), content_length, &config.shield)?;
        if let Some(tally) = cx.tally.as_mut().filter(|_| req.path() != "/health") {
            shield::throttle_windows(tally, cx.client, wide_multiple, &config.shield);
        }
    }
    let body = if has_body(req) {
        shield::read_body(req.take_payload(), config.shield.max_body_bytes).await?
    } else {
        bytes::Bytes::new()
    };
    let json = shield::inspect_body(&body, is_json(req), config.shield.max_json_depth)?;
    let authorization_header = authorization(req)?;

    // Security checks chain (locks, injection, honeypot, endpoint limits): before auth work.
    let (user_agent, referer) = (text(req, header::USER_AGENT), text(req, header::REFERER));
    let has_headers = user_agent.is_some() || referer.is_some();
    if !own_probe
        && stages.checks.has_work(req.method().as_str(), req.path(), req.query_string(), !body.is_empty(), has_headers)
    {
        let is_form = text(req, header::CONTENT_TYPE)
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        let facts = crate::checks::Inspect {
            method: req.method().as_str(),
            path: req.path(),
            query: req.query_string(),
            json: json.as_ref().map(|j| &*j.0),
            form_body: is_form.then_some(&body[..]),
            ip: cx.ip,
            ip_key: cx.ip_key,
            authorization: authorization_header.as_deref(),
            user_agent,
            referer,
        };
        let mut limits = Vec::new();
        let notes = stages
            .checks
            .inspect(&facts, cx.tally.is_some().then_some(&mut limits))
            .map_err(|b| Refusal::new(StageName::Checks, b.error, b.reason))?;
        if let Some(tally) = cx.tally.as_mut() {
            for limit in limits {
                let name = format!("ep:{}:{}", limit.id, cx.ip_key);
                tally.count(tally::Purpose::Endpoint(limit.id), name, limit.per_minute, 60_000, 1);
            }
        }
        if !notes.is_empty() {
            cx.note = Some(notes.join("; "));
        }
    }

    // 2. CORS preflight, answered from server policy without authentication.
    if req.method() == Method::OPTIONS {
        let preflight = (text(req, header::ORIGIN), text(req, header::ACCESS_CONTROL_REQUEST_METHOD));
        return match preflight {
            (Some(origin), Some(method)) => {
                let requested = text(req, header::ACCESS_CONTROL_REQUEST_HEADERS);
                let headers = stages.cors.preflight(origin, method, requested)?;
                let mut res = HttpResponse::NoContent();
                for h in headers {
                    res.insert_header(h);
                }
                Ok(Admission::Answer(res.finish()))
            }
            _ => {
                let route =
                    route::resolve(&Method::GET, req.path()).or_else(|_| route::resolve(&Method::POST, req.path()));
                let route = route.map_err(|e| Refusal::new(StageName::Router, e, "no such route"))?;
                // With a valid token: what that token may do here (as its own OpenAPI
                // document says), decided by the scope stage itself.
                let allow = match stages.auth.identify(authorization_header.as_deref()) {
                    Some(p) => route
                        .methods()
                        .iter()
                        .filter(|m| stages.scope.authorize(&p, &route, m, cx.ip).is_ok())
                        .map(Method::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    None => route::allow_header(&route),
                };
                Ok(Admission::Answer(HttpResponse::NoContent().insert_header(("allow", allow)).finish()))
            }
        };
    }

    let route = route::resolve(req.method(), req.path()).map_err(|e| {
        Refusal::new(StageName::Router, e, format!("no route for {} (path in the record's shape)", req.method()))
    })?;

    let authorization = authorization_header.as_deref();
    let anonymous = authorization.is_none() && parts.serves_anonymously(&route);
    if anonymous {
        // A public view (or the anonymous OpenAPI document): no token, a window per client
        // address instead of per token, and the scope stage as for any token.
        match cx.tally.as_mut() {
            Some(tally) => rate_limit::RateLimitState::public_windows(cx.client, wide_multiple, &config.public, tally),
            None => {
                cx.extra_headers.extend(stages.rate_limit.count_public(cx.client, wide_multiple, &config.public)?)
            }
        }
        if text(req, header::ORIGIN).is_some() {
            cx.extra_headers.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, header::HeaderValue::from_static("*")));
        }
        stages.scope.authorize(&parts.public, &route, req.method(), cx.ip)?;
        cx.principal = Some(parts.public.clone());
        req.extensions_mut().insert(parts.public.clone());
    } else if route.needs_auth() {
        // 3. Auth.
        let presented = auth::Presented {
            authorization,
            timestamp: text(req, auth::X_TIMESTAMP),
            signature: text(req, auth::X_SIGNATURE),
            method: req.method().as_str(),
            path: req.uri().path(),
            query: req.query_string(),
            body: &body,
            ip: cx.ip,
            ip_key: cx.ip_key,
        };
        let auth::Authenticated { principal, signature } = stages.auth.authenticate(&presented, cx.tally.as_mut())?;
        cx.principal = Some(principal.clone());

        // 2. CORS, second half: the token's own origin list (nothing to decide without
        //    Origin; one that is not UTF-8 is read lossily and so matches no list).
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let origin = String::from_utf8_lossy(origin.as_bytes());
            cx.extra_headers.extend(stages.cors.check_origin(&origin, &principal)?);
        }

        // 4. Rate limit (its refusals carry their own headers).
        match cx.tally.as_mut() {
            Some(tally) => {
                // A JSON array of rows counts every row in this one call (the handler then
                // counts nothing more; see `BatchCounted`).
                let rows = match (&route, req.method(), json.as_ref().map(|j| &*j.0)) {
                    (route::Route::Table { id: None, .. }, &Method::POST, Some(serde_json::Value::Array(items)))
                        if (1..=config.limits.max_batch_rows).contains(&items.len()) =>
                    {
                        u32::try_from(items.len()).unwrap_or(u32::MAX)
                    }
                    _ => 1,
                };
                if rows > 1 {
                    req.extensions_mut().insert(crate::http::body::BatchCounted);
                }
                rate_limit::RateLimitState::token_window(&principal, &config.rate_limit, rows, tally)
            }
            None => cx.extra_headers.extend(stages.rate_limit.count(&principal, &config.rate_limit)?),
        }

        // 5. Scope.
        stages.scope.authorize(&principal, &route, req.method(), cx.ip)?;

        // 3. Auth, last part: the admitted request's signature is recorded against replay.
        if let Some(signature) = signature {
            stages.auth.record_signature(signature, &cx.ip, cx.ip_key, cx.tally.as_mut())?;
        }
        req.extensions_mut().insert(principal);
    }

    cx.route_label = Some(route.label());
    req.extensions_mut().insert(route);
    if let Some(json) = json {
        req.extensions_mut().insert(json);
    }
    if !body.is_empty() {
        req.set_payload(crate::http::body::replay_payload(body));
    }
    Ok(Admission::Handle)
}
