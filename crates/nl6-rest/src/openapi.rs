//! The OpenAPI document, generated from the handlers' and body types' annotations.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;

use crate::state::ApiState;

/// The document's static part; paths and schemas come from the routes (see `router`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "nl6 REST API",
        description = "Create and delete simulated network devices, change interface state, and read gNMI dial-in/dial-out status. Device endpoints reply `{success, message, data}`; errors reply `{success: false, message}` (interface-state 400s reply `{error, validIfIndexes}`); status endpoints reply bare JSON."
    ),
    tags(
        (name = "devices", description = "Device batches"),
        (name = "interfaces", description = "Interface state changes"),
        (name = "status", description = "Status, health and metrics"),
        (name = "meta", description = "This document"),
    )
)]
pub(crate) struct ApiDoc;

/// This OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document of this API", content_type = "application/json", body = Object))
)]
pub(crate) async fn document(State(state): State<ApiState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.to_string(),
    )
}

/// Renders `doc` as pretty JSON.
pub(crate) fn render(doc: &utoipa::openapi::OpenApi) -> String {
    doc.to_pretty_json()
        .unwrap_or_else(|e| format!(r#"{{"error":"cannot render the OpenAPI document: {e}"}}"#))
}
