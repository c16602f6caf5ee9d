//! `/api/v1/topology`: links between devices' interfaces, seen as LLDP neighbours.

use std::net::Ipv4Addr;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use nl6_fleet::{Link, LinkEnd};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::envelope::Envelope;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::ApiState;

/// One end of a link: a device and one of its interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkEndBody {
    /// Device address.
    #[schema(example = "127.42.0.1")]
    pub device: String,
    /// Interface name, as the device names it.
    #[schema(example = "Ethernet1")]
    pub interface: String,
}

/// A link between two devices' interfaces: each end hears the other as its LLDP
/// neighbour on that interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// One end.
    pub a: LinkEndBody,
    /// The other end (another device).
    pub b: LinkEndBody,
}

/// Links to add, all or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopologyBody {
    /// The links (at most 512 per request).
    pub links: Vec<LinkBody>,
}

/// The topology: every link once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopologyView {
    /// Links added (POST) or removed (DELETE) by this request; absent on GET.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<usize>,
    /// Every link of the fleet after the request, ordered by its `a` end.
    pub links: Vec<LinkBody>,
}

fn view(changed: Option<usize>, links: Vec<Link>) -> TopologyView {
    let end = |e: LinkEnd| LinkEndBody {
        device: e.device.to_string(),
        interface: e.interface,
    };
    TopologyView {
        changed,
        links: links
            .into_iter()
            .map(|l| LinkBody {
                a: end(l.a),
                b: end(l.b),
            })
            .collect(),
    }
}

fn parse_end(end: &LinkEndBody, field: &str) -> Result<LinkEnd, ApiError> {
    let name = if field.is_empty() {
        "device".to_string()
    } else {
        format!("{field}.device")
    };
    let device: Ipv4Addr = end
        .device
        .parse()
        .map_err(|_| ApiError::invalid(name, format!("{:?} is not an IPv4 address", end.device)))?;
    Ok(LinkEnd {
        device,
        interface: end.interface.clone(),
    })
}

fn n_links(n: usize) -> String {
    if n == 1 {
        "1 link".to_string()
    } else {
        format!("{n} links")
    }
}

/// Links pairs of device interfaces, all or none: both ends then show each other as LLDP
/// neighbours under `/lldp/interfaces/interface[name]/neighbors/neighbor[id=1]` (devices
/// whose profile serves `openconfig-lldp`), and ON_CHANGE subscribers get the new
/// neighbour. An unknown device or interface, an interface linked already (or twice in
/// the request) and a link from a device to itself are a 400 naming the field.
#[utoipa::path(
    post,
    path = "/api/v1/topology",
    operation_id = "addLinks",
    tag = "topology",
    request_body = TopologyBody,
    responses(
        (status = 201, description = "Linked; the whole topology", body = Envelope<TopologyView>),
        (status = 400, description = "A bad link; nothing was added", body = ErrorBody),
    )
)]
pub(crate) async fn add(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<TopologyBody>,
) -> Result<(StatusCode, Json<Envelope<TopologyView>>), ApiError> {
    let links = body
        .links
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(Link {
                a: parse_end(&l.a, &format!("links[{i}].a"))?,
                b: parse_end(&l.b, &format!("links[{i}].b"))?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let added = state.fleet.link(&links)?;
    let data = view(Some(added), state.fleet.links());
    Ok((
        StatusCode::CREATED,
        Json(Envelope::ok(format!("added {}", n_links(added)), data)),
    ))
}

/// The topology: every link once.
#[utoipa::path(
    get,
    path = "/api/v1/topology",
    operation_id = "getTopology",
    tag = "topology",
    responses((status = 200, description = "Every link", body = Envelope<TopologyView>))
)]
pub(crate) async fn get(State(state): State<ApiState>) -> Json<Envelope<TopologyView>> {
    let links = state.fleet.links();
    Json(Envelope::ok(n_links(links.len()), view(None, links)))
}

/// Removes links: the one at `device` + `interface` (either end) when both are given,
/// else every link. Both ends stop showing each other, and ON_CHANGE subscribers of LLDP
/// get a `Notification.delete` of the neighbour. (Deleting a device removes its links
/// the same way.)
#[utoipa::path(
    delete,
    path = "/api/v1/topology",
    operation_id = "deleteLinks",
    tag = "topology",
    params(
        ("device" = Option<String>, Query, description = "Device address of one end", example = "127.42.0.1"),
        ("interface" = Option<String>, Query, description = "Interface name of that end", example = "Ethernet1"),
    ),
    responses(
        (status = 200, description = "Removed; the topology left", body = Envelope<TopologyView>),
        (status = 400, description = "A bad or half-given end", body = ErrorBody),
        (status = 404, description = "That interface has no link", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Envelope<TopologyView>>, ApiError> {
    let (mut device, mut interface) = (None, None);
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "device" => device = Some(value.into_owned()),
            "interface" => interface = Some(value.into_owned()),
            other => {
                return Err(ApiError::invalid(
                    other.to_string(),
                    "is not a parameter; use device and interface (or none to delete every link)",
                ));
            }
        }
    }
    let removed = match (device, interface) {
        (None, None) => state.fleet.unlink_all(),
        (Some(device), Some(interface)) => {
            let end = parse_end(&LinkEndBody { device, interface }, "")?;
            state.fleet.unlink(&end)?;
            1
        }
        (Some(_), None) => {
            return Err(ApiError::invalid(
                "interface",
                "is missing: give device and interface to delete one link",
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "device",
                "is missing: give device and interface to delete one link",
            ));
        }
    };
    let data = view(Some(removed), state.fleet.links());
    Ok(Json(Envelope::ok(
        format!("removed {}", n_links(removed)),
        data,
    )))
}
