//! Namespace names, veth names and subnets unique to one test.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};

use nl6_netns::NetnsConfig;

use crate::collector::{CollectorNs, CollectorSpec};
use crate::guards::NetCleanup;

/// The names and subnets one test suite draws its networks from (distinct per suite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressBlock {
    tag: char,
    link_octet: u8,
    first_device_octet: u8,
}

impl AddressBlock {
    /// Test `n` gets names `nl6t<pid><tag><n>` / `<tag>t<pid><n>h`, transfer networks
    /// `10.<link_octet>.<n>.0/30` and `.8/29`, and devices `10.<first_device_octet + n>.0.0/16`.
    pub const fn new(tag: char, link_octet: u8, first_device_octet: u8) -> Self {
        Self {
            tag,
            link_octet,
            first_device_octet,
        }
    }
}

/// Names and subnets unique to one test of one process.
#[derive(Debug, Clone)]
pub struct TestNet {
    /// Counter within the process (1..).
    pub n: u32,
    /// The simulator namespace config: `10.<link>.<n>.1/30` host, `.2` namespace.
    pub cfg: NetnsConfig,
    /// The device network, a /16.
    pub dev_net: Ipv4Addr,
    block: AddressBlock,
}

impl TestNet {
    /// The next network of `block` in this process; panics when the block runs out.
    pub fn new(block: AddressBlock) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let oct = u8::try_from(n)
            .ok()
            .filter(|n| u32::from(block.first_device_octet) + u32::from(*n) < 255)
            .unwrap_or_else(|| panic!("too many test networks in one process ({n})"));
        let (pid, tag) = (std::process::id(), block.tag);
        Self {
            n,
            cfg: NetnsConfig {
                name: format!("nl6t{pid}{tag}{n}"),
                host_veth: format!("{tag}t{pid}{n}h"),
                ns_veth: format!("{tag}t{pid}{n}n"),
                host_addr: Ipv4Addr::new(10, block.link_octet, oct, 1),
                ns_addr: Ipv4Addr::new(10, block.link_octet, oct, 2),
                prefix_len: 30,
                ..NetnsConfig::default()
            },
            dev_net: Ipv4Addr::new(10, block.first_device_octet + oct, 0, 0),
            block,
        }
    }

    /// The `i`-th address after the network address, numbered as a fleet batch from .0.1.
    pub fn device(&self, i: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.dev_net) + 1 + i)
    }

    /// `dev_net` with the third and fourth octet set.
    pub fn device_at(&self, c: u8, d: u8) -> Ipv4Addr {
        let [a, b, _, _] = self.dev_net.octets();
        Ipv4Addr::new(a, b, c, d)
    }

    /// `count` addresses of the device /16, skipping .0 and .255 of every /24.
    pub fn devices(&self, count: usize) -> Vec<Ipv4Addr> {
        (0u32..)
            .map(|i| self.device_at((i / 254) as u8, (i % 254 + 1) as u8))
            .take(count)
            .collect()
    }

    /// A guard that undoes whatever this network's set-up left on the host, when dropped.
    pub fn cleanup(&self) -> NetCleanup {
        NetCleanup::new(self.cfg.clone())
    }

    /// A collector namespace on transfer /29 `10.<link>.<n>.8`: host .9, collector .10, .11.
    pub fn collector(&self) -> CollectorNs {
        let (pid, tag, n) = (std::process::id(), self.block.tag, self.n);
        let [a, b, c, _] = self.cfg.host_addr.octets();
        CollectorSpec {
            ns: format!("nl6c{pid}{tag}{n}"),
            host_veth: format!("{tag}c{pid}{n}h"),
            ns_veth: format!("{tag}c{pid}{n}n"),
            host_addr: Ipv4Addr::new(a, b, c, 9),
            addrs: vec![Ipv4Addr::new(a, b, c, 10), Ipv4Addr::new(a, b, c, 11)],
        }
        .create()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: AddressBlock = AddressBlock::new('u', 249, 40);

    #[test]
    fn networks_are_unique_and_valid() {
        let (a, b) = (TestNet::new(BLOCK), TestNet::new(BLOCK));
        assert_ne!(a.n, b.n);
        assert_ne!(a.cfg.name, b.cfg.name);
        assert_ne!(a.cfg.host_veth, b.cfg.host_veth);
        assert_ne!(a.dev_net, b.dev_net);
        a.cfg.validate().unwrap();
        let oct = a.n as u8;
        assert_eq!(a.cfg.host_addr, Ipv4Addr::new(10, 249, oct, 1));
        assert_eq!(a.dev_net, Ipv4Addr::new(10, 40 + oct, 0, 0));
        assert!(a.cfg.name.starts_with("nl6t") && a.cfg.host_veth.starts_with("ut"));
    }

    #[test]
    fn device_addresses() {
        let net = TestNet::new(BLOCK);
        let [_, b, _, _] = net.dev_net.octets();
        assert_eq!(net.device(0), Ipv4Addr::new(10, b, 0, 1));
        assert_eq!(net.device(255), Ipv4Addr::new(10, b, 1, 0));
        assert_eq!(net.device_at(200, 1), Ipv4Addr::new(10, b, 200, 1));
        let devices = net.devices(300);
        assert_eq!(devices.len(), 300);
        assert_eq!(devices[253], Ipv4Addr::new(10, b, 0, 254));
        assert_eq!(devices[254], Ipv4Addr::new(10, b, 1, 1));
    }
}
