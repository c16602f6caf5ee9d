//! Opening a device's own connection: the [`Connector`] seam (TCP or UDP from the device
//! address), TLS on top, and the HTTP/2 connection over it.

use std::io;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;

use crate::error::FlavorError;
use crate::grpc::{GrpcConnection, Origin};

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

/// Whether the collector has spoken on a new connection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Preface {
    Pending,
    /// The first bytes arrived (an HTTP/2 server starts with its SETTINGS).
    Received,
    /// The connection failed before (e.g. a TLS alert rejecting our certificate).
    Failed(String),
}

/// Reports the first read outcome of a connection to a [`Preface`] watch.
struct WatchedIo<T> {
    inner: T,
    preface: Option<watch::Sender<Preface>>,
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.preface.is_some() {
            let outcome = match &result {
                Poll::Pending => None,
                Poll::Ready(Ok(())) if buf.filled().len() > before => Some(Preface::Received),
                Poll::Ready(Ok(())) => Some(Preface::Failed(
                    "the collector closed the connection".to_string(),
                )),
                Poll::Ready(Err(e)) => Some(Preface::Failed(e.to_string())),
            };
            if let Some(outcome) = outcome
                && let Some(tx) = self.preface.take()
            {
                tx.send_replace(outcome);
            }
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

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

    /// Opens the device's own HTTP/2 connection and waits until the collector has
    /// spoken (as gRPC clients wait for the server preface before a connection is
    /// ready), so a collector refusing our client certificate after a TLS 1.3
    /// handshake fails the open instead of breaking the stream.
    ///
    /// The request authority (`:authority`) is the collector `host:port` as
    /// configured, so TLS and virtual hosting see the name.
    pub(crate) async fn connection(
        &self,
        keepalive: Option<Keepalive>,
    ) -> Result<GrpcConnection, FlavorError> {
        self.connection_text(keepalive)
            .await
            .map_err(FlavorError::Connect)
    }

    async fn connection_text(
        &self,
        keepalive: Option<Keepalive>,
    ) -> Result<GrpcConnection, String> {
        let (tx, mut rx) = watch::channel(Preface::Pending);
        let io = self.io().await.map_err(|e| error_chain(&e))?;
        let io: Box<dyn Io> = Box::new(WatchedIo {
            inner: io,
            preface: Some(tx),
        });
        let origin = Origin::new(self.tls.is_some(), &self.host, self.port)?;
        let connection = GrpcConnection::handshake(io, origin, keepalive)
            .await
            .map_err(|e| format!("connection to {} failed: {}", self.host, error_chain(&e)))?;
        let spoke = tokio::time::timeout(
            self.handshake_timeout,
            rx.wait_for(|p| *p != Preface::Pending),
        )
        .await;
        match spoke {
            Ok(Ok(p)) if *p == Preface::Received => Ok(connection),
            Ok(Ok(p)) => match &*p {
                Preface::Failed(e) => Err(format!("connection to {} failed: {e}", self.host)),
                _ => Err(format!("connection to {} failed", self.host)),
            },
            // The sender is gone: the connection was dropped before any read.
            Ok(Err(_)) => Err(format!(
                "connection to {} closed before it was ready",
                self.host
            )),
            Err(_) => Err(format!(
                "{} did not start HTTP/2 within {:?}",
                self.host, self.handshake_timeout
            )),
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

/// An error and its sources, `: `-separated (hyper's own message is terse).
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
