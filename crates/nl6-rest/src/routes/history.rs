//! `GET /api/v1/history`: the last 15 minutes of rates, one sample a second.

use axum::Json;
use axum::extract::{RawQuery, State};

use crate::error::ApiError;
use crate::history::HistoryDocument;
use crate::state::ApiState;

/// The rate history: one sample per second for the last 15 minutes (at most 900), oldest
/// first; with `since`, only the samples taken after it.
#[utoipa::path(
    get,
    path = "/api/v1/history",
    operation_id = "getHistory",
    tag = "status",
    params(
        ("since" = Option<u64>, Query, description = "Unix time in milliseconds: only samples taken after it (the `t` of the last sample you have)", example = 1767225600000u64),
    ),
    responses(
        (status = 200, description = "The samples, oldest first", body = HistoryDocument),
        (status = 400, description = "`since` is not a number", body = crate::ErrorBody),
    )
)]
pub(crate) async fn history(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<HistoryDocument>, ApiError> {
    let mut since = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == "since" {
            since = Some(value.parse::<u64>().map_err(|_| {
                ApiError::invalid(
                    "since",
                    format!("{value:?} is not a Unix time in milliseconds"),
                )
            })?);
        }
    }
    Ok(Json(state.history.document(since)))
}
