//! Bearer-token authentication: required for every route but `/health` and the status
//! page's static files when a token is configured (nl6d requires one on any non-loopback
//! listener). The page itself asks for the token and sends it with its API calls.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ErrorBody;

/// The shortest token accepted (bytes).
pub const MIN_TOKEN_LEN: usize = 16;

/// A REST bearer token (compared in constant time; never printed).
#[derive(Clone)]
pub struct BearerToken(Arc<[u8]>);

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

/// Why a token could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token file could not be read.
    #[error("cannot read the token file {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token is shorter than [`MIN_TOKEN_LEN`] or not printable ASCII.
    #[error(
        "the token must be at least {MIN_TOKEN_LEN} printable ASCII characters without spaces \
         (got {len} bytes)"
    )]
    Weak {
        /// Its length in bytes.
        len: usize,
    },
}

impl BearerToken {
    /// A token from its text (surrounding whitespace is ignored).
    pub fn new(text: &str) -> Result<BearerToken, TokenError> {
        let token = text.trim();
        let printable = token.bytes().all(|b| b.is_ascii_graphic());
        if token.len() < MIN_TOKEN_LEN || !printable {
            return Err(TokenError::Weak { len: token.len() });
        }
        Ok(BearerToken(Arc::from(token.as_bytes())))
    }

    /// The token in `path` (its first line; surrounding whitespace is ignored).
    pub fn from_file(path: &Path) -> Result<BearerToken, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.display().to_string(),
            source,
        })?;
        BearerToken::new(text.lines().next().unwrap_or(""))
    }

    /// Whether an `Authorization` header value carries this token.
    fn admits(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some(value) = authorization.map(HeaderValue::as_bytes) else {
            return false;
        };
        let Some(given) = value
            .strip_prefix(b"Bearer ")
            .or_else(|| value.strip_prefix(b"bearer "))
        else {
            return false;
        };
        bool::from(given.ct_eq(&self.0))
    }
}

/// Whether `request` may go without a token: `/health` (for liveness probes) and a `GET`
/// of the status page's files, which carry no data (a browser cannot send a bearer header
/// when it navigates).
fn open_route(request: &Request) -> bool {
    let path = request.uri().path();
    path == "/health"
        || (request.method() == axum::http::Method::GET && crate::page::PAGE_PATHS.contains(&path))
}

/// Middleware: answers 401 unless the request carries the token or is an [`open_route`].
pub(crate) async fn require(
    State(token): State<BearerToken>,
    request: Request,
    next: Next,
) -> Response {
    if open_route(&request) || token.admits(request.headers().get(header::AUTHORIZATION)) {
        return next.run(request).await;
    }
    let body = ErrorBody {
        success: false,
        message: "missing or wrong bearer token: send the header \
                  `Authorization: Bearer <token>` with nl6d's REST token"
            .to_string(),
    };
    let mut reply = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    reply
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_whole_and_must_be_strong() {
        let token = BearerToken::new(" 0123456789abcdef\n").unwrap();
        let header = |v: &'static str| HeaderValue::from_static(v);
        assert!(token.admits(Some(&header("Bearer 0123456789abcdef"))));
        assert!(!token.admits(Some(&header("Bearer 0123456789abcde"))));
        assert!(!token.admits(Some(&header("Bearer 0123456789abcdefg"))));
        assert!(!token.admits(Some(&header("Basic 0123456789abcdef"))));
        assert!(!token.admits(None));
        assert!(matches!(
            BearerToken::new("short"),
            Err(TokenError::Weak { len: 5 })
        ));
        assert!(BearerToken::new("has a space in it ok").is_err());
        assert_eq!(format!("{token:?}"), "BearerToken(..)");
    }
}
