//! Taking part in a measured run: while a device's [`RunSlot`] holds a [`RunLedger`], its
//! streams emit only the samples taken inside the run's window, tag each message, and
//! account every message they emit — sent, dropped from the queue, discarded with a
//! broken stream, failed to send — per slice of the window.
//!
//! ```
//! use std::sync::Arc;
//! use nl6_ledger::{RunLedger, RunSlot, RunWindow};
//!
//! let window = RunWindow { start_ns: 1_000, end_ns: 2_000, slices: 10 };
//! let slot = RunSlot::default();
//! slot.join(Arc::new(RunLedger::new(window, bytes::Bytes::new())));
//! let ledger = slot.ledger().unwrap();
//! assert!(ledger.enter(10).is_none()); // before T0: suppressed
//! ledger.enter(1_500).unwrap().sent(3);
//! assert_eq!(ledger.slice(5).sent.updates, 3);
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use bytes::Bytes;
use parking_lot::Mutex;

/// A run's window `[start_ns, end_ns)` (Unix ns, the messages' own timestamps), cut into
/// `slices` equal slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunWindow {
    /// First instant inside (T0).
    pub start_ns: u64,
    /// First instant after (T1).
    pub end_ns: u64,
    /// Number of equal slices (at least 1).
    pub slices: u32,
}

impl RunWindow {
    /// The slice a message timestamped `at_ns` falls in; `None` outside the window.
    pub fn slice_of(&self, at_ns: u64) -> Option<u32> {
        if at_ns < self.start_ns || at_ns >= self.end_ns {
            return None;
        }
        let span = u128::from(self.end_ns - self.start_ns);
        let slices = u128::from(self.slices.max(1));
        let slice = u128::from(at_ns - self.start_ns) * slices / span;
        u32::try_from(slice).ok()
    }
}

/// Messages and the updates they carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Messages.
    pub messages: u64,
    /// Updates (leaves) in them.
    pub updates: u64,
}

/// What became of one slice's messages of one device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SliceTally {
    /// Taken by the transport (the reconciliation denominator).
    pub sent: Tally,
    /// Dropped from the full send queue (oldest first).
    pub dropped: Tally,
    /// Still queued when the stream broke or the export stopped.
    pub discarded: Tally,
    /// Handed to the transport, which failed (the stream then broke).
    pub send_failures: Tally,
    /// SAMPLE ticks not sampled at all: no stream was up, or the task ran late.
    pub skipped_ticks: u64,
    /// Emitted (sampled in the window and queued): what the device offered. Counted by
    /// the transports that report it ([`Mark::offer`]: gNMI dial-out).
    pub admitted: Tally,
    /// Time the sends of this slice's messages waited for an HTTP/2 flow-control window.
    pub stall_ns: u64,
    /// How many of those sends waited.
    pub stall_waits: u64,
    /// Sum over the sent messages of the time from sample to transport taken.
    pub latency_sum_ns: u64,
    /// The longest of those times.
    pub latency_max_ns: u64,
}

/// Flow-control waits of a transport so far: how often and how long senders waited
/// for an HTTP/2 window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStall {
    /// Sends that had to wait.
    pub waits: u64,
    /// Nanoseconds waited in all.
    pub nanos: u64,
}

impl FlowStall {
    /// What was added since `earlier`.
    pub fn since(self, earlier: FlowStall) -> FlowStall {
        FlowStall {
            waits: self.waits.saturating_sub(earlier.waits),
            nanos: self.nanos.saturating_sub(earlier.nanos),
        }
    }
}

#[derive(Debug, Default)]
struct AtomicTally {
    messages: AtomicU64,
    updates: AtomicU64,
}

impl AtomicTally {
    fn add(&self, updates: u64) {
        self.messages.fetch_add(1, Relaxed);
        self.updates.fetch_add(updates, Relaxed);
    }

    fn get(&self) -> Tally {
        Tally {
            messages: self.messages.load(Relaxed),
            updates: self.updates.load(Relaxed),
        }
    }
}

#[derive(Debug, Default)]
struct SliceCounters {
    sent: AtomicTally,
    dropped: AtomicTally,
    discarded: AtomicTally,
    send_failures: AtomicTally,
    skipped_ticks: AtomicU64,
    admitted: AtomicTally,
    stall_ns: AtomicU64,
    stall_waits: AtomicU64,
    latency_sum_ns: AtomicU64,
    latency_max_ns: AtomicU64,
}

/// Buckets of a [`Latencies`] histogram: quarter octaves from 1 µs to about 18 min.
const LATENCY_BUCKETS: usize = 128;

/// Send latencies (sample to transport taken) of a run's messages, one log-scale
/// histogram per group of consecutive slices (a ramp step), shared by the participants.
#[derive(Debug)]
pub struct Latencies {
    slices_per_group: u32,
    counts: Box<[AtomicU64]>,
}

fn latency_bucket(ns: u64) -> usize {
    if ns < 1024 {
        return 0;
    }
    let octave = 63 - ns.leading_zeros() as usize;
    let quarter = ((ns >> (octave - 2)) & 3) as usize;
    ((octave - 10) * 4 + quarter + 1).min(LATENCY_BUCKETS - 1)
}

/// The largest latency (ns) of bucket `index`.
fn latency_edge(index: usize) -> u64 {
    if index == 0 {
        return 1023;
    }
    if index >= LATENCY_BUCKETS - 1 {
        return u64::MAX;
    }
    let (octave, quarter) = ((index - 1) / 4 + 10, (index - 1) % 4);
    ((4 + quarter as u64 + 1) << (octave - 2)).saturating_sub(1)
}

impl Latencies {
    /// `groups` histograms, each over `slices_per_group` consecutive slices.
    pub fn new(groups: u32, slices_per_group: u32) -> Latencies {
        Latencies {
            slices_per_group: slices_per_group.max(1),
            counts: (0..groups as usize * LATENCY_BUCKETS)
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }

    fn record(&self, slice: u32, ns: u64) {
        let group = (slice / self.slices_per_group) as usize;
        if let Some(c) = self
            .counts
            .get(group * LATENCY_BUCKETS + latency_bucket(ns))
        {
            c.fetch_add(1, Relaxed);
        }
    }

    /// The `q` quantile (0 to 1) of group `group`, rounded up to its bucket's edge
    /// (about 19 % wide); `None` without any latency recorded.
    pub fn quantile(&self, group: u32, q: f64) -> Option<u64> {
        let at = group as usize * LATENCY_BUCKETS;
        let counts: Vec<u64> = self
            .counts
            .get(at..at + LATENCY_BUCKETS)?
            .iter()
            .map(|c| c.load(Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        counts.iter().enumerate().find_map(|(i, &n)| {
            seen += n;
            (seen >= rank).then(|| latency_edge(i))
        })
    }
}

/// One device's ledger of one run.
#[derive(Debug)]
pub struct RunLedger {
    window: RunWindow,
    /// Appended to every message of the run (the run tag), may be empty.
    suffix: Bytes,
    /// The run tag, for flavors that carry it inside their messages instead.
    tag: Option<Arc<str>>,
    slices: Box<[SliceCounters]>,
    /// Run messages queued or being sent: not settled yet.
    pending: AtomicU64,
    /// Messages not emitted because they fell outside the window.
    suppressed: AtomicU64,
    /// Samples before this instant (Unix ns) are suppressed: the device joins later.
    from_ns: u64,
    /// Samples at or after this instant are suppressed: the run stopped early.
    until_ns: AtomicU64,
    /// Where send latencies are also recorded, if anywhere.
    latencies: Option<Arc<Latencies>>,
}

impl RunLedger {
    /// A ledger for `window`, appending `suffix` to each message.
    pub fn new(window: RunWindow, suffix: Bytes) -> RunLedger {
        RunLedger {
            window,
            suffix,
            tag: None,
            slices: (0..window.slices.max(1))
                .map(|_| SliceCounters::default())
                .collect(),
            pending: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            from_ns: window.start_ns,
            until_ns: AtomicU64::new(window.end_ns),
            latencies: None,
        }
    }

    /// The same ledger, also recording each sent message's latency in `latencies`.
    pub fn with_latencies(self, latencies: Arc<Latencies>) -> RunLedger {
        RunLedger {
            latencies: Some(latencies),
            ..self
        }
    }

    /// The same, but the device emits only samples taken from `from_ns` on (it joins a
    /// load step later in the window).
    pub fn starting_at(window: RunWindow, suffix: Bytes, from_ns: u64) -> RunLedger {
        RunLedger {
            from_ns: from_ns.max(window.start_ns),
            ..RunLedger::new(window, suffix)
        }
    }

    /// From `at_ns` on the device emits nothing more in this run (it stopped early).
    pub fn stop_at(&self, at_ns: u64) {
        self.until_ns.fetch_min(at_ns, Relaxed);
    }

    /// The slice a sample taken at `at_ns` is emitted in: inside the window, at or after
    /// the device's start and before any early stop; `None` otherwise.
    fn emits(&self, at_ns: u64) -> Option<u32> {
        if at_ns < self.from_ns || at_ns >= self.until_ns.load(Relaxed) {
            return None;
        }
        self.window.slice_of(at_ns)
    }

    /// The same ledger, naming the run `tag` to flavors that write it inside their
    /// messages (MDT's `subscription_id_str`); give such ledgers an empty suffix.
    pub fn with_tag(mut self, tag: &str) -> RunLedger {
        self.tag = Some(tag.into());
        self
    }

    /// The run tag, if the ledger names it (see [`RunLedger::with_tag`]).
    pub fn tag(&self) -> Option<&Arc<str>> {
        self.tag.as_ref()
    }

    /// What to append to every message of the run (may be empty).
    pub fn suffix(&self) -> &Bytes {
        &self.suffix
    }

    /// The run's window.
    pub fn window(&self) -> RunWindow {
        self.window
    }

    /// Slice `index`'s tallies so far (zero past the last slice).
    pub fn slice(&self, index: u32) -> SliceTally {
        let Some(c) = self.slices.get(index as usize) else {
            return SliceTally::default();
        };
        SliceTally {
            sent: c.sent.get(),
            dropped: c.dropped.get(),
            discarded: c.discarded.get(),
            send_failures: c.send_failures.get(),
            skipped_ticks: c.skipped_ticks.load(Relaxed),
            admitted: c.admitted.get(),
            stall_ns: c.stall_ns.load(Relaxed),
            stall_waits: c.stall_waits.load(Relaxed),
            latency_sum_ns: c.latency_sum_ns.load(Relaxed),
            latency_max_ns: c.latency_max_ns.load(Relaxed),
        }
    }

    /// Messages of the run queued or being sent (0 once every one is settled).
    pub fn pending(&self) -> u64 {
        self.pending.load(Relaxed)
    }

    /// Messages sampled outside the window and therefore not emitted.
    pub fn suppressed(&self) -> u64 {
        self.suppressed.load(Relaxed)
    }

    /// A message sampled at `at_ns`: inside the window, its mark (pending until
    /// settled); outside, `None` and it counts as suppressed — do not emit it.
    pub fn enter(self: &Arc<Self>, at_ns: u64) -> Option<Mark> {
        let Some(slice) = self.emits(at_ns) else {
            self.suppressed.fetch_add(1, Relaxed);
            return None;
        };
        self.pending.fetch_add(1, Relaxed);
        Some(Mark {
            ledger: self.clone(),
            slice,
            at_ns,
        })
    }

    /// Counts `ticks` SAMPLE ticks not sampled at `now_ns`, if inside the window.
    pub fn skipped_at(&self, ticks: u64, now_ns: u64) {
        if let Some(slice) = self.emits(now_ns)
            && let Some(c) = self.slices.get(slice as usize)
        {
            c.skipped_ticks.fetch_add(ticks, Relaxed);
        }
    }
}

#[derive(Debug, Default)]
struct SlotInner {
    /// Mirrors `ledger.is_some()`: the check a stream makes per sample.
    active: AtomicBool,
    ledger: Mutex<Option<Arc<RunLedger>>>,
}

/// Where a device's streams look for the run they take part in. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct RunSlot(Arc<SlotInner>);

impl RunSlot {
    /// Makes the device take part in `ledger`'s run from its next sample on.
    pub fn join(&self, ledger: Arc<RunLedger>) {
        *self.0.ledger.lock() = Some(ledger);
        self.0.active.store(true, Relaxed);
    }

    /// Ends the device's part in any run: it emits as usual again.
    pub fn leave(&self) {
        self.0.active.store(false, Relaxed);
        self.0.ledger.lock().take();
    }

    /// Whether the device takes part in a run now.
    pub fn in_run(&self) -> bool {
        self.0.active.load(Relaxed)
    }

    /// Counts `ticks` SAMPLE ticks not sampled now, if now is inside the run's window.
    pub fn skipped(&self, ticks: u64) {
        if let Some(ledger) = self.ledger() {
            ledger.skipped_at(ticks, unix_now_ns());
        }
    }

    /// The run's ledger, if the device takes part in one (one relaxed load otherwise).
    pub fn ledger(&self) -> Option<Arc<RunLedger>> {
        if !self.0.active.load(Relaxed) {
            return None;
        }
        self.0.ledger.lock().clone()
    }
}

fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A queued message's place in a run's ledger: settle it exactly once.
#[derive(Debug)]
pub struct Mark {
    ledger: Arc<RunLedger>,
    slice: u32,
    /// When the message was sampled (Unix ns).
    at_ns: u64,
}

impl Mark {
    fn settle(self, updates: u64, pick: impl Fn(&SliceCounters) -> &AtomicTally) {
        if let Some(c) = self.ledger.slices.get(self.slice as usize) {
            pick(c).add(updates);
        }
        self.ledger.pending.fetch_sub(1, Relaxed);
    }

    /// Counts the message, of `updates` updates, as offered (emitted and queued).
    pub fn offer(&self, updates: u64) {
        if let Some(c) = self.ledger.slices.get(self.slice as usize) {
            c.admitted.add(updates);
        }
    }

    /// The transport took it.
    pub fn sent(self, updates: u64) {
        self.sent_after(updates, FlowStall::default());
    }

    /// The transport took it, after waiting `stall` for flow-control windows; records
    /// the time from sample to now as its send latency.
    pub fn sent_after(self, updates: u64, stall: FlowStall) {
        if let Some(c) = self.ledger.slices.get(self.slice as usize) {
            let latency = unix_now_ns().saturating_sub(self.at_ns);
            c.latency_sum_ns.fetch_add(latency, Relaxed);
            c.latency_max_ns.fetch_max(latency, Relaxed);
            if let Some(latencies) = &self.ledger.latencies {
                latencies.record(self.slice, latency);
            }
            if stall.waits > 0 {
                c.stall_waits.fetch_add(stall.waits, Relaxed);
                c.stall_ns.fetch_add(stall.nanos, Relaxed);
            }
        }
        self.settle(updates, |c| &c.sent);
    }

    /// Dropped from a full queue.
    pub fn dropped(self, updates: u64) {
        self.settle(updates, |c| &c.dropped);
    }

    /// Still queued when the stream ended.
    pub fn discarded(self, updates: u64) {
        self.settle(updates, |c| &c.discarded);
    }

    /// The transport failed with it.
    pub fn failed(self, updates: u64) {
        self.settle(updates, |c| &c.send_failures);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> RunWindow {
        RunWindow {
            start_ns: 1_000,
            end_ns: 2_000,
            slices: 10,
        }
    }

    #[test]
    fn slices_cover_the_window_half_open() {
        let w = window();
        assert_eq!(w.slice_of(999), None);
        assert_eq!(w.slice_of(1_000), Some(0));
        assert_eq!(w.slice_of(1_099), Some(0));
        assert_eq!(w.slice_of(1_100), Some(1));
        assert_eq!(w.slice_of(1_999), Some(9));
        assert_eq!(w.slice_of(2_000), None);
    }

    #[test]
    fn marks_settle_once_into_their_slice() {
        let ledger = Arc::new(RunLedger::new(window(), Bytes::new()));
        assert!(ledger.enter(10).is_none());
        assert_eq!(ledger.suppressed(), 1);
        let mark = ledger.enter(1_150).unwrap();
        assert_eq!(ledger.pending(), 1);
        mark.sent(5);
        assert_eq!(ledger.pending(), 0);
        assert_eq!(
            ledger.slice(1).sent,
            Tally {
                messages: 1,
                updates: 5
            }
        );
        ledger.enter(1_950).unwrap().dropped(5);
        assert_eq!(ledger.slice(9).dropped.messages, 1);
        ledger.skipped_at(2, 1_950);
        ledger.skipped_at(2, 5_000);
        assert_eq!(ledger.slice(9).skipped_ticks, 2);
    }

    #[test]
    fn a_slot_is_inactive_until_joined() {
        let slot = RunSlot::default();
        assert!(!slot.in_run() && slot.ledger().is_none());
        slot.join(Arc::new(
            RunLedger::new(window(), Bytes::new()).with_tag("t"),
        ));
        assert!(slot.in_run());
        assert_eq!(slot.ledger().unwrap().tag().map(|t| &**t), Some("t"));
        slot.leave();
        assert!(slot.ledger().is_none());
    }

    #[test]
    fn a_late_joiner_and_an_early_stop_are_silent_and_sends_carry_stall_and_latency() {
        let ledger = Arc::new(RunLedger::starting_at(window(), Bytes::new(), 1_500));
        assert!(ledger.enter(1_200).is_none(), "not joined yet");
        let mark = ledger.enter(1_550).unwrap();
        mark.offer(2);
        assert_eq!(ledger.slice(5).admitted.messages, 1);
        let stall = FlowStall {
            waits: 1,
            nanos: 40,
        };
        mark.sent_after(2, stall);
        let t = ledger.slice(5);
        assert_eq!((t.stall_waits, t.stall_ns), (1, 40));
        assert!(t.latency_sum_ns > 0 && t.latency_max_ns == t.latency_sum_ns);
        ledger.stop_at(1_700);
        assert!(ledger.enter(1_650).is_some());
        assert!(ledger.enter(1_700).is_none(), "stopped");
        assert_eq!(ledger.suppressed(), 2);
        let later = FlowStall {
            waits: 3,
            nanos: 100,
        };
        assert_eq!(
            later.since(stall),
            FlowStall {
                waits: 2,
                nanos: 60
            }
        );
    }

    #[test]
    fn latency_quantiles_fall_in_quarter_octave_buckets() {
        for ns in [
            0,
            1023,
            1024,
            1500,
            65_000,
            1_000_000,
            123_456_789,
            u64::MAX,
        ] {
            let b = latency_bucket(ns);
            assert!(
                ns <= latency_edge(b),
                "{ns} above the edge of its bucket {b}"
            );
            if b > 0 && b < LATENCY_BUCKETS - 1 {
                assert!(ns > latency_edge(b - 1), "{ns} in bucket {b}");
            }
        }
        let l = Latencies::new(2, 3);
        assert_eq!(l.quantile(0, 0.5), None);
        for ms in 1..=100u64 {
            l.record(4, ms * 1_000_000);
        }
        let p50 = l.quantile(1, 0.5).unwrap();
        let p99 = l.quantile(1, 0.99).unwrap();
        assert!((50_000_000..=60_000_000).contains(&p50), "{p50}");
        assert!((99_000_000..=120_000_000).contains(&p99), "{p99}");
        assert_eq!(l.quantile(0, 0.5), None, "slice 4 is in group 1");
        assert_eq!(l.quantile(2, 0.5), None, "no such group");
    }
}
