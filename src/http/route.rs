//! The route table, written once: path shape → [`Route`], and which methods each serves.
//! The pipeline resolves it before auth (unknown shapes → 404, wrong methods → 405 with
//! `Allow`), the scope stage decides what each needs, and the dispatcher serves it.

use actix_web::http::header::ALLOW;
use actix_web::http::Method;

use crate::error::{ApiError, ErrorKind};

/// What a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    Index,
    Table {
        table: String,
        id: Option<u64>,
    },
    View {
        view: String,
    },
    GraphQl,
    /// The OpenAPI document of what the presented token may do (anonymous: public views).
    OpenApi,
    /// The API Explorer page and its files (no token needed).
    Explorer {
        asset: String,
    },
}

impl Route {
    /// A bounded label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::Index => "index",
            Route::Table { id: None, .. } => "table",
            Route::Table { id: Some(_), .. } => "row",
            Route::View { .. } => "view",
            Route::GraphQl => "graphql",
            Route::OpenApi => "openapi",
            Route::Explorer { .. } => "explorer",
        }
    }

    /// The path pattern (no client text: lock records and logs name routes by it).
    pub fn pattern(&self) -> &'static str {
        match self {
            Route::Health => "/health",
            Route::Index => "/api/v1",
            Route::Table { id: None, .. } => "/api/v1/{table}",
            Route::Table { id: Some(_), .. } => "/api/v1/{table}/{id}",
            Route::View { .. } => "/api/v1/views/{view}",
            Route::GraphQl => "/graphql",
            Route::OpenApi => "/api/v1/openapi.json",
            Route::Explorer { .. } => "/explorer",
        }
    }

    /// `METHOD pattern` of a request, or `METHOD (no route)`.
    pub fn describe(method: &str, path: &str) -> String {
        let pattern = Method::from_bytes(method.as_bytes())
            .ok()
            .and_then(|m| resolve(&m, path).or_else(|_| resolve(&Method::GET, path)).ok())
            .map_or("(no route)", |r| r.pattern());
        format!("{method} {pattern}")
    }

    /// Everything but `/health` and the explorer needs a token, unless the pipeline serves it
    /// anonymously (public views, the OpenAPI document).
    pub fn needs_auth(&self) -> bool {
        !matches!(self, Route::Health | Route::Explorer { .. })
    }

    /// The methods served; HEAD wherever GET is (RFC 9110: same status and headers, no body).
    pub fn methods(&self) -> &'static [Method] {
        match self {
            Route::Health | Route::Index | Route::View { .. } | Route::OpenApi | Route::Explorer { .. } => {
                &[Method::GET, Method::HEAD]
            }
            Route::GraphQl => &[Method::POST],
            Route::Table { id: None, .. } => &[Method::GET, Method::HEAD, Method::POST],
            Route::Table { id: Some(_), .. } => {
                &[Method::GET, Method::HEAD, Method::PUT, Method::PATCH, Method::DELETE]
            }
        }
    }
}

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// Where GraphQL is served.
pub const GRAPHQL_PATH: &str = "/graphql";

/// The `Allow` header value of a route.
pub fn allow_header(route: &Route) -> String {
    route.methods().iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn not_found() -> ApiError {
    ApiError::new(ErrorKind::NotFound)
}

/// Resolves a path (as sent) and checks the method.
pub fn resolve(method: &Method, path: &str) -> Result<Route, ApiError> {
    let route = match path {
        "/health" => Route::Health,
        "/api/v1" => Route::Index,
        OPENAPI_PATH => Route::OpenApi,
        GRAPHQL_PATH => Route::GraphQl,
        "/explorer" | "/explorer/" => Route::Explorer { asset: "index.html".into() },
        // Which files exist is the explorer's to say (an unknown one is its 404).
        _ if path.starts_with("/explorer/") => {
            let asset = &path["/explorer/".len()..];
            let file_name = |s: &str| {
                !s.is_empty()
                    && s.len() <= 63
                    && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
            };
            if !file_name(asset) || asset.starts_with('.') {
                return Err(not_found());
            }
            Route::Explorer { asset: asset.to_string() }
        }
        _ => {
            let rest = path.strip_prefix("/api/v1/").ok_or_else(not_found)?;
            let parts: Vec<&str> = rest.split('/').collect();
            match parts.as_slice() {
                ["views", view] if is_name(view) => Route::View { view: view.to_string() },
                [table] if is_name(table) => Route::Table { table: table.to_string(), id: None },
                [table, id] if is_name(table) => {
                    let id = id.parse::<u64>().ok().filter(|&i| i > 0 && !id.starts_with('+')).ok_or_else(not_found)?;
                    Route::Table { table: table.to_string(), id: Some(id) }
                }
                _ => return Err(not_found()),
            }
        }
    };
    if !route.methods().contains(method) {
        return Err(ApiError::new(ErrorKind::MethodNotAllowed).header(ALLOW, allow_header(&route)));
    }
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_methods() {
        assert_eq!(resolve(&Method::GET, "/health").unwrap(), Route::Health);
        assert_eq!(
            resolve(&Method::GET, "/api/v1/clients/7").unwrap(),
            Route::Table { table: "clients".into(), id: Some(7) }
        );
        assert_eq!(resolve(&Method::GET, "/api/v1/views/x").unwrap(), Route::View { view: "x".into() });
        assert_eq!(resolve(&Method::GET, "/api/v1/clients/abc").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(resolve(&Method::GET, "/api/v1/Clients").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(resolve(&Method::GET, "/nope").unwrap_err().kind, ErrorKind::NotFound);
        let e = resolve(&Method::PATCH, "/api/v1/clients").unwrap_err();
        assert_eq!(e.kind, ErrorKind::MethodNotAllowed);
        assert_eq!(e.headers[0].1, "GET, HEAD, POST");
        assert_eq!(
            resolve(&Method::HEAD, "/api/v1/clients/7").unwrap(),
            Route::Table { table: "clients".into(), id: Some(7) }
        );
        assert_eq!(resolve(&Method::POST, "/health").unwrap_err().kind, ErrorKind::MethodNotAllowed);
    }
}
