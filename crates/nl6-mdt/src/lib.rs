//! Cisco IOS XR model-driven telemetry (MDT) for nl6: simulated devices stream their
//! interfaces the way an XR router does, to collectors built for Cisco (telegraf's
//! `cisco_telemetry_mdt`, pipeline, ...).
//!
//! * [`proto`]: the protos under `proto/mdt` — the `telemetry.Telemetry` envelope,
//!   gRPC dial-out (`mdt_dialout.gRPCMdtDialout`) and gRPC dial-in
//!   (`IOSXRExtensibleManagabilityService.gRPCConfigOper/CreateSubs`), clients and
//!   servers.
//! * [`SensorPath`]: the catalogue of sensor paths (XR generic-counters, XR
//!   interface-xr, OpenConfig interfaces) with every key and content field and its
//!   protobuf type; [`Row`] documents how each value derives from nl6's interface model.
//! * [`CollectionEncoder`]: a [`Collection`] (one sensor path at one instant, a row per
//!   interface) → messages in self-describing GPB, compact GPB or JSON
//!   ([`MdtEncoding`]), split by rows under a size limit, never within a row.
//! * [`generate_proto`]: the path-specific `.proto` compact rows decode with, as XR's
//!   `telemetry generate gpb-encoding` prints it.
//! * [`Header`] / [`frame`]: the 12-byte header of TCP and UDP dial-out.
//! * [`MdtFlavor`]: gRPC, TCP and UDP dial-out as a flavor of `nl6-dialout`'s exporter
//!   ([`MdtSessionConfig`] says which transport, encoding, subscription and paths).
//! * [`MdtDialin`]: gRPC dial-in (`CreateSubs`) served by `nl6-dialin`'s server on
//!   every device address, for the subscriptions of each device's [`MdtConfig`]
//!   (found through an [`MdtDirectory`]).
//!
//! Encoding a collection and decoding it as a collector would:
//!
//! ```
//! use nl6_ifstate::{AdminStatus, Counters, IfState, LinkStatus};
//! use nl6_mdt::proto::telemetry::Telemetry;
//! use nl6_mdt::{Collection, CollectionEncoder, MdtEncoding, Row, SensorPath, MAX_TCP_MESSAGE};
//! use nl6_resolver::InterfaceReading;
//! use prost::Message;
//!
//! let reading = InterfaceReading {
//!     state: IfState { link: LinkStatus::Up, admin: AdminStatus::Up, last_change_ns: 0 },
//!     counters: Counters([41_624_083, 29_699_362, 358_501, 171_507, 91_299, 188_801, 25, 25, 0, 0, 0, 0]),
//! };
//! let rows = [Row { name: "Ethernet1", ifindex: 1, speed_bps: 1_000_000_000, reading }];
//! let collection = Collection {
//!     path: "Cisco-IOS-XR-infra-statsd-oper:infra-statistics/interfaces/interface/latest/generic-counters".parse()?,
//!     node_id: "xr-1",
//!     subscription_id: "if-stats",
//!     collection_id: 1,
//!     timestamp_ms: 1_764_633_600_000,
//!     event: false,
//!     rows: &rows,
//! };
//! let mut messages = Vec::new();
//! let dropped = CollectionEncoder::new().encode(&collection, MdtEncoding::Gpb, MAX_TCP_MESSAGE, &mut messages);
//! assert_eq!((messages.len(), dropped), (1, 0));
//!
//! let telemetry = Telemetry::decode(&messages[0].payload[..])?;
//! assert_eq!(telemetry.encoding_path, SensorPath::GenericCounters.as_str());
//! assert_eq!(telemetry.data_gpb.unwrap().row.len(), 1);
//! // The row's content decodes with the generated .proto's `ifstatsbag_generic`.
//! let proto = nl6_mdt::generate_proto(SensorPath::GenericCounters.as_str())?;
//! assert!(proto.contains("uint64 bytes_received = 51;"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Streaming from a device: register an [`MdtFlavor`] and attach devices whose dial-out
//! block names it.
//!
//! ```
//! use std::sync::Arc;
//! use nl6_dialout::{Flavor, FlavorRegistry};
//! use nl6_mdt::{MdtEncoding, MdtFlavor, MdtSessionConfig, MdtTransport, SensorPath};
//!
//! let config = MdtSessionConfig::new(
//!     MdtTransport::Udp,
//!     MdtEncoding::Gpb,
//!     "if-stats",
//!     vec![SensorPath::GenericCounters],
//! );
//! let flavor = MdtFlavor::new(config)?;
//! assert_eq!(flavor.name(), "mdt-udp");
//! let mut registry = FlavorRegistry::default();
//! registry.register(Arc::new(flavor));
//! assert!(registry.names().contains(&"mdt-udp"));
//! // ExporterEnv { flavors: registry, .. } → Exporter::attach(device, model, &block)
//! // with block.flavor = "mdt-udp" and block.collector = the collector's host:port.
//! # Ok::<(), nl6_mdt::MdtConfigError>(())
//! ```
//!
//! Serving dial-in next to gNMI:
//!
//! ```no_run
//! use std::net::Ipv4Addr;
//! use std::sync::Arc;
//! use nl6_dialin::{DeviceDirectory, DialinConfig, DialinServer, ListenerSource};
//! use nl6_ifstate::{DeviceModel, EventCounters};
//! use nl6_mdt::{MdtConfig, MdtDialin, MdtDirectory};
//!
//! struct Fleet {
//!     device: Arc<DeviceModel>,
//!     mdt: Arc<MdtConfig>,
//! }
//!
//! impl DeviceDirectory for Fleet {
//!     fn device(&self, local: Ipv4Addr) -> Option<Arc<DeviceModel>> {
//!         (local == Ipv4Addr::new(127, 42, 0, 1)).then(|| self.device.clone())
//!     }
//!     fn device_count(&self) -> usize {
//!         1
//!     }
//! }
//!
//! impl MdtDirectory for Fleet {
//!     fn mdt(&self, device: Ipv4Addr) -> Option<(Arc<str>, Arc<MdtConfig>)> {
//!         (device == Ipv4Addr::new(127, 42, 0, 1)).then(|| ("xr-1".into(), self.mdt.clone()))
//!     }
//! }
//!
//! # async fn run(fleet: Arc<Fleet>, events: Arc<EventCounters>) -> Result<(), nl6_dialin::DialinError> {
//! let dialin = MdtDialin::new(fleet.clone());
//! let server = DialinServer::builder(DialinConfig::default(), ListenerSource::Loopback, fleet, events)
//!     .service(Arc::new(dialin.clone()))
//!     .start()
//!     .await?;
//! println!("{} CreateSubs streams", dialin.counters().subscriptions_active());
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! What nl6 does differently from an XR router: interface names are nl6's; values
//! derive from nl6's 12 counters and state (see [`Row`]); a collection is read at one
//! instant, so `collection_start_time`, `msg_timestamp` and `collection_end_time` are
//! equal; `collection_id` counts per session (a dial-in stream is one) from 1;
//! heartbeats are never sent; a dial-in `CreateSubs` ignores `qos` and `Subscriptions`.

mod collect;
mod config;
mod device;
mod dialin;
mod encode;
mod flavor;
mod frame;
pub mod proto;
mod proto_gen;
mod row;
mod sensor;
mod transport;

pub use collect::{MdtCounters, split_run_tag};
pub use config::{
    DEFAULT_MAX_DATAGRAM, MAX_DATAGRAM, MIN_DATAGRAM, MdtConfigError, MdtSessionConfig,
    MdtTransport,
};
pub use device::{
    MAX_GROUP_MEMBERS, MAX_GROUPS, MAX_SAMPLE_INTERVAL_MS, MIN_SAMPLE_INTERVAL_MS, MdtConfig,
    MdtDestination, MdtSubscription, PlannedSession,
};
pub use dialin::{
    MAX_QUEUED_BYTES, MDT_CREATE_SUBS, MDT_DIALIN_SERVICE, MdtDialin, MdtDialinCounters,
    MdtDirectory,
};
pub use encode::{
    Collection, CollectionEncoder, EncodedMessage, MAX_TCP_MESSAGE, MdtEncoding, UnknownEncoding,
};
pub use flavor::{MDT_DIALOUT, MdtFlavor};
pub use frame::{ENCAP_GPB, ENCAP_JSON, HEADER_LEN, HEADER_VERSION, Header, TYPE_DATA, frame};
pub use proto_gen::{generate_proto, proto_of};
pub use row::Row;
pub use sensor::{FieldKind, FieldSpec, SensorPath, UnknownSensorPath};

/// Compiles the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
