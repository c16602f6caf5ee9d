//! The handlers, one module per resource.

use axum::http::{Method, Uri};

use crate::error::ApiError;

pub(crate) mod bgp;
pub(crate) mod devices;
pub(crate) mod history;
pub(crate) mod interfaces;
pub(crate) mod mdt;
pub(crate) mod metrics;
pub(crate) mod reboot;
pub(crate) mod runs;
pub(crate) mod status;
pub(crate) mod topology;

/// No route matches: a JSON 404.
pub(crate) async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

/// The route exists with other methods: a JSON 405.
pub(crate) async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::Method {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}
