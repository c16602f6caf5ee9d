//! One device's interfaces: packed lock-free state, analytic counters, on-change events.

use crate::counter::Counters;
use crate::event::StateEvent;
use crate::listener::{EventCounters, LISTENER_DEPTH, Listener, Registry};
use crate::names::{InterfaceNames, InterfaceNaming};
use crate::packed::{pack, stored_last_change, unpack};
use crate::spec::{DeviceSpec, ErrorScenario, InitialState, SpecError};
use crate::status::{AdminStatus, IfState, LinkStatus};
use crate::traffic::{self, mix};
use nl6_model::{DeviceKey, LinkStates, Subtrees};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const NS_PER_S: u64 = 1_000_000_000;

/// Outcome of a `set_link`/`set_admin` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The link changed while admin was DOWN/TESTING: stored, but not visible, no event.
    pub masked: bool,
    /// The emitted event; `None` when nothing changed, the change was masked, or idx was invalid.
    pub event: Option<StateEvent>,
}

impl Change {
    const NONE: Change = Change {
        masked: false,
        event: None,
    };
}

/// One simulated device's interfaces. `Send + Sync`; share it as `Arc<DeviceModel>`.
///
/// Its counters count from its boot time, the one piece of per-device state a reboot
/// changes: Unix seconds in an `AtomicU32` (enough until 2106), which fits in the padding
/// after the small enum fields, so the model is no larger than without it. Whole seconds
/// are plenty for a boot time and keep reads a single relaxed load.
#[derive(Debug)]
pub struct DeviceModel {
    names: Arc<InterfaceNames>,
    states: Box<[AtomicU64]>,
    registry: Arc<Registry>,
    seed: u64,
    speed_bps: u64,
    /// Boot time, Unix seconds; replaced by [`DeviceModel::reboot`] under the registry lock.
    boot_s: AtomicU32,
    errors: ErrorScenario,
    initial: InitialState,
    naming: InterfaceNaming,
    /// The device's subtrees beyond interfaces (shared by every device of its profile).
    subtrees: Option<Arc<Subtrees>>,
}

impl LinkStates for DeviceModel {
    fn count(&self) -> usize {
        self.interface_count()
    }

    fn oper_up(&self, idx: usize) -> (bool, u64) {
        let state = self.state(idx);
        (
            state.oper() == crate::status::OperStatus::Up,
            state.last_change_ns,
        )
    }

    fn counters(&self, idx: usize, unix_ns: u64) -> [u64; 12] {
        self.counters_at(idx, unix_ns).0
    }
}

/// State reported for an out-of-range index (no such interface).
const MISSING: IfState = IfState {
    link: LinkStatus::Down,
    admin: AdminStatus::Down,
    last_change_ns: 0,
};

impl DeviceModel {
    /// Builds a device from a validated spec, with its own [`EventCounters`].
    pub fn new(spec: &DeviceSpec) -> Result<DeviceModel, SpecError> {
        Self::with_event_counters(spec, Arc::default())
    }

    /// Builds a device whose events are counted in `counters` (shared by many devices).
    pub fn with_event_counters(
        spec: &DeviceSpec,
        counters: Arc<EventCounters>,
    ) -> Result<DeviceModel, SpecError> {
        spec.validate()?;
        let n = spec.interfaces as usize;
        let (link, admin) = match spec.initial {
            InitialState::AllAdminDown => (LinkStatus::Up, AdminStatus::Down),
            InitialState::OperDown => (LinkStatus::Down, AdminStatus::Up),
            InitialState::AllUp | InitialState::PercentOperDown(_) => {
                (LinkStatus::Up, AdminStatus::Up)
            }
        };
        let word = pack(IfState {
            link,
            admin,
            last_change_ns: 0,
        });
        let states: Box<[AtomicU64]> = (0..n).map(|_| AtomicU64::new(word)).collect();
        if let InitialState::PercentOperDown(p) = spec.initial {
            let down = pack(IfState {
                link: LinkStatus::Down,
                admin: AdminStatus::Up,
                last_change_ns: 0,
            });
            for idx in pick_percent(spec.seed, n, p) {
                states[idx].store(down, Ordering::Relaxed);
            }
        }
        Ok(DeviceModel {
            names: InterfaceNames::for_style(spec.naming, spec.interfaces),
            states,
            registry: Arc::new(Registry::new(counters)),
            seed: spec.seed,
            speed_bps: spec.speed_bps,
            boot_s: AtomicU32::new(
                spec.boot_s.unwrap_or_else(|| {
                    crate::seeded_boot_s(spec.seed, crate::DEFAULT_BOOT_BEFORE_S)
                }),
            ),
            errors: spec.errors,
            initial: spec.initial,
            naming: spec.naming,
            subtrees: None,
        })
    }

    /// The same device serving `subtrees` besides its interfaces.
    pub fn with_subtrees(mut self, subtrees: Arc<Subtrees>) -> DeviceModel {
        self.subtrees = Some(subtrees);
        self
    }

    /// The subtrees the device serves besides interfaces (none for a bare device).
    pub fn subtrees(&self) -> Option<&Arc<Subtrees>> {
        self.subtrees.as_ref()
    }

    /// What the device's subtrees compute their values from.
    pub fn key(&self) -> DeviceKey {
        DeviceKey {
            seed: self.seed,
            boot_ns: self.boot_time_ns(),
        }
    }

    /// The spec this device was built from, with its current boot time.
    pub fn spec(&self) -> DeviceSpec {
        DeviceSpec {
            seed: self.seed,
            interfaces: self.states.len() as u32,
            speed_bps: self.speed_bps,
            errors: self.errors,
            initial: self.initial,
            naming: self.naming,
            boot_s: Some(self.boot_s.load(Ordering::Relaxed)),
        }
    }

    /// When the device booted, Unix ns (whole seconds): its counters are 0 then.
    pub fn boot_time_ns(&self) -> u64 {
        u64::from(self.boot_s.load(Ordering::Relaxed)) * NS_PER_S
    }

    /// Reboots the device at `now_ns` (Unix ns): its boot time becomes `now_ns` rounded down
    /// to the second, its counters restart at 0 from there, and every interface's
    /// `last-change` becomes the boot time, each emitting an event (link and admin status
    /// are kept). Returns the new boot time in Unix ns.
    ///
    /// Readers see the counters drop: a discontinuity, as after a real reboot. An interface
    /// whose `last-change` already was the boot time emits nothing.
    pub fn reboot(&self, now_ns: u64) -> u64 {
        let boot_s = u32::try_from(now_ns / NS_PER_S).unwrap_or(u32::MAX);
        let boot_ns = u64::from(boot_s) * NS_PER_S;
        let last_change_ns = stored_last_change(boot_ns);
        let emitter = self.registry.lock();
        self.boot_s.store(boot_s, Ordering::Relaxed);
        for (idx, slot) in self.states.iter().enumerate() {
            let before = unpack(slot.load(Ordering::Acquire));
            let after = IfState {
                last_change_ns,
                ..before
            };
            if after == before {
                continue;
            }
            slot.store(pack(after), Ordering::Release);
            emitter.emit(StateEvent {
                ifindex: idx as u32 + 1,
                before,
                after,
            });
        }
        boot_ns
    }

    /// Tells the device's listeners that its other subtrees changed at `now_ns` (Unix ns),
    /// e.g. an LLDP neighbour came or went: one event with ifindex 0
    /// ([`StateEvent::is_subtrees`]), after which on-change readers re-read those subtrees.
    /// The interfaces are untouched.
    pub fn subtrees_changed(&self, now_ns: u64) {
        let emitter = self.registry.lock();
        emitter.emit(StateEvent {
            ifindex: 0,
            before: MISSING,
            after: IfState {
                last_change_ns: now_ns,
                ..MISSING
            },
        });
    }

    /// The shared interface name list.
    pub fn names(&self) -> &Arc<InterfaceNames> {
        &self.names
    }

    /// Number of interfaces; valid `idx` are `0..interface_count()`, ifindex = idx + 1.
    pub fn interface_count(&self) -> usize {
        self.states.len()
    }

    /// The event counters this device reports into.
    pub fn event_counters(&self) -> &Arc<EventCounters> {
        self.registry.counters()
    }

    /// The 12 counters of interface `idx` at `unix_ns` (all zero for an invalid idx).
    ///
    /// Traffic since the boot time ([`DeviceModel::boot_time_ns`]): all zero at boot and
    /// before it. A function of (seed, speed, error scenario, idx, time since boot):
    /// deterministic, non-decreasing in time until a [`DeviceModel::reboot`] restarts it,
    /// allocation-free.
    pub fn counters_at(&self, idx: usize, unix_ns: u64) -> Counters {
        if idx >= self.states.len() {
            return Counters::default();
        }
        let since_boot = unix_ns.saturating_sub(self.boot_time_ns());
        traffic::counters(self.seed, self.speed_bps, self.errors, idx, since_boot)
    }

    /// Current state of interface `idx` (one atomic load). An invalid idx reads as
    /// link DOWN / admin DOWN / never changed.
    pub fn state(&self, idx: usize) -> IfState {
        match self.states.get(idx) {
            Some(a) => unpack(a.load(Ordering::Acquire)),
            None => MISSING,
        }
    }

    /// Sets the physical link of `idx` at `now_ns` (Unix ns).
    ///
    /// While admin is DOWN/TESTING the new link is stored but masked (no event, last-change
    /// kept), so a later admin UP releases oper to it. The same value again is no change.
    pub fn set_link(&self, idx: usize, link: LinkStatus, now_ns: u64) -> Change {
        self.update(idx, now_ns, |cur| {
            if cur.link == link {
                None
            } else {
                Some((IfState { link, ..cur }, cur.admin != AdminStatus::Up))
            }
        })
    }

    /// Sets the admin status of `idx` at `now_ns` (Unix ns); any change emits an event.
    pub fn set_admin(&self, idx: usize, admin: AdminStatus, now_ns: u64) -> Change {
        self.update(idx, now_ns, |cur| {
            (cur.admin != admin).then_some((IfState { admin, ..cur }, false))
        })
    }

    /// Applies `f(current) -> Some((new state, masked))` under the device's write lock.
    fn update(
        &self,
        idx: usize,
        now_ns: u64,
        f: impl FnOnce(IfState) -> Option<(IfState, bool)>,
    ) -> Change {
        let Some(slot) = self.states.get(idx) else {
            return Change::NONE;
        };
        let emitter = self.registry.lock();
        let before = unpack(slot.load(Ordering::Acquire));
        let Some((mut after, masked)) = f(before) else {
            return Change::NONE;
        };
        if masked {
            slot.store(pack(after), Ordering::Release);
            return Change {
                masked: true,
                event: None,
            };
        }
        after.last_change_ns = stored_last_change(now_ns);
        slot.store(pack(after), Ordering::Release);
        let ev = StateEvent {
            ifindex: idx as u32 + 1,
            before,
            after,
        };
        emitter.emit(ev);
        Change {
            masked: false,
            event: Some(ev),
        }
    }

    /// Registers an on-change listener with the default depth [`LISTENER_DEPTH`].
    ///
    /// Every event after this call is delivered; read the current state after subscribing.
    pub fn subscribe(&self) -> Listener {
        self.subscribe_with_depth(LISTENER_DEPTH)
    }

    /// Registers an on-change listener whose queue holds `depth` events (at least 1).
    pub fn subscribe_with_depth(&self, depth: usize) -> Listener {
        self.registry.subscribe(depth)
    }

    /// Number of registered listeners.
    pub fn listener_count(&self) -> usize {
        self.registry.len()
    }

    /// Approximate memory of this device in bytes without listeners and the shared name list.
    pub fn approx_size_bytes(&self) -> usize {
        const ARC_HEADER: usize = 2 * size_of::<usize>();
        let counters_alone = Arc::strong_count(self.registry.counters()) == 1;
        size_of::<Self>()
            + size_of_val(&*self.states)
            + ARC_HEADER
            + size_of::<Registry>()
            + if counters_alone {
                ARC_HEADER + size_of::<EventCounters>()
            } else {
                0
            }
    }
}

/// Picks round(n·p/100) distinct indexes deterministically from `seed` (partial Fisher–Yates).
fn pick_percent(seed: u64, n: usize, p: u8) -> Vec<usize> {
    let k = (n * p.min(100) as usize + 50) / 100;
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = mix(seed ^ 0x1d2e_3f40_5a6b_7c8d);
    for i in 0..k {
        rng = mix(rng.wrapping_add(0x9e37_79b9_7f4a_7c15));
        let j = i + ((rng as u128 * (n - i) as u128) >> 64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(k);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ErrorScenario;
    use crate::status::OperStatus;

    const T0: u64 = 1_763_000_000_000_000_000;

    fn dev(initial: InitialState) -> DeviceModel {
        DeviceModel::new(&DeviceSpec {
            seed: 9,
            initial,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn initial_state_emits_nothing_and_has_no_last_change() {
        let d = dev(InitialState::AllUp);
        let mut l = d.subscribe();
        assert_eq!(d.interface_count(), 10);
        for i in 0..10 {
            assert_eq!(
                d.state(i),
                IfState {
                    link: LinkStatus::Up,
                    admin: AdminStatus::Up,
                    last_change_ns: 0
                }
            );
        }
        assert!(l.try_recv().is_none());
        assert_eq!(d.event_counters().emitted(), 0);

        let d = dev(InitialState::AllAdminDown);
        assert!((0..10).all(|i| d.state(i).oper() == OperStatus::Down && d.state(i).link == LinkStatus::Up));
        let d = dev(InitialState::OperDown);
        assert!(
            (0..10)
                .all(|i| d.state(i).oper() == OperStatus::Down
                    && d.state(i).admin == AdminStatus::Up)
        );
    }

    #[test]
    fn percent_oper_down_is_exact_and_seeded() {
        let spec = |seed, p| DeviceSpec {
            seed,
            interfaces: 40,
            initial: InitialState::PercentOperDown(p),
            ..Default::default()
        };
        let downs = |s: &DeviceSpec| {
            let d = DeviceModel::new(s).unwrap();
            (0..40)
                .filter(|i| d.state(*i).oper() == OperStatus::Down)
                .collect::<Vec<_>>()
        };
        assert_eq!(downs(&spec(1, 25)).len(), 10);
        assert_eq!(downs(&spec(1, 25)), downs(&spec(1, 25)));
        assert_ne!(downs(&spec(1, 25)), downs(&spec(2, 25)));
        assert_eq!(downs(&spec(1, 0)).len(), 0);
        assert_eq!(downs(&spec(1, 100)).len(), 40);
    }

    #[test]
    fn link_changes_emit_events_with_last_change() {
        let d = dev(InitialState::AllUp);
        let c = d.set_link(2, LinkStatus::Down, T0);
        let ev = c.event.unwrap();
        assert!(!c.masked);
        assert_eq!(ev.ifindex, 3);
        assert_eq!(ev.before.oper(), OperStatus::Up);
        assert_eq!(
            ev.after,
            IfState {
                link: LinkStatus::Down,
                admin: AdminStatus::Up,
                last_change_ns: T0
            }
        );
        assert!(ev.oper_changed() && !ev.admin_changed());
        assert_eq!(d.state(2), ev.after);
        // Same value again: nothing.
        assert_eq!(d.set_link(2, LinkStatus::Down, T0 + 5), Change::NONE);
        assert_eq!(d.state(2).last_change_ns, T0);
        let ev = d.set_link(2, LinkStatus::Testing, T0 + 7).event.unwrap();
        assert_eq!(ev.after.oper(), OperStatus::Testing);
        assert_eq!(d.event_counters().emitted(), 2);
    }

    #[test]
    fn link_change_under_admin_down_is_masked_then_released() {
        let d = dev(InitialState::AllUp);
        let ev = d.set_admin(0, AdminStatus::Down, T0).event.unwrap();
        assert!(ev.admin_changed() && ev.oper_changed());
        let mut l = d.subscribe();
        let c = d.set_link(0, LinkStatus::Down, T0 + 10);
        assert_eq!(
            c,
            Change {
                masked: true,
                event: None
            }
        );
        assert!(l.try_recv().is_none());
        let st = d.state(0);
        assert_eq!(
            (st.link, st.oper(), st.last_change_ns),
            (LinkStatus::Down, OperStatus::Down, T0)
        );
        // Masked flap back up: still nothing visible.
        assert!(d.set_link(0, LinkStatus::Up, T0 + 20).masked);
        assert!(d.set_link(0, LinkStatus::Down, T0 + 30).masked);
        // Admin up releases oper to the stored link (DOWN): admin changed, oper did not.
        let ev = d.set_admin(0, AdminStatus::Up, T0 + 40).event.unwrap();
        assert!(ev.admin_changed() && !ev.oper_changed());
        assert_eq!(ev.after.oper(), OperStatus::Down);
        assert_eq!(ev.after.last_change_ns, T0 + 40);
        assert_eq!(l.try_recv(), Some(ev));
        assert!(l.try_recv().is_none());
        // Admin testing masks too and forces oper TESTING.
        let ev = d.set_admin(0, AdminStatus::Testing, T0 + 50).event.unwrap();
        assert_eq!(ev.after.oper(), OperStatus::Testing);
        assert!(d.set_link(0, LinkStatus::Up, T0 + 60).masked);
        let ev = d.set_admin(0, AdminStatus::Up, T0 + 70).event.unwrap();
        assert_eq!(
            (ev.before.oper(), ev.after.oper()),
            (OperStatus::Testing, OperStatus::Up)
        );
        assert_eq!(d.set_admin(0, AdminStatus::Up, T0 + 80), Change::NONE);
        assert_eq!(d.event_counters().emitted(), 4);
    }

    #[test]
    fn invalid_index_is_harmless() {
        let d = dev(InitialState::AllUp);
        assert_eq!(d.set_link(10, LinkStatus::Down, T0), Change::NONE);
        assert_eq!(d.set_admin(usize::MAX, AdminStatus::Down, T0), Change::NONE);
        assert_eq!(d.state(10), MISSING);
        assert_eq!(d.counters_at(10, T0), Counters::default());
        assert_eq!(d.event_counters().emitted(), 0);
    }

    #[test]
    fn fan_out_drops_oldest_and_counts() {
        let shared = Arc::new(EventCounters::default());
        let d = DeviceModel::with_event_counters(&DeviceSpec::default(), shared.clone()).unwrap();
        let d2 = DeviceModel::with_event_counters(&DeviceSpec::default(), shared.clone()).unwrap();
        let mut slow = d.subscribe();
        let mut small = d.subscribe_with_depth(2);
        let mut fast = d.subscribe();
        let mut got_fast = Vec::new();
        // 20 changes: DOWN/UP on interface 0 at T0+1..=T0+20.
        for k in 1..=20u64 {
            let link = if k % 2 == 1 {
                LinkStatus::Down
            } else {
                LinkStatus::Up
            };
            assert!(d.set_link(0, link, T0 + k).event.is_some());
            got_fast.push(fast.try_recv().unwrap().after.last_change_ns);
        }
        d2.set_admin(1, AdminStatus::Down, T0).event.unwrap();
        assert_eq!(got_fast, (1..=20).map(|k| T0 + k).collect::<Vec<_>>());
        assert_eq!(fast.dropped(), 0);
        // The slow listener kept the newest 16, in order.
        let slow_got: Vec<u64> = std::iter::from_fn(|| slow.try_recv())
            .map(|e| e.after.last_change_ns)
            .collect();
        assert_eq!(slow_got, (5..=20).map(|k| T0 + k).collect::<Vec<_>>());
        assert_eq!(slow.dropped(), 4);
        let small_got: Vec<u64> = std::iter::from_fn(|| small.try_recv())
            .map(|e| e.after.last_change_ns)
            .collect();
        assert_eq!(small_got, vec![T0 + 19, T0 + 20]);
        assert_eq!(small.dropped(), 18);
        // Fleet-wide counters: events once each, drops per listener.
        assert_eq!(shared.emitted(), 21);
        assert_eq!(shared.dropped(), 22);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_async_listener_never_blocks_the_writer() {
        let d = Arc::new(dev(InitialState::AllUp));
        let mut l = d.subscribe();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let reader = tokio::spawn(async move {
            let mut got = 0u64;
            // Slow: take one event, then wait until the writer is done before draining.
            got += u64::from(l.recv().await.is_some());
            rx.await.unwrap();
            while l.try_recv().is_some() {
                got += 1;
            }
            (got, l.dropped())
        });
        // Synchronous writer: 200 events, never awaits.
        for k in 0..200u64 {
            let link = if k % 2 == 0 {
                LinkStatus::Down
            } else {
                LinkStatus::Up
            };
            assert!(d.set_link(1, link, T0 + k).event.is_some());
        }
        tx.send(()).unwrap();
        let (got, dropped) = tokio::time::timeout(std::time::Duration::from_secs(10), reader)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got + dropped, 200);
        assert!(got <= 1 + LISTENER_DEPTH as u64, "got {got}");
        assert_eq!(d.event_counters().dropped(), dropped);
    }

    #[test]
    fn listeners_unregister_on_drop() {
        let d = dev(InitialState::AllUp);
        let a = d.subscribe();
        let b = d.subscribe();
        assert_eq!(d.listener_count(), 2);
        drop(a);
        assert_eq!(d.listener_count(), 1);
        d.set_link(0, LinkStatus::Down, T0);
        drop(b);
        assert_eq!(d.listener_count(), 0);
        // No listeners: emitting still counts, nothing is queued anywhere.
        d.set_link(0, LinkStatus::Up, T0 + 1);
        assert_eq!(d.event_counters().emitted(), 2);
        assert_eq!(d.event_counters().dropped(), 0);
    }

    #[tokio::test]
    async fn recv_wakes_on_event_and_ends_when_device_dropped() {
        let d = Arc::new(dev(InitialState::AllUp));
        let mut l = d.subscribe();
        let writer = {
            let d = d.clone();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                d.set_admin(4, AdminStatus::Down, T0);
            })
        };
        let ev = tokio::time::timeout(std::time::Duration::from_secs(10), l.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ev.ifindex, 5);
        writer.await.unwrap();
        d.set_admin(4, AdminStatus::Up, T0 + 1);
        assert!(!l.is_closed());
        drop(d);
        assert!(l.is_closed());
        // Queued events are still delivered, then None.
        assert_eq!(l.recv().await.unwrap().after.admin, AdminStatus::Up);
        assert_eq!(l.recv().await, None);
    }

    #[tokio::test]
    async fn recv_pending_then_closed_by_drop() {
        let d = dev(InitialState::AllUp);
        let mut l = d.subscribe();
        let h = tokio::spawn(async move { l.recv().await });
        tokio::task::yield_now().await;
        drop(d);
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), h)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, None);
    }

    #[test]
    fn concurrent_writers_keep_events_consistent() {
        let d = Arc::new(
            DeviceModel::new(&DeviceSpec {
                interfaces: 4,
                ..Default::default()
            })
            .unwrap(),
        );
        let mut l = d.subscribe_with_depth(100_000);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let d = d.clone();
                std::thread::spawn(move || {
                    for k in 0..2_000u64 {
                        let link = if k % 2 == 0 {
                            LinkStatus::Down
                        } else {
                            LinkStatus::Up
                        };
                        d.set_link((t + k as usize) % 4, link, T0 + k);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Replaying the events per interface reproduces the final state exactly.
        let mut replay = [LinkStatus::Up; 4];
        let mut n = 0;
        while let Some(ev) = l.try_recv() {
            let i = ev.ifindex as usize - 1;
            assert_eq!(ev.before.link, replay[i]);
            replay[i] = ev.after.link;
            n += 1;
        }
        assert_eq!(n, d.event_counters().emitted());
        for (i, link) in replay.iter().enumerate() {
            assert_eq!(d.state(i).link, *link);
        }
    }

    #[test]
    fn a_subtrees_change_is_one_event_without_an_interface() {
        let d = DeviceModel::new(&DeviceSpec::default()).unwrap();
        let mut l = d.subscribe();
        let before: Vec<IfState> = (0..d.interface_count()).map(|i| d.state(i)).collect();
        d.subtrees_changed(1_800_000_000_000_000_000);
        let ev = l.try_recv().expect("one event");
        assert!(ev.is_subtrees());
        assert_eq!(ev.after.last_change_ns, 1_800_000_000_000_000_000);
        assert!(l.try_recv().is_none());
        let after: Vec<IfState> = (0..d.interface_count()).map(|i| d.state(i)).collect();
        assert_eq!(before, after);
    }

    #[test]
    fn spec_round_trips_and_model_is_small() {
        let spec = DeviceSpec {
            seed: 77,
            interfaces: 10,
            speed_bps: 10_000_000_000,
            errors: ErrorScenario::Degraded,
            initial: InitialState::PercentOperDown(30),
            naming: InterfaceNaming::Arista,
            boot_s: Some(1_750_000_000),
        };
        let d = DeviceModel::new(&spec).unwrap();
        assert_eq!(d.spec(), spec);
        assert!(Arc::ptr_eq(
            d.names(),
            DeviceModel::new(&DeviceSpec::default()).unwrap().names()
        ));
        let bytes = d.approx_size_bytes();
        // Inline struct + 10 packed words + listener registry + own event counters.
        let expected = size_of::<DeviceModel>()
            + 10 * 8
            + 16
            + size_of::<Registry>()
            + 16
            + size_of::<EventCounters>();
        assert_eq!(bytes, expected);
        eprintln!("10-interface device: {bytes} B");
        // The boot time sits in the padding after the small enum fields; the subtrees
        // pointer (shared by a profile's devices) is the last 8 bytes.
        #[cfg(target_pointer_width = "64")]
        assert_eq!(size_of::<DeviceModel>(), 64);
        assert!(bytes < 512, "device costs {bytes} B");
        assert!(matches!(
            DeviceModel::new(&DeviceSpec {
                interfaces: 0,
                ..spec
            }),
            Err(SpecError::Interfaces(0))
        ));
    }

    #[test]
    fn counters_count_from_the_boot_time() {
        let boot_s = 1_760_000_000u32;
        let d = DeviceModel::new(&DeviceSpec {
            seed: 3,
            boot_s: Some(boot_s),
            ..Default::default()
        })
        .unwrap();
        let boot = u64::from(boot_s) * 1_000_000_000;
        assert_eq!(d.boot_time_ns(), boot);
        assert_eq!(d.spec().boot_s, Some(boot_s));
        for i in 0..10 {
            assert_eq!(d.counters_at(i, boot), Counters::default());
            assert_eq!(d.counters_at(i, boot - 1), Counters::default());
            assert_eq!(d.counters_at(i, 0), Counters::default());
        }
        let mut prev = Counters::default();
        for dt_s in [1, 10, 3_600, 86_400, 30 * 86_400] {
            let c = d.counters_at(0, boot + dt_s * 1_000_000_000);
            assert!(c.get(crate::Counter::InOctets) > prev.get(crate::Counter::InOctets));
            prev = c;
        }
        // One day after boot at 1 Gbit/s is one day of traffic at 80 % load, not years of it.
        let day = d
            .counters_at(0, boot + 86_400 * 1_000_000_000)
            .get(crate::Counter::InOctets);
        assert!((day as f64 / 8.64e12 - 1.0).abs() < 1e-6, "{day}");
        // Without a boot time the model is still deterministic: seeded before 2023.
        let d = dev(InitialState::AllUp);
        let up = crate::DEFAULT_BOOT_BEFORE_S - d.spec().boot_s.unwrap();
        assert!((crate::MIN_SEEDED_UPTIME_S..=crate::MAX_SEEDED_UPTIME_S).contains(&up));
        assert_eq!(d.boot_time_ns(), dev(InitialState::AllUp).boot_time_ns());
    }

    #[test]
    fn reboot_restarts_counters_and_sets_last_change_with_events() {
        let d = dev(InitialState::AllUp);
        d.set_admin(3, AdminStatus::Down, T0);
        d.set_link(5, LinkStatus::Down, T0 + 1);
        let before: Vec<Counters> = (0..10).map(|i| d.counters_at(i, T0 + 2)).collect();
        assert!(before.iter().all(|c| c.get(crate::Counter::InOctets) > 0));
        let mut l = d.subscribe_with_depth(64);
        let emitted = d.event_counters().emitted();

        let now = T0 + 10_000_000_123;
        let boot = d.reboot(now);
        assert_eq!(boot, now - now % 1_000_000_000);
        assert_eq!(d.boot_time_ns(), boot);
        for (i, old) in before.iter().enumerate() {
            assert_eq!(d.counters_at(i, boot), Counters::default());
            let after = d.counters_at(i, now);
            assert!(
                after.get(crate::Counter::InOctets) < old.get(crate::Counter::InOctets),
                "counters restart from 0"
            );
            assert_eq!(d.state(i).last_change_ns, boot);
        }
        // Link and admin are kept; one event per interface, only last-change moved.
        assert_eq!(d.state(3).admin, AdminStatus::Down);
        assert_eq!(d.state(5).link, LinkStatus::Down);
        let events: Vec<StateEvent> = std::iter::from_fn(|| l.try_recv()).collect();
        assert_eq!(events.len(), 10);
        for (i, ev) in events.iter().enumerate() {
            assert_eq!(ev.ifindex, i as u32 + 1);
            assert_eq!(ev.after.last_change_ns, boot);
            assert!(!ev.oper_changed() && !ev.admin_changed());
            assert_eq!(
                (ev.before.link, ev.before.admin),
                (ev.after.link, ev.after.admin)
            );
        }
        assert_eq!(d.event_counters().emitted(), emitted + 10);
        // Counters grow again from the new boot; a second reboot in the same second is no change.
        assert!(
            d.counters_at(0, now + 5_000_000_000)
                .get(crate::Counter::InOctets)
                > 0
        );
        assert_eq!(d.reboot(now + 1), boot);
        assert!(l.try_recv().is_none());
        assert!(d.reboot(now + 2_000_000_000) > boot);
        assert_eq!(std::iter::from_fn(|| l.try_recv()).count(), 10);
    }

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn model_is_send_sync() {
        assert_send_sync::<DeviceModel>();
        assert_send_sync::<Listener>();
        let d = dev(InitialState::AllUp);
        let mut l = d.subscribe();
        assert_send(&l.recv());
    }
}
