//! What a device pushes: the compiled plan (paths, mode, encoding) and the producer that
//! turns ticks or state events into encoded `SubscribeResponse`s.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;
use nl6_gnmi::codec::Encoded;
use nl6_ifstate::{DeviceModel, Listener, StateEvent, unix_now_ns};
use nl6_resolver::{
    LeafSet, Selection, Snapshot, ValueEncoding, WireEncoder, changed_leaves, event_time_ns,
};
use tokio::time::{Interval, MissedTickBehavior};

use crate::config::{DialoutConfig, Mode};
use crate::error::DialoutError;
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
    /// `Some(period)` for SAMPLE, `None` for ON_CHANGE.
    sample_every: Option<Duration>,
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
        for (index, text) in cfg.effective_paths().into_iter().enumerate() {
            let path = nl6_gnmi::parse_path(text).map_err(|e| {
                crate::config::ConfigError::new(format!("paths[{index}]"), e.to_string())
            })?;
            let mut one = Selection::compile_one(None, &path, names)
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
            sample_every,
        })
    }
}

/// One encoded message and the number of updates (leaves) it carries.
pub(crate) struct Message {
    pub bytes: Encoded,
    pub updates: u64,
}

enum Trigger {
    Sample(Interval),
    OnChange {
        listener: Listener,
        snapshot_due: bool,
    },
}

/// Produces one stream's messages. Created when the stream opens, so nothing carries
/// over an outage; for on-change the listener is registered before the snapshot.
pub(crate) struct Producer {
    plan: Arc<Plan>,
    encoder: WireEncoder,
    trigger: Trigger,
    masks: Vec<LeafSet>,
}

impl Producer {
    pub(crate) fn start(plan: Arc<Plan>) -> Producer {
        let trigger = match plan.sample_every {
            Some(period) => {
                let mut interval = tokio::time::interval(period);
                interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
                Trigger::Sample(interval)
            }
            None => Trigger::OnChange {
                listener: plan.model.subscribe(),
                snapshot_due: true,
            },
        };
        Producer {
            encoder: WireEncoder::new(plan.model.names()),
            masks: vec![LeafSet::EMPTY; plan.selection.interface_count()],
            plan,
            trigger,
        }
    }

    /// The next message to push. Cancel-safe.
    pub(crate) async fn next(&mut self) -> Message {
        loop {
            match &mut self.trigger {
                Trigger::Sample(interval) => {
                    interval.tick().await;
                    return self.snapshot();
                }
                Trigger::OnChange {
                    snapshot_due: due @ true,
                    ..
                } => {
                    *due = false;
                    return self.snapshot();
                }
                Trigger::OnChange { listener, .. } => {
                    let Some(event) = listener.recv().await else {
                        // The model is gone (it cannot be while we hold it): stay idle.
                        return std::future::pending().await;
                    };
                    if let Some(message) = self.event(&event) {
                        return message;
                    }
                }
            }
        }
    }

    /// All selected leaves at one instant, in one notification.
    fn snapshot(&mut self) -> Message {
        let plan = &self.plan;
        let snapshot = Snapshot::capture(&plan.model, unix_now_ns(), &plan.selection);
        let mut out = Vec::new();
        let updates = self.encoder.encode_response(
            &snapshot,
            plan.selection.masks(),
            plan.encoding,
            Some(&plan.target),
            &mut out,
        );
        Message {
            bytes: Encoded(Bytes::from(out)),
            updates: updates as u64,
        }
    }

    /// Only the leaves `event` changed that the paths select; `None` if there are none.
    fn event(&mut self, event: &StateEvent) -> Option<Message> {
        let idx = (event.ifindex as usize).checked_sub(1)?;
        let leaves = changed_leaves(event).intersect(self.plan.selection.leaves(idx));
        if leaves.is_empty() {
            return None;
        }
        let plan = &self.plan;
        let at = event_time_ns(event);
        let snapshot = Snapshot::of_state(&plan.model, at, idx, event.after);
        self.masks.fill(LeafSet::EMPTY);
        *self.masks.get_mut(idx)? = leaves;
        let mut out = Vec::new();
        let updates = self.encoder.encode_response(
            &snapshot,
            &self.masks,
            plan.encoding,
            Some(&plan.target),
            &mut out,
        );
        Some(Message {
            bytes: Encoded(Bytes::from(out)),
            updates: updates as u64,
        })
    }
}

/// The bounded send queue: when full, the oldest message is dropped and counted.
pub(crate) struct SendQueue {
    messages: VecDeque<Message>,
    depth: usize,
}

impl SendQueue {
    pub(crate) fn new(depth: usize) -> SendQueue {
        SendQueue {
            messages: VecDeque::new(),
            depth: depth.max(1),
        }
    }

    pub(crate) fn push(&mut self, message: Message, counters: &DeviceCounters) {
        if self.messages.len() >= self.depth
            && let Some(old) = self.messages.pop_front()
        {
            counters.updates_dropped.fetch_add(old.updates, Relaxed);
        }
        self.messages.push_back(message);
    }

    pub(crate) fn pop(&mut self) -> Option<Message> {
        self.messages.pop_front()
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
        let mut producer = Producer::start(p.clone());
        assert_eq!(model.listener_count(), 1);
        assert_eq!(producer.next().await.updates, 50);
        model.set_link(2, LinkStatus::Down, unix_now_ns());
        assert_eq!(producer.next().await.updates, 2); // oper-status, last-change
        model.set_admin(2, AdminStatus::Down, unix_now_ns());
        assert_eq!(producer.next().await.updates, 2); // admin-status, last-change
        model.set_admin(2, AdminStatus::Up, unix_now_ns());
        assert_eq!(producer.next().await.updates, 2); // admin back up, link still down
        drop(producer);
        assert_eq!(model.listener_count(), 0);
    }

    #[test]
    fn queue_drops_oldest_and_counts_its_updates() {
        let counters = DeviceCounters::default();
        let mut q = SendQueue::new(2);
        for updates in [1, 2, 3] {
            let bytes = Encoded(Bytes::from(vec![updates as u8]));
            q.push(Message { bytes, updates }, &counters);
        }
        assert_eq!(counters.updates_dropped.load(Relaxed), 1);
        assert_eq!(q.pop().unwrap().updates, 2);
        assert_eq!(q.pop().unwrap().updates, 3);
        assert!(q.pop().is_none());
    }
}
