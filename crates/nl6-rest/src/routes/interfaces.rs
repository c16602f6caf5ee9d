//! `/api/v1/devices/{ip}/interfaces`: read a device's interfaces (state and counters at
//! one instant); `…/{ifindex}/{oper,admin}-status`: set an interface's link or admin
//! state, optionally for a while.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use nl6_fleet::{FleetError, StateLeaf, StateReply};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::body::InterfaceStateBody;
use crate::body_error::BodyError;
use crate::envelope::Envelope;
use crate::error::{ApiError, ErrorBody, InterfaceError, InterfaceErrorBody};
use crate::extract::{ApiJson, PathText, device_ip};
use crate::state::ApiState;

/// The interface after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StateChange {
    /// The stored link status (what `oper-status` follows while admin is UP).
    #[schema(example = "DOWN")]
    pub link: String,
    /// The derived `oper-status` (RFC 2863: admin DOWN/TESTING forces it).
    #[schema(example = "DOWN")]
    pub oper_status: String,
    /// The `admin-status`.
    #[schema(example = "UP")]
    pub admin_status: String,
    /// Whether a link change was masked by admin DOWN/TESTING (no event emitted).
    pub masked: bool,
}

impl From<StateReply> for StateChange {
    fn from(r: StateReply) -> Self {
        let StateReply {
            link,
            oper_status,
            admin_status,
            masked,
        } = r;
        StateChange {
            link: link.to_string(),
            oper_status: oper_status.to_string(),
            admin_status: admin_status.to_string(),
            masked,
        }
    }
}

type Reply = Result<(StatusCode, Json<StateChange>), InterfaceError>;

/// A device's interfaces, every value read at the same instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceInterfaces {
    /// Device address.
    #[schema(example = "127.42.0.1")]
    pub ip: String,
    /// The instant the values were read, Unix ns.
    pub at: u64,
    /// By ifindex.
    pub interfaces: Vec<InterfaceView>,
}

/// One interface: its state leaves and its 12 counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InterfaceView {
    /// Interface index, 1..=N.
    pub ifindex: u32,
    /// Interface name.
    #[schema(example = "Ethernet1")]
    pub name: String,
    /// The stored link status.
    #[schema(example = "UP")]
    pub link: String,
    /// The derived `oper-status`.
    #[schema(example = "UP")]
    pub oper_status: String,
    /// The `admin-status`.
    #[schema(example = "UP")]
    pub admin_status: String,
    /// Unix ns of the last oper/admin change; 0 = never changed.
    pub last_change: u64,
    /// The counters by YANG leaf name (`in-octets`, `out-errors`, ...).
    pub counters: BTreeMap<String, u64>,
}

/// A device's interfaces: state and counters, all read at one instant.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{ip}/interfaces",
    operation_id = "getInterfaces",
    tag = "interfaces",
    params(("ip" = String, Path, description = "Device address", example = "127.42.0.1")),
    responses(
        (status = 200, description = "The interfaces by ifindex", body = Envelope<DeviceInterfaces>),
        (status = 400, description = "Not an IPv4 address", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    PathText(ip): PathText<String>,
) -> Result<Json<Envelope<DeviceInterfaces>>, ApiError> {
    let ip = device_ip(&ip)?;
    let model = state.fleet.model(ip).ok_or(FleetError::NotFound(ip))?;
    let at = nl6_ifstate::unix_now_ns();
    let interfaces = (0..model.interface_count())
        .map(|idx| {
            let s = model.state(idx);
            InterfaceView {
                ifindex: idx as u32 + 1,
                name: model.names().name(idx).to_string(),
                link: s.link.as_str().to_string(),
                oper_status: s.oper().as_str().to_string(),
                admin_status: s.admin.as_str().to_string(),
                last_change: s.last_change_ns,
                counters: model
                    .counters_at(idx, at)
                    .iter()
                    .map(|(c, v)| (c.name().to_string(), v))
                    .collect(),
            }
        })
        .collect::<Vec<_>>();
    let message = format!("{} interfaces of device {ip}", interfaces.len());
    Ok(Json(Envelope::ok(
        message,
        DeviceInterfaces {
            ip: ip.to_string(),
            at,
            interfaces,
        },
    )))
}

/// Sets the link of an interface (`oper-status` follows it while admin is UP).
#[utoipa::path(
    post,
    path = "/api/v1/devices/{ip}/interfaces/{ifindex}/oper-status",
    operation_id = "setOperStatus",
    tag = "interfaces",
    params(
        ("ip" = String, Path, description = "Device address", example = "127.42.0.1"),
        ("ifindex" = u32, Path, description = "Interface index, 1..=N", example = 1),
    ),
    request_body = InterfaceStateBody,
    responses(
        (status = 202, description = "Applied (and reverted after `duration` if given)", body = StateChange),
        (status = 400, description = "Bad body, status, duration or ifindex", body = InterfaceErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
    )
)]
pub(crate) async fn set_oper_status(
    State(state): State<ApiState>,
    PathText((ip, ifindex)): PathText<(String, String)>,
    body: Result<ApiJson<InterfaceStateBody>, BodyError>,
) -> Reply {
    change(&state, &ip, &ifindex, StateLeaf::Oper, body)
}

/// Sets the admin status of an interface.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{ip}/interfaces/{ifindex}/admin-status",
    operation_id = "setAdminStatus",
    tag = "interfaces",
    params(
        ("ip" = String, Path, description = "Device address", example = "127.42.0.1"),
        ("ifindex" = u32, Path, description = "Interface index, 1..=N", example = 1),
    ),
    request_body = InterfaceStateBody,
    responses(
        (status = 202, description = "Applied (and reverted after `duration` if given)", body = StateChange),
        (status = 400, description = "Bad body, status, duration or ifindex", body = InterfaceErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
    )
)]
pub(crate) async fn set_admin_status(
    State(state): State<ApiState>,
    PathText((ip, ifindex)): PathText<(String, String)>,
    body: Result<ApiJson<InterfaceStateBody>, BodyError>,
) -> Reply {
    change(&state, &ip, &ifindex, StateLeaf::Admin, body)
}

fn change(
    state: &ApiState,
    ip: &str,
    ifindex: &str,
    leaf: StateLeaf,
    body: Result<ApiJson<InterfaceStateBody>, BodyError>,
) -> Reply {
    let ip = device_ip(ip).map_err(|e| bad(e.to_string(), 0))?;
    let model = state
        .fleet
        .model(ip)
        .ok_or(ApiError::Fleet(FleetError::NotFound(ip)))?;
    let count = model.interface_count() as u32;
    let ifindex: u32 = ifindex.parse().map_err(|_| {
        bad(
            format!("ifindex {ifindex:?} is not a number; device {ip} has ifindexes 1..={count}"),
            count,
        )
    })?;
    let request = match body {
        Ok(ApiJson(body)) => body.parse().map_err(|e| bad(e, count))?,
        Err(e @ (BodyError::ContentType(_) | BodyError::TooLarge)) => {
            return Err(ApiError::Body(e).into());
        }
        Err(e) => return Err(bad(e.to_string(), count)),
    };
    let reply = state
        .fleet
        .set_interface_state(ip, ifindex, leaf, &request.status, request.duration)
        .map_err(|e| match e {
            FleetError::NoSuchInterface { max, .. } => bad(e.to_string(), max),
            FleetError::Invalid { .. } => bad(e.to_string(), count),
            other => ApiError::Fleet(other).into(),
        })?;
    Ok((StatusCode::ACCEPTED, Json(StateChange::from(reply))))
}

fn bad(error: String, interfaces: u32) -> InterfaceError {
    InterfaceError::Bad { error, interfaces }
}
