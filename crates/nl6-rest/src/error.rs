//! API errors and their JSON bodies.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nl6_fleet::FleetError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::body_error::BodyError;

/// The body of every error reply (except the interface-state 400, see [`InterfaceErrorBody`]).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    /// What went wrong and what to do about it.
    #[schema(example = "invalid gnmi_dialout.collector: \"nope\" has no port; use host:port")]
    pub message: String,
}

/// Why a request failed; the reply is `{"success": false, "message": ...}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request field is invalid (400).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field path, e.g. `gnmi_dialout.tls.ca_pem`.
        field: String,
        /// Why.
        reason: String,
    },
    /// The request body could not be read or parsed.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The fleet refused the operation.
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// No route matches the path (404).
    #[error("no such endpoint: {method} {path}; the API is described at GET /api/v1/openapi.json")]
    NoRoute {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
    },
    /// The route exists but not with this method (405).
    #[error("method {method} is not allowed on {path}; see GET /api/v1/openapi.json")]
    Method {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
    },
    /// A run could not be armed.
    #[error(transparent)]
    Run(#[from] nl6_runs::RunError),
    /// No run has that id (404).
    #[error("no run {0} (only the last {keep} finished runs are kept)", keep = nl6_runs::KEEP_REPORTS)]
    NoRun(String),
    /// A background task failed (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// An invalid-field error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The HTTP status of the reply.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ApiError::Body(e) => e.status(),
            ApiError::Fleet(e) => fleet_status(e),
            ApiError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ApiError::Method { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Run(e) => match e {
                nl6_runs::RunError::Invalid { .. } => StatusCode::BAD_REQUEST,
                nl6_runs::RunError::Busy { .. } => StatusCode::CONFLICT,
                nl6_runs::RunError::Fleet(e) => fleet_status(e),
                nl6_runs::RunError::NoRuntime => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::NoRun(_) => StatusCode::NOT_FOUND,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The HTTP status for a fleet error.
pub(crate) fn fleet_status(e: &FleetError) -> StatusCode {
    match e {
        FleetError::Invalid { .. }
        | FleetError::AddressUnusable { .. }
        | FleetError::NoSuchInterface { .. } => StatusCode::BAD_REQUEST,
        FleetError::BatchInProgress | FleetError::Exists(_) | FleetError::Flapping { .. } => {
            StatusCode::CONFLICT
        }
        FleetError::NotFound(_)
        | FleetError::NotLinked { .. }
        | FleetError::NoSuchNeighbor { .. } => StatusCode::NOT_FOUND,
        FleetError::Network(_) | FleetError::Dialin(_) | FleetError::DeviceSetup { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = ErrorBody {
            success: false,
            message: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        ApiError::Body(self).into_response()
    }
}

/// The body of an interface-state 400: the error and the ifindexes the device has.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InterfaceErrorBody {
    /// What is wrong with the request.
    #[schema(example = "invalid link status \"SIDEWAYS\": expected one of UP, DOWN, TESTING")]
    pub error: String,
    /// The interface indexes of the device (empty when the device address is malformed).
    #[serde(rename = "validIfIndexes")]
    #[schema(example = json!([1, 2, 3, 4]))]
    pub valid_if_indexes: Vec<u32>,
}

/// Why an interface-state change failed.
#[derive(Debug, thiserror::Error)]
pub enum InterfaceError {
    /// A bad body, status, duration or ifindex (400 `{"error", "validIfIndexes"}`).
    #[error("{error}")]
    Bad {
        /// The message.
        error: String,
        /// The device's interface count (valid ifindexes are 1..=count).
        interfaces: u32,
    },
    /// Anything else (unknown device → 404), replied as an [`ApiError`].
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl IntoResponse for InterfaceError {
    fn into_response(self) -> Response {
        match self {
            InterfaceError::Bad { error, interfaces } => {
                let body = InterfaceErrorBody {
                    error,
                    valid_if_indexes: (1..=interfaces).collect(),
                };
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
            InterfaceError::Api(e) => e.into_response(),
        }
    }
}
