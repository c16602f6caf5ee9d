//! The listening socket and the accept loop: device lookup by local address, connection
//! limit, TLS handshake, then hand-over to the gRPC server.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::conn::{ConnEnv, ConnIo, Transport};
use crate::error::DialinError;
use crate::server::DeviceDirectory;

/// Listen backlog of sockets this crate creates (the kernel caps it at somaxconn).
const BACKLOG: i32 = 8192;

/// Pause after a failed `accept()` (e.g. EMFILE), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Where the server listens.
#[derive(Debug)]
pub enum ListenerSource {
    /// One socket on `0.0.0.0:<port>` bound to the `lo` interface (SO_BINDTODEVICE), for
    /// devices on 127.0.0.0/8 addresses: nothing arrives from other interfaces.
    Loopback,
    /// One socket on `0.0.0.0:<port>` on every interface.
    Wildcard,
    /// A listening socket created by the caller, e.g. inside the simulation namespace.
    Std(std::net::TcpListener),
}

impl ListenerSource {
    /// Creates (or adopts) the listening socket.
    pub(crate) fn into_listener(self, port: u16) -> Result<TcpListener, DialinError> {
        let std = match self {
            ListenerSource::Loopback => wildcard_socket(port, true)?,
            ListenerSource::Wildcard => wildcard_socket(port, false)?,
            ListenerSource::Std(listener) => listener,
        };
        std.set_nonblocking(true).map_err(DialinError::Listener)?;
        TcpListener::from_std(std).map_err(DialinError::Listener)
    }
}

/// A nonblocking `0.0.0.0:port` listener with SO_REUSEADDR and a large backlog,
/// optionally bound to `lo`.
fn wildcard_socket(port: u16, loopback_only: bool) -> Result<std::net::TcpListener, DialinError> {
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let fail = |source| DialinError::Listen { addr, source };
    let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).map_err(fail)?;
    sock.set_reuse_address(true).map_err(fail)?;
    if loopback_only && let Err(e) = sock.bind_device(Some(b"lo")) {
        // Without the option every connection still needs a device's (127/8) local
        // address, so connections from other interfaces are closed at accept anyway.
        tracing::warn!("SO_BINDTODEVICE lo failed ({e}); relying on the device lookup alone");
    }
    sock.set_nonblocking(true).map_err(fail)?;
    sock.bind(&addr.into()).map_err(fail)?;
    sock.listen(BACKLOG).map_err(fail)?;
    Ok(sock.into())
}

/// Everything the accept loop needs.
pub(crate) struct Acceptor {
    pub(crate) listener: TcpListener,
    pub(crate) directory: Arc<dyn DeviceDirectory>,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) limit: Arc<Semaphore>,
    pub(crate) env: ConnEnv,
    pub(crate) incoming: mpsc::Sender<io::Result<ConnIo>>,
    pub(crate) stop: CancellationToken,
}

impl Acceptor {
    /// Accepts until `stop` is cancelled; the socket closes when this returns.
    pub(crate) async fn run(self) {
        loop {
            let accepted = tokio::select! {
                _ = self.stop.cancelled() => return,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((tcp, peer)) => self.admit(tcp, peer).await,
                Err(e) => {
                    self.env
                        .stats
                        .listener_accept_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("gNMI accept failed: {e}");
                    tokio::select! {
                        _ = self.stop.cancelled() => return,
                        _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            }
        }
    }

    /// Looks the device up and either closes the connection or sets it up.
    async fn admit(&self, tcp: TcpStream, peer: SocketAddr) {
        let stats = &self.env.stats;
        let Some((device, local)) = tcp.local_addr().ok().and_then(|local| {
            let ip = match local.ip() {
                IpAddr::V4(ip) => ip,
                IpAddr::V6(ip) => ip.to_ipv4_mapped()?, // a dual-stack socket
            };
            let device = self.directory.device(ip)?;
            Some((device, SocketAddr::from((ip, local.port()))))
        }) else {
            stats.connections_rejected.fetch_add(1, Ordering::Relaxed);
            return; // dropping the stream closes it
        };
        let Ok(permit) = self.limit.clone().try_acquire_owned() else {
            stats
                .listener_accept_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "gNMI connection from {peer} to {local} refused: connection limit reached"
            );
            return;
        };
        let _ = tcp.set_nodelay(true);
        let setup = Setup {
            device,
            local,
            peer,
            permit,
            env: self.env.clone(),
            incoming: self.incoming.clone(),
        };
        match &self.tls {
            None => setup.hand_over(Transport::Plain(tcp)).await,
            Some(tls) => {
                let tls = tls.clone();
                let timeout = self.handshake_timeout;
                let stop = self.stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = setup.handshake(tcp, tls, timeout) => {}
                    }
                });
            }
        }
    }
}

/// An admitted connection on its way to the gRPC server.
struct Setup {
    device: Arc<nl6_ifstate::DeviceModel>,
    local: SocketAddr,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    env: ConnEnv,
    incoming: mpsc::Sender<io::Result<ConnIo>>,
}

impl Setup {
    /// Runs the TLS handshake (bounded by `timeout`), counting failures.
    async fn handshake(self, tcp: TcpStream, tls: TlsAcceptor, timeout: Duration) {
        let failure = match tokio::time::timeout(timeout, tls.accept(tcp)).await {
            Ok(Ok(stream)) => return self.hand_over(Transport::Tls(Box::new(stream))).await,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no handshake within {timeout:?}"),
        };
        self.env
            .stats
            .tls_handshake_failures
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            "TLS handshake from {} to {} failed: {failure}",
            self.peer,
            self.local
        );
    }

    /// Passes the connection to the gRPC server.
    async fn hand_over(self, transport: Transport) {
        let io = ConnIo::new(
            transport,
            self.device,
            self.local,
            self.peer,
            &self.env,
            self.permit,
        );
        // Fails only while the server shuts down; the connection is then dropped.
        let _ = self.incoming.send(Ok(io)).await;
    }
}
