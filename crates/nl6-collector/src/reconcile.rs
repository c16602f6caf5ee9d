//! Reconciling what a collector received against an nl6 run report: per device and per
//! slice of the run's window, the messages the report says were `sent`, those received
//! (once or more), and the difference.
//!
//! A message belongs to the run when it carries the run's tag and its notification
//! timestamp lies in `[t0_ns, t1_ns)`; it is attributed to the device of its
//! `prefix.target` and to slice `(timestamp - t0_ns) * slices / (t1_ns - t0_ns)`, the
//! rule nl6 uses when it counts.
//!
//! ```
//! use nl6_collector::reconcile::{Received, RunView};
//!
//! let report: RunView = serde_json::from_str(r#"{"id": "1", "state": "finished",
//!     "tag": "t", "t0_ns": 1000, "t1_ns": 2000, "slices": 2,
//!     "devices": [{"device": "127.0.0.1", "slices": [
//!         {"sent": {"messages": 1, "updates": 3}}, {"sent": {"messages": 1, "updates": 3}}]}]}"#)?;
//! let mut received = Received::default();
//! received.record(Some("t"), "127.0.0.1", 1200, 3)?;
//! let result = received.reconcile(&report);
//! assert_eq!(result.totals.missing, 1);
//! assert!(result.loss());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Most distinct tagged messages kept while waiting for a report.
pub const MAX_TRACKED_MESSAGES: usize = 20_000_000;

/// Messages and updates of a report cell.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct TallyView {
    /// Messages.
    #[serde(default)]
    pub messages: u64,
    /// Updates.
    #[serde(default)]
    pub updates: u64,
}

/// One slice of one device in a report.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct CellView {
    /// Sent: the denominator.
    #[serde(default)]
    pub sent: TallyView,
    /// Dropped from the send queue.
    #[serde(default)]
    pub dropped: TallyView,
    /// Discarded with a broken stream.
    #[serde(default)]
    pub discarded: TallyView,
    /// Failed sends.
    #[serde(default)]
    pub send_failures: TallyView,
    /// Ticks not sampled.
    #[serde(default)]
    pub skipped_ticks: u64,
}

/// One device of a report.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceView {
    /// The device address.
    pub device: String,
    /// Its slices.
    pub slices: Vec<CellView>,
}

/// What reconciliation reads of an nl6 run report (`GET /api/v1/runs/{id}`, with or
/// without its `{success, message, data}` envelope).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "ReportFile")]
pub struct RunView {
    /// Run id.
    pub id: String,
    /// `finished` once final.
    pub state: String,
    /// What the run measured (`gnmi-dialout` when the report does not say).
    pub protocol: String,
    /// The run tag.
    pub tag: String,
    /// T0, Unix ns.
    pub t0_ns: u64,
    /// T1, Unix ns.
    pub t1_ns: u64,
    /// Slices of the window.
    pub slices: u32,
    /// Participants.
    pub devices: Vec<DeviceView>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ReportFile {
    Envelope { data: Bare },
    Bare(Bare),
}

#[derive(Deserialize)]
struct Bare {
    id: String,
    state: String,
    #[serde(default)]
    protocol: Option<String>,
    tag: String,
    t0_ns: u64,
    t1_ns: u64,
    slices: u32,
    devices: Vec<DeviceView>,
}

impl TryFrom<ReportFile> for RunView {
    type Error = String;

    fn try_from(file: ReportFile) -> Result<Self, String> {
        let (ReportFile::Envelope { data: b } | ReportFile::Bare(b)) = file;
        if b.t1_ns <= b.t0_ns || b.slices == 0 {
            return Err("the report's window is empty (t1_ns <= t0_ns or slices = 0)".into());
        }
        if let Some(d) = b
            .devices
            .iter()
            .find(|d| d.slices.len() != b.slices as usize)
        {
            return Err(format!(
                "device {} has {} slices, the report {}",
                d.device,
                d.slices.len(),
                b.slices
            ));
        }
        Ok(RunView {
            id: b.id,
            state: b.state,
            protocol: b.protocol.unwrap_or_else(|| RECONCILABLE.to_string()),
            tag: b.tag,
            t0_ns: b.t0_ns,
            t1_ns: b.t1_ns,
            slices: b.slices,
            devices: b.devices,
        })
    }
}

/// The protocol whose runs nl6-collector receives (it serves gNMIReverse).
pub const RECONCILABLE: &str = "gnmi-dialout";

impl RunView {
    /// Whether nl6-collector can reconcile the run: it receives gNMI dial-out only, so
    /// an `mdt` or `gnmi-dialin` run is reconciled by the collector under test.
    pub fn is_reconcilable(&self) -> bool {
        self.protocol == RECONCILABLE
    }

    /// Whether the report is final.
    pub fn is_finished(&self) -> bool {
        self.state == "finished"
    }

    /// The slice of a message timestamped `ts`, `None` outside the window.
    pub fn slice_of(&self, ts: u64) -> Option<u32> {
        if ts < self.t0_ns || ts >= self.t1_ns {
            return None;
        }
        let slice = u128::from(ts - self.t0_ns) * u128::from(self.slices)
            / u128::from(self.t1_ns - self.t0_ns);
        u32::try_from(slice).ok()
    }

    /// Messages the report says were sent.
    pub fn sent_messages(&self) -> u64 {
        self.devices
            .iter()
            .flat_map(|d| &d.slices)
            .map(|c| c.sent.messages)
            .sum()
    }
}

/// The tracking limit was reached.
#[derive(Debug, thiserror::Error)]
#[error(
    "more than {MAX_TRACKED_MESSAGES} distinct tagged messages received; reconcile a smaller run"
)]
pub struct TooManyMessages;

/// One run's messages by (target, timestamp): how often each arrived, and its updates.
type Messages = HashMap<(String, u64), (u32, u64)>;

/// Tagged messages received, by (tag, target, timestamp): how often, and their updates.
#[derive(Debug, Default)]
pub struct Received {
    tags: HashMap<Arc<str>, Messages>,
    tracked: usize,
    untagged: u64,
}

impl Received {
    /// Records one notification (`tag` of its message, `prefix.target`, timestamp,
    /// updates).
    pub fn record(
        &mut self,
        tag: Option<&str>,
        target: &str,
        timestamp: u64,
        updates: u64,
    ) -> Result<(), TooManyMessages> {
        let Some(tag) = tag else {
            self.untagged += 1;
            return Ok(());
        };
        let per_tag = match self.tags.get_mut(tag) {
            Some(t) => t,
            None => self.tags.entry(Arc::from(tag)).or_default(),
        };
        match per_tag.get_mut(&(target.to_string(), timestamp)) {
            Some((count, _)) => *count += 1,
            None => {
                if self.tracked >= MAX_TRACKED_MESSAGES {
                    return Err(TooManyMessages);
                }
                self.tracked += 1;
                per_tag.insert((target.to_string(), timestamp), (1, updates));
            }
        }
        Ok(())
    }

    /// Records a notification as the collector delivered it.
    pub fn record_received(&mut self, r: &crate::Received) -> Result<(), TooManyMessages> {
        let ts = u64::try_from(r.notification.timestamp).unwrap_or(0);
        self.record(
            r.tag.as_deref(),
            crate::format::target(&r.notification),
            ts,
            r.notification.update.len() as u64,
        )
    }

    /// Messages of `tag` received (each counted once).
    pub fn distinct(&self, tag: &str) -> usize {
        self.tags.get(tag).map_or(0, HashMap::len)
    }

    /// The three-way comparison against `report`.
    pub fn reconcile(&self, report: &RunView) -> Reconciliation {
        let slices = report.slices as usize;
        let mut rows: HashMap<&str, Vec<Row>> = report
            .devices
            .iter()
            .map(|d| {
                let rows = d
                    .slices
                    .iter()
                    .map(|c| Row {
                        sent: c.sent.messages,
                        sent_updates: c.sent.updates,
                        not_sent: c.dropped.messages
                            + c.discarded.messages
                            + c.send_failures.messages,
                        skipped_ticks: c.skipped_ticks,
                        ..Row::default()
                    })
                    .collect();
                (d.device.as_str(), rows)
            })
            .collect();
        let mut strangers = 0u64;
        let mut outside = 0u64;
        if let Some(messages) = self.tags.get(report.tag.as_str()) {
            for ((target, ts), (count, updates)) in messages {
                let Some(slice) = report.slice_of(*ts) else {
                    outside += u64::from(*count);
                    continue;
                };
                let Some(row) = rows
                    .get_mut(target.as_str())
                    .and_then(|r| r.get_mut(slice as usize))
                else {
                    strangers += u64::from(*count);
                    continue;
                };
                row.received += 1;
                row.received_updates += updates;
                row.duplicated += u64::from(count - 1);
            }
        }
        let mut totals = Row::default();
        let mut per_slice = vec![Row::default(); slices];
        let mut devices = Vec::new();
        for d in &report.devices {
            let mut device_rows = rows.remove(d.device.as_str()).unwrap_or_default();
            let mut device_total = Row::default();
            for (i, row) in device_rows.iter_mut().enumerate() {
                row.missing = row.sent.saturating_sub(row.received);
                row.extra = row.received.saturating_sub(row.sent);
                device_total.add(row);
                per_slice[i].add(row);
            }
            totals.add(&device_total);
            devices.push(DeviceRows {
                device: d.device.clone(),
                totals: device_total,
                slices: device_rows,
            });
        }
        Reconciliation {
            id: report.id.clone(),
            tag: report.tag.clone(),
            t0_ns: report.t0_ns,
            t1_ns: report.t1_ns,
            totals,
            per_slice,
            devices,
            outside_window: outside,
            unknown_devices: strangers,
            untagged: self.untagged,
        }
    }
}

/// One cell of the comparison (messages unless named `_updates`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The report's `sent`.
    pub sent: u64,
    /// Updates of `sent`.
    pub sent_updates: u64,
    /// Distinct messages received.
    pub received: u64,
    /// Updates of `received`.
    pub received_updates: u64,
    /// Sent, not received.
    pub missing: u64,
    /// Received more than once (the extra copies).
    pub duplicated: u64,
    /// Received, not in `sent` (should never happen).
    pub extra: u64,
    /// Never sent: dropped, discarded or failed at the device.
    pub not_sent: u64,
    /// SAMPLE ticks the devices did not sample.
    pub skipped_ticks: u64,
}

impl Row {
    fn add(&mut self, o: &Row) {
        self.sent += o.sent;
        self.sent_updates += o.sent_updates;
        self.received += o.received;
        self.received_updates += o.received_updates;
        self.missing += o.missing;
        self.duplicated += o.duplicated;
        self.extra += o.extra;
        self.not_sent += o.not_sent;
        self.skipped_ticks += o.skipped_ticks;
    }

    /// Whether anything was lost, duplicated or unexpected here.
    pub fn loss(&self) -> bool {
        self.missing + self.duplicated + self.extra + self.not_sent + self.skipped_ticks > 0
    }
}

/// One device's comparison.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRows {
    /// The device address.
    pub device: String,
    /// Sum over its slices.
    pub totals: Row,
    /// Per slice.
    pub slices: Vec<Row>,
}

/// The comparison of a report with what was received.
#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    /// Run id.
    pub id: String,
    /// Run tag.
    pub tag: String,
    /// T0, Unix ns.
    pub t0_ns: u64,
    /// T1, Unix ns.
    pub t1_ns: u64,
    /// Everything.
    pub totals: Row,
    /// Per slice, over devices.
    pub per_slice: Vec<Row>,
    /// Per device.
    pub devices: Vec<DeviceRows>,
    /// Tagged messages timestamped outside the window.
    pub outside_window: u64,
    /// Tagged messages from targets the report does not list.
    pub unknown_devices: u64,
    /// Messages without any run tag (other traffic; not compared).
    pub untagged: u64,
}

impl Reconciliation {
    /// Whether any message of the run was lost, duplicated or unexpected.
    pub fn loss(&self) -> bool {
        self.totals.loss() || self.unknown_devices > 0
    }
}

fn line(out: &mut String, label: &str, r: &Row) {
    let _ = writeln!(
        out,
        "{label:<22}{:>6}{:>10}{:>10}{:>12}{:>10}{:>9}",
        r.sent, r.received, r.missing, r.duplicated, r.not_sent, r.skipped_ticks
    );
}

impl fmt::Display for Reconciliation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let slice_ms = (self.t1_ns - self.t0_ns) as f64 / self.per_slice.len().max(1) as f64 / 1e6;
        let _ = writeln!(
            out,
            "run {} (tag {}): {} devices, {} slices of {slice_ms:.0} ms (messages)",
            self.id,
            self.tag,
            self.devices.len(),
            self.per_slice.len()
        );
        let _ = writeln!(
            out,
            "{:<22}{:>6}{:>10}{:>10}{:>12}{:>10}{:>9}",
            "", "sent", "received", "missing", "duplicated", "not_sent", "skipped"
        );
        line(&mut out, "total", &self.totals);
        for (i, row) in self.per_slice.iter().enumerate() {
            line(&mut out, &format!("slice {i}"), row);
        }
        let lossy: Vec<&DeviceRows> = self.devices.iter().filter(|d| d.totals.loss()).collect();
        if !lossy.is_empty() {
            let _ = writeln!(
                out,
                "devices with loss ({} of {}):",
                lossy.len(),
                self.devices.len()
            );
            for d in lossy {
                line(&mut out, &d.device, &d.totals);
                for (i, row) in d.slices.iter().enumerate().filter(|(_, r)| r.loss()) {
                    line(&mut out, &format!("  slice {i}"), row);
                }
            }
        }
        let _ = writeln!(
            out,
            "updates: sent {}, received {}; outside the window {}, unknown devices {}, untagged {}",
            self.totals.sent_updates,
            self.totals.received_updates,
            self.outside_window,
            self.unknown_devices,
            self.untagged
        );
        if self.loss() {
            let _ = writeln!(
                out,
                "LOSS: {} missing, {} duplicated, {} not sent, {} ticks skipped",
                self.totals.missing,
                self.totals.duplicated,
                self.totals.not_sent,
                self.totals.skipped_ticks
            );
        } else {
            let _ = writeln!(
                out,
                "EXACT: every one of {} messages received once",
                self.totals.sent
            );
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> RunView {
        serde_json::from_str(
            r#"{"success": true, "message": "", "data": {"id": "4", "state": "finished",
            "tag": "t", "t0_ns": 1000, "t1_ns": 3000, "slices": 2, "devices": [
              {"device": "127.0.0.1", "slices": [{"sent": {"messages": 2, "updates": 4}},
                                                 {"sent": {"messages": 1, "updates": 2},
                                                  "dropped": {"messages": 1, "updates": 2}}]},
              {"device": "127.0.0.2", "slices": [{"sent": {"messages": 1, "updates": 2}},
                                                 {"sent": {"messages": 1, "updates": 2}}]}]}}"#,
        )
        .unwrap()
    }

    #[test]
    fn messages_are_attributed_by_tag_target_and_timestamp() {
        let report = report();
        let mut r = Received::default();
        for (tag, target, ts) in [
            (Some("t"), "127.0.0.1", 1000),
            (Some("t"), "127.0.0.1", 1500),
            (Some("t"), "127.0.0.1", 1500), // a duplicate
            (Some("t"), "127.0.0.1", 2999),
            (Some("t"), "127.0.0.2", 1200),
            (Some("t"), "127.0.0.2", 3000), // outside
            (Some("other"), "127.0.0.2", 2500),
            (None, "127.0.0.2", 2500),
        ] {
            r.record(tag, target, ts, 2).unwrap();
        }
        let c = r.reconcile(&report);
        let d1 = &c.devices[0].slices;
        assert_eq!((d1[0].received, d1[0].duplicated, d1[0].missing), (2, 1, 0));
        assert_eq!((d1[1].received, d1[1].not_sent), (1, 1));
        let d2 = &c.devices[1].slices;
        assert_eq!((d2[0].missing, d2[1].missing), (0, 1));
        assert_eq!(c.outside_window, 1);
        assert_eq!(c.untagged, 1);
        assert!(c.loss());
        let text = c.to_string();
        assert!(text.contains("devices with loss (2 of 2)"), "{text}");
        assert!(
            text.contains("LOSS: 1 missing, 1 duplicated, 1 not sent"),
            "{text}"
        );
        let header = text.lines().nth(1).unwrap();
        let total = text.lines().nth(2).unwrap();
        assert_eq!(header.len(), total.len(), "columns line up:\n{text}");
    }

    #[test]
    fn a_complete_run_is_exact() {
        let report: RunView = serde_json::from_str(
            r#"{"id": "1", "state": "finished", "tag": "t", "t0_ns": 0, "t1_ns": 10,
            "slices": 1, "devices": [{"device": "127.0.0.1", "slices": [{"sent": {"messages": 1, "updates": 1}}]}]}"#,
        )
        .unwrap();
        let mut r = Received::default();
        r.record(Some("t"), "127.0.0.1", 5, 1).unwrap();
        let c = r.reconcile(&report);
        assert!(!c.loss());
        assert!(
            c.to_string()
                .contains("EXACT: every one of 1 messages received once")
        );
    }

    #[test]
    fn only_gnmi_dialout_runs_are_reconcilable() {
        assert!(report().is_reconcilable());
        let mdt: RunView = serde_json::from_str(
            r#"{"id": "1", "state": "finished", "protocol": "mdt", "tag": "t", "t0_ns": 0,
            "t1_ns": 10, "slices": 1, "devices": []}"#,
        )
        .unwrap();
        assert!(!mdt.is_reconcilable());
    }

    #[test]
    fn inconsistent_reports_are_refused() {
        let bad = r#"{"id": "1", "state": "finished", "tag": "t", "t0_ns": 5, "t1_ns": 5,
            "slices": 1, "devices": []}"#;
        assert!(serde_json::from_str::<RunView>(bad).is_err());
    }
}
