//! The OpenAPI document, generated from the handlers' and body types' annotations.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use nl6_dialout::FlavorRegistry;
use utoipa::OpenApi;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi as Document, RefOr};

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
        (name = "topology", description = "Links between devices, seen as LLDP neighbours"),
        (name = "status", description = "Status, health and metrics"),
        (name = "mdt", description = "Cisco model-driven telemetry"),
        (name = "runs", description = "Measured load-test runs with an exact ledger"),
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

/// Fills in the `flavor` field of the `gnmi_dialout` block from `flavors`: an enum of
/// the registered names and a description of what each sends and accepts.
pub(crate) fn describe_flavors(doc: &mut Document, flavors: &FlavorRegistry) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut("DialoutBody") else {
        return;
    };
    let Some(RefOr::T(Schema::Object(flavor))) = body.properties.get_mut("flavor") else {
        return;
    };
    flavor.enum_values = Some(flavors.names().into_iter().map(Into::into).collect());
    let list = flavors
        .describe()
        .lines()
        .map(|line| format!("- {line}"))
        .collect::<Vec<_>>()
        .join("\n");
    flavor.description = Some(format!(
        "Wire flavor, one of the fleet's registered flavors:\n{list}\nA flavor option (collectors, retry_interval, failback, subscription, publish) or encoding the flavor does not take is a 400."
    ));
}
