//! Status endpoints (bare JSON, no envelope): server, gNMI dial-in, gNMI dial-out, health.

use axum::Json;
use axum::extract::State;
use nl6_dialin::GnmiStatus;
use nl6_dialout::{CollectorStatus, DialoutStatus};
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
}

/// `GET /api/v1/gnmi/status`: the gNMI dial-in subsystem, field for field as nl6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GnmiStatusBody {
    /// Whether the dial-in server is running.
    pub subsystem_active: bool,
    /// Whether dial-in is served over TLS.
    pub tls_enabled: bool,
    /// Devices reachable over dial-in.
    pub listeners: u64,
    /// Subscribe RPCs open now.
    pub active_subscriptions: u64,
    /// `Update` entries (leaves) sent on Subscribe streams.
    pub updates_sent: u64,
    /// `Update` entries dropped by full per-stream queues.
    pub updates_dropped: u64,
    /// Failed TLS handshakes.
    pub tls_handshake_failures: u64,
    /// Failed or refused accepts.
    pub listener_accept_failures: u64,
    /// Interface-state events emitted fleet-wide.
    pub state_events_emitted: u64,
    /// Interface-state events dropped from full listener queues.
    pub state_events_dropped: u64,
}

impl From<GnmiStatus> for GnmiStatusBody {
    fn from(s: GnmiStatus) -> Self {
        // Destructured in full: a field added to the status fails to compile here, so the
        // OpenAPI schema cannot fall behind.
        let GnmiStatus {
            subsystem_active,
            tls_enabled,
            listeners,
            active_subscriptions,
            updates_sent,
            updates_dropped,
            tls_handshake_failures,
            listener_accept_failures,
            state_events_emitted,
            state_events_dropped,
        } = s;
        GnmiStatusBody {
            subsystem_active,
            tls_enabled,
            listeners,
            active_subscriptions,
            updates_sent,
            updates_dropped,
            tls_handshake_failures,
            listener_accept_failures,
            state_events_emitted,
            state_events_dropped,
        }
    }
}

/// `GET /api/v1/gnmi/dialout/status`: dial-out per (collector, flavor), as nl6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DialoutStatusBody {
    /// Whether any dial-out exporter is running.
    pub subsystem_active: bool,
    /// One entry per (collector, flavor) ever used; totals include deleted devices.
    pub collectors: Vec<CollectorStatusBody>,
    /// Devices exporting now.
    pub devices_exporting: u64,
}

/// The counters of one (collector, flavor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CollectorStatusBody {
    /// Collector `host:port` as configured.
    #[schema(example = "10.0.0.5:6030")]
    pub collector: String,
    /// Wire flavor.
    #[schema(example = "gnmireverse")]
    pub flavor: String,
    /// Devices exporting to it now.
    pub devices: u64,
    /// Publish streams open now.
    pub streams_active: u64,
    /// Updates (leaves) sent, deleted devices included.
    pub updates_sent: u64,
    /// Updates dropped by full send queues.
    pub updates_dropped: u64,
    /// Streams re-established after a device's first one.
    pub reconnects: u64,
    /// Failed sends.
    pub send_failures: u64,
}

impl From<DialoutStatus> for DialoutStatusBody {
    fn from(s: DialoutStatus) -> Self {
        let DialoutStatus {
            subsystem_active,
            collectors,
            devices_exporting,
        } = s;
        DialoutStatusBody {
            subsystem_active,
            collectors: collectors
                .into_iter()
                .map(CollectorStatusBody::from)
                .collect(),
            devices_exporting,
        }
    }
}

impl From<CollectorStatus> for CollectorStatusBody {
    fn from(c: CollectorStatus) -> Self {
        let CollectorStatus {
            collector,
            flavor,
            devices,
            streams_active,
            updates_sent,
            updates_dropped,
            reconnects,
            send_failures,
        } = c;
        CollectorStatusBody {
            collector,
            flavor,
            devices,
            streams_active,
            updates_sent,
            updates_dropped,
            reconnects,
            send_failures,
        }
    }
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `"ok"` while the server answers.
    #[schema(example = "ok")]
    pub status: String,
}

/// Server status: devices, whether a batch is being created, uptime and version.
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
    })
}

/// gNMI dial-in status and counters.
#[utoipa::path(
    get,
    path = "/api/v1/gnmi/status",
    operation_id = "getGnmiStatus",
    tag = "status",
    responses((status = 200, description = "Dial-in status", body = GnmiStatusBody))
)]
pub(crate) async fn gnmi(State(state): State<ApiState>) -> Json<GnmiStatusBody> {
    Json(state.fleet.gnmi_status().into())
}

/// gNMI dial-out status and counters per (collector, flavor); monotonic across deletions.
#[utoipa::path(
    get,
    path = "/api/v1/gnmi/dialout/status",
    operation_id = "getDialoutStatus",
    tag = "status",
    responses((status = 200, description = "Dial-out status", body = DialoutStatusBody))
)]
pub(crate) async fn dialout(State(state): State<ApiState>) -> Json<DialoutStatusBody> {
    Json(state.fleet.dialout_status().into())
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
