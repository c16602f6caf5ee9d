//! What each device hears on each of its interfaces.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

/// What a device hears from the peer on one interface (the peer's LLDP advertisement).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbor {
    /// The peer's host name.
    pub system_name: String,
    /// The peer's system description (its profile).
    pub system_description: String,
    /// The peer's chassis id, a MAC address ([`chassis_id`]).
    pub chassis_id: String,
    /// The peer's interface name.
    pub port_id: String,
    /// The peer's management address (its device address).
    pub management_address: String,
}

/// The neighbours of every device of a fleet, by device seed and local ifindex.
/// Readers (every gNMI read of an LLDP leaf) take a shared lock; changes are rare.
#[derive(Debug, Default)]
pub struct NeighborTable {
    by_device: RwLock<HashMap<u64, HashMap<u32, Arc<Neighbor>>>>,
}

impl NeighborTable {
    /// Device `device` (its seed) hears `neighbor` on interface `ifindex` from now on.
    pub fn set(&self, device: u64, ifindex: u32, neighbor: Neighbor) {
        self.by_device
            .write()
            .entry(device)
            .or_default()
            .insert(ifindex, Arc::new(neighbor));
    }

    /// Device `device` no longer hears anyone on `ifindex`; whether it did.
    pub fn remove(&self, device: u64, ifindex: u32) -> bool {
        let mut by_device = self.by_device.write();
        let Some(ports) = by_device.get_mut(&device) else {
            return false;
        };
        let removed = ports.remove(&ifindex).is_some();
        if ports.is_empty() {
            by_device.remove(&device);
        }
        removed
    }

    /// What device `device` hears on `ifindex`.
    pub fn get(&self, device: u64, ifindex: u32) -> Option<Arc<Neighbor>> {
        self.by_device.read().get(&device)?.get(&ifindex).cloned()
    }

    /// Number of (device, interface) pairs that hear a neighbour.
    pub fn len(&self) -> usize {
        self.by_device.read().values().map(HashMap::len).sum()
    }

    /// Whether no device hears any neighbour.
    pub fn is_empty(&self) -> bool {
        self.by_device.read().is_empty()
    }
}

/// The chassis id of the device with seed `seed`: a locally administered unicast MAC
/// address (`02:…`), the same for the same seed.
pub fn chassis_id(seed: u64) -> String {
    let b = seed.to_be_bytes();
    format!(
        "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[3] ^ b[7],
        b[4],
        b[5],
        b[6],
        b[2] ^ b[1]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chassis_ids_are_local_macs() {
        let id = chassis_id(0x1234_5678_9abc_def0);
        assert_eq!(id.len(), 17);
        assert!(id.starts_with("02:"));
        assert_eq!(id, chassis_id(0x1234_5678_9abc_def0));
        assert_ne!(id, chassis_id(0x1234_5678_9abc_def1));
    }

    #[test]
    fn removing_the_last_neighbor_forgets_the_device() {
        let t = NeighborTable::default();
        let n = Neighbor {
            system_name: "a".into(),
            system_description: String::new(),
            chassis_id: chassis_id(1),
            port_id: "Ethernet1".into(),
            management_address: "127.0.0.1".into(),
        };
        t.set(1, 2, n.clone());
        assert_eq!(t.get(1, 2).as_deref(), Some(&n));
        assert_eq!(t.len(), 1);
        assert!(t.remove(1, 2));
        assert!(!t.remove(1, 2));
        assert!(t.is_empty());
    }
}
