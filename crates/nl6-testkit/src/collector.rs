//! A second namespace playing a collector host, reached through the host's forwarding.

use std::net::{Ipv4Addr, SocketAddr};

use nl6_netns::NsExecutor;

use crate::host::{run, run_quiet};

/// Prefix length of a collector's transfer network.
const TRANSFER_PREFIX: u8 = 29;

/// What a collector namespace is called and how it is addressed; [`CollectorSpec::create`]
/// builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorSpec {
    /// Namespace name.
    pub ns: String,
    /// Host side of the veth pair.
    pub host_veth: String,
    /// Namespace side of the veth pair.
    pub ns_veth: String,
    /// Host address on the transfer /29; the collector's default route points at it.
    pub host_addr: Ipv4Addr,
    /// The collector's addresses on its veth, in the same /29.
    pub addrs: Vec<Ipv4Addr>,
}

impl CollectorSpec {
    /// Creates namespace, veth pair, addresses and default route; panics on failure.
    pub fn create(self) -> CollectorNs {
        let CollectorSpec {
            ns,
            host_veth,
            ns_veth,
            host_addr,
            addrs,
        } = self;
        // Built before the first command, so a failure half-way is cleaned up.
        let me = CollectorNs {
            ns,
            host_veth,
            addrs,
        };
        let (ns, host_veth) = (me.ns.as_str(), me.host_veth.as_str());
        run("ip", &["netns", "add", ns]);
        run(
            "ip",
            &[
                "link", "add", host_veth, "type", "veth", "peer", "name", &ns_veth, "netns", ns,
            ],
        );
        let host_side = format!("{host_addr}/{TRANSFER_PREFIX}");
        run("ip", &["addr", "add", &host_side, "dev", host_veth]);
        run("ip", &["link", "set", host_veth, "up"]);
        for a in &me.addrs {
            let addr = format!("{a}/{TRANSFER_PREFIX}");
            run("ip", &["-n", ns, "addr", "add", &addr, "dev", &ns_veth]);
        }
        run("ip", &["-n", ns, "link", "set", &ns_veth, "up"]);
        run("ip", &["-n", ns, "link", "set", "lo", "up"]);
        let via = host_addr.to_string();
        run("ip", &["-n", ns, "route", "add", "default", "via", &via]);
        me
    }
}

/// A live collector namespace; deletes its veth pair and namespace on drop.
#[derive(Debug)]
pub struct CollectorNs {
    /// Namespace name.
    pub ns: String,
    /// The collector's addresses (on its veth, in the transfer /29).
    pub addrs: Vec<Ipv4Addr>,
    host_veth: String,
}

impl CollectorNs {
    /// A TCP listener on `addr:port` inside this namespace (needs a tokio runtime).
    pub async fn listener(&self, addr: Ipv4Addr, port: u16) -> tokio::net::TcpListener {
        let listen = SocketAddr::new(addr.into(), port);
        let exec = NsExecutor::in_namespace(&self.ns, 1)
            .unwrap_or_else(|e| panic!("enter namespace {}: {e}", self.ns));
        let listener = exec
            .tcp_listener(listen, 4096)
            .await
            .unwrap_or_else(|e| panic!("listen on {listen} in {}: {e}", self.ns));
        tokio::net::TcpListener::from_std(listener).unwrap()
    }

    /// An in-process plaintext gNMIReverse collector on `addr:port` inside this namespace,
    /// with a short shutdown grace.
    #[cfg(feature = "gnmi")]
    pub async fn start_collector(
        &self,
        addr: Ipv4Addr,
        port: u16,
    ) -> nl6_collector::CollectorHandle {
        let listen = SocketAddr::new(addr.into(), port);
        let cfg = nl6_collector::CollectorConfig {
            shutdown_grace: std::time::Duration::from_millis(500),
            ..nl6_collector::CollectorConfig::plaintext(listen)
        };
        nl6_collector::start_on(self.listener(addr, port).await, cfg)
            .await
            .unwrap_or_else(|e| panic!("collector on {listen} in {}: {e}", self.ns))
    }

    /// Makes the collector a black hole: its default route goes, so SYNs from device
    /// addresses arrive and nothing (no SYN-ACK, no RST, no ICMP) comes back; dials time out.
    pub fn stop_answering(&self) {
        run("ip", &["-n", &self.ns, "route", "del", "default"]);
    }
}

impl Drop for CollectorNs {
    fn drop(&mut self) {
        run_quiet("ip", &["link", "del", &self.host_veth]);
        run_quiet("ip", &["netns", "del", &self.ns]);
    }
}
