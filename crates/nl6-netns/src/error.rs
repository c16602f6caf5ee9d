//! Error types of the crate.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Failures of setting up, changing or tearing down the simulator network.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// A configuration field is out of range or malformed.
    #[error("invalid netns config: {field}: {reason}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// An argument of a call is out of range or malformed.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The offending argument.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A netlink request was refused by the kernel or the socket failed.
    #[error("netlink: {op} {target}")]
    Netlink {
        /// What was attempted, e.g. "add address".
        op: &'static str,
        /// What it was attempted on.
        target: String,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// Creating, entering or removing the named network namespace failed.
    #[error("network namespace {name}: {reason}")]
    Namespace {
        /// Namespace name.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// Reading or writing a sysctl under /proc/sys failed.
    #[error("sysctl {key}")]
    Sysctl {
        /// The key, e.g. "net/ipv4/ip_forward".
        key: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Running iptables failed or it refused the rule.
    #[error("iptables {args}: {reason}")]
    Iptables {
        /// The arguments given to iptables.
        args: String,
        /// Exit status and stderr, or why it could not run.
        reason: String,
    },
    /// An nf_tables request over netlink failed.
    #[error("nf_tables: {op} {target}")]
    Nftables {
        /// What was attempted, e.g. "insert accept rules".
        op: &'static str,
        /// What it was attempted on, e.g. "ip filter FORWARD".
        target: String,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// The FORWARD rules cannot be managed on this host.
    #[error("FORWARD rules: {reason}")]
    Firewall {
        /// Why, and what would help.
        reason: String,
    },
    /// The crash-recovery state file could not be read or written.
    #[error("state file {}", path.display())]
    StateFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The in-namespace socket executor failed.
    #[error("namespace executor: {0}")]
    Executor(#[source] io::Error),
    /// The network was already torn down.
    #[error("simulator network {name} is torn down")]
    TornDown {
        /// Namespace name.
        name: String,
    },
    /// Teardown finished but some steps failed; the state file is kept for the next setup.
    #[error("teardown of {name} left work undone: {}", failures.join("; "))]
    Teardown {
        /// Namespace name.
        name: String,
        /// One message per failed step.
        failures: Vec<String>,
    },
}

/// Failures of [`Dialer::dial`](crate::Dialer::dial).
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// A [`DialerConfig`](crate::DialerConfig) field is out of range.
    #[error("invalid dialer config: {field}: {reason}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// Resolving the host name failed (or timed out).
    #[error("resolving {host}")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// The host name resolved, but to no IPv4 address.
    #[error("no IPv4 address among {records} records for {host}")]
    NoIpv4 {
        /// The host name.
        host: String,
        /// How many (non-IPv4) records the resolver returned.
        records: usize,
    },
    /// Creating or binding the socket inside the namespace failed.
    #[error("creating a socket bound to {local} in the namespace")]
    Socket {
        /// The device address the socket was bound to.
        local: Ipv4Addr,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The TCP connect failed.
    #[error("connecting from {local} to {addr}")]
    Connect {
        /// The device address.
        local: Ipv4Addr,
        /// The collector address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The TCP connect did not finish within the dial timeout.
    #[error("connecting from {local} to {addr} timed out after {after:?}")]
    Timeout {
        /// The device address.
        local: Ipv4Addr,
        /// The collector address.
        addr: SocketAddr,
        /// The dial timeout.
        after: Duration,
    },
}

/// An error and its sources, `: `-separated, where an error is kept as text.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
