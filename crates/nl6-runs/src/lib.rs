//! Measured load-test runs over nl6 devices.
//!
//! [`Runs::arm`] takes a [`RunRequest`] (which devices, how long, how many slices), puts
//! every selected device streaming the run's protocol (gNMI dial-out, every MDT
//! dial-out session, or the STREAM Subscribe RPCs open on dial-in) into the run at once — from then on it emits only
//! the samples it takes inside the window `[T0, T1)`, each tagged with the run's tag —
//! and, once the window closed and every message of the run was settled, keeps an
//! immutable [`RunReport`]: per device and per slice of the window, the messages and
//! updates `sent` (the reconciliation denominator), `dropped`, `discarded` and
//! `send_failures`, and the SAMPLE ticks skipped. One run at a time; reports are kept in
//! memory, the last [`KEEP_REPORTS`] of them.
//!
//! A request with a [`RampBody`] is a ceiling search: the participants emitting step up
//! hold by hold, each step is judged while the run goes on, and the run stops at the
//! first step not sustained; the report's [`RampReport`] names the ceiling.
//!
//! ```no_run
//! use std::sync::Arc;
//! use nl6_fleet::{Fleet, FleetConfig};
//! use nl6_runs::{RunRequest, Runs};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let fleet = Arc::new(Fleet::start(FleetConfig::default()).await?);
//! let runs = Runs::new();
//! let request: RunRequest = serde_json::from_str(
//!     r#"{"devices": {"all": true}, "window": "10s", "slices": 10, "seed": 7}"#,
//! )?;
//! let armed = runs.arm(&fleet, request)?;
//! println!("run {} from {} to {}", armed.id, armed.t0, armed.t1);
//! // ... later: runs.get(&armed.id) is the report, `state: finished` once final.
//! # Ok(()) }
//! ```

mod error;
mod participants;
mod ramp;
mod report;
mod request;
mod runs;

pub use error::RunError;
pub use ramp::{
    Ceiling, DEFAULT_HOLD, MAX_GRACE, MAX_HOLD, MAX_LATENCY_GROWTH, MAX_RAMP_STEPS, MAX_STALL_PPM,
    MIN_HOLD, MIN_STEP_SLICES, RampBody, RampReport, SUSTAINED_SENT_PPM, StepReport,
};
pub use report::{Counts, DeviceReport, RunReport, RunState, RunSummary, TallyBody};
pub use request::{
    DEFAULT_DRAIN, DEFAULT_PRE_ROLL, DEFAULT_SLICES, DEFAULT_WINDOW, DevicesBody, MAX_CELLS,
    MAX_DRAIN, MAX_PRE_ROLL, MAX_SLICES, MAX_TAG_LEN, MAX_WINDOW, MIN_WINDOW, PROTOCOLS,
    RunRequest,
};
pub use runs::{KEEP_REPORTS, MAX_KEPT_CELLS, Runs};
