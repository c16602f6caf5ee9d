//! Fleet errors.

use std::net::Ipv4Addr;

/// Why a fleet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// A field of a batch request is invalid.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field name, as in the REST body / flag.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another batch is being created right now.
    #[error("another batch is being created; retry when it is done")]
    BatchInProgress,
    /// A device with that address exists already.
    #[error("device {0} already exists")]
    Exists(Ipv4Addr),
    /// No device has that address.
    #[error("no device {0}")]
    NotFound(Ipv4Addr),
    /// The address cannot be used for a device in this mode.
    #[error("address {addr} cannot be used: {reason}")]
    AddressUnusable {
        /// The address.
        addr: Ipv4Addr,
        /// Why not.
        reason: String,
    },
    /// Setting up or using the device network failed.
    #[error("network: {0}")]
    Network(String),
    /// The gNMI dial-in server could not start.
    #[error("gNMI dial-in: {0}")]
    Dialin(String),
    /// The interface index does not exist on the device.
    #[error("device {addr} has no interface with ifindex {ifindex} (valid: 1..={max})")]
    NoSuchInterface {
        /// The device.
        addr: Ipv4Addr,
        /// The ifindex asked for.
        ifindex: u32,
        /// The largest valid ifindex.
        max: u32,
    },
    /// The interface has no link in the topology.
    #[error("interface {interface:?} of device {device} has no link")]
    NotLinked {
        /// The device.
        device: Ipv4Addr,
        /// The interface name.
        interface: String,
    },
    /// The device has no BGP neighbour with that address.
    #[error("device {device} has no BGP neighbour {neighbor:?} ({known})")]
    NoSuchNeighbor {
        /// The device.
        device: Ipv4Addr,
        /// The address asked for.
        neighbor: String,
        /// Which neighbours it has, said for people.
        known: String,
    },
    /// A BGP flap of that neighbour is in progress.
    #[error(
        "the BGP session of neighbour {neighbor} of device {device} is flapping already; retry when it is established again"
    )]
    Flapping {
        /// The device.
        device: Ipv4Addr,
        /// The neighbour's address.
        neighbor: String,
    },
    /// Setting up a device failed; the batch was rolled back.
    #[error("device {addr}: {reason} (batch rolled back, nothing created)")]
    DeviceSetup {
        /// The device that failed.
        addr: Ipv4Addr,
        /// What failed.
        reason: String,
    },
}

impl FleetError {
    /// An invalid-field error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> FleetError {
        FleetError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// An error and its sources, `: `-separated, for the places that keep an error as text.
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
