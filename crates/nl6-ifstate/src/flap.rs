//! The fleet-wide link-flap scheduler: one tokio task, one timer heap, one token bucket.
//!
//! Flaps of one interface are a Poisson process with the scenario's mean interval. The
//! superposition over a device's N interfaces is a Poisson process with N times the rate whose
//! arrivals pick an interface uniformly, so the heap holds one arrival entry per device (plus
//! one entry per interface currently down in a flap), not one timer per interface.
//!
//! A flap picks an interface whose link is UP, sets it DOWN, and sets it UP again after a
//! uniform down time from the scenario's range. It takes two tokens up front (for its DOWN and
//! its UP); when the bucket is short the flap is skipped and counted, and the device's next
//! arrival is drawn afresh (by memorylessness, the same as rescheduling it). Last-change times
//! are Unix ns taken at spawn plus elapsed `tokio::time`, so paused-time tests are exact.

use crate::device::DeviceModel;
use crate::spec::FlapScenario;
use crate::status::LinkStatus;
use crate::traffic::mix;
use crate::unix_now_ns;
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

enum Command {
    Register(Weak<DeviceModel>, FlapScenario),
    Shutdown,
}

#[derive(Debug, Default)]
struct Stats {
    fired: AtomicU64,
    skipped: AtomicU64,
    devices: AtomicU64,
}

/// Handle to the shared flap scheduler task; cheap to clone.
///
/// The task runs until [`FlapScheduler::shutdown`] is called, or until every handle is
/// dropped and no registered device is alive any more.
#[derive(Debug, Clone)]
pub struct FlapScheduler {
    tx: mpsc::UnboundedSender<Command>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Register(..) => "Register",
            Command::Shutdown => "Shutdown",
        })
    }
}

impl FlapScheduler {
    /// Spawns the scheduler task; `max_events_per_sec` caps link events fleet-wide (0 = no cap).
    ///
    /// Must be called within a tokio runtime (it uses `tokio::spawn`; panics otherwise).
    pub fn spawn(max_events_per_sec: u32) -> FlapScheduler {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let task = Task {
            heap: BinaryHeap::new(),
            seq: 0,
            bucket: TokenBucket::new(max_events_per_sec, Instant::now()),
            stats: stats.clone(),
            clock: Clock::new(),
        };
        tokio::spawn(task.run(rx));
        FlapScheduler { tx, stats }
    }

    /// Starts flapping `device`'s interfaces per `scenario` (Clean: nothing). Only a `Weak` is
    /// kept; a dropped device is forgotten. Registering a device twice doubles its flap rate.
    pub fn register(&self, device: &Arc<DeviceModel>, scenario: FlapScenario) {
        if scenario.mean_interval().is_some() {
            // A send error means the task stopped (shutdown); then there is nothing to do.
            let _ = self
                .tx
                .send(Command::Register(Arc::downgrade(device), scenario));
        }
    }

    /// Link transitions performed (each flap is two: DOWN, then UP).
    pub fn events_fired(&self) -> u64 {
        self.stats.fired.load(Ordering::Relaxed)
    }

    /// Flaps skipped because the token bucket was empty (they are rescheduled).
    pub fn flaps_skipped(&self) -> u64 {
        self.stats.skipped.load(Ordering::Relaxed)
    }

    /// Devices currently flapping (registered, alive, not Clean).
    pub fn devices(&self) -> u64 {
        self.stats.devices.load(Ordering::Relaxed)
    }

    /// Stops the task; links that are down in a flap are brought back UP first.
    pub fn shutdown(&self) {
        let _ = self.tx.send(Command::Shutdown);
    }

    /// True once the task has stopped.
    pub fn is_stopped(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Maps tokio time (pausable in tests) onto Unix ns.
struct Clock {
    unix0: u64,
    inst0: Instant,
}

impl Clock {
    fn new() -> Self {
        Self {
            unix0: unix_now_ns(),
            inst0: Instant::now(),
        }
    }

    fn unix_ns(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.inst0).as_nanos();
        self.unix0.saturating_add(d.min(u64::MAX as u128) as u64)
    }
}

/// Fleet-wide rate limit. A flap takes two tokens up front (its DOWN and its later UP), so
/// events fired over any span `d` never exceed `capacity + rate·d`.
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: u32, now: Instant) -> Self {
        let capacity = f64::from(rate.max(2));
        Self {
            rate: f64::from(rate),
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    fn try_take(&mut self, n: f64, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

enum Kind {
    /// Next flap arrival of a device; carries the device's random stream.
    Arrival { scenario: FlapScenario, rng: u64 },
    /// End of a flap: bring `idx` back UP.
    Restore { idx: usize },
}

struct Entry {
    at: Instant,
    seq: u64,
    device: Weak<DeviceModel>,
    kind: Kind,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed: the earliest entry is the heap's maximum.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

fn next_rng(rng: &mut u64) -> u64 {
    *rng = rng.wrapping_add(GOLDEN);
    mix(*rng)
}

fn unit(w: u64) -> f64 {
    (w >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

struct Task {
    heap: BinaryHeap<Entry>,
    seq: u64,
    bucket: TokenBucket,
    stats: Arc<Stats>,
    clock: Clock,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let far = || Instant::now() + Duration::from_secs(86_400 * 365);
        let sleep = tokio::time::sleep_until(far());
        tokio::pin!(sleep);
        let mut open = true;
        loop {
            let deadline = self.heap.peek().map(|e| e.at);
            if !open && deadline.is_none() {
                return;
            }
            if let Some(at) = deadline
                && sleep.deadline() != at
            {
                sleep.as_mut().reset(at);
            }
            tokio::select! {
                biased;
                cmd = rx.recv(), if open => match cmd {
                    Some(Command::Register(dev, scenario)) => self.add(dev, scenario, Instant::now()),
                    Some(Command::Shutdown) => return self.restore_all(),
                    None => open = false,
                },
                _ = &mut sleep, if deadline.is_some() => self.run_due(Instant::now()),
            }
        }
    }

    fn push(&mut self, at: Instant, device: Weak<DeviceModel>, kind: Kind) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            device,
            kind,
        });
    }

    fn add(&mut self, device: Weak<DeviceModel>, scenario: FlapScenario, now: Instant) {
        let Some(dev) = device.upgrade() else { return };
        let mut rng = mix(dev.spec().seed ^ mix(self.seq.wrapping_add(0x0f1a_9000)));
        let at = now + Self::interarrival(&dev, scenario, &mut rng);
        self.push(at, device, Kind::Arrival { scenario, rng });
        self.stats.devices.fetch_add(1, Ordering::Relaxed);
    }

    /// Exponential inter-arrival of the device-wide process (rate N / mean).
    fn interarrival(dev: &DeviceModel, scenario: FlapScenario, rng: &mut u64) -> Duration {
        let mean = scenario
            .mean_interval()
            .unwrap_or(Duration::MAX)
            .as_secs_f64();
        let per_device = mean / dev.interface_count().max(1) as f64;
        let u = unit(next_rng(rng));
        Duration::from_secs_f64((-(1.0 - u).ln() * per_device).min(1e9))
    }

    fn run_due(&mut self, now: Instant) {
        while self.heap.peek().is_some_and(|e| e.at <= now) {
            let Some(entry) = self.heap.pop() else { break };
            let Some(dev) = entry.device.upgrade() else {
                // Dropped device: forget it.
                if matches!(entry.kind, Kind::Arrival { .. }) {
                    self.stats.devices.fetch_sub(1, Ordering::Relaxed);
                }
                continue;
            };
            let now_ns = self.clock.unix_ns(entry.at);
            match entry.kind {
                Kind::Restore { idx } => self.restore(&dev, idx, now_ns),
                Kind::Arrival { scenario, mut rng } => {
                    let n = dev.interface_count();
                    let idx = ((next_rng(&mut rng) as u128 * n as u128) >> 64) as usize;
                    let (lo, hi) = scenario.down_range();
                    let down = lo + (hi - lo).mul_f64(unit(next_rng(&mut rng)));
                    if dev.state(idx).link == LinkStatus::Up {
                        if self.bucket.try_take(2.0, entry.at) {
                            dev.set_link(idx, LinkStatus::Down, now_ns);
                            self.stats.fired.fetch_add(1, Ordering::Relaxed);
                            self.push(entry.at + down, entry.device.clone(), Kind::Restore { idx });
                        } else {
                            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    let at = entry.at + Self::interarrival(&dev, scenario, &mut rng);
                    self.push(at, entry.device, Kind::Arrival { scenario, rng });
                }
            }
        }
    }

    fn restore(&self, dev: &DeviceModel, idx: usize, now_ns: u64) {
        if dev.state(idx).link == LinkStatus::Down {
            dev.set_link(idx, LinkStatus::Up, now_ns);
            self.stats.fired.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn restore_all(mut self) {
        self.stats.devices.store(0, Ordering::Relaxed);
        let now_ns = self.clock.unix_ns(Instant::now());
        for entry in std::mem::take(&mut self.heap) {
            if let (Kind::Restore { idx }, Some(dev)) = (&entry.kind, entry.device.upgrade()) {
                self.restore(&dev, *idx, now_ns);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::DeviceSpec;
    use crate::status::OperStatus;

    fn fleet(n: u64) -> Vec<Arc<DeviceModel>> {
        (0..n)
            .map(|seed| {
                Arc::new(
                    DeviceModel::new(&DeviceSpec {
                        seed,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            })
            .collect()
    }

    /// Advances paused time in 1 s steps until `cond` holds or `limit` passes.
    async fn advance_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if cond() {
                return true;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        cond()
    }

    #[tokio::test(start_paused = true)]
    async fn aggressive_flaps_down_then_up_within_the_down_range() {
        let devs = fleet(3);
        let sched = FlapScheduler::spawn(0);
        let mut listeners: Vec<_> = devs
            .iter()
            .map(|d| d.subscribe_with_depth(10_000))
            .collect();
        for d in &devs {
            sched.register(d, FlapScenario::Aggressive);
        }
        tokio::time::sleep(Duration::from_secs(600)).await;
        // 3 devices × 10 interfaces × 10 expected flaps × 2 transitions ≈ 600.
        let fired = sched.events_fired();
        eprintln!("aggressive, 3 devices, 600 s: {fired} events");
        assert!((300..=900).contains(&fired), "fired {fired}");
        assert_eq!(sched.devices(), 3);
        let mut events = 0;
        for l in &mut listeners {
            let mut down_at = [None; 10];
            while let Some(ev) = l.try_recv() {
                events += 1;
                let i = ev.ifindex as usize - 1;
                match ev.after.oper() {
                    OperStatus::Down => down_at[i] = Some(ev.after.last_change_ns),
                    OperStatus::Up => {
                        let d =
                            ev.after.last_change_ns - down_at[i].take().expect("UP follows DOWN");
                        assert!(
                            (1_000_000_000..=5_000_000_000).contains(&d),
                            "down for {d} ns"
                        );
                    }
                    other => panic!("unexpected oper {other:?}"),
                }
            }
        }
        assert_eq!(events, fired);
        // Shutdown brings every link back up and stops the task.
        sched.shutdown();
        assert!(advance_until(Duration::from_secs(60), || sched.is_stopped()).await);
        for d in &devs {
            assert!((0..10).all(|i| d.state(i).oper() == OperStatus::Up));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn token_bucket_caps_fleet_wide_events() {
        let devs = fleet(30);
        let sched = FlapScheduler::spawn(5);
        for d in &devs {
            sched.register(d, FlapScenario::Aggressive);
        }
        // Uncapped this would be 30 × 10 / 60 s × 2 = 10 events/s.
        let secs = 200;
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let fired = sched.events_fired();
        eprintln!(
            "capped at 5/s, 200 s: {fired} events, {} flaps skipped",
            sched.flaps_skipped()
        );
        assert!(fired <= 5 + 5 * secs, "fired {fired} over the cap");
        assert!(fired >= 5 * secs * 7 / 10, "fired only {fired}");
        assert!(sched.flaps_skipped() > 0);
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_devices_are_forgotten_and_clean_is_ignored() {
        let mut devs = fleet(4);
        let sched = FlapScheduler::spawn(0);
        sched.register(&devs[0], FlapScenario::Clean);
        for d in &devs[1..] {
            sched.register(d, FlapScenario::Aggressive);
        }
        assert!(advance_until(Duration::from_secs(10), || sched.devices() == 3).await);
        devs.truncate(2);
        assert!(advance_until(Duration::from_secs(600), || sched.devices() == 1).await);
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(devs[0].event_counters().emitted(), 0);
        assert!(devs[1].event_counters().emitted() > 0);
        // After shutdown the task is gone and registering is a harmless no-op.
        let other = sched.clone();
        other.shutdown();
        assert!(advance_until(Duration::from_secs(10), || sched.is_stopped()).await);
        sched.register(&devs[1], FlapScenario::Rare);
    }

    #[test]
    fn bucket_refills_at_rate_up_to_capacity() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(4, t0);
        assert!(b.try_take(2.0, t0) && b.try_take(2.0, t0));
        assert!(!b.try_take(2.0, t0));
        assert!(b.try_take(2.0, t0 + Duration::from_millis(500)));
        assert!(!b.try_take(2.0, t0 + Duration::from_millis(500)));
        assert!(
            b.try_take(2.0, t0 + Duration::from_secs(100))
                && b.try_take(2.0, t0 + Duration::from_secs(100))
        );
        assert!(!b.try_take(2.0, t0 + Duration::from_secs(100)));
        let mut unlimited = TokenBucket::new(0, t0);
        assert!((0..1000).all(|_| unlimited.try_take(2.0, t0)));
    }
}
