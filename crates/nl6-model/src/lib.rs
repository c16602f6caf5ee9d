//! The schema of a simulated device's subtrees beyond interfaces, and the trait the
//! models behind them implement.
//!
//! A [`SubtreeSchema`] names a YANG module, the list (or container) path of its entries
//! and the leaves below each entry with their type and [`LeafClass`]. A model crate
//! implements [`Subtree`] for one subtree family (components, system, …): it lists the
//! entries of a device and computes each leaf's [`Value`] at an instant from the device's
//! [`DeviceKey`], so a subtree is shared by every device with the same profile and costs
//! nothing per device. The resolver compiles gNMI paths against the schema and encodes
//! the values for every transport; nothing here knows gNMI.
//!
//! ```
//! use nl6_model::{DeviceKey, LeafClass, LeafSchema, LeafType, Subtree, SubtreeSchema, Value};
//!
//! static FANS: SubtreeSchema = SubtreeSchema {
//!     module: "example-fans",
//!     list: &["fans", "fan"],
//!     key: Some("name"),
//!     leaves: &[
//!         LeafSchema { path: &["state", "name"], ty: LeafType::String, class: LeafClass::Static },
//!         LeafSchema { path: &["state", "rpm"], ty: LeafType::Uint64, class: LeafClass::Sampled },
//!     ],
//! };
//!
//! #[derive(Debug)]
//! struct Fans;
//!
//! impl Subtree for Fans {
//!     fn schema(&self) -> &'static SubtreeSchema { &FANS }
//!     fn entry_count(&self) -> usize { 2 }
//!     fn key(&self, entry: usize) -> &str { ["fan1", "fan2"][entry] }
//!     fn value(&self, device: DeviceKey, entry: usize, leaf: usize, unix_ns: u64) -> Option<Value> {
//!         Some(match leaf {
//!             0 => Value::Str(self.key(entry).to_string()),
//!             _ => Value::Uint(4_000 + (device.seed ^ unix_ns) % 500),
//!         })
//!     }
//! }
//!
//! let fans = Fans;
//! assert_eq!(fans.schema().leaf_index(&["state", "rpm"]), Some(1));
//! assert_eq!(fans.value(DeviceKey { seed: 7, boot_ns: 0 }, 1, 1, 0), Some(Value::Uint(4_007)));
//! ```

mod schema;
mod shape;
mod value;

pub use schema::{LeafClass, LeafSchema, LeafType, MAX_LEAVES, ModelInfo, SubtreeSchema};
pub use shape::{NotificationShape, ParseShapeError};
pub use value::{Decimal, Value};

use std::fmt::Debug;
use std::sync::Arc;

/// What a subtree needs to know about one device to compute its values.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DeviceKey {
    /// The device's seed (the same one its interface counters derive from).
    pub seed: u64,
    /// When the device booted, Unix ns (0 when unknown).
    pub boot_ns: u64,
}

/// One subtree family of a device: its entries and their values over time.
///
/// Implementations are shared by every device of a profile (behind an `Arc`), so they
/// hold only what is the same for all of them; per-device values derive from the
/// [`DeviceKey`].
pub trait Subtree: Send + Sync + Debug {
    /// The subtree's schema.
    fn schema(&self) -> &'static SubtreeSchema;

    /// Number of list entries (1 for a container).
    fn entry_count(&self) -> usize;

    /// The key value of `entry` (`0..entry_count()`); empty for a container.
    fn key(&self, entry: usize) -> &str;

    /// The value of leaf `leaf` (an index into the schema's leaves) of `entry` on the
    /// device `device` at `unix_ns`, of the leaf's declared type; `None` when this entry
    /// has no such leaf (a fan has no optical power).
    fn value(&self, device: DeviceKey, entry: usize, leaf: usize, unix_ns: u64) -> Option<Value>;

    /// [`Subtree::value`] for a subtree whose values follow the device's interfaces (a
    /// BGP session over a link that goes down): `links` tells their state now.
    fn value_with_links(
        &self,
        device: DeviceKey,
        _links: &dyn LinkStates,
        entry: usize,
        leaf: usize,
        unix_ns: u64,
    ) -> Option<Value> {
        self.value(device, entry, leaf, unix_ns)
    }

    /// The keys of the lists above the entry's own list, outermost first: e.g. the
    /// interface an LLDP neighbour is seen on, for
    /// `/lldp/interfaces/interface[name]/neighbors/neighbor[id]`. Every entry has keys at
    /// the same depths with the same names; none for a subtree with one keyed list.
    fn parent_keys(&self, _entry: usize) -> &[ParentKey] {
        &[]
    }
}

/// The state of a device's interfaces, as a subtree that follows them sees it.
pub trait LinkStates {
    /// Number of interfaces (valid `idx` are `0..count()`).
    fn count(&self) -> usize;
    /// Whether interface `idx` is operationally up, and when it last changed (Unix ns, 0 =
    /// never).
    fn oper_up(&self, idx: usize) -> (bool, u64);
    /// The 12 `state/counters` of interface `idx` at `unix_ns`, in the order of the
    /// interfaces model (`in-octets`, `out-octets`, `in-unicast-pkts`,
    /// `out-unicast-pkts`, then multicast, broadcast, discards and errors, in before
    /// out); all 0 when unknown.
    fn counters(&self, _idx: usize, _unix_ns: u64) -> [u64; 12] {
        [0; 12]
    }
}

/// A key on a list element above a subtree's own entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentKey {
    /// Index of the keyed element in the schema's `list` path.
    pub depth: usize,
    /// The key's name.
    pub name: &'static str,
    /// Its value.
    pub value: String,
}

/// The subtrees a device serves besides interfaces, with the models they come from.
#[derive(Debug, Default)]
pub struct Subtrees {
    items: Vec<Arc<dyn Subtree>>,
    models: Vec<ModelInfo>,
    /// How the device groups values into notifications.
    shape: NotificationShape,
    /// What an encoder derives once from these subtrees (e.g. pre-encoded paths), kept
    /// with them so it lives exactly as long as they do.
    encoder_cache: std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>,
}

impl Subtrees {
    /// A set of `items`, in the order their updates are sent, from the YANG `models`
    /// (what Capabilities advertises besides interfaces).
    pub fn new(items: Vec<Arc<dyn Subtree>>, models: Vec<ModelInfo>) -> Subtrees {
        Subtrees {
            items,
            models,
            shape: NotificationShape::Flat,
            encoder_cache: std::sync::OnceLock::new(),
        }
    }

    /// The same subtrees, sent in notifications of `shape`.
    pub fn with_shape(mut self, shape: NotificationShape) -> Subtrees {
        self.shape = shape;
        self
    }

    /// How the device groups values into notifications (default [`NotificationShape::Flat`]).
    pub fn shape(&self) -> NotificationShape {
        self.shape
    }

    /// A slot for what an encoder derives once from these subtrees; the first caller
    /// fills it.
    pub fn encoder_cache(&self) -> &std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>> {
        &self.encoder_cache
    }

    /// The models the subtrees come from.
    pub fn models(&self) -> &[ModelInfo] {
        &self.models
    }

    /// The subtrees in order.
    pub fn items(&self) -> &[Arc<dyn Subtree>] {
        &self.items
    }

    /// The subtree at `index`.
    pub fn get(&self, index: usize) -> Option<&Arc<dyn Subtree>> {
        self.items.get(index)
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
