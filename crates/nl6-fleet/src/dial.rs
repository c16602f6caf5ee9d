//! The connector dial-out devices use: the bounded [`Dialer`], plus a warning in the log
//! when a collector name cannot be used (no IPv4 record, no answer), at most once per
//! name per minute, so an operator sees the reason without one line per device.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use nl6_dialout::Connector;
use nl6_netns::{DialError, Dialer};
use parking_lot::Mutex;
use tokio::net::{TcpStream, UdpSocket};

/// Shortest time between two warnings about the same collector name.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Dials through the fleet's [`Dialer`] and logs name-resolution failures.
pub(crate) struct FleetConnector {
    dialer: Dialer,
    warned: Mutex<HashMap<String, Instant>>,
}

impl FleetConnector {
    pub(crate) fn new(dialer: Dialer) -> Self {
        FleetConnector {
            dialer,
            warned: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a warning about `host` is due now (and records it).
    fn warn_due(&self, host: &str) -> bool {
        let now = Instant::now();
        let mut warned = self.warned.lock();
        match warned.get(host) {
            Some(last) if now.duration_since(*last) < WARN_EVERY => false,
            _ => {
                warned.insert(host.to_owned(), now);
                true
            }
        }
    }
}

impl Connector for FleetConnector {
    fn connect<'a>(
        &'a self,
        local: Ipv4Addr,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send + 'a>> {
        Box::pin(async move {
            match self.dialer.dial(local, host, port).await {
                Ok(stream) => Ok(stream),
                Err(e) => {
                    if matches!(e, DialError::NoIpv4 { .. } | DialError::Resolve { .. })
                        && self.warn_due(host)
                    {
                        tracing::warn!(
                            collector = %host,
                            "dial-out cannot reach the collector: {} (devices keep retrying)",
                            crate::error::chain(&e)
                        );
                    }
                    Err(io::Error::other(e))
                }
            }
        })
    }

    fn udp<'a>(
        &'a self,
        local: Ipv4Addr,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<UdpSocket>> + Send + 'a>> {
        Box::pin(async move {
            self.dialer
                .udp(local, host, port)
                .await
                .map_err(io::Error::other)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl6_netns::{DialerConfig, NsExecutor, StaticResolver};
    use std::net::{IpAddr, Ipv6Addr};
    use std::sync::Arc;

    #[tokio::test]
    async fn resolution_errors_pass_through_and_warn_once_per_name() {
        let resolver = Arc::new(StaticResolver::new());
        resolver.set("v6only.test", [IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        let dialer = Dialer::new(DialerConfig::default(), resolver, NsExecutor::current()).unwrap();
        let connector = FleetConnector::new(dialer);
        let err = connector
            .connect(Ipv4Addr::LOCALHOST, "v6only.test", 6030)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no IPv4 address among 1 records for v6only.test"
        );
        // The first failure warned; the next one within a minute does not.
        assert!(!connector.warn_due("v6only.test"));
        assert!(connector.warn_due("other.test"));
    }
}
