//! Counters per device, aggregated per (collector, flavor), and the status document.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// One device's live counters (updated by its exporter task).
#[derive(Debug, Default)]
pub(crate) struct DeviceCounters {
    pub updates_sent: AtomicU64,
    pub updates_dropped: AtomicU64,
    pub reconnects: AtomicU64,
    pub send_failures: AtomicU64,
    pub streams_active: AtomicU64,
    pub open_failures: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

impl DeviceCounters {
    pub(crate) fn snapshot(&self) -> ExportCounters {
        ExportCounters {
            updates_sent: self.updates_sent.load(Relaxed),
            updates_dropped: self.updates_dropped.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            send_failures: self.send_failures.load(Relaxed),
            streams_active: self.streams_active.load(Relaxed),
            open_failures: self.open_failures.load(Relaxed),
        }
    }

    pub(crate) fn set_error(&self, error: String) {
        *self.last_error.lock() = Some(error);
    }
}

/// A copy of one device's (or an aggregate's) counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportCounters {
    /// Updates (leaves) in messages handed to the transport.
    pub updates_sent: u64,
    /// Updates (leaves) in messages dropped from a full send queue (drop-oldest).
    pub updates_dropped: u64,
    /// Streams opened after the first one.
    pub reconnects: u64,
    /// Sends that failed (each also ended its stream).
    pub send_failures: u64,
    /// Streams open right now.
    pub streams_active: u64,
    /// Connection or stream opens that failed.
    pub open_failures: u64,
}

impl ExportCounters {
    fn add(&mut self, o: &ExportCounters) {
        self.updates_sent += o.updates_sent;
        self.updates_dropped += o.updates_dropped;
        self.reconnects += o.reconnects;
        self.send_failures += o.send_failures;
        self.streams_active += o.streams_active;
        self.open_failures += o.open_failures;
    }
}

type GroupKey = (String, String);

#[derive(Default)]
struct Group {
    live: HashMap<u64, Arc<DeviceCounters>>,
    /// Totals of removed devices (`streams_active` stays 0).
    folded: ExportCounters,
}

/// The dial-out statistics a fleet holds: live devices per (collector, flavor) plus the
/// folded totals of removed ones, so totals never go backwards.
#[derive(Default)]
pub struct DialoutStats {
    groups: Mutex<BTreeMap<GroupKey, Group>>,
    next_id: AtomicU64,
    exporters: AtomicUsize,
}

impl std::fmt::Debug for DialoutStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialoutStats")
            .field("status", &self.status())
            .finish()
    }
}

/// Keeps one device in its group; dropping it folds the device's counters exactly once.
pub(crate) struct Registration {
    stats: Arc<DialoutStats>,
    key: GroupKey,
    id: u64,
    counters: Arc<DeviceCounters>,
}

impl Registration {
    pub(crate) fn counters(&self) -> &Arc<DeviceCounters> {
        &self.counters
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut groups = self.stats.groups.lock();
        if let Some(group) = groups.get_mut(&self.key)
            && group.live.remove(&self.id).is_some()
        {
            let mut last = self.counters.snapshot();
            last.streams_active = 0;
            group.folded.add(&last);
        }
    }
}

impl DialoutStats {
    /// Empty statistics.
    pub fn new() -> Arc<DialoutStats> {
        Arc::new(DialoutStats::default())
    }

    pub(crate) fn register(self: &Arc<Self>, collector: &str, flavor: &str) -> Registration {
        let id = self.next_id.fetch_add(1, Relaxed);
        let key = (collector.to_string(), flavor.to_string());
        let counters = Arc::new(DeviceCounters::default());
        self.groups
            .lock()
            .entry(key.clone())
            .or_default()
            .live
            .insert(id, counters.clone());
        Registration {
            stats: self.clone(),
            key,
            id,
            counters,
        }
    }

    pub(crate) fn exporter_started(&self) {
        self.exporters.fetch_add(1, Relaxed);
    }

    pub(crate) fn exporter_stopped(&self) {
        self.exporters.fetch_sub(1, Relaxed);
    }

    /// Totals of one (collector, flavor): live devices plus removed ones.
    pub fn totals(&self, collector: &str, flavor: &str) -> Option<ExportCounters> {
        let groups = self.groups.lock();
        let group = groups.get(&(collector.to_string(), flavor.to_string()))?;
        Some(group_totals(group))
    }

    /// The status document (`GET /api/v1/gnmi/dialout/status`).
    pub fn status(&self) -> DialoutStatus {
        let groups = self.groups.lock();
        let mut devices_exporting = 0;
        let collectors = groups
            .iter()
            .map(|((collector, flavor), group)| {
                let t = group_totals(group);
                devices_exporting += group.live.len() as u64;
                CollectorStatus {
                    collector: collector.clone(),
                    flavor: flavor.clone(),
                    devices: group.live.len() as u64,
                    streams_active: t.streams_active,
                    updates_sent: t.updates_sent,
                    updates_dropped: t.updates_dropped,
                    reconnects: t.reconnects,
                    send_failures: t.send_failures,
                }
            })
            .collect();
        DialoutStatus {
            subsystem_active: self.exporters.load(Relaxed) > 0,
            collectors,
            devices_exporting,
        }
    }
}

fn group_totals(group: &Group) -> ExportCounters {
    let mut t = group.folded;
    for counters in group.live.values() {
        t.add(&counters.snapshot());
    }
    t
}

/// `GET /api/v1/gnmi/dialout/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DialoutStatus {
    /// Whether a dial-out exporter is running.
    pub subsystem_active: bool,
    /// One entry per (collector, flavor) ever used, sorted.
    pub collectors: Vec<CollectorStatus>,
    /// Devices with a dial-out exporter attached.
    pub devices_exporting: u64,
}

/// The counters of one (collector, flavor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectorStatus {
    /// Collector `host:port` as configured.
    pub collector: String,
    /// Wire flavor.
    pub flavor: String,
    /// Devices exporting to it now.
    pub devices: u64,
    /// Streams open now.
    pub streams_active: u64,
    /// Updates (leaves) sent, including by removed devices.
    pub updates_sent: u64,
    /// Updates (leaves) dropped by full send queues.
    pub updates_dropped: u64,
    /// Streams re-established after a device's first one.
    pub reconnects: u64,
    /// Failed sends.
    pub send_failures: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_STATUS: &str = r#"{"subsystem_active":true,"collectors":[{"collector":"10.0.0.5:6030","flavor":"gnmireverse","devices":100,"streams_active":100,"updates_sent":1234567,"updates_dropped":0,"reconnects":2,"send_failures":0}],"devices_exporting":100}"#;

    #[test]
    fn status_json_matches_the_seed_document() {
        let stats = DialoutStats::new();
        stats.exporter_started();
        let regs: Vec<_> = (0..100)
            .map(|_| stats.register("10.0.0.5:6030", "gnmireverse"))
            .collect();
        for (i, r) in regs.iter().enumerate() {
            r.counters().streams_active.store(1, Relaxed);
            let sent = if i == 0 { 1234567 - 99 } else { 1 };
            r.counters().updates_sent.store(sent, Relaxed);
        }
        regs[3].counters().reconnects.store(2, Relaxed);
        let json = serde_json::to_string(&stats.status()).unwrap();
        assert_eq!(json, SEED_STATUS);
        let back: DialoutStatus = serde_json::from_str(SEED_STATUS).unwrap();
        assert_eq!(back, stats.status());
    }

    #[test]
    fn removal_folds_once_and_totals_never_go_back() {
        let stats = DialoutStats::new();
        let a = stats.register("c:1", "gnmireverse");
        let b = stats.register("c:1", "gnmireverse");
        a.counters().updates_sent.store(10, Relaxed);
        a.counters().streams_active.store(1, Relaxed);
        b.counters().updates_sent.store(5, Relaxed);
        b.counters().updates_dropped.store(2, Relaxed);
        let before = stats.totals("c:1", "gnmireverse").unwrap();
        assert_eq!((before.updates_sent, before.streams_active), (15, 1));
        drop(a);
        let after = stats.totals("c:1", "gnmireverse").unwrap();
        assert_eq!((after.updates_sent, after.streams_active), (15, 0));
        drop(b);
        let status = stats.status();
        assert!(!status.subsystem_active);
        assert_eq!(status.devices_exporting, 0);
        let c = &status.collectors[0];
        assert_eq!((c.devices, c.updates_sent, c.updates_dropped), (0, 15, 2));
    }
}
