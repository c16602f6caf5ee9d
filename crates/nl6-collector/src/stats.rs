//! Counters shared by all Publish streams, and their snapshots.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::Mutex;

/// Values below this many microseconds get one bucket each.
const LINEAR: u64 = 16;
/// Sub-buckets per power of two above [`LINEAR`] (about 6 % resolution).
const SUB_BITS: u32 = 4;
/// Highest power of two tracked (2^40 µs ≈ 12.7 days); larger values are clamped.
const MAX_EXP: u32 = 40;
const BUCKETS: usize = LINEAR as usize + ((MAX_EXP - SUB_BITS + 1) << SUB_BITS) as usize;

/// A point-in-time copy of the collector's counters (all totals since start).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectorStats {
    /// Publish / PublishGet streams open right now.
    pub streams_active: u64,
    /// Publish / PublishGet streams opened since start.
    pub streams_total: u64,
    /// Notifications received (each `SubscribeResponse.update`, each `GetResponse.notification`).
    pub notifications: u64,
    /// Leaves received: `Update`s across all notifications.
    pub leaves: u64,
    /// Deleted paths received across all notifications.
    pub deletes: u64,
    /// `sync_response` messages received.
    pub sync_responses: u64,
    /// Messages with neither a notification nor a sync response (empty or a deprecated error).
    pub malformed: u64,
    /// TLS handshakes that failed or timed out (e.g. a client without the required certificate).
    pub handshake_failures: u64,
    /// Distinct non-empty `Notification.prefix.target` values seen.
    pub distinct_targets: usize,
    /// Distinct peer IP addresses that opened a stream.
    pub distinct_peers: usize,
    /// Receive-time minus notification timestamp, for notifications with a timestamp.
    pub latency: Latency,
}

/// A histogram of end-to-end latencies (cumulative counts per bucket).
///
/// Subtract an earlier snapshot with [`Latency::since`] to get the
/// distribution of one interval.
#[derive(Clone, PartialEq)]
pub struct Latency {
    buckets: Vec<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            buckets: vec![0; BUCKETS],
        }
    }
}

impl std::fmt::Debug for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latency")
            .field("count", &self.count())
            .field("p50", &self.percentile(0.5))
            .field("p99", &self.percentile(0.99))
            .finish()
    }
}

impl Latency {
    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The samples recorded after `earlier` (a previous snapshot of the same collector).
    pub fn since(&self, earlier: &Latency) -> Latency {
        let buckets = self
            .buckets
            .iter()
            .zip(earlier.buckets.iter().chain(std::iter::repeat(&0)))
            .map(|(now, before)| now.saturating_sub(*before))
            .collect();
        Latency { buckets }
    }

    /// The `q`-quantile (0.0..=1.0), `None` without samples. Resolution is about 6 %.
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(Duration::from_micros(bucket_mid(index)));
            }
        }
        Some(Duration::from_micros(bucket_mid(BUCKETS - 1)))
    }
}

fn bucket_of(micros: u64) -> usize {
    if micros < LINEAR {
        return micros as usize;
    }
    let exp = (63 - micros.leading_zeros()).min(MAX_EXP);
    if exp == MAX_EXP && micros >> MAX_EXP > 1 {
        return BUCKETS - 1;
    }
    let shift = exp - SUB_BITS;
    let sub = (micros >> shift) & ((1 << SUB_BITS) - 1);
    LINEAR as usize + (((exp - SUB_BITS) as usize) << SUB_BITS) + sub as usize
}

fn bucket_mid(index: usize) -> u64 {
    if index < LINEAR as usize {
        return index as u64;
    }
    let rel = index - LINEAR as usize;
    let shift = (rel >> SUB_BITS) as u32;
    let sub = (rel & ((1 << SUB_BITS) - 1)) as u64;
    let low = (LINEAR + sub) << shift;
    low + ((1u64 << shift) >> 1)
}

/// The live counters; one instance per collector, shared by all streams.
pub(crate) struct Counters {
    pub(crate) streams_active: AtomicU64,
    pub(crate) streams_total: AtomicU64,
    pub(crate) notifications: AtomicU64,
    pub(crate) leaves: AtomicU64,
    pub(crate) deletes: AtomicU64,
    pub(crate) sync_responses: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) handshake_failures: AtomicU64,
    latency: Box<[AtomicU64]>,
    targets: Mutex<HashSet<String>>,
    peers: Mutex<HashSet<IpAddr>>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            streams_active: AtomicU64::new(0),
            streams_total: AtomicU64::new(0),
            notifications: AtomicU64::new(0),
            leaves: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
            sync_responses: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            handshake_failures: AtomicU64::new(0),
            latency: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            targets: Mutex::new(HashSet::new()),
            peers: Mutex::new(HashSet::new()),
        }
    }
}

impl Counters {
    /// Records one latency sample.
    pub(crate) fn record_latency(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency[bucket_of(micros)].fetch_add(1, Relaxed);
    }

    /// Remembers a target; callers dedupe per stream so this is rarely called.
    pub(crate) fn add_target(&self, target: &str) {
        let mut targets = self.targets.lock();
        if !targets.contains(target) {
            targets.insert(target.to_string());
        }
    }

    /// Remembers the IP of a peer that opened a stream.
    pub(crate) fn add_peer(&self, peer: IpAddr) {
        self.peers.lock().insert(peer);
    }

    /// Copies the distinct targets.
    pub(crate) fn targets(&self) -> Vec<String> {
        let mut out: Vec<String> = self.targets.lock().iter().cloned().collect();
        out.sort_unstable();
        out
    }

    /// Copies the distinct peer IPs.
    pub(crate) fn peers(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = self.peers.lock().iter().copied().collect();
        out.sort_unstable();
        out
    }

    /// A consistent-enough copy of every counter.
    pub(crate) fn snapshot(&self) -> CollectorStats {
        CollectorStats {
            streams_active: self.streams_active.load(Relaxed),
            streams_total: self.streams_total.load(Relaxed),
            notifications: self.notifications.load(Relaxed),
            leaves: self.leaves.load(Relaxed),
            deletes: self.deletes.load(Relaxed),
            sync_responses: self.sync_responses.load(Relaxed),
            malformed: self.malformed.load(Relaxed),
            handshake_failures: self.handshake_failures.load(Relaxed),
            distinct_targets: self.targets.lock().len(),
            distinct_peers: self.peers.lock().len(),
            latency: Latency {
                buckets: self.latency.iter().map(|b| b.load(Relaxed)).collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_cover_the_range() {
        let mut last = 0;
        for v in (0..100_000u64).chain([1 << 39, (1 << 41) - 1, 1 << 41, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b >= last, "bucket of {v} went backwards");
            assert!(b < BUCKETS);
            last = b;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn bucket_midpoints_are_within_resolution() {
        for v in [1u64, 15, 16, 17, 100, 999, 12_345, 1_000_000, 987_654_321] {
            let mid = bucket_mid(bucket_of(v)) as f64;
            let err = (mid - v as f64).abs() / v as f64;
            assert!(err <= 0.07, "{v} -> {mid}");
        }
    }

    #[test]
    fn percentiles_of_an_interval() {
        let counters = Counters::default();
        let before = counters.snapshot().latency;
        assert_eq!(before.percentile(0.5), None);
        for ms in 1..=100u64 {
            counters.record_latency(Duration::from_millis(ms));
        }
        let interval = counters.snapshot().latency.since(&before);
        assert_eq!(interval.count(), 100);
        let p50 = interval.percentile(0.5).unwrap().as_secs_f64() * 1e3;
        let p99 = interval.percentile(0.99).unwrap().as_secs_f64() * 1e3;
        assert!((47.0..=53.0).contains(&p50), "p50 {p50}");
        assert!((93.0..=105.0).contains(&p99), "p99 {p99}");
    }
}
