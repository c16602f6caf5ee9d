//! Where device addresses live: loopback (127.0.0.0/8, no set-up) or a network
//! namespace. Every socket a device opens is created through here.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use nl6_dialin::ListenerSource;
use nl6_netns::{
    DialError, Dialer, DialerConfig, HostResolver, NetnsConfig, NsExecutor, SimNetwork,
    SystemResolver,
};

use crate::batch::AddressPlan;
use crate::error::{FleetError, chain};

/// How the fleet's devices are put on the network.
#[derive(Clone, Debug, Default)]
pub enum NetworkMode {
    /// Devices on 127.0.0.0/8 addresses, which Linux routes to `lo` with no set-up.
    #[default]
    Loopback,
    /// Devices inside a network namespace reached through a veth pair (needs root).
    Netns(NetnsConfig),
}

/// The network the devices live on.
pub(crate) enum AddressPlane {
    Loopback,
    Netns { net: SimNetwork, exec: NsExecutor },
}

impl AddressPlane {
    pub(crate) async fn open(mode: &NetworkMode) -> Result<AddressPlane, FleetError> {
        match mode {
            NetworkMode::Loopback => Ok(AddressPlane::Loopback),
            NetworkMode::Netns(cfg) => {
                let net = SimNetwork::setup(cfg.clone())
                    .await
                    .map_err(|e| FleetError::Network(chain(&e)))?;
                let exec = net.executor();
                Ok(AddressPlane::Netns { net, exec })
            }
        }
    }

    /// Whether `addr` may be a device address in this mode.
    pub(crate) fn check(&self, addr: Ipv4Addr) -> Result<(), FleetError> {
        let unusable = |reason: &str| {
            Err(FleetError::AddressUnusable {
                addr,
                reason: reason.to_string(),
            })
        };
        match self {
            AddressPlane::Loopback if !addr.is_loopback() => unusable(
                "loopback mode serves devices on 127.0.0.0/8 only (use --netns for other addresses)",
            ),
            AddressPlane::Netns { .. }
                if addr.is_loopback()
                    || addr.is_unspecified()
                    || addr.is_broadcast()
                    || addr.is_multicast() =>
            {
                unusable("namespace mode needs unicast addresses outside 127.0.0.0/8")
            }
            AddressPlane::Netns { net, .. } => {
                let cfg = net.config();
                let mask = u32::MAX << (32 - cfg.prefix_len);
                if u32::from(addr) & mask == u32::from(cfg.host_addr) & mask {
                    return unusable("it is inside the veth link network of the namespace");
                }
                Ok(())
            }
            AddressPlane::Loopback => Ok(()),
        }
    }

    /// Puts a batch's addresses on the network.
    pub(crate) async fn add(&self, plan: &AddressPlan) -> Result<(), FleetError> {
        if let AddressPlane::Netns { net, .. } = self {
            net.add_addresses(&plan.addresses)
                .await
                .map_err(|e| FleetError::Network(chain(&e)))?;
            if let Err(e) = net.add_route(plan.network, plan.prefix_len).await {
                let _ = net.remove_addresses(&plan.addresses).await;
                return Err(FleetError::Network(chain(&e)));
            }
        }
        Ok(())
    }

    /// Takes addresses off the network (best effort: logged on failure).
    pub(crate) async fn remove(&self, addrs: &[Ipv4Addr]) {
        if let AddressPlane::Netns { net, .. } = self
            && let Err(e) = net.remove_addresses(addrs).await
        {
            tracing::warn!(
                "removing {} device addresses failed: {}",
                addrs.len(),
                chain(&e)
            );
        }
    }

    /// The dial-in listening socket for `port`.
    pub(crate) async fn dialin_listener(&self, port: u16) -> Result<ListenerSource, FleetError> {
        match self {
            AddressPlane::Loopback => Ok(ListenerSource::Loopback),
            AddressPlane::Netns { exec, .. } => {
                let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
                let listener = exec.tcp_listener(addr, 4096).await.map_err(|e| {
                    FleetError::Network(format!(
                        "dial-in listener on {addr} in the namespace: {}",
                        chain(&e)
                    ))
                })?;
                Ok(ListenerSource::Std(listener))
            }
        }
    }

    /// The bounded dialer devices use to reach collectors.
    pub(crate) fn dialer(
        &self,
        config: DialerConfig,
        resolver: Option<Arc<dyn HostResolver>>,
    ) -> Result<Dialer, FleetError> {
        let exec = match self {
            AddressPlane::Loopback => NsExecutor::current(),
            AddressPlane::Netns { exec, .. } => exec.clone(),
        };
        let resolver = resolver.unwrap_or_else(|| Arc::new(SystemResolver));
        Dialer::new(config, resolver, exec).map_err(|e| match e {
            DialError::InvalidConfig { field, reason } => {
                FleetError::invalid(format!("dialer.{field}"), reason)
            }
            other => FleetError::Network(other.to_string()),
        })
    }

    /// Undoes the namespace set-up without a runtime (for `Drop`); failures are logged.
    pub(crate) fn close_blocking(self) {
        if let AddressPlane::Netns { net, .. } = self
            && let Err(e) = net.teardown_handle().teardown_blocking()
        {
            tracing::warn!(
                "namespace teardown of a dropped fleet failed: {}",
                chain(&e)
            );
        }
    }

    /// Undoes the namespace set-up, if any.
    pub(crate) async fn close(self) -> Result<(), FleetError> {
        match self {
            AddressPlane::Loopback => Ok(()),
            AddressPlane::Netns { net, .. } => net
                .teardown()
                .await
                .map_err(|e| FleetError::Network(chain(&e))),
        }
    }
}
