//! Model-driven telemetry: MDT dial-out status and the compact-GPB `.proto` of a
//! sensor path.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use nl6_dialout::DialoutStatus;
use nl6_mdt::SensorPath;

use crate::error::ApiError;
use crate::state::ApiState;

/// MDT dial-out status and counters per (destination, `mdt-<protocol>-<encoding>`);
/// monotonic across deletions.
#[utoipa::path(
    get,
    path = "/api/v1/mdt/status",
    operation_id = "getMdtStatus",
    tag = "status",
    responses((status = 200, description = "MDT dial-out status", body = DialoutStatus))
)]
pub(crate) async fn status(State(state): State<ApiState>) -> Json<DialoutStatus> {
    Json(state.fleet.mdt_status())
}

/// The `.proto` that decodes compact-GPB rows of a sensor path, as IOS XR's
/// `telemetry generate gpb-encoding path ... syntax proto3` prints it.
#[utoipa::path(
    get,
    path = "/api/v1/mdt/proto",
    operation_id = "getMdtProto",
    tag = "mdt",
    params(("path" = String, Query, description = "Sensor path",
            example = "Cisco-IOS-XR-infra-statsd-oper:infra-statistics/interfaces/interface/latest/generic-counters")),
    responses(
        (status = 200, description = "The .proto text", content_type = "text/plain", body = String),
        (status = 400, description = "No or unknown sensor path", body = crate::ErrorBody),
    )
)]
pub(crate) async fn proto(RawQuery(query): RawQuery) -> Result<impl IntoResponse, ApiError> {
    let path = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "path")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| {
            ApiError::invalid("path", format!("is required; one of: {}", known_paths()))
        })?;
    let text =
        nl6_mdt::generate_proto(&path).map_err(|e| ApiError::invalid("path", e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text))
}

fn known_paths() -> String {
    SensorPath::ALL
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
