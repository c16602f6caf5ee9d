//! The body of `POST /api/v1/runs` and its validation.

use std::net::Ipv4Addr;
use std::time::Duration;

use nl6_fleet::DeviceSelection;
use serde::Deserialize;

use crate::error::RunError;
use crate::participants::Protocol;
use crate::ramp::{MIN_STEP_SLICES, RampBody, RampPlan};

/// Default window length.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);
/// Shortest window.
pub const MIN_WINDOW: Duration = Duration::from_secs(1);
/// Longest window.
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);
/// Default silence before T0.
pub const DEFAULT_PRE_ROLL: Duration = Duration::from_secs(2);
/// Longest pre-roll.
pub const MAX_PRE_ROLL: Duration = Duration::from_secs(300);
/// Default slices of the window.
pub const DEFAULT_SLICES: u32 = 10;
/// Most slices of a window.
pub const MAX_SLICES: u32 = 1000;
/// Default time after T1 for the run's queued messages to settle.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(5);
/// Longest drain.
pub const MAX_DRAIN: Duration = Duration::from_secs(300);
/// Longest run tag.
pub const MAX_TAG_LEN: usize = 64;
/// Most ledger cells (participants × slices) of one run: a report holds one counts
/// object per cell.
pub const MAX_CELLS: usize = 200_000;
/// The protocols a run can measure.
pub const PROTOCOLS: &[&str] = &["gnmi-dialout", "mdt", "gnmi-dialin"];

/// Which devices take part: exactly one of `all`, `batch`, or `first` with `last`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DevicesBody {
    /// `true`: every device of the fleet.
    #[serde(default)]
    pub all: bool,
    /// The batch the device at this address belongs to.
    #[cfg_attr(feature = "openapi", schema(example = "127.42.0.1"))]
    pub batch: Option<String>,
    /// First address of a range (with `last`).
    pub first: Option<String>,
    /// Last address of a range, inclusive (with `first`).
    pub last: Option<String>,
}

/// `POST /api/v1/runs`: arm a measured run.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "devices": {"first": "127.42.0.1", "last": "127.42.0.10"},
    "window": "10s", "slices": 10, "seed": 7
})))]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The devices.
    pub devices: DevicesBody,
    /// What is measured: `gnmi-dialout` (every gNMI dial-out flavor; the default),
    /// `mdt` (every MDT dial-out session: gRPC, TCP and UDP) or `gnmi-dialin` (the
    /// STREAM Subscribe RPCs open to the devices when the run is armed).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "mdt"))]
    pub protocol: Option<String>,
    /// Length of the window `[T0, T1)` (default `10s`, 1 s to 1 h).
    pub window: Option<String>,
    /// Silence before T0 (default `2s`, up to 5 min); T0 is then rounded up to a whole
    /// second.
    pub pre_roll: Option<String>,
    /// Equal slices of the window the report counts apart (default 10, 1 to 1000).
    pub slices: Option<u32>,
    /// Seed of the run's random choices (the devices `limit` picks, the default tag);
    /// default: drawn at random and reported.
    pub seed: Option<u64>,
    /// Take only this many of the selected devices, picked by the seed.
    pub limit: Option<usize>,
    /// The run tag every message carries (default `run-<id>-<seed>`): 1 to 64 of
    /// `A-Z a-z 0-9 . _ -`.
    pub tag: Option<String>,
    /// How long after T1 the run waits for its queued messages to be sent (default
    /// `5s`, up to 5 min); what is still queued then is reported as `unsettled`.
    pub drain: Option<String>,
    /// The ceiling search: step the participants emitting, hold by hold, until the
    /// collector no longer keeps up. The window is then the steps × `ramp.hold`
    /// (`window` must be left out) and `slices` counts per step (at least 2).
    pub ramp: Option<RampBody>,
}

/// A validated request.
#[derive(Debug, Clone)]
pub(crate) struct RunPlan {
    pub selection: DeviceSelection,
    pub protocol: Protocol,
    pub window: Duration,
    pub pre_roll: Duration,
    pub slices: u32,
    pub seed: u64,
    pub limit: Option<usize>,
    pub tag: Option<String>,
    pub drain: Duration,
    /// The ceiling search, if asked for (`slices` is then the run's total).
    pub ramp: Option<RampPlan>,
}

fn ip(field: &str, text: &str) -> Result<Ipv4Addr, RunError> {
    text.trim()
        .parse()
        .map_err(|_| RunError::invalid(field, format!("{text:?} is not an IPv4 address")))
}

pub(crate) fn duration(
    field: &str,
    text: Option<&str>,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, RunError> {
    let Some(text) = text else {
        return Ok(default);
    };
    let value = humantime::parse_duration(text.trim()).map_err(|e| {
        RunError::invalid(
            field,
            format!("{text:?} is not a duration like \"10s\": {e}"),
        )
    })?;
    if value < min || value > max {
        return Err(RunError::invalid(
            field,
            format!(
                "{text:?} is out of range {} to {}",
                humantime::format_duration(min),
                humantime::format_duration(max)
            ),
        ));
    }
    Ok(value)
}

impl DevicesBody {
    fn selection(&self) -> Result<DeviceSelection, RunError> {
        let range = self.first.is_some() || self.last.is_some();
        let forms = usize::from(self.all) + usize::from(self.batch.is_some()) + usize::from(range);
        if forms != 1 {
            return Err(RunError::invalid(
                "devices",
                "give exactly one of {\"all\": true}, {\"batch\": ip} or {\"first\": ip, \"last\": ip}",
            ));
        }
        if self.all {
            return Ok(DeviceSelection::All);
        }
        if let Some(batch) = &self.batch {
            return Ok(DeviceSelection::BatchOf(ip("devices.batch", batch)?));
        }
        match (&self.first, &self.last) {
            (Some(first), Some(last)) => {
                let (first, last) = (ip("devices.first", first)?, ip("devices.last", last)?);
                if first > last {
                    return Err(RunError::invalid(
                        "devices.last",
                        format!("{last} is below devices.first {first}"),
                    ));
                }
                Ok(DeviceSelection::Range { first, last })
            }
            (None, _) => Err(RunError::invalid(
                "devices.first",
                "a range needs first and last",
            )),
            (_, None) => Err(RunError::invalid(
                "devices.last",
                "a range needs first and last",
            )),
        }
    }
}

impl RunRequest {
    /// Checks every field; the first error names its field.
    pub(crate) fn plan(&self) -> Result<RunPlan, RunError> {
        let ramp = self.ramp.as_ref().map(RampBody::plan).transpose()?;
        let selection = self.devices.selection()?;
        let protocol = Protocol::parse(self.protocol.as_deref())?;
        if ramp.is_some() && protocol != Protocol::GnmiDialout {
            return Err(RunError::invalid(
                "ramp",
                format!(
                    "the ceiling search steps gNMI dial-out devices; protocol {} does not take a ramp",
                    protocol.as_str()
                ),
            ));
        }
        let window = match &ramp {
            Some(_) if self.window.is_some() => {
                return Err(RunError::invalid(
                    "window",
                    "a ramp run lasts its steps × ramp.hold; leave window out",
                ));
            }
            Some(ramp) => ramp.hold * ramp.steps.len() as u32,
            None => duration(
                "window",
                self.window.as_deref(),
                DEFAULT_WINDOW,
                MIN_WINDOW,
                MAX_WINDOW,
            )?,
        };
        let pre_roll = duration(
            "pre_roll",
            self.pre_roll.as_deref(),
            DEFAULT_PRE_ROLL,
            Duration::ZERO,
            MAX_PRE_ROLL,
        )?;
        let drain = duration(
            "drain",
            self.drain.as_deref(),
            DEFAULT_DRAIN,
            Duration::ZERO,
            MAX_DRAIN,
        )?;
        let slices = self.slices.unwrap_or(DEFAULT_SLICES);
        let least = if ramp.is_some() { MIN_STEP_SLICES } else { 1 };
        if !(least..=MAX_SLICES).contains(&slices) {
            let what = if ramp.is_some() { " per ramp step" } else { "" };
            return Err(RunError::invalid(
                "slices",
                format!("{slices} is out of range {least} to {MAX_SLICES}{what}"),
            ));
        }
        let slices = match &ramp {
            Some(ramp) => slices * ramp.steps.len() as u32,
            None => slices,
        };
        if let Some(limit) = self.limit
            && limit == 0
        {
            return Err(RunError::invalid("limit", "must be at least 1"));
        }
        if let Some(tag) = &self.tag {
            let ok = (1..=MAX_TAG_LEN).contains(&tag.len())
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(RunError::invalid(
                    "tag",
                    format!("{tag:?}: use 1 to {MAX_TAG_LEN} of A-Z a-z 0-9 . _ -"),
                ));
            }
        }
        Ok(RunPlan {
            selection,
            protocol,
            window,
            pre_roll,
            slices,
            seed: self.seed.unwrap_or_else(|| fastrand::u64(..)),
            limit: self.limit,
            tag: self.tag.clone(),
            drain,
            ramp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> RunRequest {
        serde_json::from_str(json).unwrap()
    }

    fn error(json: &str) -> String {
        request(json).plan().unwrap_err().to_string()
    }

    #[test]
    fn defaults_and_forms() {
        let plan = request(r#"{"devices": {"all": true}, "seed": 3}"#)
            .plan()
            .unwrap();
        assert_eq!(plan.selection, DeviceSelection::All);
        assert_eq!(plan.window, DEFAULT_WINDOW);
        assert_eq!(plan.slices, 10);
        assert_eq!(plan.seed, 3);
        assert!(plan.ramp.is_none());
        let plan = request(
            r#"{"devices": {"all": true}, "slices": 4, "ramp": {"steps": [1, 2, 3], "hold": "2s"}}"#,
        )
        .plan()
        .unwrap();
        assert_eq!(plan.window, Duration::from_secs(6));
        assert_eq!(plan.slices, 12, "slices per step × steps");
        let plan = request(r#"{"devices": {"batch": "127.1.0.1"}}"#)
            .plan()
            .unwrap();
        assert_eq!(
            plan.selection,
            DeviceSelection::BatchOf(Ipv4Addr::new(127, 1, 0, 1))
        );
    }

    #[test]
    fn bad_fields_are_named() {
        assert!(error(r#"{"devices": {}}"#).starts_with("invalid devices:"));
        assert!(
            error(r#"{"devices": {"all": true, "batch": "127.0.0.1"}}"#).contains("exactly one")
        );
        assert!(
            error(r#"{"devices": {"first": "127.0.0.9", "last": "127.0.0.1"}}"#)
                .starts_with("invalid devices.last:")
        );
        assert!(
            error(r#"{"devices": {"first": "x", "last": "127.0.0.1"}}"#)
                .starts_with("invalid devices.first:")
        );
        assert!(
            error(r#"{"devices": {"all": true}, "window": "0s"}"#).starts_with("invalid window:")
        );
        assert!(
            error(r#"{"devices": {"all": true}, "window": "soon"}"#).starts_with("invalid window:")
        );
        assert!(error(r#"{"devices": {"all": true}, "slices": 0}"#).starts_with("invalid slices:"));
        assert!(error(r#"{"devices": {"all": true}, "tag": "a b"}"#).starts_with("invalid tag:"));
        assert!(
            error(r#"{"devices": {"all": true}, "protocol": "snmp"}"#)
                .starts_with("invalid protocol:")
        );
        assert!(
            error(r#"{"devices": {"all": true}, "ramp": {"steps": [2, 1]}}"#)
                .starts_with("invalid ramp.steps:")
        );
        assert!(
            error(r#"{"devices": {"all": true}, "window": "5s", "ramp": {"steps": [1]}}"#)
                .starts_with("invalid window: a ramp run")
        );
        assert!(
            error(r#"{"devices": {"all": true}, "slices": 1, "ramp": {"steps": [1]}}"#)
                .starts_with("invalid slices: 1 is out of range 2 to 1000 per ramp step")
        );
        assert!(
            serde_json::from_str::<RunRequest>(r#"{"devices": {"all": true}, "colour": 1}"#)
                .is_err()
        );
    }
}
