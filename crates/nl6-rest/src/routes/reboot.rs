//! `/api/v1/devices/{ip}/reboot`: simulate a device reboot.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};
use utoipa::ToSchema;

use crate::envelope::Envelope;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{PathText, device_ip};
use crate::state::ApiState;

/// A device after its reboot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rebooted {
    /// Device address.
    #[schema(example = "127.42.0.1")]
    pub ip: String,
    /// The new boot time (RFC 3339, UTC, whole seconds): counters count from 0 at it and
    /// every interface's `last-change` is it.
    #[schema(example = "2026-11-20T10:15:00Z")]
    pub boot_time: String,
    /// The same instant in Unix nanoseconds, the value gNMI `last-change` now reports.
    #[schema(example = 1_795_169_700_000_000_000u64)]
    pub boot_time_ns: u64,
}

/// Reboots a device: its boot time becomes now, its counters restart at 0, and every
/// interface's `last-change` becomes the boot time (ON_CHANGE subscribers of `last-change`
/// get the update). Link and admin status are kept. Collectors see the counters drop.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{ip}/reboot",
    operation_id = "rebootDevice",
    tag = "devices",
    params(("ip" = String, Path, description = "Device address", example = "127.42.0.1")),
    responses(
        (status = 200, description = "Rebooted; the new boot time", body = Envelope<Rebooted>),
        (status = 400, description = "Not an IPv4 address", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
    )
)]
pub(crate) async fn reboot(
    State(state): State<ApiState>,
    PathText(ip): PathText<String>,
) -> Result<Json<Envelope<Rebooted>>, ApiError> {
    let ip = device_ip(&ip)?;
    let boot: SystemTime = state.fleet.reboot(ip)?;
    let boot_time_ns = boot
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let boot_time = humantime::format_rfc3339_seconds(boot).to_string();
    Ok(Json(Envelope::ok(
        format!("rebooted device {ip} at {boot_time}"),
        Rebooted {
            ip: ip.to_string(),
            boot_time,
            boot_time_ns,
        },
    )))
}
