//! `/api/v1/devices`: create batches, list, get and delete devices.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use nl6_fleet::{BatchReport, Fleet, FleetError};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use utoipa::ToSchema;

use crate::body::{BatchEchoes, CreateDevices, DevicePage, DeviceView};
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
    let naming_given = body
        .interface_naming
        .as_deref()
        .is_some_and(|n| !n.trim().is_empty());
    let mut spec = body.into_spec()?;
    if !naming_given && let Some(profile) = state.fleet.profiles().get(&spec.device_type) {
        spec.interface_naming = profile.naming();
    }
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

/// Devices per page when `limit` is not given.
pub const DEFAULT_PAGE_LIMIT: usize = 1_000;

/// The largest `limit` accepted.
pub const MAX_PAGE_LIMIT: usize = 10_000;

/// Where a page of the listing starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageQuery {
    after: Option<Ipv4Addr>,
    limit: usize,
}

impl PageQuery {
    /// Parses `limit` and `cursor` (other parameters are ignored); the error names the
    /// parameter.
    fn parse(query: Option<&str>) -> Result<PageQuery, ApiError> {
        let mut page = PageQuery {
            after: None,
            limit: DEFAULT_PAGE_LIMIT,
        };
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*key {
                "limit" => {
                    page.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE_LIMIT).contains(n))
                        .ok_or_else(|| {
                            ApiError::invalid(
                                "limit",
                                format!("{value:?} is not a number in 1..={MAX_PAGE_LIMIT}"),
                            )
                        })?;
                }
                "cursor" => {
                    page.after = Some(value.parse().map_err(|_| {
                        ApiError::invalid(
                            "cursor",
                            format!(
                                "{value:?} is not a cursor; pass the next_cursor of the previous page"
                            ),
                        )
                    })?);
                }
                _ => {}
            }
        }
        Ok(page)
    }
}

/// Lists the devices, by address, a page at a time, each with the settings of its batch.
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    operation_id = "listDevices",
    tag = "devices",
    params(
        ("limit" = Option<usize>, Query, description = "Devices per page, 1..=10000 (default 1000)", minimum = 1, maximum = 10000, example = 1000),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page (opaque); the page starts after it. Absent: the first page"),
    ),
    responses(
        (status = 200, description = "A page of devices by address, the fleet's device count and the cursor of the next page (absent on the last page)", body = Envelope<DevicePage>),
        (status = 400, description = "`limit` or `cursor` is invalid (the message names it)", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = PageQuery::parse(query.as_deref())?;
    list_page(&state.fleet, query)
}

/// Serializes one page; the batches' settings are echoed from the shared specs.
fn list_page(fleet: &Fleet, query: PageQuery) -> Result<Response, ApiError> {
    let page = fleet.page(query.after, query.limit);
    let echoes = BatchEchoes::of(&page.devices);
    let message = if page.devices.len() == page.total {
        n_devices(page.total)
    } else {
        format!("{} of {}", n_devices(page.devices.len()), page.total)
    };
    let data = echoes.page(
        page.total,
        &page.devices,
        page.next.map(|ip| ip.to_string()),
    );
    let body = serde_json::to_vec(&Envelope::ok(message, data))
        .map_err(|e| ApiError::Internal(format!("device page: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_query() {
        let parse = |q| PageQuery::parse(Some(q));
        assert_eq!(
            PageQuery::parse(None).unwrap(),
            PageQuery {
                after: None,
                limit: DEFAULT_PAGE_LIMIT
            }
        );
        assert_eq!(
            parse("limit=10&cursor=127.0.0.9&x=1").unwrap(),
            PageQuery {
                after: Some(Ipv4Addr::new(127, 0, 0, 9)),
                limit: 10
            }
        );
        assert_eq!(parse("limit=10000").unwrap().limit, MAX_PAGE_LIMIT);
        for bad in ["limit=0", "limit=10001", "limit=-1", "limit=", "limit=ten"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("invalid limit"), "{bad}: {e}");
        }
        for bad in ["cursor=", "cursor=abc", "cursor=1.2.3", "cursor=%ZZ"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("invalid cursor"), "{bad}: {e}");
        }
    }
}
