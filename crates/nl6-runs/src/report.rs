//! The run report: what `GET /api/v1/runs/{id}` returns, final once `state` is
//! `finished`.

use nl6_dialout::{SliceTally, Tally};
use serde::{Deserialize, Serialize};

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Armed: participants are silent until T0.
    PreRoll,
    /// Inside the window `[T0, T1)`.
    Window,
    /// After T1: waiting for the run's queued messages to settle.
    Draining,
    /// Final: the report no longer changes.
    Finished,
}

impl RunState {
    /// The state's name in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::PreRoll => "pre-roll",
            RunState::Window => "window",
            RunState::Draining => "draining",
            RunState::Finished => "finished",
        }
    }
}

/// A run at a glance, as `GET /api/v1/runs` lists it: the report without its per-device
/// and per-slice tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunSummary {
    /// The run id.
    pub id: String,
    /// Where it is.
    pub state: RunState,
    /// What is measured: `gnmi-dialout`, `mdt` or `gnmi-dialin`.
    pub protocol: String,
    /// The run tag.
    pub tag: String,
    /// T0 (RFC 3339, ms).
    pub t0: String,
    /// T1 (RFC 3339, ms).
    pub t1: String,
    /// Devices taking part.
    pub participants: usize,
    /// Sum over devices and slices so far.
    pub totals: Counts,
    /// Run messages never settled.
    pub unsettled: u64,
    /// For a ramp run: the highest step sustained so far (or found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling: Option<crate::ramp::Ceiling>,
}

impl From<&RunReport> for RunSummary {
    fn from(r: &RunReport) -> Self {
        RunSummary {
            id: r.id.clone(),
            state: r.state,
            protocol: r.protocol.clone(),
            tag: r.tag.clone(),
            t0: r.t0.clone(),
            t1: r.t1.clone(),
            participants: r.participants,
            totals: r.totals,
            unsettled: r.unsettled,
            ceiling: r.ramp.as_ref().and_then(|ramp| ramp.ceiling.clone()),
        }
    }
}

/// Messages and the updates (leaves) they carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TallyBody {
    /// Messages.
    pub messages: u64,
    /// Updates in them.
    pub updates: u64,
}

impl From<Tally> for TallyBody {
    fn from(t: Tally) -> Self {
        TallyBody {
            messages: t.messages,
            updates: t.updates,
        }
    }
}

impl TallyBody {
    fn add(&mut self, other: TallyBody) {
        self.messages += other.messages;
        self.updates += other.updates;
    }
}

/// What became of the messages sampled in one slice (or a sum of slices).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counts {
    /// Taken by the transport: the reconciliation denominator.
    pub sent: TallyBody,
    /// Dropped from the device's full send queue (the collector did not keep up).
    pub dropped: TallyBody,
    /// Still queued when the stream broke or the device stopped.
    pub discarded: TallyBody,
    /// Handed to the transport, which failed (the stream broke with it).
    pub send_failures: TallyBody,
    /// SAMPLE ticks not sampled at all (no stream was up, or the device ran late).
    pub skipped_ticks: u64,
}

impl From<SliceTally> for Counts {
    fn from(t: SliceTally) -> Self {
        Counts {
            sent: t.sent.into(),
            dropped: t.dropped.into(),
            discarded: t.discarded.into(),
            send_failures: t.send_failures.into(),
            skipped_ticks: t.skipped_ticks,
        }
    }
}

impl Counts {
    /// Adds `other` to these.
    pub fn add(&mut self, other: &Counts) {
        self.sent.add(other.sent);
        self.dropped.add(other.dropped);
        self.discarded.add(other.discarded);
        self.send_failures.add(other.send_failures);
        self.skipped_ticks += other.skipped_ticks;
    }
}

/// One participant's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceReport {
    /// The device address (its notifications' `prefix.target`).
    pub device: String,
    /// The dial-out flavor it streams (MDT: its sessions' flavors, comma-separated;
    /// dial-in: `gnmi-dialin`).
    pub flavor: String,
    /// The collector (first of its group) it streams to (MDT: its sessions'
    /// collectors, comma-separated; dial-in: empty).
    pub collector: String,
    /// Sum over the slices.
    pub totals: Counts,
    /// One entry per slice, in order.
    pub slices: Vec<Counts>,
    /// Run messages still queued or being sent (at finalisation: never settled).
    pub pending: u64,
    /// Samples taken outside the window, not emitted (the pre-roll and drain silence).
    pub suppressed: u64,
}

/// A run: its parameters and its ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunReport {
    /// The run id.
    pub id: String,
    /// Where it is; the report is final once `finished`.
    pub state: RunState,
    /// What was measured: `gnmi-dialout`, `mdt` or `gnmi-dialin`.
    #[cfg_attr(feature = "openapi", schema(example = "gnmi-dialout"))]
    pub protocol: String,
    /// The tag every message of the run carries: gNMI (dial-out and dial-in), a registered extension
    /// `EID_EXPERIMENTAL` with `msg = "nl6-run:<tag>"`; MDT, `subscription_id_str` as
    /// `<subscription>@<tag>`.
    pub tag: String,
    /// The seed of the run's random choices.
    pub seed: u64,
    /// When the run was armed (RFC 3339).
    pub armed_at: String,
    /// T0 (RFC 3339, ms).
    pub t0: String,
    /// T1 (RFC 3339, ms).
    pub t1: String,
    /// T0 in Unix ns: messages timestamped in `[t0_ns, t1_ns)` belong to the run.
    pub t0_ns: u64,
    /// T1 in Unix ns.
    pub t1_ns: u64,
    /// Number of equal slices: a message timestamped `ts` falls in slice
    /// `(ts - t0_ns) * slices / (t1_ns - t0_ns)`.
    pub slices: u32,
    /// When the report became final (RFC 3339, ms), once `finished`.
    pub finished_at: Option<String>,
    /// Devices the selection matched.
    pub selected_devices: usize,
    /// Those that took part (they stream the run's protocol).
    pub participants: usize,
    /// Sum over devices and slices.
    pub totals: Counts,
    /// Sum over devices, per slice.
    pub per_slice: Vec<Counts>,
    /// Run messages never settled (still queued when the drain ended); 0 normally.
    pub unsettled: u64,
    /// Each participant, by address.
    pub devices: Vec<DeviceReport>,
    /// The ceiling search, for a ramp run: each step judged, the ceiling found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<crate::ramp::RampReport>,
}
