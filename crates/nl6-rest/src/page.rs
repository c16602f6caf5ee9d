//! The live status page at `GET /`: hand-written HTML, CSS and JavaScript embedded in the
//! binary (no CDN, works offline). The page reads the JSON API like any client, so it
//! sends the bearer token itself when one is required; its files carry no data and are
//! served without one.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const STATUS_CSS: &str = include_str!("../assets/status.css");
const STATUS_JS: &str = include_str!("../assets/status.js");
const FAVICON_SVG: &str = include_str!("../assets/favicon.svg");

/// Where the page and its files are served (the routes open without a token).
pub(crate) const PAGE_PATHS: [&str; 4] = [
    "/",
    "/assets/status.css",
    "/assets/status.js",
    "/assets/favicon.svg",
];

/// Only this origin's files and API: no inline script, no third party.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's routes.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            PAGE_PATHS[0],
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            PAGE_PATHS[1],
            get(|| async { asset("text/css; charset=utf-8", STATUS_CSS) }),
        )
        .route(
            PAGE_PATHS[2],
            get(|| async { asset("text/javascript; charset=utf-8", STATUS_JS) }),
        )
        .route(
            PAGE_PATHS[3],
            get(|| async { asset("image/svg+xml", FAVICON_SVG) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut reply = body.into_response();
    let headers = reply.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_references_only_embedded_files() {
        for (attr, path) in [
            ("href=\"", "assets/status.css"),
            ("src=\"", "assets/status.js"),
            ("href=\"", "assets/favicon.svg"),
        ] {
            assert!(INDEX_HTML.contains(&format!("{attr}{path}\"")), "{path}");
            assert!(PAGE_PATHS.contains(&format!("/{path}").as_str()), "{path}");
        }
        for text in [INDEX_HTML, STATUS_CSS, STATUS_JS] {
            assert!(!text.contains("https://"), "no third-party URL");
        }
    }
}
