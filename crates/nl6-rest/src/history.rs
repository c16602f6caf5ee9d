//! The rate history: a ring buffer of one-second samples (the last 15 minutes) that a
//! sampler task fills from the fleet's status counters, served at `GET /api/v1/history`
//! and charted by the status page.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nl6_dialout::DialoutStatus;
use nl6_fleet::Fleet;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use utoipa::ToSchema;

/// Samples kept: 15 minutes at one per second.
pub const HISTORY_CAPACITY: usize = 900;

/// Time between two samples.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// Destinations (collector, flavor) with their own series in a sample; further ones are
/// summed into the totals only, so a sample stays small whatever the fleet configures.
pub const MAX_SAMPLE_DESTINATIONS: usize = 64;

/// The rates of one second, from the difference of two status snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Sample {
    /// When the sample was taken, Unix time in milliseconds.
    pub t: u64,
    /// Devices in the fleet.
    pub devices: u64,
    /// gNMI dial-in connections open.
    pub dialin_connections: u64,
    /// gNMI dial-in Subscribe RPCs open.
    pub dialin_subscriptions: u64,
    /// gNMI dial-in updates (leaves) sent per second.
    pub dialin_updates_per_sec: f64,
    /// gNMI dial-in updates (leaves) dropped per second.
    pub dialin_dropped_per_sec: f64,
    /// gNMI dial-out streams open.
    pub dialout_streams: u64,
    /// gNMI dial-out updates (leaves) sent per second.
    pub dialout_updates_per_sec: f64,
    /// gNMI dial-out updates (leaves) dropped per second.
    pub dialout_dropped_per_sec: f64,
    /// MDT dial-out sessions with a stream or socket open.
    pub mdt_streams: u64,
    /// MDT dial-out updates (rows' leaves) sent per second.
    pub mdt_updates_per_sec: f64,
    /// MDT dial-out updates dropped per second.
    pub mdt_dropped_per_sec: f64,
    /// Dial-out (gNMI and MDT) dials, handshakes and stream opens that failed, per second.
    pub open_failures_per_sec: f64,
    /// Per destination, in the order of the status documents (gNMI dial-out first, then
    /// MDT); at most [`MAX_SAMPLE_DESTINATIONS`].
    pub destinations: Vec<DestinationRate>,
}

/// The rates of one dial-out destination in a [`Sample`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DestinationRate {
    /// Collector `host:port`.
    #[schema(example = "127.0.0.1:6030")]
    pub collector: String,
    /// Wire flavor (`mdt-<protocol>-<encoding>` for MDT).
    #[schema(example = "gnmireverse")]
    pub flavor: String,
    /// Streams open.
    pub streams_active: u64,
    /// Updates (leaves) sent per second.
    pub updates_per_sec: f64,
    /// Updates (leaves) dropped per second.
    pub dropped_per_sec: f64,
    /// Failed opens per second.
    pub open_failures_per_sec: f64,
}

/// `GET /api/v1/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryDocument {
    /// Seconds between samples.
    pub interval_seconds: u64,
    /// Samples kept at most (the oldest goes first).
    pub capacity: usize,
    /// The samples after `since` (all kept when absent), oldest first.
    pub samples: Vec<Sample>,
}

/// The cumulative counters a sample is the difference of.
#[derive(Debug, Clone, Default)]
struct Totals {
    at: Option<Instant>,
    dialin_sent: u64,
    dialin_dropped: u64,
    rows: Vec<RowTotals>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RowTotals {
    collector: String,
    flavor: String,
    mdt: bool,
    streams_active: u64,
    sent: u64,
    dropped: u64,
    open_failures: u64,
}

#[derive(Default)]
struct Inner {
    samples: VecDeque<Sample>,
    previous: Totals,
}

/// The rate history: at most [`HISTORY_CAPACITY`] samples (bounded memory: each sample has
/// at most [`MAX_SAMPLE_DESTINATIONS`] destinations). Cheap to clone: clones share it.
#[derive(Clone, Default)]
pub struct History {
    inner: Arc<Mutex<Inner>>,
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("History")
            .field("samples", &self.inner.lock().samples.len())
            .finish()
    }
}

/// The sampler task of a [`History`]; stops when dropped.
#[derive(Debug)]
pub struct Sampler(JoinHandle<()>);

impl Drop for Sampler {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History::default()
    }

    /// Starts a task that records a sample of `fleet` every [`SAMPLE_INTERVAL`] until the
    /// returned [`Sampler`] is dropped. Must run inside a tokio runtime.
    pub fn spawn_sampler(&self, fleet: Arc<Fleet>) -> Sampler {
        let history = self.clone();
        Sampler(tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
            tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                history.record(&fleet);
            }
        }))
    }

    /// Reads `fleet`'s counters now and appends the rates since the previous call (the
    /// first call only sets the baseline and appends nothing).
    pub fn record(&self, fleet: &Fleet) {
        let now = Instant::now();
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let gnmi = fleet.gnmi_status();
        let rows = rows(&fleet.dialout_status(), false)
            .chain(rows(&fleet.mdt_status(), true))
            .collect();
        let totals = Totals {
            at: Some(now),
            dialin_sent: gnmi.updates_sent,
            dialin_dropped: gnmi.updates_dropped,
            rows,
        };
        let mut inner = self.inner.lock();
        let previous = std::mem::replace(&mut inner.previous, totals);
        let Some(before) = previous.at else {
            return;
        };
        let secs = now.duration_since(before).as_secs_f64();
        if secs <= 0.0 {
            return;
        }
        let current = &inner.previous;
        let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / secs;
        let mut sample = Sample {
            t,
            devices: fleet.len() as u64,
            dialin_connections: gnmi.connections_open,
            dialin_subscriptions: gnmi.active_subscriptions,
            dialin_updates_per_sec: rate(current.dialin_sent, previous.dialin_sent),
            dialin_dropped_per_sec: rate(current.dialin_dropped, previous.dialin_dropped),
            dialout_streams: 0,
            dialout_updates_per_sec: 0.0,
            dialout_dropped_per_sec: 0.0,
            mdt_streams: 0,
            mdt_updates_per_sec: 0.0,
            mdt_dropped_per_sec: 0.0,
            open_failures_per_sec: 0.0,
            destinations: Vec::new(),
        };
        for row in &current.rows {
            let old = previous.rows.iter().find(|p| {
                p.mdt == row.mdt && p.collector == row.collector && p.flavor == row.flavor
            });
            let (sent, dropped, failures) =
                old.map_or((0, 0, 0), |p| (p.sent, p.dropped, p.open_failures));
            let d = DestinationRate {
                collector: row.collector.clone(),
                flavor: row.flavor.clone(),
                streams_active: row.streams_active,
                updates_per_sec: rate(row.sent, sent),
                dropped_per_sec: rate(row.dropped, dropped),
                open_failures_per_sec: rate(row.open_failures, failures),
            };
            if row.mdt {
                sample.mdt_streams += d.streams_active;
                sample.mdt_updates_per_sec += d.updates_per_sec;
                sample.mdt_dropped_per_sec += d.dropped_per_sec;
            } else {
                sample.dialout_streams += d.streams_active;
                sample.dialout_updates_per_sec += d.updates_per_sec;
                sample.dialout_dropped_per_sec += d.dropped_per_sec;
            }
            sample.open_failures_per_sec += d.open_failures_per_sec;
            if sample.destinations.len() < MAX_SAMPLE_DESTINATIONS {
                sample.destinations.push(d);
            }
        }
        if inner.samples.len() == HISTORY_CAPACITY {
            inner.samples.pop_front();
        }
        inner.samples.push_back(sample);
    }

    /// The samples taken after `since` (Unix ms; all when `None`), oldest first.
    pub fn since(&self, since: Option<u64>) -> Vec<Sample> {
        let inner = self.inner.lock();
        let start = since.map_or(0, |s| inner.samples.partition_point(|x| x.t <= s));
        inner.samples.range(start..).cloned().collect()
    }

    /// Number of samples kept.
    pub fn len(&self) -> usize {
        self.inner.lock().samples.len()
    }

    /// Whether no sample is kept yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The document `GET /api/v1/history` serves.
    pub fn document(&self, since: Option<u64>) -> HistoryDocument {
        HistoryDocument {
            interval_seconds: SAMPLE_INTERVAL.as_secs(),
            capacity: HISTORY_CAPACITY,
            samples: self.since(since),
        }
    }
}

/// The cumulative counters of each row of a dial-out status document.
fn rows(status: &DialoutStatus, mdt: bool) -> impl Iterator<Item = RowTotals> + '_ {
    status.collectors.iter().map(move |c| RowTotals {
        collector: c.collector.clone(),
        flavor: c.flavor.clone(),
        mdt,
        streams_active: c.streams_active,
        sent: c.updates_sent,
        dropped: c.updates_dropped,
        open_failures: c.open_failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl6_fleet::FleetConfig;

    #[tokio::test]
    async fn the_ring_keeps_the_last_900_samples_in_order() {
        let fleet = Fleet::start(FleetConfig {
            dialin: None,
            ..FleetConfig::default()
        })
        .await
        .unwrap();
        let history = History::new();
        history.record(&fleet);
        assert!(history.is_empty(), "the first call is the baseline");
        for _ in 0..HISTORY_CAPACITY + 5 {
            // Distinct, growing timestamps without waiting.
            history.record(&fleet);
        }
        assert_eq!(history.len(), HISTORY_CAPACITY);
        let all = history.since(None);
        assert!(all.windows(2).all(|w| w[0].t <= w[1].t));
        let last = all[all.len() - 1].t;
        assert!(history.since(Some(last)).is_empty());
        let doc = history.document(Some(0));
        assert_eq!((doc.capacity, doc.interval_seconds), (900, 1));
        assert_eq!(doc.samples.len(), HISTORY_CAPACITY);
        assert_eq!(all[0].devices, 0);
        fleet.shutdown().await.unwrap();
    }
}
