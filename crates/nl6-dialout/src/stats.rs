//! Counters per device, aggregated per (collector, flavor), the status document, and the
//! aggregated failure log.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Why a stream ended without us closing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectCause {
    /// The collector sent an HTTP/2 GOAWAY (e.g. `too_many_pings`, or a graceful restart).
    GoAway,
    /// The stream or the TCP connection was reset.
    Reset,
    /// The collector ended the call or closed the connection without an error.
    Eof,
    /// Anything else: an error status, a failed send, a keepalive timeout.
    Error,
}

impl DisconnectCause {
    /// The label used in the status document and in `/metrics` (`goaway`, `reset`,
    /// `eof`, `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectCause::GoAway => "goaway",
            DisconnectCause::Reset => "reset",
            DisconnectCause::Eof => "eof",
            DisconnectCause::Error => "error",
        }
    }
}

/// The last failure of a device or a (collector, flavor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorRecord {
    pub text: String,
    pub at: SystemTime,
}

/// State of a (collector, flavor) shared by its devices: what the failure log and the
/// status need without visiting every device.
#[derive(Debug, Default)]
pub(crate) struct GroupShared {
    /// Devices with a stream open now.
    connected: AtomicU64,
    /// Failed opens plus disconnects, ever (the failure log compares it between ticks).
    failures: AtomicU64,
    /// `too_many_pings` GOAWAYs, ever.
    too_many_pings: AtomicU64,
    /// The keepalive interval the latest `too_many_pings` moved a device to.
    keepalive_after_goaway_ms: AtomicU64,
    errors: Mutex<GroupErrors>,
}

#[derive(Debug, Default)]
struct GroupErrors {
    last: Option<ErrorRecord>,
    /// The first error since the failure log's last line.
    first_since_line: Option<String>,
}

impl GroupShared {
    fn record_failure(&self, text: &str, at: SystemTime) {
        self.failures.fetch_add(1, Relaxed);
        let mut errors = self.errors.lock();
        if errors.first_since_line.is_none() {
            errors.first_since_line = Some(text.to_string());
        }
        errors.last = Some(ErrorRecord {
            text: text.to_string(),
            at,
        });
    }
}

/// One device's live counters (updated by its exporter task).
#[derive(Debug, Default)]
pub(crate) struct DeviceCounters {
    pub updates_produced: AtomicU64,
    pub updates_sent: AtomicU64,
    pub updates_dropped: AtomicU64,
    pub updates_discarded: AtomicU64,
    pub samples_skipped: AtomicU64,
    pub reconnects: AtomicU64,
    pub send_failures: AtomicU64,
    pub streams_active: AtomicU64,
    pub open_failures: AtomicU64,
    pub disconnects: [AtomicU64; 4],
    pub too_many_pings: AtomicU64,
    pub responses_received: AtomicU64,
    /// Sends that waited for an HTTP/2 flow-control window, and how long (ns) in all.
    pub flow_stall_waits: AtomicU64,
    pub flow_stall_ns: AtomicU64,
    /// The keepalive ping interval in use, in ms (0 = no pings).
    pub keepalive_ms: AtomicU64,
    pub last_error: Mutex<Option<ErrorRecord>>,
    /// The device's first collector: counted in `devices_exporting` (a device of a
    /// destination group has one registration per collector).
    primary: bool,
    group: Arc<GroupShared>,
}

impl DeviceCounters {
    pub(crate) fn snapshot(&self) -> ExportCounters {
        let d = |c: DisconnectCause| self.disconnects[c as usize].load(Relaxed);
        ExportCounters {
            updates_produced: self.updates_produced.load(Relaxed),
            updates_sent: self.updates_sent.load(Relaxed),
            updates_dropped: self.updates_dropped.load(Relaxed),
            updates_discarded: self.updates_discarded.load(Relaxed),
            samples_skipped: self.samples_skipped.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            send_failures: self.send_failures.load(Relaxed),
            streams_active: self.streams_active.load(Relaxed),
            open_failures: self.open_failures.load(Relaxed),
            disconnects: Disconnects {
                goaway: d(DisconnectCause::GoAway),
                reset: d(DisconnectCause::Reset),
                eof: d(DisconnectCause::Eof),
                error: d(DisconnectCause::Error),
            },
            too_many_pings: self.too_many_pings.load(Relaxed),
            responses_received: self.responses_received.load(Relaxed),
            flow_stall_waits: self.flow_stall_waits.load(Relaxed),
            flow_stall_ns: self.flow_stall_ns.load(Relaxed),
        }
    }

    fn set_error(&self, text: String) {
        let at = SystemTime::now();
        self.group.record_failure(&text, at);
        *self.last_error.lock() = Some(ErrorRecord { text, at });
    }

    /// A connection or stream open failed.
    pub(crate) fn open_failed(&self, error: String) {
        self.open_failures.fetch_add(1, Relaxed);
        self.set_error(error);
    }

    /// A stream ended without us closing it.
    pub(crate) fn disconnected(&self, cause: DisconnectCause, error: String) {
        self.disconnects[cause as usize].fetch_add(1, Relaxed);
        self.set_error(error);
    }

    /// The collector answered keepalive pings with `too_many_pings`; pings now go out
    /// every `now_every`.
    pub(crate) fn too_many_pings(&self, now_every: Duration) {
        let ms = u64::try_from(now_every.as_millis()).unwrap_or(u64::MAX);
        self.too_many_pings.fetch_add(1, Relaxed);
        self.keepalive_ms.store(ms, Relaxed);
        self.group.too_many_pings.fetch_add(1, Relaxed);
        self.group.keepalive_after_goaway_ms.store(ms, Relaxed);
    }

    /// A stream opened.
    pub(crate) fn stream_up(&self) {
        self.streams_active.store(1, Relaxed);
        self.group.connected.fetch_add(1, Relaxed);
    }

    /// The open stream ended.
    pub(crate) fn stream_down(&self) {
        self.streams_active.store(0, Relaxed);
        self.group.connected.fetch_sub(1, Relaxed);
    }

    /// The stream carries messages again: the device's error is history.
    pub(crate) fn healthy(&self) {
        let mut last = self.last_error.lock();
        if last.is_some() {
            *last = None;
        }
    }
}

/// Disconnects by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Disconnects {
    /// The collector sent GOAWAY.
    pub goaway: u64,
    /// The stream or connection was reset.
    pub reset: u64,
    /// The collector ended the stream or connection without an error.
    pub eof: u64,
    /// Error statuses, failed sends, keepalive timeouts.
    pub error: u64,
}

impl Disconnects {
    fn add(&mut self, o: &Disconnects) {
        self.goaway += o.goaway;
        self.reset += o.reset;
        self.eof += o.eof;
        self.error += o.error;
    }

    /// All disconnects.
    pub fn total(&self) -> u64 {
        self.goaway + self.reset + self.eof + self.error
    }
}

/// A copy of one device's (or an aggregate's) counters.
///
/// The ledger: every update the device produced was sent, dropped or discarded, so once
/// a device has stopped `updates_produced == updates_sent + updates_dropped +
/// updates_discarded` holds exactly (while it runs, the difference is what waits in its
/// queue).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportCounters {
    /// Updates (leaves) in messages produced while a stream was up.
    pub updates_produced: u64,
    /// Updates (leaves) in messages handed to the transport.
    pub updates_sent: u64,
    /// Updates (leaves) in messages dropped from a full send queue (drop-oldest).
    pub updates_dropped: u64,
    /// Updates (leaves) in messages lost because their stream broke or was closed before
    /// they were sent (the one being sent and those still queued).
    pub updates_discarded: u64,
    /// SAMPLE ticks that produced nothing because no stream was up (or the device fell
    /// more than a whole interval behind).
    pub samples_skipped: u64,
    /// Streams opened after the first one.
    pub reconnects: u64,
    /// Sends that failed (each also ended its stream).
    pub send_failures: u64,
    /// Streams open right now.
    pub streams_active: u64,
    /// Dials, TLS handshakes or stream opens that failed.
    pub open_failures: u64,
    /// Streams that ended without us closing them, by cause.
    pub disconnects: Disconnects,
    /// GOAWAY `too_many_pings` answers to keepalive pings.
    pub too_many_pings: u64,
    /// Messages collectors sent back on the streams (SONiC and Nokia `PublishResponse`s).
    pub responses_received: u64,
    /// Sends that waited for an HTTP/2 flow-control window (the collector read slowly).
    pub flow_stall_waits: u64,
    /// Time those sends waited, in ns.
    pub flow_stall_ns: u64,
}

impl ExportCounters {
    pub(crate) fn add(&mut self, o: &ExportCounters) {
        self.updates_produced += o.updates_produced;
        self.updates_sent += o.updates_sent;
        self.updates_dropped += o.updates_dropped;
        self.updates_discarded += o.updates_discarded;
        self.samples_skipped += o.samples_skipped;
        self.reconnects += o.reconnects;
        self.send_failures += o.send_failures;
        self.streams_active += o.streams_active;
        self.open_failures += o.open_failures;
        self.disconnects.add(&o.disconnects);
        self.too_many_pings += o.too_many_pings;
        self.responses_received += o.responses_received;
        self.flow_stall_waits += o.flow_stall_waits;
        self.flow_stall_ns += o.flow_stall_ns;
    }
}

type GroupKey = (String, String);

#[derive(Default)]
struct Group {
    live: HashMap<u64, Arc<DeviceCounters>>,
    /// Totals of removed devices (`streams_active` stays 0).
    folded: ExportCounters,
    shared: Arc<GroupShared>,
    log: LogState,
}

/// What the failure log last said about a group.
#[derive(Default)]
struct LogState {
    failing: bool,
    last_line: Option<Instant>,
    seen_failures: u64,
    unreported_failures: u64,
    seen_too_many_pings: u64,
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
            if last.streams_active > 0 {
                self.counters.stream_down();
            }
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

    #[cfg(test)]
    pub(crate) fn register(self: &Arc<Self>, collector: &str, flavor: &str) -> Registration {
        self.register_as(collector, flavor, true)
    }

    /// Registers one collector of a device; `primary` for its first (or only) one.
    pub(crate) fn register_as(
        self: &Arc<Self>,
        collector: &str,
        flavor: &str,
        primary: bool,
    ) -> Registration {
        let id = self.next_id.fetch_add(1, Relaxed);
        let key = (collector.to_string(), flavor.to_string());
        let mut groups = self.groups.lock();
        let group = groups.entry(key.clone()).or_default();
        let counters = Arc::new(DeviceCounters {
            group: group.shared.clone(),
            primary,
            ..DeviceCounters::default()
        });
        group.live.insert(id, counters.clone());
        drop(groups);
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
                devices_exporting += group.live.values().filter(|c| c.primary).count() as u64;
                let last = group.shared.errors.lock().last.clone();
                CollectorStatus {
                    collector: collector.clone(),
                    flavor: flavor.clone(),
                    devices: group.live.len() as u64,
                    devices_connected: group.shared.connected.load(Relaxed),
                    streams_active: t.streams_active,
                    updates_produced: t.updates_produced,
                    updates_sent: t.updates_sent,
                    updates_dropped: t.updates_dropped,
                    updates_discarded: t.updates_discarded,
                    samples_skipped: t.samples_skipped,
                    reconnects: t.reconnects,
                    send_failures: t.send_failures,
                    open_failures: t.open_failures,
                    disconnects: t.disconnects,
                    too_many_pings: t.too_many_pings,
                    responses_received: t.responses_received,
                    flow_stall_waits: t.flow_stall_waits,
                    flow_stall_ms: t.flow_stall_ns / 1_000_000,
                    last_error_at: last.as_ref().map(|e| rfc3339(e.at)),
                    last_error: last.map(|e| e.text),
                }
            })
            .collect();
        DialoutStatus {
            subsystem_active: self.exporters.load(Relaxed) > 0,
            collectors,
            devices_exporting,
        }
    }

    /// Writes the aggregated failure log: per (collector, flavor), a WARN line when it
    /// starts failing (and again while new failures arrive), an INFO line when every
    /// device streams again, never more than one line per `every`. Called once a second
    /// by the exporter.
    pub(crate) fn log_failures(&self, every: Duration) {
        let now = Instant::now();
        let mut groups = self.groups.lock();
        for ((collector, flavor), group) in groups.iter_mut() {
            let shared = &group.shared;
            let log = &mut group.log;
            let failures = shared.failures.load(Relaxed);
            log.unreported_failures += failures - log.seen_failures;
            log.seen_failures = failures;
            let devices = group.live.len() as u64;
            let connected = shared.connected.load(Relaxed).min(devices);
            if log.last_line.is_some_and(|t| now.duration_since(t) < every) {
                continue;
            }
            let pings = shared.too_many_pings.load(Relaxed);
            if pings > log.seen_too_many_pings {
                let every_ms = shared.keepalive_after_goaway_ms.load(Relaxed);
                tracing::warn!(
                    %collector,
                    %flavor,
                    "dial-out collector answered keepalive pings with GOAWAY too_many_pings \
                     {} time(s); those devices now ping every {} (doubled, gRFC A8)",
                    pings - log.seen_too_many_pings,
                    humantime::format_duration(Duration::from_millis(every_ms)),
                );
                log.seen_too_many_pings = pings;
                log.last_line = Some(now);
            }
            if log.unreported_failures > 0 {
                let first = shared
                    .errors
                    .lock()
                    .first_since_line
                    .take()
                    .unwrap_or_default();
                tracing::warn!(
                    %collector,
                    %flavor,
                    "dial-out {} failing: {} of {} devices without a stream, {} failure(s) \
                     since the last report; first error: {first}",
                    if log.failing { "still" } else { "started" },
                    devices - connected,
                    devices,
                    log.unreported_failures,
                );
                log.failing = true;
                log.unreported_failures = 0;
                log.last_line = Some(now);
            } else if log.failing && connected == devices {
                tracing::info!(
                    %collector,
                    %flavor,
                    "dial-out recovered: all {devices} devices have a stream"
                );
                log.failing = false;
                log.last_line = Some(now);
            }
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

/// `at` as RFC 3339 UTC text with millisecond precision.
fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
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
    /// Devices exporting to it now (for a destination group: devices whose group holds
    /// it, whichever collector they use at the moment).
    pub devices: u64,
    /// Devices with a stream open now (`devices - devices_connected` are failing or
    /// waiting to reconnect).
    pub devices_connected: u64,
    /// Streams open now.
    pub streams_active: u64,
    /// Updates (leaves) produced while a stream was up, including by removed devices.
    pub updates_produced: u64,
    /// Updates (leaves) sent, including by removed devices.
    pub updates_sent: u64,
    /// Updates (leaves) dropped by full send queues.
    pub updates_dropped: u64,
    /// Updates (leaves) lost with a stream that broke or closed before sending them.
    pub updates_discarded: u64,
    /// SAMPLE ticks that fell in an outage.
    pub samples_skipped: u64,
    /// Streams re-established after a device's first one.
    pub reconnects: u64,
    /// Failed sends.
    pub send_failures: u64,
    /// Dials, TLS handshakes or stream opens that failed.
    pub open_failures: u64,
    /// Streams that ended without us closing them, by cause.
    pub disconnects: Disconnects,
    /// GOAWAY `too_many_pings` answers to keepalive pings.
    pub too_many_pings: u64,
    /// Messages the collector sent back (SONiC and Nokia `PublishResponse`s).
    #[serde(default)]
    pub responses_received: u64,
    /// Sends that waited for an HTTP/2 flow-control window: the collector read slower
    /// than its devices sent.
    #[serde(default)]
    pub flow_stall_waits: u64,
    /// Time those sends waited, in ms.
    #[serde(default)]
    pub flow_stall_ms: u64,
    /// The most recent failure of any of its devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it happened (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_STATUS: &str = r#"{"subsystem_active":true,"collectors":[{"collector":"10.0.0.5:6030","flavor":"gnmireverse","devices":100,"streams_active":100,"updates_sent":1234567,"updates_dropped":0,"reconnects":2,"send_failures":0}],"devices_exporting":100}"#;

    #[test]
    fn status_json_keeps_every_field_of_the_seed_document() {
        let stats = DialoutStats::new();
        stats.exporter_started();
        let regs: Vec<_> = (0..100)
            .map(|_| stats.register("10.0.0.5:6030", "gnmireverse"))
            .collect();
        for (i, r) in regs.iter().enumerate() {
            r.counters().stream_up();
            let sent = if i == 0 { 1234567 - 99 } else { 1 };
            r.counters().updates_sent.store(sent, Relaxed);
        }
        regs[3].counters().reconnects.store(2, Relaxed);
        let ours = serde_json::to_value(stats.status()).unwrap();
        let seed: serde_json::Value = serde_json::from_str(SEED_STATUS).unwrap();
        for key in ["subsystem_active", "devices_exporting"] {
            assert_eq!(ours[key], seed[key], "{key}");
        }
        let (ours, seed) = (&ours["collectors"][0], &seed["collectors"][0]);
        for (key, value) in seed.as_object().unwrap() {
            assert_eq!(&ours[key], value, "{key}");
        }
        assert_eq!(ours["devices_connected"], 100);
        assert_eq!(ours["disconnects"]["goaway"], 0);
        assert!(ours.get("last_error").is_none(), "{ours}");
    }

    #[test]
    fn failures_reach_the_group_and_clear_per_device() {
        let stats = DialoutStats::new();
        let a = stats.register("c:1", "gnmireverse");
        let b = stats.register("c:1", "gnmireverse");
        a.counters().open_failed("connection refused".into());
        b.counters().stream_up();
        b.counters()
            .disconnected(DisconnectCause::GoAway, "GOAWAY too_many_pings".into());
        b.counters().stream_down();
        let c = &stats.status().collectors[0];
        assert_eq!((c.open_failures, c.disconnects.goaway), (1, 1));
        assert_eq!(c.last_error.as_deref(), Some("GOAWAY too_many_pings"));
        assert!(c.last_error_at.as_deref().unwrap().ends_with('Z'));
        assert_eq!(c.devices_connected, 0);
        a.counters().stream_up();
        a.counters().healthy();
        assert!(a.counters().last_error.lock().is_none());
        assert_eq!(stats.status().collectors[0].devices_connected, 1);
        drop(a);
        assert_eq!(stats.status().collectors[0].devices_connected, 0);
    }

    #[test]
    fn removal_folds_once_and_totals_never_go_back() {
        let stats = DialoutStats::new();
        let a = stats.register("c:1", "gnmireverse");
        let b = stats.register("c:1", "gnmireverse");
        a.counters().updates_sent.store(10, Relaxed);
        a.counters().stream_up();
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
