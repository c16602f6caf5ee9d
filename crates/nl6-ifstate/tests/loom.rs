//! Model checks of the on-change fan-out's drop-oldest queue under `loom`: every
//! interleaving of one writer and one listener (bounded by a preemption budget).
//!
//! Run with (a separate target dir keeps the normal build cache):
//! `RUSTFLAGS="--cfg loom" cargo test -p nl6-ifstate --release --test loom --target-dir target/loom`
//! Without `--cfg loom` this file compiles to nothing.
#![cfg(loom)]

use std::sync::Arc;

use nl6_ifstate::{AdminStatus, DeviceModel, DeviceSpec, EventCounters, StateEvent};

/// Events the writer emits per model run.
const EVENTS: u64 = 3;

/// A model builder with a preemption bound of 3 (which keeps a run to seconds) unless
/// `LOOM_MAX_PREEMPTIONS` sets another.
fn builder() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = Some(3);
    }
    b
}

/// A one-interface device counting into `counters`.
fn device(counters: &Arc<EventCounters>) -> DeviceModel {
    let spec = DeviceSpec {
        interfaces: 1,
        ..DeviceSpec::default()
    };
    DeviceModel::with_event_counters(&spec, counters.clone()).unwrap()
}

/// Emits `EVENTS` admin toggles on interface 0, at times 1, 2, 3 (ns).
fn write_events(device: &DeviceModel) {
    for t in 1..=EVENTS {
        let admin = if t % 2 == 1 {
            AdminStatus::Down
        } else {
            AdminStatus::Up
        };
        assert!(device.set_admin(0, admin, t).event.is_some());
    }
}

/// Checks what one listener saw: in order, the newest event always kept, and every
/// event either received or counted as dropped (per listener and fleet-wide).
fn check(got: &[StateEvent], dropped: u64, counters: &EventCounters) {
    let times: Vec<u64> = got.iter().map(|e| e.after.last_change_ns).collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "out of order: {times:?}"
    );
    assert_eq!(
        times.last(),
        Some(&EVENTS),
        "the newest event is never dropped"
    );
    assert_eq!(
        got.len() as u64 + dropped,
        EVENTS,
        "lost uncounted: {times:?}"
    );
    assert_eq!(counters.emitted(), EVENTS);
    assert_eq!(counters.dropped(), dropped);
}

#[test]
fn writer_and_async_listener_lose_nothing_uncounted() {
    builder().check(|| {
        let counters = Arc::new(EventCounters::default());
        let device = Arc::new(device(&counters));
        // Depth 1: every interleaving where the listener falls behind overflows.
        let mut listener = device.subscribe_with_depth(1);
        let writer = {
            let device = device.clone();
            loom::thread::spawn(move || write_events(&device))
        };
        let mut got = Vec::new();
        loom::future::block_on(async {
            while got.len() as u64 + listener.dropped() < EVENTS {
                got.push(listener.recv().await.expect("the device is alive"));
            }
        });
        writer.join().unwrap();
        check(&got, listener.dropped(), &counters);
        assert!(listener.try_recv().is_none());
    });
}

#[test]
fn listener_drains_then_sees_the_device_gone() {
    builder().check(|| {
        let counters = Arc::new(EventCounters::default());
        let device = device(&counters);
        let mut listener = device.subscribe_with_depth(2);
        // The writer owns the device and drops it after the last event: the listener
        // must drain what is queued, then get `None` (no lost wake-up, no deadlock).
        let writer = loom::thread::spawn(move || {
            write_events(&device);
            drop(device);
        });
        let mut got = Vec::new();
        loom::future::block_on(async {
            while let Some(ev) = listener.recv().await {
                got.push(ev);
            }
        });
        writer.join().unwrap();
        assert!(listener.is_closed());
        check(&got, listener.dropped(), &counters);
    });
}

#[test]
fn unsubscribing_while_the_writer_emits_never_deadlocks() {
    builder().check(|| {
        let counters = Arc::new(EventCounters::default());
        let device = Arc::new(device(&counters));
        let listener = device.subscribe_with_depth(1);
        let writer = {
            let device = device.clone();
            loom::thread::spawn(move || write_events(&device))
        };
        drop(listener); // takes the registry lock the writer emits under
        writer.join().unwrap();
        assert_eq!(device.listener_count(), 0);
        assert_eq!(counters.emitted(), EVENTS);
        // At most depth-1 overflows happened before the listener left.
        assert!(counters.dropped() < EVENTS);
    });
}
