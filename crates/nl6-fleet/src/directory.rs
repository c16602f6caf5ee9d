//! The device map, which is also the dial-in server's directory (gNMI and MDT).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::ops::Bound;
use std::sync::Arc;

use nl6_dialin::DeviceDirectory;
use nl6_ifstate::DeviceModel;
use parking_lot::{Mutex, RwLock};

use crate::composition::Composition;
use crate::device::Device;

/// Devices by address, in address order (a page of the listing is a range of the map),
/// and their [`Composition`], updated under the map's write lock.
#[derive(Default)]
pub(crate) struct DeviceMap {
    devices: RwLock<BTreeMap<Ipv4Addr, Arc<Device>>>,
    composition: Mutex<Composition>,
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
        let mut composition = self.composition.lock();
        for device in devices {
            composition.add(&device);
            if let Some(old) = map.insert(device.ip, device) {
                composition.remove(&old);
            }
        }
    }

    pub(crate) fn remove(&self, ip: Ipv4Addr) -> Option<Arc<Device>> {
        let mut map = self.devices.write();
        let removed = map.remove(&ip);
        if let Some(device) = &removed {
            self.composition.lock().remove(device);
        }
        removed
    }

    pub(crate) fn drain(&self) -> Vec<Arc<Device>> {
        let mut map = self.devices.write();
        *self.composition.lock() = Composition::default();
        std::mem::take(&mut *map).into_values().collect()
    }

    /// The devices by kind (a copy; never visits the devices).
    pub(crate) fn composition(&self) -> Composition {
        self.composition.lock().clone()
    }

    /// The devices with an address in `first..=last`, by address.
    pub(crate) fn range(&self, first: Ipv4Addr, last: Ipv4Addr) -> Vec<Arc<Device>> {
        self.devices
            .read()
            .range(first..=last)
            .map(|(_, d)| d.clone())
            .collect()
    }

    pub(crate) fn snapshot(&self) -> Vec<Arc<Device>> {
        self.devices.read().values().cloned().collect()
    }

    /// Up to `limit` devices after `after` (from the first when `None`), by address, the
    /// number of devices, and whether more follow; O(log n + limit).
    pub(crate) fn page(
        &self,
        after: Option<Ipv4Addr>,
        limit: usize,
    ) -> (usize, Vec<Arc<Device>>, bool) {
        let map = self.devices.read();
        let start = match after {
            Some(ip) => Bound::Excluded(ip),
            None => Bound::Unbounded,
        };
        let mut range = map.range((start, Bound::Unbounded));
        let page: Vec<_> = range.by_ref().take(limit).map(|(_, d)| d.clone()).collect();
        let more = range.next().is_some();
        (map.len(), page, more)
    }
}

impl nl6_mdt::MdtDirectory for DeviceMap {
    fn mdt(&self, device: Ipv4Addr) -> Option<(Arc<str>, Arc<nl6_mdt::MdtConfig>)> {
        let map = self.devices.read();
        let d = map.get(&device)?;
        Some((d.hostname.clone(), d.batch.mdt.clone()?))
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
