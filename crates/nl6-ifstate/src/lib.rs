//! Interface-state model of a simulated nl6 device (no gNMI here).
//!
//! * [`DeviceModel`]: N interfaces with analytic, seeded [`Counters`]
//!   ([`DeviceModel::counters_at`]) that count from the device's boot time (0 at boot,
//!   non-decreasing until [`DeviceModel::reboot`] restarts them), link/admin state packed in
//!   one `AtomicU64` per interface with oper derived per RFC 2863 ([`IfState::oper`]), and
//!   on-change [`Listener`]s fed through bounded drop-oldest queues.
//! * [`seeded_boot_s`]: a device's boot time, 1–400 days (from its seed) before an instant.
//! * [`InterfaceNames`]: the interned `Ethernet1..EthernetN` list shared by all devices with N
//!   interfaces.
//! * [`Subinterfaces`]: the subinterfaces of every interface, as a subtree whose state
//!   follows the parent and whose counters are a seeded share of the parent's.
//! * [`FlapScheduler`]: one tokio task flapping links of a whole fleet, Poisson per interface,
//!   capped by a global token bucket.
//!
//! `last-change` is stored exactly in ns for synthetic clocks (< 2^58 ns) and real clocks
//! (2020-09-13 .. 2076); see [`stored_last_change`] for how other values are recorded.
//!
//! ```
//! use nl6_ifstate::{Counter, DeviceModel, DeviceSpec, LinkStatus, OperStatus};
//! use std::sync::Arc;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let dev = Arc::new(DeviceModel::new(&DeviceSpec { seed: 42, ..Default::default() })?);
//! assert_eq!(dev.names().name(0), "Ethernet1");
//!
//! let now = nl6_ifstate::unix_now_ns();
//! let c = dev.counters_at(0, now);
//! assert!(dev.counters_at(0, now + 1_000_000_000).get(Counter::InOctets) > c.get(Counter::InOctets));
//!
//! // A reboot: counters restart at 0 from the new boot time (whole seconds).
//! let boot = dev.reboot(now);
//! assert_eq!(dev.boot_time_ns(), boot);
//! assert_eq!(dev.counters_at(0, boot).get(Counter::InOctets), 0);
//! assert!(dev.counters_at(0, now).get(Counter::InOctets) < c.get(Counter::InOctets));
//!
//! let mut listener = dev.subscribe();
//! let change = dev.set_link(0, LinkStatus::Down, now);
//! assert!(!change.masked);
//! let ev = listener.recv().await.unwrap();
//! assert_eq!((ev.ifindex, ev.after.oper(), ev.after.last_change_ns), (1, OperStatus::Down, now));
//! assert!(ev.oper_changed() && !ev.admin_changed());
//! # Ok::<(), nl6_ifstate::SpecError>(())
//! # }).unwrap();
//! ```

mod counter;
mod device;
mod event;
mod flap;
mod listener;
mod names;
mod packed;
mod parse;
mod spec;
mod status;
mod subif;
mod sync;
mod traffic;

pub use counter::{Counter, Counters};
pub use device::{Change, DeviceModel};
pub use event::StateEvent;
pub use flap::FlapScheduler;
pub use listener::{EventCounters, LISTENER_DEPTH, Listener};
pub use names::{InterfaceNames, InterfaceNaming};
pub use packed::stored_last_change;
pub use parse::ParseEnumError;
pub use spec::{
    DEFAULT_BOOT_BEFORE_S, DeviceSpec, ErrorScenario, FlapScenario, InitialState, MAX_INTERFACES,
    MAX_SPEED_BPS, SpecError,
};
pub use status::{AdminStatus, IfState, LinkStatus, OperStatus};
pub use subif::{MAX_SUBINTERFACES, SUBINTERFACES, Subinterfaces};
pub use traffic::{MAX_SEEDED_UPTIME_S, MIN_SEEDED_UPTIME_S, seeded_boot_s};

/// Compiles the README example as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctest;

/// The current wall-clock time in Unix nanoseconds (0 if the clock is before 1970).
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().min(u64::MAX as u128) as u64)
        .unwrap_or(0)
}
