//! gNMI dial-out for nl6: each simulated device opens its own connection to a collector
//! (source address = the device address) and pushes telemetry in a vendor's flavor.
//!
//! * [`DialoutConfig`]: the per-device `gnmi_dialout` block (serde, defaults, `validate`).
//! * [`Exporter`]: [`Exporter::attach`] a device and it runs on its own task — connect →
//!   open a session → push until it breaks → next collector of the group, or back off —
//!   with a drop-oldest send queue, so a slow collector never stalls anyone.
//! * [`Flavor`]: the flavor seam. A flavor dials through the device's [`DeviceNet`]
//!   (`tcp()`, `http2()`, `udp()`), returns a push [`Session`] (stream + [`SampleEncoder`])
//!   or a serve session, and validates its own settings. Built in: [`GnmiReverse`]
//!   (Arista), [`Sonic`] and [`Nokia`]; others register in a [`FlavorRegistry`].
//! * [`Connector`]: TCP and UDP from a device address ([`nl6_netns::Dialer`] implements
//!   it); [`GrpcConnection`]: a device's own HTTP/2 connection, [`GrpcCall`] a call on it.
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
mod flavor;
mod grpc;
mod h2c;
mod identity;
mod net;
mod preface;
mod produce;
mod run;
mod session;
mod stats;
mod tls;

pub use config::{
    CaSource, ConfigError, ConfigKey, DEFAULT_FLAVOR, DEFAULT_PATH, DEFAULT_SAMPLE_INTERVAL,
    DialoutConfig, Encoding, FlavorOption, MAX_COLLECTORS, MAX_KEEPALIVE, MAX_RETRY,
    MAX_SAMPLE_INTERVAL, MIN_KEEPALIVE, Mode, Phase, Publish, TlsSettings, parse_keepalive,
    parse_optional_duration, parse_sample_interval,
};
pub use connector::Connector;
pub use error::{DialoutError, FlavorError};
pub use exporter::{BackoffConfig, DeviceExport, Exporter, ExporterEnv, Tuning};
pub use flavor::{
    DEFAULT_RETRY_INTERVAL, DEFAULT_SUBSCRIPTION, Flavor, FlavorRegistry, GNMIREVERSE_PUBLISH,
    GNMIREVERSE_PUBLISH_GET, GetResponseEncoder, GnmiReverse, NOKIA_PUBLISH, Nokia, SONIC_PUBLISH,
    Sonic, SubscribeResponseEncoder,
};
pub use grpc::{CallSpec, GrpcCall, GrpcConnection};
pub use h2c::{Http2Error, Reason};
pub use identity::{DeviceIdentity, default_hostname};
pub use net::{DeviceNet, DeviceStream};
pub use run::{FlowStall, Latencies, RunLedger, RunSlot, RunWindow, SliceTally, Tally};
pub use session::{
    PushSession, PushStream, ResponseCounter, Sample, SampleEncoder, SampleKind, ServeSession,
    Session, SessionContext, StopSignal, WireMessage,
};
pub use stats::{
    CollectorStatus, DialoutStats, DialoutStatus, DisconnectCause, Disconnects, ExportCounters,
};

/// Compiles the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
