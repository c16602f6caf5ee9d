//! LLDP neighbours of simulated devices, as the `openconfig-lldp` subtree
//! `/lldp/interfaces/interface[name]/neighbors/neighbor[id]/state`.
//!
//! A fleet keeps one [`NeighborTable`]: what each device hears on each of its interfaces
//! (the peer's host name, chassis id, port and management address). Each profile shape
//! serves it through one [`LldpNeighbors`] subtree (one neighbour slot per local
//! interface, shared by every device of that shape), which looks the device up by its
//! seed ([`nl6_model::DeviceKey::seed`], unique per device of a fleet). A slot without a
//! neighbour has no leaves, so it is absent from every response.
//!
//! ```
//! use std::sync::Arc;
//! use nl6_lldp::{LldpNeighbors, Neighbor, NeighborTable, chassis_id};
//! use nl6_model::{DeviceKey, Subtree, Value};
//!
//! let table = Arc::new(NeighborTable::default());
//! let names = vec!["Ethernet1".to_string(), "Ethernet2".to_string()];
//! let lldp = LldpNeighbors::new(&names, table.clone());
//! let me = DeviceKey { seed: 7, boot_ns: 0 };
//! let name = lldp.schema().leaf_index(&["state", "system-name"]).unwrap();
//! assert_eq!(lldp.value(me, 1, name, 0), None);
//!
//! table.set(7, 2, Neighbor { // ifindex 2 = entry 1
//!     system_name: "spine1".into(),
//!     system_description: "Arista EOS".into(),
//!     chassis_id: chassis_id(99),
//!     port_id: "Ethernet4".into(),
//!     management_address: "127.42.0.9".into(),
//! });
//! assert_eq!(lldp.value(me, 1, name, 0), Some(Value::Str("spine1".into())));
//! assert_eq!(lldp.parent_keys(1)[0].value, "Ethernet2");
//! ```

mod table;

pub use table::{Neighbor, NeighborTable, chassis_id};

use std::sync::Arc;

use nl6_model::{
    DeviceKey, LeafClass, LeafSchema, LeafType, ModelInfo, ParentKey, Subtree, SubtreeSchema, Value,
};

/// The `openconfig-lldp` model, as advertised in Capabilities.
pub const LLDP_MODEL: ModelInfo = ModelInfo {
    name: "openconfig-lldp",
    organization: "OpenConfig working group",
    version: "0.2.1",
};

/// The `id` of the one neighbour an interface has (links are point to point).
pub const NEIGHBOR_ID: &str = "1";

/// The time-to-live every neighbour advertises, seconds (the LLDP default: 4 × 30 s).
pub const TTL_S: u64 = 120;

const fn state(name: &'static [&'static str], ty: LeafType) -> LeafSchema {
    LeafSchema {
        path: name,
        ty,
        class: LeafClass::OnChange,
    }
}

/// The schema of `/lldp/interfaces/interface[name]/neighbors/neighbor[id]`.
pub static NEIGHBORS: SubtreeSchema = SubtreeSchema {
    module: "openconfig-lldp",
    list: &["lldp", "interfaces", "interface", "neighbors", "neighbor"],
    key: Some("id"),
    leaves: &[
        state(&["state", "id"], LeafType::String),
        state(&["state", "system-name"], LeafType::String),
        state(&["state", "system-description"], LeafType::String),
        state(&["state", "chassis-id"], LeafType::String),
        state(&["state", "chassis-id-type"], LeafType::Enum),
        state(&["state", "port-id"], LeafType::String),
        state(&["state", "port-id-type"], LeafType::Enum),
        state(&["state", "management-address"], LeafType::String),
        state(&["state", "ttl"], LeafType::Uint32),
    ],
};

/// Depth of `interface` in [`NEIGHBORS`]' list path (where the `name` key sits).
const INTERFACE_DEPTH: usize = 2;

/// `/lldp/interfaces/interface[name]/neighbors/neighbor[id]`: the neighbour each local
/// interface hears, from a [`NeighborTable`].
#[derive(Debug)]
pub struct LldpNeighbors {
    /// Per local interface (entry), the `interface[name]` key.
    parents: Vec<[ParentKey; 1]>,
    table: Arc<NeighborTable>,
}

impl LldpNeighbors {
    /// One neighbour slot per interface of `names` (in ifindex order), read from `table`.
    pub fn new(names: &[String], table: Arc<NeighborTable>) -> LldpNeighbors {
        let parents = names
            .iter()
            .map(|name| {
                [ParentKey {
                    depth: INTERFACE_DEPTH,
                    name: "name",
                    value: name.clone(),
                }]
            })
            .collect();
        LldpNeighbors { parents, table }
    }
}

impl Subtree for LldpNeighbors {
    fn schema(&self) -> &'static SubtreeSchema {
        &NEIGHBORS
    }

    fn entry_count(&self) -> usize {
        self.parents.len()
    }

    fn key(&self, _entry: usize) -> &str {
        NEIGHBOR_ID
    }

    fn value(&self, device: DeviceKey, entry: usize, leaf: usize, _unix_ns: u64) -> Option<Value> {
        let ifindex = u32::try_from(entry).ok()?.checked_add(1)?;
        let neighbor = self.table.get(device.seed, ifindex)?;
        Some(match leaf {
            0 => Value::Str(NEIGHBOR_ID.to_string()),
            1 => Value::Str(neighbor.system_name.clone()),
            2 => Value::Str(neighbor.system_description.clone()),
            3 => Value::Str(neighbor.chassis_id.clone()),
            4 => Value::Enum("MAC_ADDRESS"),
            5 => Value::Str(neighbor.port_id.clone()),
            6 => Value::Enum("INTERFACE_NAME"),
            7 => Value::Str(neighbor.management_address.clone()),
            8 => Value::Uint(TTL_S),
            _ => return None,
        })
    }

    fn parent_keys(&self, entry: usize) -> &[ParentKey] {
        self.parents.get(entry).map_or(&[], |p| &p[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_leaf_is_on_change_and_typed_as_declared() {
        let table = Arc::new(NeighborTable::default());
        let lldp = LldpNeighbors::new(&["et-0/0/0".to_string()], table.clone());
        table.set(
            3,
            1,
            Neighbor {
                system_name: "r2".into(),
                system_description: "d".into(),
                chassis_id: chassis_id(1),
                port_id: "et-0/0/1".into(),
                management_address: "127.42.0.2".into(),
            },
        );
        let key = DeviceKey {
            seed: 3,
            boot_ns: 0,
        };
        for (leaf, schema) in NEIGHBORS.leaves.iter().enumerate() {
            assert_eq!(schema.class, LeafClass::OnChange);
            let value = lldp.value(key, 0, leaf, 0).unwrap();
            let fits = matches!(
                (schema.ty, &value),
                (LeafType::String, Value::Str(_))
                    | (LeafType::Enum, Value::Enum(_))
                    | (LeafType::Uint32, Value::Uint(_))
            );
            assert!(fits, "{:?}: {value:?}", schema.path);
        }
        assert_eq!(lldp.value(key, 0, NEIGHBORS.leaves.len(), 0), None);
        assert_eq!(lldp.value(key, 1, 0, 0), None);
        table.remove(3, 1);
        assert_eq!(lldp.value(key, 0, 1, 0), None);
    }
}
