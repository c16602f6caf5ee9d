//! One simulated device: its address, interface model, batch settings and the
//! timers and exporter it owns.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::SystemTime;

use nl6_dialout::{DeviceExport, DialoutConfig, Flavor};
use nl6_ifstate::{DeviceModel, ErrorScenario, FlapScenario, InitialState, InterfaceNaming};
use nl6_mdt::MdtConfig;
use parking_lot::Mutex;
use tokio::task::AbortHandle;

use crate::state::StateLeaf;

/// What a batch was created with; shared by every device of the batch and echoed
/// when devices are listed.
#[derive(Clone, Debug)]
pub struct BatchSpec {
    /// First device address.
    pub start_ip: Ipv4Addr,
    /// Number of devices (1..=100,000).
    pub device_count: u32,
    /// Netmask length of the batch network: 8, 16 or 24.
    pub netmask: u8,
    /// Interfaces per device.
    pub interfaces: u32,
    /// Link speed of every interface, bit/s.
    pub speed_bps: u64,
    /// Error/discard counter scenario.
    pub error_scenario: ErrorScenario,
    /// Link-flap scenario.
    pub flap_scenario: FlapScenario,
    /// BGP flap scenario of the sessions themselves (a profile with BGP only): the same
    /// rates as `flap_scenario`, per session.
    pub bgp_flap_scenario: FlapScenario,
    /// Interface state at creation.
    pub initial_state: InitialState,
    /// How interfaces are named (`Ethernet1`, `HundredGigE0/0/0/0`, ...).
    pub interface_naming: InterfaceNaming,
    /// The device profile (`generic`, `juniper-mx`, ...; see [`nl6_profile`]): which
    /// subtrees besides interfaces the devices serve. Its interface naming is a default
    /// for callers to apply; `interface_naming` above is what is used.
    pub device_type: String,
    /// Host names of the devices: a pattern with `{n}` (1-based index in the batch)
    /// and `{ip}` (the address in dashes), or a prefix followed by the index; `None` =
    /// derived from the address (`nl6-127-42-0-1`). See [`crate::hostname_for`].
    pub hostname: Option<String>,
    /// Dial-out settings; `None` = dial-in only.
    pub dialout: Option<DialoutConfig>,
    /// Cisco model-driven telemetry (sensor groups, destinations, subscriptions);
    /// `None` = none.
    pub mdt: Option<MdtConfig>,
}

impl Default for BatchSpec {
    fn default() -> Self {
        BatchSpec {
            start_ip: Ipv4Addr::new(127, 42, 0, 1),
            device_count: 10,
            netmask: 16,
            interfaces: 10,
            speed_bps: 1_000_000_000,
            error_scenario: ErrorScenario::Clean,
            flap_scenario: FlapScenario::Clean,
            bgp_flap_scenario: FlapScenario::Clean,
            initial_state: InitialState::AllUp,
            interface_naming: InterfaceNaming::Arista,
            device_type: nl6_profile::DEFAULT_PROFILE.to_string(),
            hostname: None,
            dialout: None,
            mdt: None,
        }
    }
}

/// One MDT dial-out session of a batch's devices: its exporter settings and the flavor
/// instance that carries the subscription.
pub(crate) type MdtSession = (Arc<DialoutConfig>, Arc<dyn Flavor>);

/// The batch a device belongs to.
pub(crate) struct Batch {
    /// Shared with every [`DeviceInfo`] of the batch (listing clones the `Arc`, never the
    /// settings).
    pub(crate) spec: Arc<BatchSpec>,
    /// `spec.dialout`, shared by the batch's exporters.
    pub(crate) dialout: Option<Arc<DialoutConfig>>,
    /// `spec.mdt`, shared with the dial-in `CreateSubs` handler.
    pub(crate) mdt: Option<Arc<MdtConfig>>,
    /// The MDT dial-out sessions of each device: settings and the flavor instance,
    /// shared by the batch.
    pub(crate) mdt_sessions: Vec<MdtSession>,
    /// The profile's subtrees for this batch's interface count, shared by its devices.
    pub(crate) subtrees: Option<Arc<nl6_model::Subtrees>>,
    pub(crate) created: SystemTime,
}

/// A device in the fleet.
pub(crate) struct Device {
    pub(crate) ip: Ipv4Addr,
    pub(crate) hostname: Arc<str>,
    pub(crate) model: Arc<DeviceModel>,
    pub(crate) batch: Arc<Batch>,
    /// The running dial-out exporter; dropping it stops the export and folds its counters.
    /// Boxed: a dial-in-only device pays a pointer, not an exporter's ~120 bytes.
    pub(crate) export: Mutex<Option<Box<DeviceExport>>>,
    /// The running MDT dial-out sessions, one per subscription and destination.
    pub(crate) mdt_exports: Mutex<Vec<DeviceExport>>,
    /// Pending "revert after duration" timers of the REST state endpoints, allocated on
    /// the first one (most devices never have one).
    pub(crate) timers: Mutex<Option<Box<Timers>>>,
}

/// Pending revert timers of one device, by interface and leaf.
pub(crate) type Timers = HashMap<(u32, StateLeaf), AbortHandle>;

impl Device {
    /// Stops the timers and hands out the exporters (gNMI and MDT): the caller stops them
    /// and waits (dropping them would stop them too; counters fold exactly once either way).
    pub(crate) fn stop_timers_take_exports(&self) -> Vec<DeviceExport> {
        if let Some(timers) = self.timers.lock().take() {
            for timer in timers.values() {
                timer.abort();
            }
        }
        let mut exports: Vec<DeviceExport> =
            self.export.lock().take().map(|e| *e).into_iter().collect();
        exports.append(&mut self.mdt_exports.lock());
        exports
    }
}

/// A device as listed by [`crate::Fleet::page`] (or [`crate::Fleet::get`]).
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    /// The device address.
    pub ip: Ipv4Addr,
    /// The device's host name.
    pub hostname: String,
    /// Number of interfaces.
    pub interfaces: usize,
    /// Whether the device streams dial-out telemetry.
    pub dialout: bool,
    /// Why its last dial-out connection attempt or stream failed, if one did.
    pub dialout_error: Option<String>,
    /// The collector it streams to (or tries next), for a dial-out device.
    pub dialout_collector: Option<String>,
    /// MDT dial-out sessions running (one per subscription and destination).
    pub mdt_sessions: usize,
    /// The batch settings it was created with, shared by every device of the batch.
    pub batch: Arc<BatchSpec>,
    /// When its batch was created.
    pub created: SystemTime,
    /// When the device (last) booted, whole seconds: its counters count from it. Seeded
    /// 1–400 days before the fleet started, then the time of its last
    /// [`crate::Fleet::reboot`].
    pub boot_time: SystemTime,
}

impl Device {
    pub(crate) fn info(&self) -> DeviceInfo {
        let export = self.export.lock();
        DeviceInfo {
            ip: self.ip,
            hostname: self.hostname.to_string(),
            interfaces: self.model.interface_count(),
            dialout: self.batch.spec.dialout.is_some(),
            dialout_error: export.as_ref().and_then(|e| e.last_error()),
            dialout_collector: export.as_ref().map(|e| e.collector().to_string()),
            mdt_sessions: self.mdt_exports.lock().len(),
            batch: Arc::clone(&self.batch.spec),
            created: self.batch.created,
            boot_time: unix_ns_time(self.model.boot_time_ns()),
        }
    }
}

/// A Unix ns instant as a `SystemTime`.
pub(crate) fn unix_ns_time(ns: u64) -> SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns)
}

/// One page of the device listing (see [`crate::Fleet::page`]).
#[derive(Clone, Debug)]
pub struct Page {
    /// Devices in the fleet (all pages).
    pub total: usize,
    /// The devices of this page, by address.
    pub devices: Vec<DeviceInfo>,
    /// The address the next page starts after; `None` on the last page.
    pub next: Option<Ipv4Addr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every device of the fleet has one; a dial-in device uses none of the exporter or
    /// timer state, so those are a pointer each until used.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_device_record_stays_small() {
        let size = size_of::<Device>();
        assert!(size <= 112, "Device is {size} B");
    }
}
