//! Why a request body was rejected, shared by the extractor that finds it and the API
//! error that replies with it.

use axum::http::StatusCode;

/// Largest request body accepted (64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a request body was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The `Content-Type` is not JSON (415).
    #[error(
        "Content-Type must be application/json, got {0}; with curl add -H 'Content-Type: application/json'"
    )]
    ContentType(String),
    /// The body is larger than [`MAX_BODY_BYTES`] (413).
    #[error("request body is larger than the {MAX_BODY_BYTES}-byte (64 KiB) limit")]
    TooLarge,
    /// The body could not be read (400).
    #[error("could not read the request body: {0}")]
    Read(String),
    /// The body is empty (400).
    #[error("the request body is empty; send a JSON object")]
    Empty,
    /// The body is not JSON (400).
    #[error("malformed JSON: {0}")]
    Syntax(String),
    /// The JSON does not fit the expected shape: unknown or missing field, wrong type (400).
    #[error("invalid body{}: {message}", at_path(path))]
    Shape {
        /// Where (`gnmi_dialout.tls`); empty at the top level.
        path: String,
        /// What serde says, with line and column.
        message: String,
    },
}

fn at_path(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" at {path}")
    }
}

impl BodyError {
    /// The HTTP status of the rejection.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::ContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}
