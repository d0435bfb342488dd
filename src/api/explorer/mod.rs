//! The API Explorer: a page embedded in the binary (no CDN, no external fonts) where a
//! developer pastes a token, browses the tables and views it may read, runs REST calls and
//! GraphQL queries, and sees status, headers and body — with a banner for sandbox tokens.
//! It needs no token to load (it holds none); every call it makes goes through the
//! pipeline like any other. It runs under its own strict Content-Security-Policy: scripts,
//! styles and requests from `'self'` only, no inline code; the API keeps `default-src 'none'`.

use actix_web::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use actix_web::HttpResponse;

/// The page's policy.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                       img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ASSETS: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("app.js")),
    ("app.css", "text/css; charset=utf-8", include_str!("app.css")),
];

/// Serves one of the page's files.
pub fn serve(name: &str) -> HttpResponse {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, *content_type))
            .insert_header((CONTENT_SECURITY_POLICY, CSP))
            .body(*body),
        None => crate::error::ApiError::new(crate::error::ErrorKind::NotFound).into_response(),
    }
}
