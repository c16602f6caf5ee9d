//! Opening a device's own connection: the [`Connector`] seam (TCP or UDP from the device
//! address) and TLS on top.

use std::io;
use std::net::Ipv4Addr;
use std::sync::Arc;

use std::time::Duration;

use futures::future::BoxFuture;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UdpSocket};

/// Opens TCP connections (and UDP sockets) whose source address is a device address.
///
/// Implementations bound the time of one dial and may limit dials in flight;
/// `host` is resolved on every call. [`nl6_netns::Dialer`] implements it.
pub trait Connector: Send + Sync + 'static {
    /// Connects from `local` to `host:port`.
    fn connect<'a>(
        &'a self,
        local: Ipv4Addr,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<TcpStream>>;

    /// A UDP socket bound to `local` (any port) and connected to `host:port`.
    ///
    /// The default binds in the current network namespace and resolves `host` with the
    /// system resolver (first IPv4 record): right for loopback mode; a connector for
    /// namespaced devices must create the socket inside the namespace.
    fn udp<'a>(
        &'a self,
        local: Ipv4Addr,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<UdpSocket>> {
        Box::pin(async move {
            let target = tokio::net::lookup_host((host, port))
                .await?
                .find(std::net::SocketAddr::is_ipv4)
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::AddrNotAvailable,
                        format!("no IPv4 address for {host}"),
                    )
                })?;
            let socket = UdpSocket::bind((local, 0)).await?;
            socket.connect(target).await?;
            Ok(socket)
        })
    }
}

impl Connector for nl6_netns::Dialer {
    fn connect<'a>(
        &'a self,
        local: Ipv4Addr,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<TcpStream>> {
        Box::pin(async move { self.dial(local, host, port).await.map_err(io::Error::other) })
    }

    fn udp<'a>(
        &'a self,
        local: Ipv4Addr,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<UdpSocket>> {
        Box::pin(async move {
            nl6_netns::Dialer::udp(self, local, host, port)
                .await
                .map_err(io::Error::other)
        })
    }
}

/// TLS parameters of one device's connection.
#[derive(Clone)]
pub(crate) struct TlsConnect {
    pub config: Arc<nl6_tls::rustls::ClientConfig>,
    pub server_name: ServerName<'static>,
}

/// HTTP/2 keepalive of a device connection (detects a collector that vanished).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keepalive {
    pub interval: Duration,
    pub timeout: Duration,
}

/// Where and how one device connects.
#[derive(Clone)]
pub(crate) struct DeviceDial {
    pub connector: Arc<dyn Connector>,
    pub local: Ipv4Addr,
    pub host: Arc<str>,
    pub port: u16,
    pub tls: Option<TlsConnect>,
    /// Time for TLS plus the collector's first HTTP/2 bytes.
    pub handshake_timeout: Duration,
}

/// A device's byte stream: TCP, or TLS over TCP.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {
    /// The TCP socket under the stream, for socket options.
    fn tcp(&self) -> &TcpStream;
}

impl Io for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Io for tokio_rustls::client::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

impl DeviceDial {
    /// Where and how `local` connects to `host:port`.
    pub(crate) fn new(
        connector: Arc<dyn Connector>,
        local: Ipv4Addr,
        (host, port): (Arc<str>, u16),
        tls: Option<TlsConnect>,
        handshake_timeout: Duration,
    ) -> DeviceDial {
        DeviceDial {
            connector,
            local,
            host,
            port,
            tls,
            handshake_timeout,
        }
    }

    /// TCP from the device address, then TLS when configured.
    pub(crate) async fn io(&self) -> io::Result<Box<dyn Io>> {
        let tcp = self
            .connector
            .connect(self.local, &self.host, self.port)
            .await?;
        let Some(tls) = &self.tls else {
            return Ok(Box::new(tcp));
        };
        let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
        let handshake = connector.connect(tls.server_name.clone(), tcp);
        let stream = tokio::time::timeout(self.handshake_timeout, handshake)
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "TLS handshake with {} took longer than {:?}",
                        self.host, self.handshake_timeout
                    ),
                )
            })?
            .map_err(|e| {
                io::Error::new(e.kind(), format!("TLS handshake with {}: {e}", self.host))
            })?;
        Ok(Box::new(stream))
    }
}

/// An error and its sources, `: `-separated.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
