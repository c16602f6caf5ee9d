//! The ceiling search: a run whose offered load steps up — more participants emit in
//! each hold window — judged step by step while it runs, stopping at the first step the
//! collector did not keep up with.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nl6_dialout::{Latencies, RunLedger, RunWindow, SliceTally};
use serde::{Deserialize, Serialize};

use crate::error::RunError;
use crate::report::{RunState, TallyBody};

/// Most steps of a ramp.
pub const MAX_RAMP_STEPS: usize = 32;
/// Default hold window of a step.
pub const DEFAULT_HOLD: Duration = Duration::from_secs(10);
/// Shortest hold.
pub const MIN_HOLD: Duration = Duration::from_secs(1);
/// Longest hold.
pub const MAX_HOLD: Duration = Duration::from_secs(600);
/// Fewest slices per step (the latency trend compares a step's first and last slice).
pub const MIN_STEP_SLICES: u32 = 2;
/// A sustained step sent at least this share of what it offered, in parts per million.
pub const SUSTAINED_SENT_PPM: u64 = 990_000;
/// A sustained step's senders waited for flow-control windows at most this share of the
/// step's device-time, in parts per million.
pub const MAX_STALL_PPM: u64 = 100_000;
/// A sustained step's mean send latency grew from its first to its last slice by at most
/// this much (or at most by half, whichever is larger).
pub const MAX_LATENCY_GROWTH: Duration = Duration::from_millis(100);
/// How long after a step ends it is judged: its last messages get this long to be sent
/// (a quarter of the hold, at most this).
pub const MAX_GRACE: Duration = Duration::from_secs(1);

/// `ramp` of `POST /api/v1/runs`: step the number of emitting participants.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "by": "devices", "steps": [10, 20, 40, 80], "hold": "10s"
})))]
#[serde(deny_unknown_fields)]
pub struct RampBody {
    /// What is stepped: `devices` (the default and only choice).
    pub by: Option<String>,
    /// Participants emitting in each step: 1 to 32 strictly increasing counts, the last
    /// at most the participants available. The devices of one step stay in the next.
    pub steps: Option<Vec<u64>>,
    /// How long each step lasts (default `10s`, 1 s to 10 min).
    pub hold: Option<String>,
}

/// A validated ramp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RampPlan {
    /// Emitting participants per step.
    pub steps: Vec<usize>,
    /// Length of each step.
    pub hold: Duration,
}

impl RampBody {
    /// Checks every field; errors name it (`ramp.steps`, ...).
    pub(crate) fn plan(&self) -> Result<RampPlan, RunError> {
        match self.by.as_deref().map(str::trim) {
            None | Some("devices") => {}
            Some(other) => {
                return Err(RunError::invalid(
                    "ramp.by",
                    format!("{other:?} cannot be stepped; use \"devices\""),
                ));
            }
        }
        let Some(steps) = &self.steps else {
            return Err(RunError::invalid(
                "ramp.steps",
                "required: the participants emitting in each step, e.g. [10, 20, 40]",
            ));
        };
        if steps.is_empty() || steps.len() > MAX_RAMP_STEPS {
            return Err(RunError::invalid(
                "ramp.steps",
                format!("{} steps; give 1 to {MAX_RAMP_STEPS}", steps.len()),
            ));
        }
        if steps[0] == 0 {
            return Err(RunError::invalid(
                "ramp.steps",
                "the first step must have at least 1 device",
            ));
        }
        if let Some(at) = steps.windows(2).position(|w| w[1] <= w[0]) {
            return Err(RunError::invalid(
                "ramp.steps",
                format!(
                    "must increase: step {} ({}) is not above step {} ({})",
                    at + 2,
                    steps[at + 1],
                    at + 1,
                    steps[at]
                ),
            ));
        }
        let hold = crate::request::duration(
            "ramp.hold",
            self.hold.as_deref(),
            DEFAULT_HOLD,
            MIN_HOLD,
            MAX_HOLD,
        )?;
        Ok(RampPlan {
            steps: steps
                .iter()
                .map(|&n| usize::try_from(n).unwrap_or(usize::MAX))
                .collect(),
            hold,
        })
    }
}

impl RampPlan {
    /// Checks the steps against the participants the selection has.
    pub(crate) fn check(&self, participants: usize) -> Result<(), RunError> {
        match self.steps.last() {
            Some(&last) if last > participants => Err(RunError::invalid(
                "ramp.steps",
                format!(
                    "the last step has {last} devices, above the {participants} participants selected"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The step each of `participants` devices joins at (`None`: never), picked by
    /// `seed`: a device of step k emits in every later step too.
    pub(crate) fn join_steps(&self, participants: usize, seed: u64) -> Vec<Option<usize>> {
        let mut order: Vec<usize> = (0..participants).collect();
        fastrand::Rng::with_seed(seed ^ 0x7261_6d70).shuffle(&mut order);
        let mut joins = vec![None; participants];
        for (rank, &device) in order.iter().enumerate() {
            joins[device] = self.steps.iter().position(|&n| rank < n);
        }
        joins
    }

    /// How long after a step's end it is judged.
    pub(crate) fn grace(&self) -> Duration {
        (self.hold / 4).min(MAX_GRACE)
    }
}

/// One step of a ramp in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepReport {
    /// The step number, from 1.
    pub step: usize,
    /// Participants emitting in it.
    pub devices: usize,
    /// Start of its hold window (Unix ns).
    pub start_ns: u64,
    /// End of its hold window (Unix ns).
    pub end_ns: u64,
    /// Whether it was judged (false: not reached yet, or not run after a step that was
    /// not sustained).
    pub ran: bool,
    /// Messages the devices emitted in the step: what they offered.
    pub offered: TallyBody,
    /// Of those, taken by the transport by the time the step was judged.
    pub sent: TallyBody,
    /// Dropped from full send queues.
    pub dropped: TallyBody,
    /// Discarded with a broken stream.
    pub discarded: TallyBody,
    /// Failed to send (the stream broke with them).
    pub send_failures: TallyBody,
    /// SAMPLE ticks not sampled at all.
    pub skipped_ticks: u64,
    /// `sent ÷ offered` messages, in parts per million.
    pub sent_ppm: u64,
    /// Time the step's sends waited for HTTP/2 flow-control windows (ns, all devices).
    pub stall_ns: u64,
    /// Sends that waited.
    pub stall_waits: u64,
    /// `stall_ns ÷ (devices × hold)`, in parts per million.
    pub stall_ppm: u64,
    /// Mean time from sample to transport taken of the step's sent messages (ns).
    pub latency_mean_ns: u64,
    /// The longest such time (ns).
    pub latency_max_ns: u64,
    /// Its median (ns, rounded up to a histogram bucket about 19 % wide).
    pub latency_p50_ns: u64,
    /// Its 99th percentile (ns, likewise).
    pub latency_p99_ns: u64,
    /// The mean over the step's first slice (ns).
    pub latency_first_ns: u64,
    /// The mean over the step's last slice (ns).
    pub latency_last_ns: u64,
    /// Whether the collector kept up with this step.
    pub sustained: bool,
    /// Why not (every criterion missed), or `sustained`.
    pub reason: String,
}

/// The highest sustained step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ceiling {
    /// Its participants.
    pub devices: usize,
    /// Its sent messages per second.
    pub messages_per_s: f64,
    /// Its sent updates per second.
    pub updates_per_s: f64,
    /// Whether a higher step was not sustained (`false`: every step was, the ceiling is
    /// at least this).
    pub found: bool,
}

/// The ceiling search of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RampReport {
    /// What was stepped (`devices`).
    pub by: String,
    /// Length of each step (ms).
    pub hold_ms: u64,
    /// Every step, in order.
    pub steps: Vec<StepReport>,
    /// The highest sustained step (so far, while the ramp runs); `null` until a step is
    /// sustained, or for good if the first was not.
    pub ceiling: Option<Ceiling>,
    /// The finding in words.
    pub evidence: String,
}

/// Sums of a step's cells.
#[derive(Default)]
struct StepSums {
    offered: TallyBody,
    sent: TallyBody,
    dropped: TallyBody,
    discarded: TallyBody,
    send_failures: TallyBody,
    skipped_ticks: u64,
    stall_ns: u64,
    stall_waits: u64,
    latency_sum_ns: u64,
    latency_max_ns: u64,
}

fn add(into: &mut TallyBody, t: nl6_dialout::Tally) {
    into.messages += t.messages;
    into.updates += t.updates;
}

impl StepSums {
    fn add(&mut self, t: &SliceTally) {
        add(&mut self.offered, t.admitted);
        add(&mut self.sent, t.sent);
        add(&mut self.dropped, t.dropped);
        add(&mut self.discarded, t.discarded);
        add(&mut self.send_failures, t.send_failures);
        self.skipped_ticks += t.skipped_ticks;
        self.stall_ns += t.stall_ns;
        self.stall_waits += t.stall_waits;
        self.latency_sum_ns += t.latency_sum_ns;
        self.latency_max_ns = self.latency_max_ns.max(t.latency_max_ns);
    }

    fn latency_mean(&self) -> u64 {
        self.latency_sum_ns
            .checked_div(self.sent.messages)
            .unwrap_or(0)
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn ppm(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    u64::try_from(u128::from(part) * 1_000_000 / u128::from(whole)).unwrap_or(u64::MAX)
}

/// A ramp run in progress: its plan and the steps judged so far.
pub(crate) struct RampState {
    pub plan: RampPlan,
    /// Slices per step.
    pub step_slices: u32,
    pub t0_ns: u64,
    pub judged: parking_lot::Mutex<Vec<StepReport>>,
    /// Send latencies per step, shared by the participants' ledgers.
    pub latencies: Arc<Latencies>,
}

impl RampState {
    fn hold_ns(&self) -> u64 {
        u64::try_from(self.plan.hold.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Start and end (Unix ns) of step `k`.
    pub fn bounds(&self, k: usize) -> (u64, u64) {
        let start = self.t0_ns + self.hold_ns() * k as u64;
        (start, start + self.hold_ns())
    }

    /// The ledger of a participant that joins at step `join` (`None`: in no step, silent
    /// for the whole run).
    pub fn ledger(&self, join: Option<usize>, window: RunWindow, suffix: Bytes) -> RunLedger {
        let from_ns = join.map_or(window.end_ns, |k| self.bounds(k).0);
        RunLedger::starting_at(window, suffix, from_ns).with_latencies(self.latencies.clone())
    }

    /// Judges each step a grace period after it ends; at the first one not sustained
    /// every participant stops emitting. Returns once the ramp is over (its last step
    /// judged, or that stop); `state` turns `draining` at T1.
    pub async fn step_through(
        &self,
        run: &str,
        ledgers: &[Arc<RunLedger>],
        state: &parking_lot::Mutex<RunState>,
    ) {
        let grace = self.plan.grace();
        let last = self.plan.steps.len() - 1;
        for k in 0..=last {
            let (_, end_ns) = self.bounds(k);
            tokio::time::sleep(Duration::from_nanos(end_ns.saturating_sub(now_ns()))).await;
            if k == last {
                *state.lock() = RunState::Draining;
            }
            tokio::time::sleep(grace).await;
            let step = self.judge(k, ledgers.iter());
            let sustained = step.sustained;
            tracing::info!(run, step = k + 1, devices = step.devices, sustained, reason = %step.reason, "ramp step judged");
            self.judged.lock().push(step);
            if !sustained {
                let now = now_ns();
                for ledger in ledgers {
                    ledger.stop_at(now);
                }
                return;
            }
        }
    }

    /// A step as not judged.
    fn unjudged(&self, k: usize, reason: &str) -> StepReport {
        let (start_ns, end_ns) = self.bounds(k);
        StepReport {
            step: k + 1,
            devices: self.plan.steps[k],
            start_ns,
            end_ns,
            ran: false,
            offered: TallyBody::default(),
            sent: TallyBody::default(),
            dropped: TallyBody::default(),
            discarded: TallyBody::default(),
            send_failures: TallyBody::default(),
            skipped_ticks: 0,
            sent_ppm: 0,
            stall_ns: 0,
            stall_waits: 0,
            stall_ppm: 0,
            latency_mean_ns: 0,
            latency_max_ns: 0,
            latency_p50_ns: 0,
            latency_p99_ns: 0,
            latency_first_ns: 0,
            latency_last_ns: 0,
            sustained: false,
            reason: reason.to_string(),
        }
    }

    /// Judges step `k` from the participants' ledgers as they are now.
    pub fn judge<'a>(
        &self,
        k: usize,
        ledgers: impl Iterator<Item = &'a Arc<RunLedger>>,
    ) -> StepReport {
        let first = k as u32 * self.step_slices;
        let last = first + self.step_slices - 1;
        let (mut all, mut head, mut tail) = (
            StepSums::default(),
            StepSums::default(),
            StepSums::default(),
        );
        for ledger in ledgers {
            for slice in first..=last {
                let t = ledger.slice(slice);
                all.add(&t);
                if slice == first {
                    head.add(&t);
                }
                if slice == last {
                    tail.add(&t);
                }
            }
        }
        let devices = self.plan.steps[k];
        let sent_ppm = ppm(all.sent.messages, all.offered.messages);
        let device_ns = self.hold_ns().saturating_mul(devices as u64);
        let stall_ppm = ppm(all.stall_ns, device_ns);
        let (latency_first_ns, latency_last_ns) = (head.latency_mean(), tail.latency_mean());
        let mut missed = Vec::new();
        if all.offered.messages == 0 {
            missed.push("nothing was offered (no stream was up?)".to_string());
        } else if sent_ppm < SUSTAINED_SENT_PPM {
            missed.push(format!(
                "sent {} of {} offered messages ({:.1} %, below 99 %)",
                all.sent.messages,
                all.offered.messages,
                sent_ppm as f64 / 10_000.0
            ));
        }
        if all.dropped.messages > 0 {
            missed.push(format!(
                "{} messages dropped from full send queues",
                all.dropped.messages
            ));
        }
        if all.send_failures.messages + all.discarded.messages > 0 {
            missed.push(format!(
                "{} messages lost with broken streams",
                all.send_failures.messages + all.discarded.messages
            ));
        }
        if stall_ppm > MAX_STALL_PPM {
            missed.push(format!(
                "senders waited for flow-control windows {:.1} % of the time (above 10 %)",
                stall_ppm as f64 / 10_000.0
            ));
        }
        let growth = latency_last_ns.saturating_sub(latency_first_ns);
        let max_growth_ns = u64::try_from(MAX_LATENCY_GROWTH.as_nanos())
            .unwrap_or(u64::MAX)
            .max(latency_first_ns / 2);
        if growth > max_growth_ns {
            missed.push(format!(
                "send latency grew from {:.1} ms to {:.1} ms across the hold",
                latency_first_ns as f64 / 1e6,
                latency_last_ns as f64 / 1e6
            ));
        }
        let (start_ns, end_ns) = self.bounds(k);
        StepReport {
            step: k + 1,
            devices,
            start_ns,
            end_ns,
            ran: true,
            offered: all.offered,
            sent: all.sent,
            dropped: all.dropped,
            discarded: all.discarded,
            send_failures: all.send_failures,
            skipped_ticks: all.skipped_ticks,
            sent_ppm,
            stall_ns: all.stall_ns,
            stall_waits: all.stall_waits,
            stall_ppm,
            latency_mean_ns: all.latency_mean(),
            latency_max_ns: all.latency_max_ns,
            latency_p50_ns: self.latencies.quantile(k as u32, 0.5).unwrap_or(0),
            latency_p99_ns: self.latencies.quantile(k as u32, 0.99).unwrap_or(0),
            latency_first_ns,
            latency_last_ns,
            sustained: missed.is_empty(),
            reason: if missed.is_empty() {
                "sustained".to_string()
            } else {
                missed.join("; ")
            },
        }
    }

    /// The report as of now; `finished` once every step that will run was judged.
    pub fn report(&self, finished: bool) -> RampReport {
        let judged = self.judged.lock().clone();
        let stopped = judged.iter().find(|s| !s.sustained).map(|s| s.step);
        let mut steps = judged;
        for k in steps.len()..self.plan.steps.len() {
            let reason = match stopped {
                Some(at) => format!("not run: step {at} was not sustained"),
                None if finished => "not run: the run ended".to_string(),
                None => "not judged yet".to_string(),
            };
            steps.push(self.unjudged(k, &reason));
        }
        let best = steps.iter().take_while(|s| s.ran && s.sustained).last();
        let hold_s = self.plan.hold.as_secs_f64();
        let ceiling = best.map(|s| Ceiling {
            devices: s.devices,
            messages_per_s: s.sent.messages as f64 / hold_s,
            updates_per_s: s.sent.updates as f64 / hold_s,
            found: stopped.is_some(),
        });
        let evidence = match (stopped.map(|at| &steps[at - 1]), &ceiling) {
            (Some(failed), Some(c)) => format!(
                "step {} ({} devices) was not sustained: {}; the ceiling is step {} ({} devices): {:.1} messages/s, {:.0} updates/s sent",
                failed.step,
                failed.devices,
                failed.reason,
                failed.step - 1,
                c.devices,
                c.messages_per_s,
                c.updates_per_s
            ),
            (Some(failed), None) => format!(
                "already the first step ({} devices) was not sustained: {}; the ceiling is below it",
                failed.devices, failed.reason
            ),
            (None, Some(c)) if finished && best.is_some_and(|s| s.step == steps.len()) => format!(
                "every step was sustained: the ceiling is at least {} devices, {:.1} messages/s, {:.0} updates/s sent",
                c.devices, c.messages_per_s, c.updates_per_s
            ),
            _ if finished => "the run ended before every step was judged".to_string(),
            _ => "the ramp is running".to_string(),
        };
        RampReport {
            by: "devices".to_string(),
            hold_ms: u64::try_from(self.plan.hold.as_millis()).unwrap_or(u64::MAX),
            steps,
            ceiling,
            evidence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> RampBody {
        serde_json::from_str(json).unwrap()
    }

    fn error(json: &str) -> String {
        body(json).plan().unwrap_err().to_string()
    }

    #[test]
    fn a_ramp_is_validated_field_by_field() {
        let plan = body(r#"{"by": "devices", "steps": [1, 2, 5], "hold": "2s"}"#)
            .plan()
            .unwrap();
        assert_eq!(plan.steps, vec![1, 2, 5]);
        assert_eq!(plan.hold, Duration::from_secs(2));
        assert_eq!(body(r#"{"steps": [3]}"#).plan().unwrap().hold, DEFAULT_HOLD);
        assert!(error(r#"{"by": "rate", "steps": [1]}"#).starts_with("invalid ramp.by:"));
        assert!(error(r#"{}"#).starts_with("invalid ramp.steps: required"));
        assert!(error(r#"{"steps": []}"#).starts_with("invalid ramp.steps: 0 steps"));
        let many: Vec<String> = (1..=33).map(|n| n.to_string()).collect();
        assert!(
            error(&format!(r#"{{"steps": [{}]}}"#, many.join(",")))
                .starts_with("invalid ramp.steps: 33 steps")
        );
        assert!(error(r#"{"steps": [0, 1]}"#).contains("at least 1 device"));
        assert_eq!(
            error(r#"{"steps": [1, 4, 4]}"#),
            "invalid ramp.steps: must increase: step 3 (4) is not above step 2 (4)"
        );
        assert!(error(r#"{"steps": [2, 1]}"#).contains("must increase"));
        assert!(error(r#"{"steps": [1], "hold": "0.5s"}"#).starts_with("invalid ramp.hold:"));
        assert!(error(r#"{"steps": [1], "hold": "11m"}"#).starts_with("invalid ramp.hold:"));
        assert!(error(r#"{"steps": [1], "hold": "soon"}"#).starts_with("invalid ramp.hold:"));
        assert!(serde_json::from_str::<RampBody>(r#"{"steps": [1], "rate": 2}"#).is_err());
        let plan = body(r#"{"steps": [2, 4]}"#).plan().unwrap();
        assert!(plan.check(4).is_ok());
        assert!(
            plan.check(3)
                .unwrap_err()
                .to_string()
                .starts_with("invalid ramp.steps: the last step has 4 devices, above the 3")
        );
    }

    #[test]
    fn devices_join_by_seed_and_stay() {
        let plan = body(r#"{"steps": [1, 3, 4]}"#).plan().unwrap();
        let joins = plan.join_steps(6, 7);
        assert_eq!(joins, plan.join_steps(6, 7), "the seed decides");
        let count = |k: usize| joins.iter().filter(|j| j.is_some_and(|j| j <= k)).count();
        assert_eq!((count(0), count(1), count(2)), (1, 3, 4));
        assert_eq!(joins.iter().filter(|j| j.is_none()).count(), 2);
    }
}
