//! Status endpoints (bare JSON, no envelope): server, gNMI dial-in, gNMI dial-out, health.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use axum::Json;
use axum::extract::State;
use nl6_dialin::GnmiStatus;
use nl6_dialout::DialoutStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::state::ApiState;

/// `GET /api/v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServerStatus {
    /// Devices in the fleet.
    pub devices: usize,
    /// Whether a batch is being created right now.
    pub batch_in_progress: bool,
    /// Time since the fleet started, e.g. `"1h 2m 3s"`.
    #[schema(example = "1h 2m 3s")]
    pub uptime: String,
    /// The same in whole seconds.
    pub uptime_seconds: u64,
    /// nl6 version.
    #[schema(example = "0.1.0")]
    pub version: String,
    /// The REST listener's connections.
    pub rest: RestListenerStatus,
    /// Where the devices' addresses live: `loopback` or `netns`.
    #[schema(example = "loopback")]
    pub network_mode: String,
    /// The devices by kind (counted as devices come and go: never a list of devices).
    pub composition: FleetComposition,
}

/// The devices of the fleet by interface naming, dial-out flavor and MDT flavor.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct FleetComposition {
    /// Interfaces of all devices.
    pub interfaces: u64,
    /// Devices by interface naming (`arista`, `xr`, `junos`, `sros`, `sonic`).
    pub by_naming: BTreeMap<String, u64>,
    /// Devices by device profile (`generic`, `juniper-mx`, ...).
    pub by_device_type: BTreeMap<String, u64>,
    /// Devices by gNMI dial-out flavor.
    pub by_dialout_flavor: BTreeMap<String, u64>,
    /// Devices with an MDT dial-out session of a flavor (`mdt-<protocol>-<encoding>`).
    pub by_mdt_flavor: BTreeMap<String, u64>,
    /// Devices with no dial-out of either kind.
    pub dialin_only: u64,
}

impl From<nl6_fleet::Composition> for FleetComposition {
    fn from(c: nl6_fleet::Composition) -> Self {
        FleetComposition {
            interfaces: c.interfaces,
            by_naming: c.by_naming,
            by_device_type: c.by_device_type,
            by_dialout_flavor: c.by_dialout_flavor,
            by_mdt_flavor: c.by_mdt_flavor,
            dialin_only: c.dialin_only,
        }
    }
}

/// Connections of the REST listener.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RestListenerStatus {
    /// Open now.
    pub connections_open: u64,
    /// Closed at accept because the connection limit was reached.
    pub connections_refused: u64,
    /// Closed after moving no bytes for the idle timeout.
    pub connections_idle_closed: u64,
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `"ok"` while the server answers.
    #[schema(example = "ok")]
    pub status: String,
}

/// Server status: devices, whether a batch is being created, uptime, version, network
/// mode and the devices by kind.
#[utoipa::path(
    get,
    path = "/api/v1/status",
    operation_id = "getStatus",
    tag = "status",
    responses((status = 200, description = "Server status", body = ServerStatus))
)]
pub(crate) async fn server(State(state): State<ApiState>) -> Json<ServerStatus> {
    let uptime = state.fleet.uptime();
    let whole = std::time::Duration::from_secs(uptime.as_secs());
    Json(ServerStatus {
        devices: state.fleet.len(),
        batch_in_progress: state.fleet.batch_in_progress(),
        uptime: humantime::format_duration(whole).to_string(),
        uptime_seconds: whole.as_secs(),
        version: crate::VERSION.to_string(),
        rest: RestListenerStatus {
            connections_open: state.listener.open.load(Relaxed),
            connections_refused: state.listener.refused.load(Relaxed),
            connections_idle_closed: state.listener.idle_closed.load(Relaxed),
        },
        network_mode: state.fleet.network_mode().to_string(),
        composition: state.fleet.composition().into(),
    })
}

/// gNMI dial-in status and counters.
#[utoipa::path(
    get,
    path = "/api/v1/gnmi/status",
    operation_id = "getGnmiStatus",
    tag = "status",
    responses((status = 200, description = "Dial-in status", body = GnmiStatus))
)]
pub(crate) async fn gnmi(State(state): State<ApiState>) -> Json<GnmiStatus> {
    Json(state.fleet.gnmi_status())
}

/// gNMI dial-out status and counters per (collector, flavor); monotonic across deletions.
#[utoipa::path(
    get,
    path = "/api/v1/gnmi/dialout/status",
    operation_id = "getDialoutStatus",
    tag = "status",
    responses((status = 200, description = "Dial-out status", body = DialoutStatus))
)]
pub(crate) async fn dialout(State(state): State<ApiState>) -> Json<DialoutStatus> {
    Json(state.fleet.dialout_status())
}

/// Liveness: answers `{"status":"ok"}` while the server runs.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "status",
    responses((status = 200, description = "Alive", body = Health))
)]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_string(),
    })
}
