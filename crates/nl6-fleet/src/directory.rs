//! The device map, which is also the dial-in server's directory.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use nl6_dialin::DeviceDirectory;
use nl6_ifstate::DeviceModel;
use parking_lot::RwLock;

use crate::device::Device;

/// Devices by address.
#[derive(Default)]
pub(crate) struct DeviceMap {
    devices: RwLock<HashMap<Ipv4Addr, Arc<Device>>>,
}

impl DeviceMap {
    pub(crate) fn get(&self, ip: Ipv4Addr) -> Option<Arc<Device>> {
        self.devices.read().get(&ip).cloned()
    }

    pub(crate) fn contains(&self, ip: Ipv4Addr) -> bool {
        self.devices.read().contains_key(&ip)
    }

    pub(crate) fn len(&self) -> usize {
        self.devices.read().len()
    }

    /// Inserts every device at once (the batch becomes visible atomically).
    pub(crate) fn insert_all(&self, devices: Vec<Arc<Device>>) {
        let mut map = self.devices.write();
        map.reserve(devices.len());
        for device in devices {
            map.insert(device.ip, device);
        }
    }

    pub(crate) fn remove(&self, ip: Ipv4Addr) -> Option<Arc<Device>> {
        self.devices.write().remove(&ip)
    }

    pub(crate) fn drain(&self) -> Vec<Arc<Device>> {
        self.devices.write().drain().map(|(_, d)| d).collect()
    }

    pub(crate) fn snapshot(&self) -> Vec<Arc<Device>> {
        let mut all: Vec<_> = self.devices.read().values().cloned().collect();
        all.sort_by_key(|d| d.ip);
        all
    }
}

impl DeviceDirectory for DeviceMap {
    fn device(&self, local: Ipv4Addr) -> Option<Arc<DeviceModel>> {
        self.devices.read().get(&local).map(|d| d.model.clone())
    }

    fn device_count(&self) -> usize {
        self.len()
    }
}
