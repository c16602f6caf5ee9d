//! Batch address plans: start IP + count + netmask, skipping network and broadcast.

use std::net::Ipv4Addr;

use crate::error::FleetError;

/// Largest batch accepted.
pub const MAX_DEVICE_COUNT: u32 = 100_000;

/// The netmasks a batch may use.
pub const NETMASKS: [u8; 3] = [8, 16, 24];

/// The addresses of one batch, validated before anything is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressPlan {
    /// The network that holds every address of the batch.
    pub network: Ipv4Addr,
    /// The netmask length (8, 16 or 24).
    pub prefix_len: u8,
    /// The device addresses, in creation order.
    pub addresses: Vec<Ipv4Addr>,
}

/// Plans `count` addresses from `start` inside `start`'s /`netmask` network.
///
/// With /24 every `.0` and `.255` is skipped; with /16 and /8 the network and
/// broadcast addresses of the network are skipped. The batch must fit in the network.
pub fn plan(start: Ipv4Addr, count: u32, netmask: u8) -> Result<AddressPlan, FleetError> {
    if !(1..=MAX_DEVICE_COUNT).contains(&count) {
        return Err(FleetError::invalid(
            "device_count",
            format!("{count} is out of range 1..={MAX_DEVICE_COUNT}"),
        ));
    }
    if !NETMASKS.contains(&netmask) {
        return Err(FleetError::invalid(
            "netmask",
            format!("{netmask} is not one of 8, 16, 24"),
        ));
    }
    let mask = u32::MAX << (32 - netmask);
    let network = u32::from(start) & mask;
    let broadcast = network | !mask;
    let mut addresses = Vec::with_capacity(count as usize);
    let mut next = u32::from(start);
    while addresses.len() < count as usize {
        if next > broadcast || next < network {
            return Err(FleetError::invalid(
                "device_count",
                format!(
                    "{count} devices from {start} do not fit in {}/{netmask} (room for {})",
                    Ipv4Addr::from(network),
                    addresses.len()
                ),
            ));
        }
        let skip = next == network
            || next == broadcast
            || (netmask == 24 && matches!(next & 0xff, 0 | 255));
        if !skip {
            addresses.push(Ipv4Addr::from(next));
        }
        match next.checked_add(1) {
            Some(n) => next = n,
            None if addresses.len() < count as usize => {
                return Err(FleetError::invalid(
                    "device_count",
                    format!("{count} devices from {start} run past 255.255.255.255"),
                ));
            }
            None => break,
        }
    }
    Ok(AddressPlan {
        network: Ipv4Addr::from(network),
        prefix_len: netmask,
        addresses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash24_skips_network_and_broadcast() {
        let p = plan(Ipv4Addr::new(10, 42, 0, 0), 300, 24);
        // 10.42.0.0/24 holds only 254 usable addresses.
        assert!(p.is_err());
        let p = plan(Ipv4Addr::new(10, 42, 0, 250), 6, 24).unwrap_err();
        assert!(p.to_string().contains("device_count"), "{p}");
        let p = plan(Ipv4Addr::new(10, 42, 0, 0), 3, 24).unwrap();
        assert_eq!(
            p.addresses,
            [
                Ipv4Addr::new(10, 42, 0, 1),
                Ipv4Addr::new(10, 42, 0, 2),
                Ipv4Addr::new(10, 42, 0, 3)
            ]
        );
    }

    #[test]
    fn slash16_skips_only_network_and_broadcast() {
        let p = plan(Ipv4Addr::new(127, 42, 0, 254), 4, 16).unwrap();
        assert_eq!(
            p.addresses,
            [
                Ipv4Addr::new(127, 42, 0, 254),
                Ipv4Addr::new(127, 42, 0, 255),
                Ipv4Addr::new(127, 42, 1, 0),
                Ipv4Addr::new(127, 42, 1, 1)
            ]
        );
        assert_eq!(p.network, Ipv4Addr::new(127, 42, 0, 0));
        let full = plan(Ipv4Addr::new(127, 42, 0, 0), 65_534, 16).unwrap();
        assert_eq!(full.addresses.first(), Some(&Ipv4Addr::new(127, 42, 0, 1)));
        assert_eq!(
            full.addresses.last(),
            Some(&Ipv4Addr::new(127, 42, 255, 254))
        );
        assert!(plan(Ipv4Addr::new(127, 42, 0, 0), 65_535, 16).is_err());
    }

    #[test]
    fn slash8_fits_a_hundred_thousand() {
        let p = plan(Ipv4Addr::new(127, 42, 0, 1), 100_000, 8).unwrap();
        assert_eq!(p.addresses.len(), 100_000);
        assert_eq!(p.network, Ipv4Addr::new(127, 0, 0, 0));
    }

    #[test]
    fn bad_count_and_netmask_name_the_field() {
        let e = plan(Ipv4Addr::new(127, 42, 0, 1), 0, 16).unwrap_err();
        assert!(e.to_string().contains("device_count"));
        let e = plan(Ipv4Addr::new(127, 42, 0, 1), 100_001, 16).unwrap_err();
        assert!(e.to_string().contains("device_count"));
        let e = plan(Ipv4Addr::new(127, 42, 0, 1), 1, 20).unwrap_err();
        assert!(e.to_string().contains("netmask"));
    }
}
