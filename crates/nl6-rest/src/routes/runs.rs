//! `/api/v1/runs`: arm a measured run, read its report.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use nl6_runs::{RunReport, RunRequest, RunSummary};

use crate::envelope::Envelope;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, PathText};
use crate::state::ApiState;

/// Arms a run: the selected devices streaming the run's `protocol` (gNMI dial-out, MDT
/// dial-out, or gNMI dial-in STREAM subscriptions) go silent at once, emit only inside
/// the window `[T0, T1)` (each message tagged), and the run then finalises its report.
/// With a `ramp`, the participants emitting step up hold by hold and the run stops at
/// the first step the collector did not keep up with (the ceiling search). One run at a
/// time.
#[utoipa::path(
    post,
    path = "/api/v1/runs",
    operation_id = "armRun",
    tag = "runs",
    request_body = RunRequest,
    responses(
        (status = 201, description = "Armed; the report as armed (state pre-roll)", body = Envelope<RunReport>),
        (status = 400, description = "A field is invalid (the message names it), or no selected device can take part; nothing armed", body = ErrorBody),
        (status = 404, description = "`devices.batch` names no device", body = ErrorBody),
        (status = 409, description = "Another run is in progress", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
    )
)]
pub(crate) async fn arm(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<RunRequest>,
) -> Result<(StatusCode, Json<Envelope<RunReport>>), ApiError> {
    // Selecting visits every selected device: off the async workers.
    let (runs, fleet) = (state.runs.clone(), state.fleet.clone());
    let report = tokio::task::spawn_blocking(move || runs.arm(&fleet, body))
        .await
        .map_err(|e| ApiError::Internal(format!("run task failed: {e}")))??;
    let message = format!(
        "run {} armed: {} devices, window {} .. {}, tag {}",
        report.id, report.participants, report.t0, report.t1, report.tag
    );
    Ok((StatusCode::CREATED, Json(Envelope::ok(message, report))))
}

/// A run's report: live while it runs, final (`state: finished`) afterwards.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    operation_id = "getRun",
    tag = "runs",
    params(("id" = String, Path, description = "Run id", example = "1")),
    responses(
        (status = 200, description = "The report", body = Envelope<RunReport>),
        (status = 404, description = "No such run", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(state): State<ApiState>,
    PathText(id): PathText<String>,
) -> Result<Json<Envelope<RunReport>>, ApiError> {
    let report = state.runs.get(&id).ok_or(ApiError::NoRun(id))?;
    let message = format!("run {} is {}", report.id, report.state.as_str());
    Ok(Json(Envelope::ok(message, report)))
}

/// Every run kept, newest first: the one in progress (live) and the last finished ones,
/// each at a glance (no per-device or per-slice tables; `GET /api/v1/runs/{id}` has them).
#[utoipa::path(
    get,
    path = "/api/v1/runs",
    operation_id = "listRuns",
    tag = "runs",
    responses(
        (status = 200, description = "The runs, newest first", body = Envelope<Vec<RunSummary>>),
    )
)]
pub(crate) async fn list(State(state): State<ApiState>) -> Json<Envelope<Vec<RunSummary>>> {
    let runs = state.runs.list();
    let message = match state.runs.active() {
        Some(id) => format!("{} runs kept; run {id} in progress", runs.len()),
        None => format!("{} runs kept; none in progress", runs.len()),
    };
    Json(Envelope::ok(message, runs))
}
