//! Dial-out from device addresses: bounded concurrency, per-dial resolution, timeouts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout_at};

use crate::{DialError, HostResolver, NsExecutor};

/// Limits of the [`Dialer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialerConfig {
    /// Dials allowed at once (resolution + socket + connect); default 64.
    pub max_in_flight: usize,
    /// Time one dial may take after it got its permit; default 10 s.
    pub dial_timeout: Duration,
}

impl Default for DialerConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 64,
            dial_timeout: Duration::from_secs(10),
        }
    }
}

impl DialerConfig {
    /// Checks that both limits are non-zero.
    pub fn validate(&self) -> Result<(), DialError> {
        if self.max_in_flight == 0 {
            return Err(DialError::InvalidConfig {
                field: "max_in_flight",
                reason: "must be at least 1",
            });
        }
        if self.dial_timeout.is_zero() {
            return Err(DialError::InvalidConfig {
                field: "dial_timeout",
                reason: "must be above zero",
            });
        }
        Ok(())
    }
}

/// Opens TCP connections from device addresses inside the namespace; cheap to clone.
#[derive(Clone)]
pub struct Dialer {
    shared: Arc<Shared>,
}

struct Shared {
    cfg: DialerConfig,
    resolver: Arc<dyn HostResolver>,
    exec: NsExecutor,
    permits: Semaphore,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("cfg", &self.shared.cfg)
            .field("exec", &self.shared.exec)
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl Dialer {
    /// A dialer resolving with `resolver` and creating sockets with `exec`.
    pub fn new(
        cfg: DialerConfig,
        resolver: Arc<dyn HostResolver>,
        exec: NsExecutor,
    ) -> Result<Self, DialError> {
        cfg.validate()?;
        Ok(Self {
            shared: Arc::new(Shared {
                cfg,
                resolver,
                exec,
                permits: Semaphore::new(cfg.max_in_flight),
                in_flight: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
            }),
        })
    }

    /// Connects from `local` to `host:port` (TCP_NODELAY on).
    ///
    /// Waits for a permit, resolves `host` in the host namespace (literal IPs skip that),
    /// takes the first IPv4 record, creates the socket inside the namespace bound to `local`
    /// and connects; resolution and connect share the dial timeout. Waiting for the permit
    /// is not part of the timeout; dropping the future cancels the dial at any point.
    pub async fn dial(
        &self,
        local: Ipv4Addr,
        host: &str,
        port: u16,
    ) -> Result<TcpStream, DialError> {
        let s = &self.shared;
        // The semaphore is never closed, so acquire cannot fail.
        let _permit = s.permits.acquire().await.ok();
        let _slot = InFlight::enter(s);
        let deadline = Instant::now() + s.cfg.dial_timeout;

        let addr = self.resolve_by(deadline, host, port).await?;
        let sock = s
            .exec
            .tcp_socket_bound(local)
            .await
            .map_err(|source| DialError::Socket { local, source })?;
        let sock = TcpSocket::from_std_stream(sock.into());
        let stream = match timeout_at(deadline, sock.connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => {
                return Err(DialError::Connect {
                    local,
                    addr,
                    source,
                });
            }
            Err(_) => {
                return Err(DialError::Timeout {
                    local,
                    addr,
                    after: s.cfg.dial_timeout,
                });
            }
        };
        stream
            .set_nodelay(true)
            .map_err(|source| DialError::Connect {
                local,
                addr,
                source,
            })?;
        Ok(stream)
    }

    /// A UDP socket from `local` connected to `host:port`: `host` resolved as for
    /// [`Dialer::dial`] (within the dial timeout), the socket created inside the
    /// namespace. Takes no permit: nothing waits on the peer.
    pub async fn udp(
        &self,
        local: Ipv4Addr,
        host: &str,
        port: u16,
    ) -> Result<UdpSocket, DialError> {
        let s = &self.shared;
        let deadline = Instant::now() + s.cfg.dial_timeout;
        let addr = self.resolve_by(deadline, host, port).await?;
        let sock = s
            .exec
            .udp_socket_bound(local)
            .await
            .map_err(|source| DialError::Socket { local, source })?;
        let sock = UdpSocket::from_std(sock.into())
            .map_err(|source| DialError::Socket { local, source })?;
        sock.connect(addr)
            .await
            .map_err(|source| DialError::Connect {
                local,
                addr,
                source,
            })?;
        Ok(sock)
    }

    /// `host:port` resolved as [`Dialer::dial`] does, by `deadline`.
    async fn resolve_by(
        &self,
        deadline: Instant,
        host: &str,
        port: u16,
    ) -> Result<SocketAddr, DialError> {
        match timeout_at(deadline, self.pick_addr(host, port)).await {
            Ok(addr) => addr,
            Err(_) => Err(DialError::Resolve {
                host: host.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {:?}", self.shared.cfg.dial_timeout),
                ),
            }),
        }
    }

    /// Dials holding a permit right now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// The most dials that held a permit at the same time since creation.
    pub fn peak_in_flight(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }

    async fn pick_addr(&self, host: &str, port: u16) -> Result<SocketAddr, DialError> {
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let records = match literal.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => self
                .shared
                .resolver
                .resolve(host, port)
                .await
                .map_err(|source| DialError::Resolve {
                    host: host.to_owned(),
                    source,
                })?,
        };
        records
            .iter()
            .find(|a| a.is_ipv4())
            .copied()
            .ok_or_else(|| DialError::NoIpv4 {
                host: host.to_owned(),
                records: records.len(),
            })
    }
}

/// Counts one dial in flight while alive and keeps the peak up to date.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.peak.fetch_max(now, Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StaticResolver;
    use std::net::Ipv6Addr;

    fn dialer(resolver: Arc<StaticResolver>) -> Dialer {
        Dialer::new(DialerConfig::default(), resolver, NsExecutor::current()).unwrap()
    }

    #[test]
    fn config_is_validated() {
        let bad = DialerConfig {
            max_in_flight: 0,
            ..DialerConfig::default()
        };
        let err = Dialer::new(bad, Arc::new(StaticResolver::new()), NsExecutor::current())
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_in_flight"), "{err}");
        let bad = DialerConfig {
            dial_timeout: Duration::ZERO,
            ..DialerConfig::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("dial_timeout")
        );
    }

    #[tokio::test]
    async fn aaaa_only_name_is_a_clear_error() {
        let r = Arc::new(StaticResolver::new());
        r.set(
            "v6only.test",
            [
                IpAddr::V6(Ipv6Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
            ],
        );
        let err = dialer(r)
            .dial(Ipv4Addr::LOCALHOST, "v6only.test", 6030)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DialError::NoIpv4 { records: 2, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "no IPv4 address among 2 records for v6only.test"
        );
    }

    #[tokio::test]
    async fn literal_ips_skip_the_resolver_and_connect_on_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // An empty resolver would fail every name: the literal must not reach it.
        let d = dialer(Arc::new(StaticResolver::new()));
        let stream = d
            .dial(Ipv4Addr::LOCALHOST, "127.0.0.1", port)
            .await
            .unwrap();
        assert!(stream.nodelay().unwrap());
        let (_conn, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, stream.local_addr().unwrap());
        assert_eq!(d.in_flight(), 0);
        assert_eq!(d.peak_in_flight(), 1);
        let err = d
            .dial(Ipv4Addr::LOCALHOST, "[::1]", port)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DialError::NoIpv4 { records: 1, .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn unknown_name_is_a_resolve_error() {
        let err = dialer(Arc::new(StaticResolver::new()))
            .dial(Ipv4Addr::LOCALHOST, "nowhere.test", 1)
            .await
            .unwrap_err();
        assert!(matches!(err, DialError::Resolve { .. }));
        assert!(err.to_string().contains("nowhere.test"), "{err}");
    }
}
