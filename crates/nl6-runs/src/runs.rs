//! The run manager: arms one run at a time, finalises it, keeps the last reports.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nl6_dialout::{RunLedger, RunWindow};
use nl6_fleet::Fleet;
use parking_lot::Mutex;

use crate::error::RunError;
use crate::participants::{self, Participant};
use crate::ramp::RampState;
use crate::report::{Counts, DeviceReport, RunReport, RunState, RunSummary};
use crate::request::{MAX_CELLS, RunPlan, RunRequest};

/// Finished reports kept at most (older ones are forgotten).
pub const KEEP_REPORTS: usize = 8;

/// Ledger cells (participants × slices) of all kept reports at most: older reports are
/// forgotten first, the newest is always kept.
pub const MAX_KEPT_CELLS: usize = 2 * MAX_CELLS;

/// How often the drain looks whether every message settled.
const SETTLE_POLL: Duration = Duration::from_millis(20);

/// Arms runs and keeps their reports; cheap to clone.
#[derive(Clone, Default)]
pub struct Runs {
    inner: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("Runs")
            .field(
                "active",
                &state.active.as_ref().map(|a| a.header.id.clone()),
            )
            .field("finished", &state.finished.len())
            .finish()
    }
}

#[derive(Default)]
struct State {
    next_id: u64,
    active: Option<Arc<Active>>,
    finished: VecDeque<Arc<RunReport>>,
}

/// The run in progress.
struct Active {
    header: RunReport,
    members: Vec<(Participant, Arc<RunLedger>)>,
    state: Mutex<RunState>,
    ramp: Option<RampState>,
}

fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn rfc3339_ns(ns: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_nanos(ns)).to_string()
}

impl Active {
    /// The report as of now.
    fn report(&self, state: RunState) -> RunReport {
        let slices = self.header.slices;
        let mut report = self.header.clone();
        report.state = state;
        report.per_slice = vec![Counts::default(); slices as usize];
        report.devices = self
            .members
            .iter()
            .map(|(member, ledger)| {
                let mut totals = Counts::default();
                let per: Vec<Counts> = (0..slices)
                    .map(|i| {
                        let counts = Counts::from(ledger.slice(i));
                        totals.add(&counts);
                        report.per_slice[i as usize].add(&counts);
                        counts
                    })
                    .collect();
                report.totals.add(&totals);
                report.unsettled += ledger.pending();
                DeviceReport {
                    device: member.ip.to_string(),
                    flavor: member.flavor.clone(),
                    collector: member.collector.clone(),
                    totals,
                    slices: per,
                    pending: ledger.pending(),
                    suppressed: ledger.suppressed(),
                }
            })
            .collect();
        report.ramp = self
            .ramp
            .as_ref()
            .map(|r| r.report(state == RunState::Finished));
        report
    }

    fn settled(&self) -> bool {
        self.members.iter().all(|(_, l)| l.pending() == 0)
    }
}

impl Runs {
    /// No run yet.
    pub fn new() -> Runs {
        Runs::default()
    }

    /// Validates `request`, selects its devices in `fleet` and arms the run: every
    /// participant is silent from now on and emits only inside the window. Returns the
    /// report as armed. Nothing is armed on error. Must run inside a tokio runtime.
    pub fn arm(&self, fleet: &Fleet, request: RunRequest) -> Result<RunReport, RunError> {
        let plan: RunPlan = request.plan()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| RunError::NoRuntime)?;
        let mut state = self.inner.lock();
        if let Some(active) = &state.active {
            return Err(RunError::Busy {
                id: active.header.id.clone(),
                state: active.state.lock().as_str(),
            });
        }
        let found = participants::find(fleet, plan.protocol, &plan.selection)?;
        let mut members = found.participants;
        if let Some(limit) = plan.limit
            && limit < members.len()
        {
            let mut rng = fastrand::Rng::with_seed(plan.seed);
            rng.shuffle(&mut members);
            members.truncate(limit);
            members.sort_by_key(|m| m.ip);
        }
        let cells = members.len().saturating_mul(plan.slices as usize);
        if cells > MAX_CELLS {
            return Err(RunError::invalid(
                "slices",
                format!(
                    "{} participants × {} slices = {cells} ledger cells, above the limit of {MAX_CELLS}; select fewer devices (or a limit) or fewer slices",
                    members.len(),
                    plan.slices
                ),
            ));
        }
        let joins = match &plan.ramp {
            Some(ramp) => {
                ramp.check(members.len())?;
                ramp.join_steps(members.len(), plan.seed)
            }
            None => vec![Some(0); members.len()],
        };
        state.next_id += 1;
        let id = state.next_id.to_string();
        let tag = plan
            .tag
            .clone()
            .unwrap_or_else(|| format!("run-{id}-{:016x}", plan.seed));
        let armed_at = SystemTime::now();
        // T0 on a whole second: SAMPLE ticks of whole-second periods then fall at the
        // same offsets into the window in every run.
        let earliest = unix_ns(armed_at + plan.pre_roll);
        let t0_ns = earliest.div_ceil(1_000_000_000) * 1_000_000_000;
        let window_ns = u64::try_from(plan.window.as_nanos()).unwrap_or(u64::MAX);
        let t1_ns = t0_ns + window_ns;
        let window = RunWindow {
            start_ns: t0_ns,
            end_ns: t1_ns,
            slices: plan.slices,
        };
        let suffix = bytes::Bytes::from(nl6_gnmi::run_tag::subscribe_response_suffix(&tag));
        let step_slices = plan
            .ramp
            .as_ref()
            .map_or(plan.slices, |r| plan.slices / r.steps.len() as u32);
        let ramp = plan.ramp.clone().map(|plan| RampState {
            latencies: Arc::new(nl6_dialout::Latencies::new(
                plan.steps.len() as u32,
                step_slices,
            )),
            plan,
            step_slices,
            t0_ns,
            judged: Mutex::new(Vec::new()),
        });
        let members: Vec<_> = members
            .into_iter()
            .zip(joins)
            .map(|(m, join)| {
                // A ramp steps gNMI dial-out devices only (the request is refused
                // otherwise), whose messages carry the tag as an appended extension.
                let ledger = match &ramp {
                    None => plan.protocol.ledger(window, &tag),
                    Some(ramp) => ramp.ledger(join, window, suffix.clone()),
                };
                (m, Arc::new(ledger))
            })
            .collect();
        let header = RunReport {
            id: id.clone(),
            state: RunState::PreRoll,
            protocol: plan.protocol.as_str().into(),
            tag,
            seed: plan.seed,
            armed_at: humantime::format_rfc3339_millis(armed_at).to_string(),
            t0: rfc3339_ns(t0_ns),
            t1: rfc3339_ns(t1_ns),
            t0_ns,
            t1_ns,
            slices: plan.slices,
            finished_at: None,
            selected_devices: found.selected,
            participants: members.len(),
            totals: Counts::default(),
            per_slice: Vec::new(),
            unsettled: 0,
            devices: Vec::new(),
            ramp: None,
        };
        for (member, ledger) in &members {
            member.join(ledger);
        }
        let active = Arc::new(Active {
            header,
            members,
            state: Mutex::new(RunState::PreRoll),
            ramp,
        });
        state.active = Some(active.clone());
        let armed = active.report(RunState::PreRoll);
        tracing::info!(run = %id, participants = active.members.len(), t0 = %armed.t0, t1 = %armed.t1, "run armed");
        let runs = self.clone();
        runtime.spawn(async move { runs.drive(active, plan.drain).await });
        Ok(armed)
    }

    /// Pre-roll → window → drain → final report.
    async fn drive(self, active: Arc<Active>, drain: Duration) {
        let until = |ns: u64| {
            let now = unix_ns(SystemTime::now());
            Duration::from_nanos(ns.saturating_sub(now))
        };
        tokio::time::sleep(until(active.header.t0_ns)).await;
        *active.state.lock() = RunState::Window;
        match &active.ramp {
            Some(ramp) => {
                let ledgers: Vec<_> = active.members.iter().map(|(_, l)| l.clone()).collect();
                ramp.step_through(&active.header.id, &ledgers, &active.state)
                    .await;
            }
            None => tokio::time::sleep(until(active.header.t1_ns)).await,
        }
        *active.state.lock() = RunState::Draining;
        let deadline = tokio::time::Instant::now() + drain;
        while !active.settled() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(SETTLE_POLL).await;
        }
        for (member, _) in &active.members {
            member.leave();
        }
        let mut report = active.report(RunState::Finished);
        report.finished_at = Some(humantime::format_rfc3339_millis(SystemTime::now()).to_string());
        tracing::info!(
            run = %report.id,
            sent = report.totals.sent.messages,
            dropped = report.totals.dropped.messages,
            unsettled = report.unsettled,
            "run finished"
        );
        let mut state = self.inner.lock();
        state.active = None;
        state.finished.push_back(Arc::new(report));
        let cells = |r: &RunReport| r.participants * r.slices as usize;
        while state.finished.len() > 1
            && (state.finished.len() > KEEP_REPORTS
                || state.finished.iter().map(|r| cells(r)).sum::<usize>() > MAX_KEPT_CELLS)
        {
            state.finished.pop_front();
        }
    }

    /// The run `id`: live while it runs, final once finished; `None` if unknown (or
    /// forgotten: only the last [`KEEP_REPORTS`] are kept).
    pub fn get(&self, id: &str) -> Option<RunReport> {
        let state = self.inner.lock();
        if let Some(active) = &state.active
            && active.header.id == id
        {
            let now = *active.state.lock();
            return Some(active.report(now));
        }
        state
            .finished
            .iter()
            .find(|r| r.id == id)
            .map(|r| RunReport::clone(r))
    }

    /// Every run kept, newest first (the one in progress, live, before the finished
    /// ones), each at a glance.
    pub fn list(&self) -> Vec<RunSummary> {
        let state = self.inner.lock();
        let active = state.active.as_ref().map(|active| {
            let now = *active.state.lock();
            RunSummary::from(&active.report(now))
        });
        active
            .into_iter()
            .chain(state.finished.iter().rev().map(|r| RunSummary::from(&**r)))
            .collect()
    }

    /// The id of the run in progress, if any.
    pub fn active(&self) -> Option<String> {
        self.inner
            .lock()
            .active
            .as_ref()
            .map(|a| a.header.id.clone())
    }
}
