//! Platform and system models of a simulated device, as [`nl6_model::Subtree`]s:
//!
//! - [`Components`]: `openconfig-platform` `/components/component[name]` — chassis, line
//!   cards, fans, power supplies, CPUs and one transceiver per port, with `type`,
//!   `oper-status`, serial and part numbers, and `temperature/{instant,avg,min,max}`;
//! - [`Cpus`]: `openconfig-system` `/system/cpus/cpu[index]` utilisation
//!   `total/{instant,avg,min,max}`;
//! - [`Memory`]: `/system/memory/state` `physical`, `used`, `free`;
//! - [`SystemState`]: `/system/state` `boot-time`.
//!
//! Every value is analytic: a pure function of the device seed, the entry and the
//! instant (like the interface counters), so a fleet's devices share one set of
//! subtrees per [`Inventory`] and no device stores any of it. Serial numbers differ per
//! device; temperatures and utilisation drift on a slow seeded wave around a seeded
//! level, and `avg`/`min`/`max` describe the wave's current 10-minute cycle.
//!
//! ```
//! use nl6_model::{DeviceKey, Subtree, Value};
//! use nl6_platform::{Components, Inventory};
//!
//! let components = Components::new(&Inventory::default());
//! let chassis = (0..components.entry_count()).find(|&e| components.key(e) == "Chassis").unwrap();
//! let temperature = components.schema().leaf_index(&["state", "temperature", "instant"]).unwrap();
//! let key = DeviceKey { seed: 42, boot_ns: 0 };
//! let Some(Value::Decimal(t)) = components.value(key, chassis, temperature, 1_700_000_000_000_000_000) else {
//!     panic!("a decimal temperature");
//! };
//! assert!((20.0..80.0).contains(&t.to_f64()));
//! ```

mod components;
mod inventory;
mod system;
mod wave;

pub use components::{COMPONENTS, ComponentKind, Components};
pub use inventory::{Inventory, InventoryError, MAX_PER_KIND};
pub use system::{CPUS, Cpus, MEMORY, Memory, SYSTEM_STATE, SystemState};

use std::sync::Arc;

use nl6_model::{ModelInfo, Subtree, Subtrees};

/// The `openconfig-platform` model, as advertised in Capabilities.
pub const PLATFORM_MODEL: ModelInfo = ModelInfo {
    name: "openconfig-platform",
    organization: "OpenConfig working group",
    version: "0.30.0",
};

/// The `openconfig-platform-transceiver` model, as advertised in Capabilities.
pub const TRANSCEIVER_MODEL: ModelInfo = ModelInfo {
    name: "openconfig-platform-transceiver",
    organization: "OpenConfig working group",
    version: "0.14.0",
};

/// The `openconfig-system` model, as advertised in Capabilities.
pub const SYSTEM_MODEL: ModelInfo = ModelInfo {
    name: "openconfig-system",
    organization: "OpenConfig working group",
    version: "2.3.0",
};

/// Every subtree of this crate for devices with `inventory`, in update order:
/// components, system state, CPUs, memory.
pub fn subtrees(inventory: &Inventory) -> Subtrees {
    let items: Vec<Arc<dyn Subtree>> = vec![
        Arc::new(Components::new(inventory)),
        Arc::new(SystemState),
        Arc::new(Cpus::new(inventory.cpus)),
        Arc::new(Memory::new(inventory.memory_bytes)),
    ];
    Subtrees::new(items, vec![PLATFORM_MODEL, TRANSCEIVER_MODEL, SYSTEM_MODEL])
}
