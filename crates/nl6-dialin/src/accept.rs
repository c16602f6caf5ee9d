//! The listening socket and the accept loop: device lookup by local address,
//! connection limits (fleet, per client address, per device), TLS handshake, then
//! hand-over to the HTTP/2 server.
//!
//! Refusals are cheap (the socket is closed at once, nothing is read) and logged at
//! most once per [`REFUSAL_LOG_INTERVAL`] with counts by limit, so a flood of
//! connections cannot flood the log too.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::conn::{Accepted, ConnEnv, ConnIo, Transport};
use crate::conn_limits::{ConnLimits, Refused};
use crate::context::DeviceDirectory;
use crate::error::DialinError;

/// Listen backlog of sockets this crate creates (the kernel caps it at somaxconn).
const BACKLOG: i32 = 8192;

/// Pause after a failed `accept()` (e.g. EMFILE), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// At most one log line about refused connections per this interval.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

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

/// Refusals since the last log line, logged at most once per [`REFUSAL_LOG_INTERVAL`].
#[derive(Debug, Default)]
struct RefusalLog {
    pending: [u64; 3],
    /// The last refusal: (what, client, device), for context.
    last: Option<(Refused, SocketAddr, SocketAddr)>,
    logged_at: Option<Instant>,
}

impl RefusalLog {
    /// Notes one refusal; logs now if nothing was logged within the interval.
    fn note(&mut self, why: Refused, peer: SocketAddr, local: SocketAddr) {
        self.pending[why.index()] += 1;
        self.last = Some((why, peer, local));
        self.flush_if_due();
    }

    /// Logs the pending counts if nothing was logged within the interval (the accept
    /// loop calls this every second, so no count waits much longer than the interval).
    fn flush_if_due(&mut self) {
        if self
            .logged_at
            .is_none_or(|at| at.elapsed() >= REFUSAL_LOG_INTERVAL)
        {
            self.flush();
        }
    }

    /// Logs the pending counts, if any.
    fn flush(&mut self) {
        let Some((why, peer, local)) = self.last.take() else {
            return;
        };
        let counts: Vec<String> = [Refused::Fleet(0), Refused::Peer(0), Refused::Device(0)]
            .into_iter()
            .filter(|r| self.pending[r.index()] > 0)
            .map(|r| format!("{} by {}", self.pending[r.index()], r.field()))
            .collect();
        tracing::warn!(
            "gNMI connections refused since the last report: {} (last: from {peer} to \
             {local}: {why})",
            counts.join(", ")
        );
        self.pending = [0; 3];
        self.logged_at = Some(Instant::now());
    }
}

/// Everything the accept loop needs.
pub(crate) struct Acceptor {
    pub(crate) listener: TcpListener,
    pub(crate) directory: Arc<dyn DeviceDirectory>,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) limits: Arc<ConnLimits>,
    pub(crate) env: ConnEnv,
    pub(crate) incoming: mpsc::Sender<ConnIo>,
    pub(crate) stop: CancellationToken,
}

impl Acceptor {
    /// Accepts until `stop` is cancelled; the socket closes when this returns.
    pub(crate) async fn run(self) {
        let mut refusals = RefusalLog::default();
        let mut report = tokio::time::interval(Duration::from_secs(1));
        report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let accepted = tokio::select! {
                _ = self.stop.cancelled() => break,
                _ = report.tick() => {
                    refusals.flush_if_due();
                    continue;
                }
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((tcp, peer)) => self.admit(tcp, peer, &mut refusals).await,
                Err(e) => {
                    self.env
                        .stats
                        .listener_accept_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("gNMI accept failed: {e}");
                    tokio::select! {
                        _ = self.stop.cancelled() => break,
                        _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            }
        }
        refusals.flush();
    }

    /// Looks the device up, applies the connection limits and either closes the
    /// connection or sets it up.
    async fn admit(&self, tcp: TcpStream, peer: SocketAddr, refusals: &mut RefusalLog) {
        let handshake_deadline = Instant::now() + self.handshake_timeout;
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
        let peer_ip = match peer.ip() {
            IpAddr::V6(ip) => ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4),
            ip => ip,
        };
        let SocketAddr::V4(device_addr) = local else {
            unreachable!("the local address was made from an IPv4 address")
        };
        let slot = match self.limits.admit(peer_ip, *device_addr.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                why.count(stats);
                refusals.note(why, peer, local);
                return; // closed without reading a byte
            }
        };
        let _ = tcp.set_nodelay(true);
        let setup = Setup {
            accepted: Accepted {
                device,
                local,
                peer,
                slot,
                handshake_deadline,
            },
            env: self.env.clone(),
            incoming: self.incoming.clone(),
        };
        match &self.tls {
            None => setup.hand_over(Transport::Plain(tcp)).await,
            Some(tls) => {
                let tls = tls.clone();
                let stop = self.stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = setup.handshake(tcp, tls) => {}
                    }
                });
            }
        }
    }
}

/// An admitted connection on its way to the HTTP/2 server.
struct Setup {
    accepted: Accepted,
    env: ConnEnv,
    incoming: mpsc::Sender<ConnIo>,
}

impl Setup {
    /// Runs the TLS handshake (bounded by the handshake deadline), counting failures.
    async fn handshake(self, tcp: TcpStream, tls: TlsAcceptor) {
        let deadline = self.accepted.handshake_deadline;
        let stats = &self.env.stats;
        let failure = match tokio::time::timeout_at(deadline, tls.accept(tcp)).await {
            Ok(Ok(stream)) => return self.hand_over(Transport::Tls(Box::new(stream))).await,
            Ok(Err(e)) => e.to_string(),
            Err(_) => {
                stats.handshake_timeouts.fetch_add(1, Ordering::Relaxed);
                "no handshake within handshake_timeout".to_string()
            }
        };
        stats.tls_handshake_failures.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            "TLS handshake from {} to {} failed: {failure}",
            self.accepted.peer,
            self.accepted.local
        );
    }

    /// Passes the connection to the HTTP/2 server.
    async fn hand_over(self, transport: Transport) {
        let io = ConnIo::new(transport, self.accepted, &self.env);
        // Fails only while the server shuts down; the connection is then dropped.
        let _ = self.incoming.send(io).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_logged_at_most_once_per_interval() {
        let mut log = RefusalLog::default();
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        log.note(Refused::Peer(2), addr, addr);
        assert_eq!(log.pending, [0; 3], "the first one is logged at once");
        for _ in 0..5 {
            log.note(Refused::Device(2), addr, addr);
        }
        log.note(Refused::Fleet(3), addr, addr);
        assert_eq!(log.pending, [1, 0, 5], "held for the next report");
        log.flush_if_due();
        assert_eq!(log.pending, [1, 0, 5], "not due within the interval");
        log.logged_at = Some(Instant::now() - REFUSAL_LOG_INTERVAL);
        log.flush_if_due();
        assert_eq!(log.pending, [0; 3]);
        assert!(log.last.is_none());
    }
}
