//! Errors starting the dial-in server.

use std::net::SocketAddr;

/// Why the dial-in server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DialinError {
    /// A configuration field is out of range.
    #[error("invalid dial-in config field {field}: {reason}")]
    Config {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The listening socket could not be created, bound or put in listen mode.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// An externally created listener could not be adopted.
    #[error("cannot use the given listener: {0}")]
    Listener(std::io::Error),
}
