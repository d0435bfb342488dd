//! The API Explorer: a data tool embedded in the binary (no CDN, no external fonts). A
//! developer pastes a token and gets, for every table and view the token may read, a grid
//! (sortable headers, a filter row typed by column, paging by `next` cursor or offset) and a
//! row panel with typed create/edit/delete forms; a GraphQL editor with completion; the raw
//! request console; and every request it made, each with its curl. Sandbox tokens get a
//! banner.
//!
//! Why it is built this way:
//! - It needs no token to load (it holds none); every call it makes goes through the pipeline
//!   like any other client's, so it can show nothing the token could not fetch itself.
//! - What it offers (tables, columns, types, filters, methods) comes from the token's own
//!   OpenAPI document, the server's account of that token, so it never offers a button the
//!   server would refuse, and forms leave validation to the server (its 422 is shown at the
//!   field it names).
//! - It runs under its own strict Content-Security-Policy: scripts, styles and requests from
//!   `'self'` only, no inline code or style attributes; the API keeps `default-src 'none'`.
//!   Its script is a handful of ES modules (one concern each) served from [`ASSETS`].

use actix_web::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use actix_web::HttpResponse;

/// The page's policy.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                       img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the page: name, content type, body.
const ASSETS: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("index.html")),
    ("app.css", "text/css; charset=utf-8", include_str!("app.css")),
    ("app.js", JS, include_str!("app.js")),
    ("api.js", JS, include_str!("api.js")),
    ("dom.js", JS, include_str!("dom.js")),
    ("doc.js", JS, include_str!("doc.js")),
    ("grid.js", JS, include_str!("grid.js")),
    ("form.js", JS, include_str!("form.js")),
    ("lookup.js", JS, include_str!("lookup.js")),
    ("graphql.js", JS, include_str!("graphql.js")),
    ("gqlschema.js", JS, include_str!("gqlschema.js")),
    ("console.js", JS, include_str!("console.js")),
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

#[cfg(test)]
mod tests {
    use super::ASSETS;

    /// Every module a script imports is one the page serves (a missing one is a blank page
    /// in the browser, and no Rust test would notice otherwise).
    #[test]
    fn every_imported_module_is_served() {
        for (name, _, body) in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            for import in body.split("from \"./").skip(1) {
                let module = import.split('"').next().unwrap_or_default();
                assert!(ASSETS.iter().any(|(n, _, _)| *n == module), "{name} imports {module}, which is not served");
            }
        }
    }

    /// No inline styles or scripts: the page's CSP would refuse them.
    #[test]
    fn nothing_inline() {
        for (name, _, body) in ASSETS {
            assert!(!body.contains("style=\"") && !body.contains("<script>") && !body.contains("innerHTML"), "{name}");
        }
    }
}
