//! Host-name resolution for the dialer, always done in the host namespace.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::RwLock;

use futures::future::BoxFuture;

/// Resolves a collector host name to socket addresses (object safe).
pub trait HostResolver: Send + Sync + 'static {
    /// All records for `host`, with `port` filled in.
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>>;
}

/// The system resolver (`getaddrinfo` via `tokio::net::lookup_host`).
///
/// Lookups run on tokio's blocking threads, which never enter the simulator namespace, so
/// they use the host's resolver configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// A fixed name-to-addresses map that can be changed at run time (tests, DNS fail-over).
#[derive(Debug, Default)]
pub struct StaticResolver {
    map: RwLock<HashMap<String, Vec<IpAddr>>>,
}

impl StaticResolver {
    /// An empty map: every name fails with `NotFound`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) the records of `host` (names are case-insensitive).
    pub fn set(&self, host: &str, addrs: impl IntoIterator<Item = IpAddr>) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_ascii_lowercase(), addrs.into_iter().collect());
    }

    /// Removes `host`; later lookups fail with `NotFound`.
    pub fn remove(&self, host: &str) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&host.to_ascii_lowercase());
    }
}

impl HostResolver for StaticResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        let found = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&host.to_ascii_lowercase())
            .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        Box::pin(async move {
            found.ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("no records for {host}"))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[tokio::test]
    async fn static_resolver_changes_at_run_time() {
        let r = StaticResolver::new();
        let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let b = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        r.set("Collector.example", [a]);
        assert_eq!(
            r.resolve("collector.example", 6030).await.unwrap(),
            vec![SocketAddr::new(a, 6030)]
        );
        r.set("collector.example", [b]);
        assert_eq!(
            r.resolve("COLLECTOR.example", 1).await.unwrap(),
            vec![SocketAddr::new(b, 1)]
        );
        r.remove("collector.example");
        let err = r.resolve("collector.example", 1).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("collector.example"));
    }

    #[tokio::test]
    async fn system_resolver_finds_localhost() {
        let addrs = SystemResolver.resolve("localhost", 9).await.unwrap();
        assert!(
            addrs.iter().any(|a| a.ip().is_loopback() && a.port() == 9),
            "{addrs:?}"
        );
    }
}
