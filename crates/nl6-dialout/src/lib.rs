//! gNMI dial-out for nl6: each simulated device opens its own gRPC connection to a
//! collector (source address = the device address) and pushes `gnmi.SubscribeResponse`s.
//!
//! * [`DialoutConfig`]: the per-device `gnmi_dialout` block (serde, defaults, `validate`).
//! * [`Exporter`]: [`Exporter::attach`] a device and it runs on its own task — connect →
//!   open a stream → push until the stream breaks → back off (1 s doubling to 30 s) —
//!   with a drop-oldest send queue, so a slow collector never stalls anyone.
//! * [`DialoutTransport`]: the flavor seam; [`GnmiReverse`] (Arista
//!   `/gnmireverse.gNMIReverse/Publish`) is built in, others register in a [`FlavorRegistry`].
//! * [`Connector`]: TCP from a device address ([`nl6_netns::Dialer`] implements it);
//!   [`GrpcConnection`]: the device's own HTTP/2 connection a flavor opens its call on.
//! * [`DialoutStats`]: counters per (collector, flavor) and the status document.
//!
//! Values come from `nl6-resolver`, the resolver dial-in uses, so both agree at the same
//! instant. Every notification carries `Prefix.target` = the device address.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use std::sync::Arc;
//! use nl6_dialout::{DialoutConfig, Exporter, ExporterEnv, Mode};
//! use nl6_ifstate::{DeviceModel, DeviceSpec};
//! use nl6_netns::{Dialer, DialerConfig, NsExecutor, SystemResolver};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config: DialoutConfig = serde_json::from_str(
//!     r#"{"collector": "127.0.0.1:6030", "mode": "on-change", "tls": {"enabled": false}}"#,
//! )?;
//! config.validate()?;
//! assert_eq!(config.mode, Mode::OnChange);
//! assert_eq!(config.paths, ["/interfaces/interface[name=*]/state"]);
//!
//! // Loopback mode: sockets are created in the current namespace.
//! let dialer = Dialer::new(DialerConfig::default(), Arc::new(SystemResolver), NsExecutor::current())?;
//! let exporter = Exporter::new(ExporterEnv::new(Arc::new(dialer)));
//! let device = Arc::new(DeviceModel::new(&DeviceSpec::default())?);
//! let export = exporter.attach(Ipv4Addr::new(127, 0, 0, 1), device, &config)?;
//! // ... the device now dials 127.0.0.1:6030 and retries with backoff until it answers.
//! assert_eq!(exporter.stats().status().devices_exporting, 1);
//! export.stop().await?;
//! assert_eq!(exporter.stats().status().devices_exporting, 0);
//! # Ok(())
//! # }
//! ```

mod config;
mod connector;
mod error;
mod exporter;
mod grpc;
mod produce;
mod stats;
mod tls;
mod transport;

pub use config::{
    CaSource, ConfigError, DEFAULT_PATH, DEFAULT_SAMPLE_INTERVAL, DialoutConfig, Encoding,
    MAX_KEEPALIVE, MAX_SAMPLE_INTERVAL, MIN_KEEPALIVE, Mode, Phase, TlsSettings, parse_keepalive,
    parse_sample_interval,
};
pub use connector::Connector;
pub use error::DialoutError;
pub use exporter::{BackoffConfig, DeviceExport, Exporter, ExporterEnv, Tuning};
pub use grpc::{ClientStreamCall, GrpcConnection};
pub use stats::{
    CollectorStatus, DialoutStats, DialoutStatus, DisconnectCause, Disconnects, ExportCounters,
};
pub use transport::{
    DEFAULT_FLAVOR, DialoutTransport, FlavorRegistry, GNMIREVERSE_PUBLISH, GnmiReverse,
    PublishStream, StreamContext, is_eof_close,
};

/// Compiles the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
