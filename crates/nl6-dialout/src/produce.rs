//! What a device pushes: the compiled plan (paths, mode, encoding) and the producer that
//! turns ticks or state events into samples, encoded by the session's flavor encoder.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use nl6_ifstate::{DeviceModel, Listener, StateEvent, unix_now_ns};
use nl6_resolver::{
    ExtraReading, LeafSet, Selection, Snapshot, ValueEncoding, changed_leaves, event_time_ns,
};
use tokio::time::{Instant, Sleep};

use crate::config::{DialoutConfig, Mode, Phase};
use crate::error::DialoutError;
use crate::run::Mark;
use crate::session::{Sample, SampleEncoder, SampleKind, WireMessage};
use crate::stats::DeviceCounters;

/// Leaves on-change mode ever sends: counters are filtered at emit.
fn on_change_leaves() -> LeafSet {
    LeafSet::STATIC.union(LeafSet::ON_CHANGE)
}

/// Everything a device's streams push, compiled once at attach.
pub(crate) struct Plan {
    model: Arc<DeviceModel>,
    target: String,
    encoding: ValueEncoding,
    selection: Selection,
    /// Each configured path's selection, in order.
    paths: Vec<Selection>,
    /// `Some(period)` for SAMPLE, `None` for ON_CHANGE.
    sample_every: Option<Duration>,
    phase: Phase,
    device_ip: Ipv4Addr,
}

impl Plan {
    /// Compiles `cfg`'s paths against the device (on-change: counters dropped, a
    /// counters-only path rejected). `sample_floor` clamps the SAMPLE period.
    pub(crate) fn compile(
        model: Arc<DeviceModel>,
        device_ip: Ipv4Addr,
        cfg: &DialoutConfig,
        sample_floor: Duration,
    ) -> Result<Plan, DialoutError> {
        let names = model.names();
        let mut selection = Selection::empty(names.len());
        let mut paths = Vec::new();
        for (index, text) in cfg.effective_paths().into_iter().enumerate() {
            let path = nl6_gnmi::parse_path(text).map_err(|e| {
                crate::config::ConfigError::at(
                    crate::config::ConfigKey::Paths,
                    format!("paths[{index}]"),
                    e.to_string(),
                )
            })?;
            let mut one = Selection::compile_one(None, &path, nl6_resolver::Schema::of(&model))
                .map_err(|source| DialoutError::Path { index, source })?;
            if cfg.mode == Mode::OnChange {
                one = one.restrict(on_change_leaves());
                if one.is_empty() {
                    return Err(DialoutError::CountersOnly {
                        index,
                        path: text.to_string(),
                    });
                }
            }
            selection = selection.union(&one);
            paths.push(one);
        }
        let sample_every = match cfg.mode {
            Mode::Sample => Some(cfg.sample_interval.max(sample_floor)),
            Mode::OnChange => None,
        };
        Ok(Plan {
            model,
            target: device_ip.to_string(),
            encoding: cfg.encoding.value_encoding(),
            selection,
            paths,
            sample_every,
            phase: cfg.phase,
            device_ip,
        })
    }

    /// The device's SAMPLE schedule (`None` in on-change mode). It lives as long as the
    /// device, so ticks that fall while no stream is up can be counted.
    pub(crate) fn sampler(&self) -> Option<Sampler> {
        self.sample_every
            .map(|period| Sampler::new(period, self.phase, self.device_ip))
    }

    /// Whether a new stream starts with an immediate sample (the `aligned` phase).
    pub(crate) fn samples_on_open(&self) -> bool {
        self.phase == Phase::Aligned
    }
}

/// Weyl-sequence constant: 2^64 / golden ratio. Consecutive addresses get offsets that
/// cover the interval evenly.
const GOLDEN_64: u64 = 0x9E37_79B9_7F4A_7C15;

/// Spread-phase offsets lie on a grid of this step (or of a hundredth of the period, when
/// that is finer): devices that share a grid point tick together, so the process wakes
/// once per grid point rather than once per device, and a period still has up to 100
/// evenly filled points (1,000 at 10 s).
pub(crate) const SPREAD_GRID: Duration = Duration::from_millis(10);

/// Where in `[0, period)` a device's spread-phase ticks fall, from its address, on the
/// [`SPREAD_GRID`].
pub(crate) fn spread_offset(period: Duration, device_ip: Ipv4Addr) -> Duration {
    let fraction = u64::from(u32::from(device_ip)).wrapping_mul(GOLDEN_64);
    let nanos = (u128::from(fraction) * period.as_nanos()) >> 64;
    let grid = (period.as_nanos() / 100).clamp(1, SPREAD_GRID.as_nanos());
    let nanos = nanos / grid * grid;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Time from `now_unix_ns` to the next instant whose wall-clock phase is `offset`.
fn wait_for_phase(period: Duration, offset: Duration, now_unix_ns: u64) -> Duration {
    let period_ns = period.as_nanos().max(1);
    let into = (u128::from(now_unix_ns) + period_ns - offset.as_nanos() % period_ns) % period_ns;
    let wait = (period_ns - into) % period_ns;
    Duration::from_nanos(u64::try_from(wait).unwrap_or(u64::MAX))
}

/// A device's SAMPLE ticks: every `period`, first at once (`aligned`) or at the device's
/// own wall-clock offset (`spread`).
///
/// The timer is kept across ticks (reset, never dropped), so a tick that loses a
/// `select!` leaves it registered instead of cancelling and re-arming it.
#[derive(Debug)]
pub(crate) struct Sampler {
    period: Duration,
    next: Instant,
    timer: Pin<Box<Sleep>>,
}

impl Sampler {
    fn new(period: Duration, phase: Phase, device_ip: Ipv4Addr) -> Sampler {
        let now = Instant::now();
        let next = match phase {
            Phase::Aligned => now,
            Phase::Spread => {
                let offset = spread_offset(period, device_ip);
                now + wait_for_phase(period, offset, unix_now_ns())
            }
        };
        Sampler {
            period,
            next,
            timer: Box::pin(tokio::time::sleep_until(next)),
        }
    }

    /// Waits for the next tick and schedules the one after. Returns the ticks missed
    /// because the task ran more than a whole period late (usually 0). Cancel-safe.
    pub(crate) async fn tick(&mut self) -> u64 {
        self.timer.as_mut().await;
        let now = Instant::now();
        self.next += self.period;
        let mut behind = 0;
        if self.next <= now {
            let late = (now - self.next).as_nanos() / self.period.as_nanos().max(1) + 1;
            let late = u32::try_from(late).unwrap_or(u32::MAX);
            self.next += self.period * late;
            behind = u64::from(late);
        }
        self.timer.as_mut().reset(self.next);
        behind
    }

    /// Ticks from now on (`aligned`: a new stream samples at once).
    pub(crate) fn restart_now(&mut self) {
        self.next = Instant::now();
        self.timer.as_mut().reset(self.next);
    }
}

/// Produces one stream's messages. Created when the stream opens, so nothing carries
/// over an outage; for on-change the listener is registered before the snapshot.
pub(crate) struct Producer<'s> {
    plan: Arc<Plan>,
    encoder: Box<dyn SampleEncoder>,
    trigger: Trigger<'s>,
    masks: Vec<LeafSet>,
    /// On-change mode: the other-subtree leaves last sent, to send the ones an event
    /// changed (a boot time after a reboot).
    last_extras: Vec<ExtraReading>,
    /// What the last sample encoded to.
    out: Vec<WireMessage>,
    /// When the last sample was read (Unix ns: its messages' timestamp).
    at_ns: u64,
}

enum Trigger<'s> {
    Sample(&'s mut Sampler),
    OnChange {
        listener: Listener,
        snapshot_due: bool,
    },
}

/// What one sample produced: its messages (possibly none) and the SAMPLE ticks missed
/// before it.
pub(crate) struct Produced<'p> {
    pub messages: std::vec::Drain<'p, WireMessage>,
    pub ticks_missed: u64,
    /// When the sample was read (Unix ns).
    pub at_ns: u64,
}

impl<'s> Producer<'s> {
    /// A producer for one stream, encoding with the session's `encoder`; SAMPLE plans
    /// tick on the device's `sampler`.
    pub(crate) fn start(
        plan: Arc<Plan>,
        encoder: Box<dyn SampleEncoder>,
        sampler: Option<&'s mut Sampler>,
    ) -> Producer<'s> {
        let trigger = match sampler {
            Some(sampler) => Trigger::Sample(sampler),
            None => Trigger::OnChange {
                listener: plan.model.subscribe(),
                snapshot_due: true,
            },
        };
        Producer {
            encoder,
            masks: vec![LeafSet::EMPTY; plan.selection.interface_count()],
            last_extras: Vec::new(),
            plan,
            trigger,
            out: Vec::with_capacity(1),
            at_ns: 0,
        }
    }

    /// The next sample's messages. Cancel-safe.
    pub(crate) async fn next(&mut self) -> Produced<'_> {
        self.out.clear();
        let ticks_missed = loop {
            match &mut self.trigger {
                Trigger::Sample(sampler) => {
                    let ticks_missed = sampler.tick().await;
                    self.snapshot();
                    break ticks_missed;
                }
                Trigger::OnChange {
                    snapshot_due: due @ true,
                    ..
                } => {
                    *due = false;
                    self.snapshot();
                    break 0;
                }
                Trigger::OnChange { listener, .. } => {
                    let Some(event) = listener.recv().await else {
                        // The model is gone (it cannot be while we hold it): stay idle.
                        return std::future::pending().await;
                    };
                    if self.event(&event) {
                        break 0;
                    }
                }
            }
        };
        Produced {
            messages: self.out.drain(..),
            ticks_missed,
            at_ns: self.at_ns,
        }
    }

    /// All selected leaves at one instant.
    fn snapshot(&mut self) {
        let plan = &self.plan;
        self.at_ns = unix_now_ns();
        let snapshot = Snapshot::capture(&plan.model, self.at_ns, &plan.selection);
        if matches!(self.trigger, Trigger::OnChange { .. }) {
            self.last_extras = snapshot.extras().to_vec();
        }
        let sample = Sample {
            kind: SampleKind::Snapshot,
            snapshot: &snapshot,
            masks: plan.selection.masks(),
            paths: &plan.paths,
            encoding: plan.encoding,
            target: &plan.target,
            model: &plan.model,
        };
        self.encoder.encode(&sample, &mut self.out);
    }

    /// Only the leaves `event` changed that the paths select, and the other-subtree
    /// leaves whose value differs from what was last sent; false if there are none.
    fn event(&mut self, event: &StateEvent) -> bool {
        let at = event_time_ns(event);
        self.at_ns = at;
        let mut sent = false;
        // The snapshots borrow the model while the encoder needs `self`.
        let plan = Arc::clone(&self.plan);
        if let Some(idx) = (event.ifindex as usize).checked_sub(1) {
            let leaves = changed_leaves(event).intersect(plan.selection.leaves(idx));
            if !leaves.is_empty() && idx < self.masks.len() {
                let snapshot = Snapshot::of_state(&plan.model, at, idx, event.after);
                self.masks.fill(LeafSet::EMPTY);
                self.masks[idx] = leaves;
                self.encode_event(&snapshot);
                sent = true;
            }
        }
        if !plan.selection.extras().is_empty() {
            // On-change selections hold no counters: capturing all of it is cheap, and
            // with empty masks only its other-subtree leaves are encoded.
            let now = Snapshot::capture(&plan.model, at, &plan.selection);
            let gone = nl6_resolver::removed_entries(&self.last_extras, &now);
            if !gone.is_empty() {
                let before = self.out.len();
                self.encoder
                    .encode_delete(at, &plan.target, gone, &mut self.out);
                sent |= self.out.len() > before;
            }
            let fresh = now.changed_since_readings(&self.last_extras);
            if !fresh.extras().is_empty() {
                self.masks.fill(LeafSet::EMPTY);
                self.encode_event(&fresh);
                sent = true;
            }
            self.last_extras = now.extras().to_vec();
        }
        sent
    }

    /// Encodes an event sample: `snapshot` with the interface leaves of `self.masks`.
    fn encode_event(&mut self, snapshot: &Snapshot<'_>) {
        let plan = &self.plan;
        let sample = Sample {
            kind: SampleKind::Event,
            snapshot,
            masks: &self.masks,
            paths: &plan.paths,
            encoding: plan.encoding,
            target: &plan.target,
            model: &plan.model,
        };
        self.encoder.encode(&sample, &mut self.out);
    }
}

/// A queued message and, if it belongs to a run, its place in the run's ledger.
pub(crate) struct Queued {
    pub message: WireMessage,
    pub mark: Option<Mark>,
}

/// The bounded send queue: when full, the oldest message is dropped and counted.
pub(crate) struct SendQueue {
    messages: VecDeque<Queued>,
    depth: usize,
}

impl SendQueue {
    pub(crate) fn new(depth: usize) -> SendQueue {
        SendQueue {
            messages: VecDeque::new(),
            depth: depth.max(1),
        }
    }

    pub(crate) fn push(
        &mut self,
        message: WireMessage,
        mark: Option<Mark>,
        counters: &DeviceCounters,
    ) {
        if self.messages.len() >= self.depth
            && let Some(old) = self.messages.pop_front()
        {
            let updates = old.message.updates;
            counters.updates_dropped.fetch_add(updates, Relaxed);
            if let Some(mark) = old.mark {
                mark.dropped(updates);
            }
        }
        self.messages.push_back(Queued { message, mark });
    }

    pub(crate) fn pop(&mut self) -> Option<Queued> {
        self.messages.pop_front()
    }

    /// Empties the queue (its stream is gone) and returns the updates it held.
    pub(crate) fn discard(&mut self) -> u64 {
        self.messages
            .drain(..)
            .map(|q| {
                let updates = q.message.updates;
                if let Some(mark) = q.mark {
                    mark.discarded(updates);
                }
                updates
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl6_ifstate::{AdminStatus, DeviceSpec, LinkStatus};

    fn plan(mode: Mode, paths: &[&str]) -> Result<Plan, DialoutError> {
        let model = Arc::new(DeviceModel::new(&DeviceSpec::default()).unwrap());
        let cfg = DialoutConfig {
            mode,
            paths: paths.iter().map(|p| p.to_string()).collect(),
            ..DialoutConfig::new("c:1")
        };
        Plan::compile(
            model,
            Ipv4Addr::new(127, 0, 0, 9),
            &cfg,
            Duration::from_secs(1),
        )
    }

    #[test]
    fn on_change_drops_counters_and_rejects_counter_only_paths() {
        let p = plan(Mode::OnChange, &["/interfaces/interface[name=*]/state"]).unwrap();
        assert_eq!(p.selection.leaf_count(), 10 * 5);
        let err = plan(
            Mode::OnChange,
            &[
                "/interfaces/interface/state/oper-status",
                "/interfaces/interface[name=Ethernet1]/state/counters",
            ],
        )
        .err()
        .unwrap();
        assert!(matches!(err, DialoutError::CountersOnly { index: 1, .. }));
        assert!(
            err.to_string()
                .contains("paths[1]: /interfaces/interface[name=Ethernet1]/state/counters"),
            "{err}"
        );
        let sample = plan(Mode::Sample, &["/interfaces/interface/state/counters"]).unwrap();
        assert_eq!(sample.selection.leaf_count(), 120);
        assert_eq!(sample.sample_every, Some(Duration::from_secs(10)));
    }

    #[test]
    fn unknown_interfaces_name_the_path() {
        let err = plan(
            Mode::Sample,
            &["/", "/interfaces/interface[name=Ethernet99]"],
        )
        .err()
        .unwrap();
        assert!(matches!(err, DialoutError::Path { index: 1, .. }), "{err}");
    }

    #[tokio::test]
    async fn events_carry_only_changed_selected_leaves() {
        let p = Arc::new(plan(Mode::OnChange, &["/interfaces/interface[name=*]/state"]).unwrap());
        let model = p.model.clone();
        let encoder = Box::new(crate::flavor::SubscribeResponseEncoder::default());
        let mut producer = Producer::start(p.clone(), encoder, None);
        assert_eq!(model.listener_count(), 1);
        let mut next = async || {
            producer
                .next()
                .await
                .messages
                .map(|m| m.updates)
                .sum::<u64>()
        };
        assert_eq!(next().await, 50);
        model.set_link(2, LinkStatus::Down, unix_now_ns());
        assert_eq!(next().await, 2); // oper-status, last-change
        model.set_admin(2, AdminStatus::Down, unix_now_ns());
        assert_eq!(next().await, 2); // admin-status, last-change
        model.set_admin(2, AdminStatus::Up, unix_now_ns());
        assert_eq!(next().await, 2); // admin back up, link still down
        drop(producer);
        assert_eq!(model.listener_count(), 0);
    }

    #[test]
    fn spread_offsets_of_consecutive_addresses_cover_the_interval_evenly() {
        let period = Duration::from_secs(1);
        let mut buckets = [0u32; 10];
        for host in 1..=100u32 {
            let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 42, 0, 0)) + host);
            let offset = spread_offset(period, ip);
            assert!(offset < period);
            assert_eq!(offset, spread_offset(period, ip), "deterministic");
            buckets[(offset.as_millis() / 100) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (5..=15).contains(&n)),
            "{buckets:?}"
        );
    }

    #[test]
    fn spread_offsets_lie_on_the_grid() {
        let ip = |host: u32| Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 42, 0, 0)) + host);
        let mut points = std::collections::BTreeSet::new();
        for host in 1..=1000 {
            let offset = spread_offset(Duration::from_secs(1), ip(host));
            assert_eq!(offset.as_nanos() % SPREAD_GRID.as_nanos(), 0, "{offset:?}");
            points.insert(offset);
        }
        assert!(
            points.len() >= 95,
            "1000 devices fill {} of 100 points",
            points.len()
        );
        // A short period keeps 100 points: the grid shrinks to a hundredth of it.
        let period = Duration::from_millis(200);
        for host in 1..=50 {
            let offset = spread_offset(period, ip(host));
            assert_eq!(offset.as_nanos() % 2_000_000, 0, "{offset:?}");
            assert!(offset < period);
        }
    }

    #[test]
    fn the_phase_wait_lands_on_the_offset() {
        let period = Duration::from_secs(10);
        let offset = Duration::from_millis(2_500);
        let now = 1_700_000_001_000_000_000u64; // 1 s into a 10 s period
        assert_eq!(
            wait_for_phase(period, offset, now),
            Duration::from_millis(1_500)
        );
        let on_it = 1_700_000_002_500_000_000u64;
        assert_eq!(wait_for_phase(period, offset, on_it), Duration::ZERO);
        let after = 1_700_000_003_000_000_000u64;
        assert_eq!(
            wait_for_phase(period, offset, after),
            Duration::from_millis(9_500)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_sampler_counts_the_ticks_it_missed() {
        let ip = Ipv4Addr::new(127, 0, 0, 1);
        let mut s = Sampler::new(Duration::from_secs(1), Phase::Aligned, ip);
        assert_eq!(s.tick().await, 0);
        tokio::time::advance(Duration::from_millis(3_500)).await;
        assert_eq!(s.tick().await, 2); // the ticks at 2 s and 3 s
        assert_eq!(s.tick().await, 0);
    }

    #[test]
    fn queue_drops_oldest_and_counts_its_updates() {
        let counters = DeviceCounters::default();
        let mut q = SendQueue::new(2);
        for updates in [1, 2, 3] {
            let bytes = bytes::Bytes::from(vec![updates as u8]);
            q.push(WireMessage { bytes, updates }, None, &counters);
        }
        assert_eq!(counters.updates_dropped.load(Relaxed), 1);
        assert_eq!(q.pop().unwrap().message.updates, 2);
        assert_eq!(q.discard(), 3);
        assert!(q.pop().is_none());
    }
}
