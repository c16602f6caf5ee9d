//! The one resolver: turns gNMI paths into values of a simulated device at one
//! captured instant. Dial-in (Get, Subscribe) and dial-out both call it, so at the
//! same instant they say the same thing, byte for byte.
//!
//! The flow is: [`Selection::compile`] the request's paths once, [`Snapshot::capture`]
//! the device at an instant, then encode — either typed ([`notification`]) or
//! straight to `SubscribeResponse` wire bytes ([`WireEncoder`], the hot path). A
//! device's [`NotificationShape`] (flat, or one notification per list entry as Junos
//! sends) is applied by [`ResponseEncoder`] and [`shaped`].
//!
//! ```
//! use std::sync::Arc;
//! use nl6_gnmi::parse_path;
//! use nl6_ifstate::{DeviceModel, DeviceSpec};
//! use nl6_resolver::{notification, Selection, Snapshot, ValueEncoding, WireEncoder};
//! use prost::Message;
//!
//! let device = Arc::new(DeviceModel::new(&DeviceSpec::default()).unwrap());
//! let path = parse_path("/interfaces/interface[name=*]/state").unwrap();
//! let selection = Selection::compile(None, &[path], device.names()).unwrap();
//! assert_eq!(selection.leaf_count(), 10 * 17);
//!
//! let snapshot = Snapshot::capture(&device, 1_700_000_000_000_000_000, &selection);
//! let typed = notification(&snapshot, selection.masks(), ValueEncoding::Proto, Some("127.42.0.1"));
//! assert_eq!(typed.update.len(), 170);
//!
//! // The fast path writes the same bytes prost would.
//! let mut wire = Vec::new();
//! let mut encoder = WireEncoder::new(device.names());
//! encoder.encode_response(&snapshot, selection.masks(), ValueEncoding::Proto, Some("127.42.0.1"), &mut wire);
//! let response = nl6_gnmi::proto::gnmi::SubscribeResponse {
//!     response: Some(nl6_gnmi::proto::gnmi::subscribe_response::Response::Update(typed)),
//!     extension: vec![],
//! };
//! assert_eq!(wire, response.encode_to_vec());
//! ```

mod encoding;
mod error;
mod event;
mod extra;
mod gone;
mod leaf;
mod select;
mod shape;
mod snapshot;
mod tree;
mod typed;
mod wire;

pub use encoding::{MODULE, ValueEncoding};
pub use error::ResolveError;
pub use event::{changed_leaves, event_time_ns};
pub use extra::{entry_path, extra_path, extra_value};
pub use gone::{delete_notification, delete_response, removed_entries};
pub use leaf::{LEAF_COUNT, Leaf, LeafClass, LeafSet};
pub use nl6_model::NotificationShape;
pub use select::{ExtraPick, Schema, Selection};
pub use shape::{JUNOS_RE_COMPONENT_ID, ResponseEncoder, per_entry, shape_of, shaped};
pub use snapshot::{ExtraReading, InterfaceReading, LeafValue, Snapshot};
pub use tree::subtree_updates;
pub use typed::{leaf_path, notification, prefix_for};
pub use wire::WireEncoder;
