//! `/api/v1/devices/{ip}/bgp/neighbors/{address}/flap`: flap one BGP session.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::envelope::Envelope;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{PathText, device_ip};
use crate::state::ApiState;

/// The body of a BGP flap (optional: no body flaps for 4 s).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BgpFlapBody {
    /// How long the session stays down (at most 1 h), e.g. `"10s"`; omitted = 4 s.
    #[schema(example = "10s")]
    pub duration: Option<String>,
}

/// A BGP flap that started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BgpFlapView {
    /// Device address.
    #[schema(example = "127.42.0.1")]
    pub ip: String,
    /// The neighbour's address.
    #[schema(example = "10.255.0.1")]
    pub neighbor: String,
    /// How long the session stays down, milliseconds: `IDLE` for the first half, then
    /// `ACTIVE`, then `ESTABLISHED` again.
    #[schema(example = 4000)]
    pub down_ms: u64,
}

/// Most bytes of a flap body.
const MAX_BODY_BYTES: usize = 4 * 1024;

/// Flaps a BGP session: its `session-state` goes `IDLE` now, `ACTIVE` after half of
/// `duration`, and `ESTABLISHED` again after `duration`, when `established-transitions`
/// grows by one and `last-established` becomes that instant. ON_CHANGE subscribers get
/// every step.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{ip}/bgp/neighbors/{address}/flap",
    operation_id = "flapBgpNeighbor",
    tag = "devices",
    params(
        ("ip" = String, Path, description = "Device address", example = "127.42.0.1"),
        ("address" = String, Path, description = "Neighbour address", example = "10.255.0.1"),
    ),
    request_body(content = Option<BgpFlapBody>, description = "Optional; no body = 4 s"),
    responses(
        (status = 202, description = "The flap started", body = Envelope<BgpFlapView>),
        (status = 400, description = "Bad address, body or duration", body = ErrorBody),
        (status = 404, description = "No such device or neighbour", body = ErrorBody),
        (status = 409, description = "That session is flapping already", body = ErrorBody),
    )
)]
pub(crate) async fn flap(
    State(state): State<ApiState>,
    PathText((ip, address)): PathText<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Envelope<BgpFlapView>>), ApiError> {
    let ip = device_ip(&ip)?;
    let down = parse_body(&body)?;
    let started = state.fleet.flap_bgp_neighbor(ip, &address, down)?;
    let down_ms = u64::try_from(started.down.as_millis()).unwrap_or(u64::MAX);
    Ok((
        StatusCode::ACCEPTED,
        Json(Envelope::ok(
            format!(
                "BGP session of neighbour {} of device {ip} down for {down_ms} ms",
                started.neighbor
            ),
            BgpFlapView {
                ip: ip.to_string(),
                neighbor: started.neighbor,
                down_ms,
            },
        )),
    ))
}

/// The down time a body asks for (`None`: the default).
fn parse_body(body: &[u8]) -> Result<Option<Duration>, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::invalid(
            "body",
            format!(
                "{} bytes is more than the {MAX_BODY_BYTES} allowed",
                body.len()
            ),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let parsed: BgpFlapBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            "body",
            format!("{e}; send {{\"duration\": \"10s\"}} or nothing"),
        )
    })?;
    match parsed.duration.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => humantime::parse_duration(text).map(Some).map_err(|e| {
            ApiError::invalid(
                "duration",
                format!("{text:?}: {e}; use a duration such as \"10s\" (at most 1h)"),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_name_what_is_wrong() {
        assert_eq!(parse_body(b"").unwrap(), None);
        assert_eq!(parse_body(b" {} ").unwrap(), None);
        assert_eq!(
            parse_body(br#"{"duration": "2s"}"#).unwrap(),
            Some(Duration::from_secs(2))
        );
        let err = parse_body(br#"{"duration": "soon"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid duration: \"soon\""), "{err}");
        let err = parse_body(br#"{"down": "2s"}"#).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid body: unknown field `down`"),
            "{err}"
        );
        let err = parse_body(&[b' '; MAX_BODY_BYTES + 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than"), "{err}");
    }
}
