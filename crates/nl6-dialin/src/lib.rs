//! gNMI dial-in for a whole nl6 fleet: ONE gRPC server answers for every simulated
//! device, and picks the device by the local address a connection arrived on.
//!
//! nl6 runs one listener per device; at 100,000 devices that is 100,000 sockets, far
//! over a 20,000 open-files limit. Here a single wildcard socket (`0.0.0.0:9339`, bound
//! to `lo` in loopback mode, or created inside the simulation namespace) accepts every
//! connection; `local_addr()` of the accepted socket is the device IP, looked up in the
//! fleet's [`DeviceDirectory`]. A connection to an address that is no device is closed
//! at once. An idle device costs nothing here: no task, socket or timer.
//!
//! Served (gNMI specification 0.10.0, see the crate README for every decision):
//! Capabilities, Get, Subscribe (ONCE, POLL, STREAM with SAMPLE, ON_CHANGE and
//! TARGET_DEFINED, `updates_only`, `suppress_redundant`, heartbeats) and Set
//! (UNIMPLEMENTED: read-only). Values come from `nl6-resolver`; Subscribe responses are
//! written by its wire encoder and sent as-is through a pass-through codec. Each stream
//! has a bounded drop-oldest queue and all queues share a byte budget
//! ([`DialinConfig::queue_budget`]), so a slow client never stalls anything else nor
//! grows memory without bound; connections are limited fleet-wide, per client address
//! and per device, and must finish their handshake within `handshake_timeout`. The
//! crate README's "Limits" section lists every limit, its default and its counter.
//!
//! More gRPC services can share the server, its port and its device addresses (as IOS
//! XR serves its telemetry dial-in on the gNMI port): implement [`DialinService`] and
//! register it with [`DialinServer::builder`]. Paths no service claims are gNMI's, and
//! unknown ones answer UNIMPLEMENTED.
//!
//! ```no_run
//! use std::collections::HashMap;
//! use std::net::Ipv4Addr;
//! use std::sync::Arc;
//! use nl6_dialin::{DeviceDirectory, DialinConfig, DialinServer, ListenerSource};
//! use nl6_ifstate::{DeviceModel, DeviceSpec, EventCounters};
//!
//! struct Fleet(HashMap<Ipv4Addr, Arc<DeviceModel>>);
//!
//! impl DeviceDirectory for Fleet {
//!     fn device(&self, local: Ipv4Addr) -> Option<Arc<DeviceModel>> {
//!         self.0.get(&local).cloned()
//!     }
//!     fn device_count(&self) -> usize {
//!         self.0.len()
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let events = Arc::new(EventCounters::default());
//! let device = DeviceModel::with_event_counters(&DeviceSpec::default(), events.clone())?;
//! let fleet = Fleet(HashMap::from([(Ipv4Addr::new(127, 42, 0, 1), Arc::new(device))]));
//!
//! // gNMI on 127.42.0.1:9339 (plaintext; set `tls` for TLS).
//! let server = DialinServer::start(
//!     DialinConfig::default(),
//!     ListenerSource::Loopback,
//!     Arc::new(fleet),
//!     events,
//! )
//! .await?;
//! println!("{}", serde_json::to_string(&server.status())?);
//! server.shutdown().await; // e.g. on SIGTERM
//! # Ok(())
//! # }
//! ```

mod accept;
mod auth;
mod budget;
mod capabilities;
mod config;
mod conn;
mod conn_limits;
mod context;
mod error;
mod extension;
mod get;
mod limits;
mod runs;
mod server;
mod service;
mod stats;
mod subscribe;

pub use accept::ListenerSource;
pub use capabilities::{GNMI_VERSION, MODEL_NAME, MODEL_ORGANIZATION, MODEL_VERSION};
pub use config::{DEFAULT_PORT, DialinConfig, MAX_ON_CHANGE_PER_STREAM};
pub use context::DeviceDirectory;
pub use error::DialinError;
pub use extension::{CallEnd, DialinCall, DialinService};
pub use limits::{
    MAX_GET_LEAVES, MAX_PATHS_PER_GET, MAX_REQUEST_BYTES, MAX_SUBSCRIPTIONS_PER_REQUEST,
    MAX_TARGET_BYTES, RequestLimitError,
};
pub use runs::DialinRuns;
pub use server::{DialinServer, DialinServerBuilder};
pub use stats::{ConnectionsRefused, DialinStats, GnmiStatus};

/// Compiles the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
