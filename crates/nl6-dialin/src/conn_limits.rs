//! The connection limits: how many connections may be open fleet-wide, from one
//! client address and to one device, what is open under them, and why one was refused.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;

use crate::stats::DialinStats;

/// Why a connection was refused at accept: the limit it hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    /// `max_connections` connections are open fleet-wide.
    #[error("max_connections ({0}) connections are open")]
    Fleet(usize),
    /// `max_connections_per_peer` connections are open from the client's address.
    #[error("max_connections_per_peer ({0}) connections are open from this address")]
    Peer(usize),
    /// `max_connections_per_device` connections are open to the device.
    #[error("max_connections_per_device ({0}) connections are open to this device")]
    Device(usize),
}

impl Refused {
    /// The configuration field of the limit.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Refused::Fleet(_) => "max_connections",
            Refused::Peer(_) => "max_connections_per_peer",
            Refused::Device(_) => "max_connections_per_device",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Refused::Fleet(_) => 0,
            Refused::Peer(_) => 1,
            Refused::Device(_) => 2,
        }
    }

    /// Counts the refusal in the server stats.
    pub(crate) fn count(self, stats: &DialinStats) {
        let counter = match self {
            Refused::Fleet(_) => &stats.refused_fleet_limit,
            Refused::Peer(_) => &stats.refused_peer_limit,
            Refused::Device(_) => &stats.refused_device_limit,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        stats
            .listener_accept_failures
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// Open connections, fleet-wide, per client address and per device.
#[derive(Debug, Default)]
struct Counts {
    total: usize,
    peers: HashMap<IpAddr, usize>,
    devices: HashMap<Ipv4Addr, usize>,
}

/// The connection limits and what is open under them.
#[derive(Debug)]
pub(crate) struct ConnLimits {
    max_total: usize,
    max_per_peer: usize,
    max_per_device: usize,
    counts: Mutex<Counts>,
}

impl ConnLimits {
    /// Limits of `max_total` connections, `max_per_peer` from one client address and
    /// `max_per_device` to one device.
    pub(crate) fn new(max_total: usize, max_per_peer: usize, max_per_device: usize) -> ConnLimits {
        ConnLimits {
            max_total,
            max_per_peer,
            max_per_device,
            counts: Mutex::new(Counts::default()),
        }
    }

    /// Takes a slot for a connection from `peer` to `device`, or names the limit that
    /// is reached.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr, device: Ipv4Addr) -> Result<Slot, Refused> {
        let mut c = self.counts.lock();
        if c.peers.get(&peer).copied().unwrap_or(0) >= self.max_per_peer {
            return Err(Refused::Peer(self.max_per_peer));
        }
        if c.devices.get(&device).copied().unwrap_or(0) >= self.max_per_device {
            return Err(Refused::Device(self.max_per_device));
        }
        if c.total >= self.max_total {
            return Err(Refused::Fleet(self.max_total));
        }
        c.total += 1;
        *c.peers.entry(peer).or_insert(0) += 1;
        *c.devices.entry(device).or_insert(0) += 1;
        Ok(Slot {
            limits: self.clone(),
            peer,
            device,
        })
    }
}

/// One open connection's place under the limits; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Slot {
    limits: Arc<ConnLimits>,
    peer: IpAddr,
    device: Ipv4Addr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
            if let Some(n) = map.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
        let mut c = self.limits.counts.lock();
        c.total -= 1;
        decrement(&mut c.peers, &self.peer);
        decrement(&mut c.devices, &self.device);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_by_peer_device_and_fleet_and_free_on_drop() {
        let limits = Arc::new(ConnLimits::new(3, 2, 2));
        let (p1, p2, p3): (IpAddr, IpAddr, IpAddr) = (
            [127, 0, 0, 1].into(),
            [127, 0, 0, 2].into(),
            [127, 0, 0, 3].into(),
        );
        let (d1, d2) = (Ipv4Addr::new(127, 9, 0, 1), Ipv4Addr::new(127, 9, 0, 2));
        let a = limits.admit(p1, d1).unwrap();
        let _b = limits.admit(p1, d2).unwrap();
        assert_eq!(limits.admit(p1, d1).unwrap_err(), Refused::Peer(2));
        let _c = limits.admit(p2, d1).unwrap();
        assert_eq!(limits.admit(p3, d1).unwrap_err(), Refused::Device(2));
        assert_eq!(limits.admit(p3, d2).unwrap_err(), Refused::Fleet(3));
        assert!(
            Refused::Fleet(3)
                .to_string()
                .contains("max_connections (3)")
        );
        drop(a);
        let _d = limits.admit(p3, d2).unwrap();
        let c = limits.counts.lock();
        assert_eq!((c.total, c.peers[&p1], c.devices[&d1]), (3, 1, 1));
    }
}
