//! Model-driven telemetry: MDT dial-out status and the compact-GPB `.proto` of a
//! sensor path.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use nl6_dialout::DialoutStatus;
use nl6_mdt::SensorPath;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::ApiState;

/// `GET /api/v1/mdt/status`: dial-out rows per (destination, `mdt-<protocol>-<encoding>`)
/// and the gRPC dial-in counters.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MdtStatus {
    /// MDT dial-out, shaped like gNMI dial-out's status.
    #[serde(flatten)]
    pub dialout: DialoutStatus,
    /// What the MDT dial-out sessions encoded.
    pub encoded: MdtEncodedStatus,
    /// MDT gRPC dial-in (`CreateSubs`).
    pub dialin: MdtDialinStatus,
}

/// Collections encoded by every MDT dial-out session, monotonic.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct MdtEncodedStatus {
    /// Collections (one per sensor path per sample).
    pub collections: u64,
    /// Wire messages (a collection split by rows is several).
    pub messages: u64,
    /// Rows too large for a message or datagram of their own, dropped.
    pub rows_dropped: u64,
}

/// MDT gRPC dial-in counters, monotonic but for `subscriptions_active`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct MdtDialinStatus {
    /// Whether the dial-in server (which serves `CreateSubs`) runs.
    pub active: bool,
    /// `CreateSubs` streams sending now.
    pub subscriptions_active: u64,
    /// `CreateSubs` calls that started streaming.
    pub subscriptions_opened: u64,
    /// `CreateSubs` calls answered with `errors` (unknown subscription or encoding).
    pub subscriptions_refused: u64,
    /// Collections encoded.
    pub collections: u64,
    /// Replies sent (a split collection is several).
    pub messages_sent: u64,
    /// Replies dropped from full stream queues (slow collectors).
    pub messages_dropped: u64,
    /// Rows too large for a message of their own, dropped.
    pub rows_dropped: u64,
}

impl MdtDialinStatus {
    pub(crate) fn of(counters: Option<&nl6_mdt::MdtDialinCounters>) -> MdtDialinStatus {
        match counters {
            None => MdtDialinStatus::default(),
            Some(c) => MdtDialinStatus {
                active: true,
                subscriptions_active: c.subscriptions_active(),
                subscriptions_opened: c.subscriptions_opened(),
                subscriptions_refused: c.subscriptions_refused(),
                collections: c.collections(),
                messages_sent: c.messages_sent(),
                messages_dropped: c.messages_dropped(),
                rows_dropped: c.rows_dropped(),
            },
        }
    }
}

/// MDT status: dial-out counters per (destination, `mdt-<protocol>-<encoding>`), monotonic
/// across deletions, and the gRPC dial-in counters.
#[utoipa::path(
    get,
    path = "/api/v1/mdt/status",
    operation_id = "getMdtStatus",
    tag = "status",
    responses((status = 200, description = "MDT status", body = MdtStatus))
)]
pub(crate) async fn status(State(state): State<ApiState>) -> Json<MdtStatus> {
    let encoded = state.fleet.mdt_dialout_counters();
    Json(MdtStatus {
        dialout: state.fleet.mdt_status(),
        encoded: MdtEncodedStatus {
            collections: encoded.collections(),
            messages: encoded.messages(),
            rows_dropped: encoded.rows_dropped(),
        },
        dialin: MdtDialinStatus::of(state.fleet.mdt_dialin_counters().map(|c| c.as_ref())),
    })
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
