//! Who a dial-out device is: its address and host name.

use std::net::Ipv4Addr;
use std::sync::Arc;

/// A device as its flavors present it: the address every socket is bound to (and the
/// `Prefix.target`), and the host name (Nokia's `system-name`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceIdentity {
    /// The device address.
    pub ip: Ipv4Addr,
    /// The device's host name.
    pub hostname: Arc<str>,
}

impl DeviceIdentity {
    /// The device at `ip` with its default host name ([`default_hostname`]).
    pub fn new(ip: Ipv4Addr) -> DeviceIdentity {
        DeviceIdentity {
            ip,
            hostname: Arc::from(default_hostname(ip)),
        }
    }

    /// The device at `ip` named `hostname`.
    pub fn named(ip: Ipv4Addr, hostname: impl Into<Arc<str>>) -> DeviceIdentity {
        DeviceIdentity {
            ip,
            hostname: hostname.into(),
        }
    }
}

/// The host name of a device nobody named: `nl6-` and its address with dashes
/// (`127.42.0.1` → `nl6-127-42-0-1`).
pub fn default_hostname(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("nl6-{a}-{b}-{c}-{d}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_host_names_come_from_the_address() {
        let id = DeviceIdentity::new(Ipv4Addr::new(127, 42, 0, 1));
        assert_eq!(&*id.hostname, "nl6-127-42-0-1");
    }
}
