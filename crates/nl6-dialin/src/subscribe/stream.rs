//! STREAM: SAMPLE tickers and ON_CHANGE events of one RPC, in one task.
//!
//! Order at start: register the interface-state listener, send every subscription's
//! initial data (a snapshot; SAMPLE's first tick is immediate) unless `updates_only`,
//! then one `sync_response`. After that: SAMPLE sends on its ticker (only changed
//! leaves with `suppress_redundant`, everything on each heartbeat); ON_CHANGE sends, per
//! state event, the leaves of that interface that changed and that some ON_CHANGE
//! subscription selected (one Notification per event), and everything it selects on
//! each heartbeat. If the listener lost events (its queue overflowed), the current
//! values of every ON_CHANGE subscription are re-sent so the client cannot stay stale.

use std::future::pending;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::SelectAll;
use nl6_ifstate::{DeviceModel, Listener, StateEvent};
use nl6_resolver::{LeafSet, Snapshot, changed_leaves, event_time_ns, removed_entries};
use tokio_stream::wrappers::IntervalStream;

use super::emit::Emitter;
use super::plan::{StreamSub, Trigger};
use super::{Control, Session, ticker};

/// What a timer of a subscription is for.
#[derive(Clone, Copy, Debug)]
enum Timer {
    Sample,
    Heartbeat,
}

/// A subscription and what it last sent (for `suppress_redundant`).
struct SubState<'m> {
    sub: StreamSub,
    last: Option<Snapshot<'m>>,
}

impl<'m> SubState<'m> {
    /// Sends the subscription's data now: everything, or with `suppress_redundant`
    /// (and `full` false) only the leaves that changed since the last send.
    fn send(&mut self, device: &'m DeviceModel, emit: &mut Emitter, full: bool) {
        if self.sub.selection.is_empty() {
            return;
        }
        let snapshot = Snapshot::capture(device, nl6_ifstate::unix_now_ns(), &self.sub.selection);
        let suppress = matches!(
            self.sub.trigger,
            Trigger::Sample {
                suppress_redundant: true,
                ..
            }
        );
        match (&self.last, suppress && !full) {
            (Some(last), true) => {
                let masks = changed(last, &snapshot, self.sub.selection.masks());
                emit.send(&snapshot.changed_since(last), &masks);
            }
            _ => emit.send(&snapshot, self.sub.selection.masks()),
        }
        // ON_CHANGE subscriptions of other-subtree leaves keep what they sent, so a
        // device event can send the ones that changed (`on_event`), and say which
        // entries went away since.
        let keeps_extras = self.is_on_change() && !self.sub.selection.extras().is_empty();
        if keeps_extras && let Some(last) = &self.last {
            emit.send_deletes(
                snapshot.timestamp_ns(),
                removed_entries(last.extras(), &snapshot),
            );
        }
        if suppress || keeps_extras {
            self.last = Some(snapshot);
        }
    }

    /// The subscription's timers and their periods.
    fn timers(&self) -> Vec<(Timer, Duration)> {
        match self.sub.trigger {
            Trigger::Sample {
                interval,
                heartbeat,
                ..
            } => std::iter::once((Timer::Sample, interval))
                .chain(heartbeat.map(|h| (Timer::Heartbeat, h)))
                .collect(),
            Trigger::OnChange { heartbeat } => heartbeat
                .map(|h| (Timer::Heartbeat, h))
                .into_iter()
                .collect(),
        }
    }

    fn is_on_change(&self) -> bool {
        matches!(self.sub.trigger, Trigger::OnChange { .. })
    }
}

/// Per interface, the leaves of `masks` whose value differs between the snapshots.
fn changed(before: &Snapshot<'_>, after: &Snapshot<'_>, masks: &[LeafSet]) -> Vec<LeafSet> {
    masks
        .iter()
        .enumerate()
        .map(|(idx, mask)| {
            mask.iter()
                .filter(|&leaf| before.value(idx, leaf) != after.value(idx, leaf))
                .collect()
        })
        .collect()
}

/// Runs a STREAM RPC until it ends.
pub(crate) async fn run(
    mut session: Session,
    subs: Vec<StreamSub>,
    updates_only: bool,
    mut emit: Emitter,
) {
    let device = session.info.device.clone();
    let device: &DeviceModel = &device;
    let mut states: Vec<SubState<'_>> = subs
        .into_iter()
        .map(|sub| SubState { sub, last: None })
        .collect();
    // Registered before any snapshot, so no change between the two is missed.
    let mut listener = states
        .iter()
        .any(SubState::is_on_change)
        .then(|| device.subscribe());
    let mut lost = listener.as_ref().map_or(0, Listener::dropped);
    if !updates_only {
        for state in &mut states {
            state.send(device, &mut emit, true);
        }
    }
    emit.sync();
    let mut timers = SelectAll::new();
    for (i, state) in states.iter().enumerate() {
        for (kind, period) in state.timers() {
            timers.push(IntervalStream::new(ticker(period)).map(move |_| (i, kind)));
        }
    }
    loop {
        tokio::select! {
            control = session.next(&emit) => match control {
                Control::Stop => return,
                Control::ClientDone => {} // a STREAM goes on after the client half-closes
                Control::Poll => {
                    emit.finish(Some(tonic::Status::invalid_argument(
                        "Poll is only valid on a POLL subscription; this one is STREAM",
                    )));
                    return;
                }
            },
            Some((i, kind)) = timers.next() => {
                let full = matches!(kind, Timer::Heartbeat);
                states[i].send(device, &mut emit, full);
            }
            event = next_event(&mut listener) => {
                let Some(event) = event else {
                    emit.finish(Some(tonic::Status::unavailable("the device was deleted")));
                    return;
                };
                let now_lost = listener.as_ref().map_or(0, Listener::dropped);
                if now_lost != lost {
                    lost = now_lost;
                    for state in states.iter_mut().filter(|s| s.is_on_change()) {
                        state.send(device, &mut emit, true);
                    }
                } else {
                    on_event(device, &mut states, event, &mut emit);
                }
            }
        }
    }
}

/// The next state event, or never when there is no listener.
async fn next_event(listener: &mut Option<Listener>) -> Option<StateEvent> {
    match listener {
        Some(listener) => listener.recv().await,
        None => pending().await,
    }
}

/// Sends the leaves an event changed that some ON_CHANGE subscription selected: the
/// interface leaves the event names, and the other-subtree leaves (a boot time after a
/// reboot, a new LLDP neighbour) whose value differs from what the subscription last
/// sent; entries the subscription last sent that are gone now (a neighbour whose device
/// was deleted) are sent as one `Notification.delete`.
fn on_event<'m>(
    device: &'m DeviceModel,
    states: &mut [SubState<'m>],
    event: StateEvent,
    emit: &mut Emitter,
) {
    let at = event_time_ns(&event);
    // A subtrees event (ifindex 0) names no interface: only the re-read below.
    if let Some(idx) = (event.ifindex as usize).checked_sub(1) {
        let after = Snapshot::of_state(device, at, idx, event.after);
        let changed = changed_leaves(&event);
        let wanted = states
            .iter()
            .filter(|s| s.is_on_change())
            .fold(LeafSet::EMPTY, |acc, s| {
                acc.union(s.sub.selection.leaves(idx))
            });
        let mask = wanted.intersect(changed);
        if !mask.is_empty() {
            let mut masks = vec![LeafSet::EMPTY; device.interface_count()];
            if let Some(slot) = masks.get_mut(idx) {
                *slot = mask;
                emit.send(&after, &masks);
            }
        }
    }
    for state in states
        .iter_mut()
        .filter(|s| s.is_on_change() && !s.sub.selection.extras().is_empty())
    {
        // The whole selection (on-change: no counters, so cheap); only its
        // other-subtree leaves are sent, the interface ones went out above.
        let now = Snapshot::capture(device, at, &state.sub.selection);
        let fresh = match &state.last {
            Some(last) => now.changed_since(last),
            None => now.clone(),
        };
        if !fresh.extras().is_empty() {
            emit.send(&fresh, &[]);
        }
        // Entries that went away (an LLDP neighbour whose device was deleted).
        if let Some(last) = &state.last {
            emit.send_deletes(at, removed_entries(last.extras(), &now));
        }
        state.last = Some(now);
    }
}
