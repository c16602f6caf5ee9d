//! Network-namespace plumbing for the nl6 simulator.
//!
//! All simulated devices share one network namespace (default `nl6sim`) that is wired to the
//! host by a veth pair; every device owns a /32 inside it. This crate provides:
//!
//! - [`SimNetwork`]: creates and removes that namespace, the veth pair, the host routes to the
//!   device networks, the FORWARD rules and the sysctls forwarding needs, and adds/removes
//!   device addresses in bulk over netlink (30,000 in well under a second).
//! - [`NsExecutor`]: creates sockets inside the namespace on a few dedicated OS threads, so
//!   async worker threads never change namespace.
//! - [`Dialer`]: dial-out from a device address with a global limit of concurrent dials, a
//!   per-dial timeout, and host-namespace name resolution on every dial ([`HostResolver`]).
//!
//! Everything that touches the namespace needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), and no
//! program: the FORWARD rules go in with `iptables` when it is installed, else over netlink in
//! nf_tables ([`nftables`]), or are skipped when nothing filters forwarded traffic
//! ([`Forwarding`]). [`NsExecutor::current`] gives the same socket API without a namespace,
//! e.g. for loopback-only runs.
//!
//! # Example
//!
//! ```no_run
//! use std::net::{Ipv4Addr, SocketAddr};
//! use std::sync::Arc;
//! use nl6_netns::{Dialer, DialerConfig, NetnsConfig, SimNetwork, SystemResolver};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = SimNetwork::setup(NetnsConfig::default()).await?;
//! let devices: Vec<Ipv4Addr> = (1..=254).map(|i| Ipv4Addr::new(10, 42, 0, i)).collect();
//! sim.add_addresses(&devices).await?;
//! sim.add_route(Ipv4Addr::new(10, 42, 0, 0), 16).await?;
//!
//! // Dial-in: a gNMI listener on the first device address, inside the namespace.
//! let exec = sim.executor();
//! let listener = exec.tcp_listener(SocketAddr::new(devices[0].into(), 9339), 1024).await?;
//! let _listener = tokio::net::TcpListener::from_std(listener)?;
//!
//! // Dial-out: the second device connects to a collector; source address = device address.
//! let dialer = Dialer::new(DialerConfig::default(), Arc::new(SystemResolver), exec)?;
//! let _stream = dialer.dial(devices[1], "collector.example.net", 6030).await?;
//!
//! // On SIGTERM (see `TeardownHandle`), or at the end:
//! sim.teardown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Shutdown on a signal
//!
//! Keep a [`TeardownHandle`] in a task that waits for the signal with `tokio::signal`, tear
//! down, then exit. The teardown is idempotent, so a normal shutdown path may call it too:
//!
//! ```no_run
//! # async fn run(sim: nl6_netns::SimNetwork) {
//! use tokio::signal::unix::{SignalKind, signal};
//! let handle = sim.teardown_handle();
//! tokio::spawn(async move {
//!     let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
//!     tokio::select! {
//!         _ = term.recv() => {}
//!         _ = tokio::signal::ctrl_c() => {}
//!     }
//!     if let Err(e) = handle.teardown().await {
//!         eprintln!("netns teardown: {e}");
//!     }
//!     std::process::exit(0);
//! });
//! # }
//! ```
//!
//! Outside the runtime (a plain thread, a panic hook) use
//! [`TeardownHandle::teardown_blocking`]. If the process dies without teardown (SIGKILL,
//! abort), the next [`SimNetwork::setup`] with the same name undoes the leftovers from the
//! state file `/run/nl6/<name>.state`; [`SimNetwork::cleanup_stale`] does only that.

mod config;
mod dialer;
mod error;
mod executor;
mod firewall;
mod host;
mod netlink;
pub mod nftables;
mod resolver;
mod sim;
mod sockopt;

pub use config::{IptablesLookup, NetnsConfig};
pub use dialer::{Dialer, DialerConfig};
pub use error::{DialError, NetnsError};
pub use executor::NsExecutor;
pub use firewall::{ChainRef, Forwarding};
pub use resolver::{HostResolver, StaticResolver, SystemResolver};
pub use sim::{SimNetwork, TeardownHandle};
pub use sockopt::set_recv_low_water;

/// Compiles the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The directory of the crash-recovery state files (`<dir>/<name>.state`).
pub const STATE_DIR: &str = host::STATE_DIR;

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_can_be_shared_across_tasks() {
        send_sync::<SimNetwork>();
        send_sync::<TeardownHandle>();
        send_sync::<NsExecutor>();
        send_sync::<Dialer>();
        send_sync::<StaticResolver>();
    }
}
