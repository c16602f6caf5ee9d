//! A gNMIReverse (Arista gNMI dial-out) collector, usable in-process.
//!
//! Devices call `/gnmireverse.gNMIReverse/Publish(stream gnmi.SubscribeResponse)`;
//! the collector counts what arrives ([`CollectorStats`]), fans notifications
//! out to subscribers ([`CollectorHandle::subscribe`]) or a lossless sink
//! ([`CollectorConfig::with_sink`]), and renders them ([`format`](mod@format)). The
//! `nl6-collector` binary wraps this library.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use nl6_collector::{CollectorConfig, start};
//!
//! let id = nl6_tls::Identity::self_signed(&[])?; // localhost + 127.0.0.1
//! let tls = nl6_tls::server_config(&id, None, true)?;
//! let collector = start(CollectorConfig::tls("127.0.0.1:0".parse()?, tls)).await?;
//! println!("publish to {}", collector.local_addr());
//! let mut notifications = collector.subscribe();
//! let first = notifications.recv().await?;
//! println!("{:?} sent {} updates", first.peer, first.notification.update.len());
//! collector.shutdown().await?;
//! # Ok(()) }
//! ```

mod collector;
mod conn;
pub mod format;
pub mod reconcile;
mod stats;

pub use collector::{
    CollectorConfig, CollectorHandle, DEFAULT_BROADCAST_CAPACITY, DEFAULT_SHUTDOWN_GRACE, Error,
    MAX_MESSAGE_BYTES, Received, start, start_on,
};
pub use stats::{CollectorStats, Latency};
