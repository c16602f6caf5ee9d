//! What the fleet is made of, counted as devices come and go, so reading it never visits
//! the devices.

use std::collections::BTreeMap;

use crate::device::Device;

/// Devices of the fleet by kind: interface naming, gNMI dial-out flavor and MDT flavor.
/// Kept up to date on every insert and removal: O(1) to read at any fleet size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Composition {
    /// Devices in the fleet.
    pub devices: u64,
    /// Interfaces of all devices.
    pub interfaces: u64,
    /// Devices by interface naming (`arista`, `xr`, `junos`, `sros`, `sonic`).
    pub by_naming: BTreeMap<String, u64>,
    /// Devices by device profile (`generic`, `juniper-mx`, ...).
    pub by_device_type: BTreeMap<String, u64>,
    /// Devices by gNMI dial-out flavor (`gnmireverse`, `nokia`, `sonic`, ...).
    pub by_dialout_flavor: BTreeMap<String, u64>,
    /// Devices with at least one MDT dial-out session of a flavor
    /// (`mdt-<protocol>-<encoding>`).
    pub by_mdt_flavor: BTreeMap<String, u64>,
    /// Devices with neither gNMI dial-out nor MDT dial-out (dial-in only).
    pub dialin_only: u64,
}

impl Composition {
    /// Counts `device` in.
    pub(crate) fn add(&mut self, device: &Device) {
        self.apply(device, true);
    }

    /// Counts `device` out.
    pub(crate) fn remove(&mut self, device: &Device) {
        self.apply(device, false);
    }

    fn apply(&mut self, device: &Device, add: bool) {
        let step = |n: &mut u64| {
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
        };
        step(&mut self.devices);
        let interfaces = device.model.interface_count() as u64;
        self.interfaces = if add {
            self.interfaces + interfaces
        } else {
            self.interfaces.saturating_sub(interfaces)
        };
        let spec = &device.batch.spec;
        bump(&mut self.by_naming, spec.interface_naming.as_str(), add);
        bump(&mut self.by_device_type, &spec.device_type, add);
        if let Some(cfg) = &spec.dialout {
            bump(&mut self.by_dialout_flavor, cfg.flavor_name(), add);
        }
        let mut mdt: Vec<&str> = device
            .batch
            .mdt_sessions
            .iter()
            .map(|(_, flavor)| flavor.name())
            .collect();
        mdt.sort_unstable();
        mdt.dedup();
        for name in &mdt {
            bump(&mut self.by_mdt_flavor, name, add);
        }
        if spec.dialout.is_none() && mdt.is_empty() {
            step(&mut self.dialin_only);
        }
    }
}

/// Adds one to (or takes one from) `map[key]`; a key that reaches 0 is removed.
fn bump(map: &mut BTreeMap<String, u64>, key: &str, add: bool) {
    if add {
        *map.entry(key.to_string()).or_default() += 1;
    } else if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}
