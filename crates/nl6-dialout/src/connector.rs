//! Opening a device's own connection: the [`Connector`] seam (TCP from the device
//! address), TLS on top, and the tonic channel over it.

use std::io;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// Opens TCP connections whose source address is a device address.
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
    pub handshake_timeout: Duration,
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
    pub keepalive: Keepalive,
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Uri> for DeviceDial {
    type Response = TokioIo<Box<dyn Io>>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let dial = self.clone();
        Box::pin(async move {
            let tcp = dial
                .connector
                .connect(dial.local, &dial.host, dial.port)
                .await?;
            let io: Box<dyn Io> = match &dial.tls {
                None => Box::new(tcp),
                Some(tls) => {
                    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
                    let handshake = connector.connect(tls.server_name.clone(), tcp);
                    let stream = tokio::time::timeout(tls.handshake_timeout, handshake)
                        .await
                        .map_err(|_| {
                            io::Error::new(
                                io::ErrorKind::TimedOut,
                                format!(
                                    "TLS handshake with {} took longer than {:?}",
                                    dial.host, tls.handshake_timeout
                                ),
                            )
                        })?
                        .map_err(|e| {
                            io::Error::new(e.kind(), format!("TLS handshake with {}: {e}", dial.host))
                        })?;
                    Box::new(stream)
                }
            };
            Ok(TokioIo::new(io))
        })
    }
}

impl DeviceDial {
    /// Opens the device's own HTTP/2 connection. The request authority (`:authority`)
    /// is the collector `host:port` as configured, so TLS and virtual hosting see the name.
    pub(crate) async fn channel(&self) -> Result<Channel, String> {
        let authority = format!("{}:{}", self.host, self.port);
        // The connector does TLS itself, so the endpoint URI stays http (tonic's own TLS
        // would otherwise refuse an https URI); the origin carries the real scheme.
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let endpoint = Endpoint::from_shared(format!("http://{authority}"))
            .map_err(|e| format!("invalid collector address {authority}: {e}"))?;
        let origin: Uri = format!("{scheme}://{authority}")
            .parse()
            .map_err(|e| format!("invalid collector address {authority}: {e}"))?;
        endpoint
            .origin(origin)
            .buffer_size(4)
            .http2_keep_alive_interval(self.keepalive.interval)
            .keep_alive_timeout(self.keepalive.timeout)
            .keep_alive_while_idle(true)
            .connect_with_connector(self.clone())
            .await
            .map_err(|e| error_chain(&e))
    }
}

/// An error and its sources, `: `-separated (tonic's own message is terse).
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
