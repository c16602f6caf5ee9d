//! `/api/v1/devices`: create batches, list, get and delete devices.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use nl6_fleet::{BatchReport, Fleet, FleetError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::body::{CreateDevices, DeviceView};
use crate::envelope::Envelope;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, PathText, device_ip};
use crate::state::ApiState;

/// What a created batch reports.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchCreated {
    /// Devices created (all of them: a batch is all-or-nothing).
    pub created: usize,
    /// Devices asked for.
    pub requested: usize,
    /// First device address.
    pub first: String,
    /// Last device address.
    pub last: String,
}

/// How many devices a delete removed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    /// Devices removed.
    pub deleted: usize,
}

/// Runs a fleet operation on its own task, so a client that goes away mid-request cannot
/// cancel it half-way.
async fn detached<T, F>(fleet: &Arc<Fleet>, op: impl FnOnce(Arc<Fleet>) -> F) -> Result<T, ApiError>
where
    F: Future<Output = Result<T, FleetError>> + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(op(fleet.clone()))
        .await
        .map_err(|e| ApiError::Internal(format!("fleet task failed: {e}")))?
        .map_err(ApiError::from)
}

/// `1 device`, `3 devices`.
fn n_devices(n: usize) -> String {
    if n == 1 {
        "1 device".to_string()
    } else {
        format!("{n} devices")
    }
}

/// Creates a batch of devices: everything is validated first, then all devices are created
/// or none.
#[utoipa::path(
    post,
    path = "/api/v1/devices",
    operation_id = "createDevices",
    tag = "devices",
    request_body = CreateDevices,
    responses(
        (status = 201, description = "All devices created", body = Envelope<BatchCreated>),
        (status = 400, description = "A field is invalid (the message names it); nothing created", body = ErrorBody),
        (status = 409, description = "Another batch is being created, or an address is taken; nothing created", body = ErrorBody),
        (status = 413, description = "Body larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<CreateDevices>,
) -> Result<(StatusCode, Json<Envelope<BatchCreated>>), ApiError> {
    let spec = body.into_spec()?;
    let report: BatchReport = detached(&state.fleet, |fleet| async move {
        fleet.create_batch(spec).await
    })
    .await?;
    let message = format!(
        "created {} ({} .. {}) in {:.3}s",
        n_devices(report.created),
        report.first,
        report.last,
        report.took.as_secs_f64()
    );
    let data = BatchCreated {
        created: report.created,
        requested: report.requested,
        first: report.first.to_string(),
        last: report.last.to_string(),
    };
    Ok((StatusCode::CREATED, Json(Envelope::ok(message, data))))
}

/// Lists every device with the settings of its batch.
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    operation_id = "listDevices",
    tag = "devices",
    responses((status = 200, description = "Every device, by address", body = Envelope<Vec<DeviceView>>))
)]
pub(crate) async fn list(State(state): State<ApiState>) -> Json<Envelope<Vec<DeviceView>>> {
    let devices: Vec<DeviceView> = state.fleet.list().iter().map(DeviceView::from).collect();
    Json(Envelope::ok(n_devices(devices.len()), devices))
}

/// Deletes every device.
#[utoipa::path(
    delete,
    path = "/api/v1/devices",
    operation_id = "deleteAllDevices",
    tag = "devices",
    responses((status = 200, description = "All devices deleted", body = Envelope<Deleted>))
)]
pub(crate) async fn delete_all(
    State(state): State<ApiState>,
) -> Result<Json<Envelope<Deleted>>, ApiError> {
    let deleted = detached(
        &state.fleet,
        |fleet| async move { Ok(fleet.delete_all().await) },
    )
    .await?;
    Ok(Json(Envelope::ok(
        format!("deleted {}", n_devices(deleted)),
        Deleted { deleted },
    )))
}

/// One device.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{ip}",
    operation_id = "getDevice",
    tag = "devices",
    params(("ip" = String, Path, description = "Device address", example = "127.42.0.1")),
    responses(
        (status = 200, description = "The device", body = Envelope<DeviceView>),
        (status = 400, description = "Not an IPv4 address", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(state): State<ApiState>,
    PathText(ip): PathText<String>,
) -> Result<Json<Envelope<DeviceView>>, ApiError> {
    let ip = device_ip(&ip)?;
    let info = state.fleet.get(ip).ok_or(FleetError::NotFound(ip))?;
    Ok(Json(Envelope::ok(
        format!("device {ip}"),
        DeviceView::from(&info),
    )))
}

/// Deletes one device: stops its dial-out and timers and removes its address.
#[utoipa::path(
    delete,
    path = "/api/v1/devices/{ip}",
    operation_id = "deleteDevice",
    tag = "devices",
    params(("ip" = String, Path, description = "Device address", example = "127.42.0.1")),
    responses(
        (status = 200, description = "Deleted", body = Envelope<Deleted>),
        (status = 400, description = "Not an IPv4 address", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    State(state): State<ApiState>,
    PathText(ip): PathText<String>,
) -> Result<Json<Envelope<Deleted>>, ApiError> {
    let ip = device_ip(&ip)?;
    detached(
        &state.fleet,
        move |fleet| async move { fleet.delete(ip).await },
    )
    .await?;
    Ok(Json(Envelope::ok(
        format!("deleted device {ip}"),
        Deleted { deleted: 1 },
    )))
}
