//! One accepted connection: its IO (plain or TLS), what handlers learn about it, and
//! the idle and handshake timeouts hyper does not have.
//!
//! The idle timeout counts RPCs, not bytes (keepalive pings keep bytes flowing): the
//! router holds an [`RpcGuard`] for as long as an RPC's response is alive, and once no
//! RPC has been in flight for `idle_timeout` the IO reports end-of-file, which makes
//! hyper drop the connection. Forced shutdown works the same way through a token, and
//! so does the handshake deadline: a client that has not sent the 24-byte HTTP/2
//! connection preface by then (TLS included, counted from accept) is closed, so a socket
//! that never speaks cannot hold a connection slot for longer than `handshake_timeout`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use nl6_ifstate::DeviceModel;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::budget::Pool;
use crate::conn_limits::Slot;
use crate::stats::DialinStats;

/// Length of the HTTP/2 client connection preface (RFC 9113 3.4), which must arrive
/// before the handshake deadline.
const PREFACE_LEN: usize = 24;

/// What every request on a connection carries in its extensions.
#[derive(Clone, Debug)]
pub(crate) struct ConnInfo {
    /// The device the connection's local address belongs to.
    pub(crate) device: Arc<DeviceModel>,
    /// Local (device) address.
    pub(crate) local: SocketAddr,
    /// Client address.
    pub(crate) peer: SocketAddr,
    /// RPCs in flight, for the idle timeout.
    pub(crate) activity: Arc<Activity>,
    /// The connection's share of the queue budget.
    pub(crate) share: Arc<Pool>,
}

/// RPCs in flight on one connection and since when none has been.
#[derive(Debug)]
pub(crate) struct Activity {
    origin: Instant,
    active: AtomicUsize,
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            origin: Instant::now(),
            active: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
        }
    }

    /// Marks an RPC as started; it ends when the guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> RpcGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        RpcGuard(self.clone())
    }

    /// When the connection may be closed for idleness, if it is idle now.
    fn idle_deadline(&self, timeout: Duration) -> Option<Instant> {
        if self.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        Some(self.origin + since + timeout)
    }
}

/// An RPC in flight; dropping it ends the RPC for the idle timeout.
#[derive(Debug)]
pub(crate) struct RpcGuard(Arc<Activity>);

impl Drop for RpcGuard {
    fn drop(&mut self) {
        let ms = self.0.origin.elapsed().as_millis() as u64;
        self.0.idle_since_ms.fetch_max(ms, Ordering::AcqRel);
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The transport below HTTP/2.
#[derive(Debug)]
pub(crate) enum Transport {
    /// Plaintext TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// What every connection shares: its idle timeout, the forced-shutdown token, the stats.
#[derive(Clone, Debug)]
pub(crate) struct ConnEnv {
    /// Close after this long without an RPC in flight.
    pub(crate) idle_timeout: Duration,
    /// Cancelled to close every connection at once.
    pub(crate) kill: CancellationToken,
    /// Server counters.
    pub(crate) stats: Arc<DialinStats>,
    /// Bytes one connection's streams may hold queued (`connection_share`).
    pub(crate) share: usize,
}

/// An accepted connection on its way to HTTP/2: where it goes and what it holds.
pub(crate) struct Accepted {
    /// The device of the local address.
    pub(crate) device: Arc<DeviceModel>,
    /// Local (device) address.
    pub(crate) local: SocketAddr,
    /// Client address.
    pub(crate) peer: SocketAddr,
    /// Its place under the connection limits, freed when the connection closes.
    pub(crate) slot: Slot,
    /// The TLS handshake and the HTTP/2 preface must be done by then.
    pub(crate) handshake_deadline: Instant,
}

/// The IO handed to hyper.
pub(crate) struct ConnIo {
    transport: Transport,
    info: ConnInfo,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    kill: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Preface bytes still to come; the handshake timer runs until they have.
    preface_left: usize,
    handshake: Option<Pin<Box<Sleep>>>,
    /// The handshake deadline passed: reads report end-of-file from now on.
    expired: bool,
    stats: Arc<DialinStats>,
    _slot: Slot,
}

impl ConnIo {
    /// Wraps an accepted (and TLS-established) connection.
    pub(crate) fn new(transport: Transport, accepted: Accepted, env: &ConnEnv) -> ConnIo {
        let ConnEnv {
            idle_timeout,
            kill,
            stats,
            share,
        } = env;
        let Accepted {
            device,
            local,
            peer,
            slot,
            handshake_deadline,
        } = accepted;
        let idle_timeout = *idle_timeout;
        let stats = stats.clone();
        stats.connections_open.fetch_add(1, Ordering::Relaxed);
        ConnIo {
            transport,
            info: ConnInfo {
                device,
                local,
                peer,
                activity: Arc::new(Activity::new()),
                share: Arc::new(Pool::connection(*share)),
            },
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            // A child token per connection: polling it never contends with other connections.
            kill: Box::pin(kill.child_token().cancelled_owned()),
            preface_left: PREFACE_LEN,
            handshake: Some(Box::pin(tokio::time::sleep_until(handshake_deadline))),
            expired: false,
            stats,
            _slot: slot,
        }
    }

    /// What handlers learn about the connection (inserted into every request).
    pub(crate) fn info(&self) -> &ConnInfo {
        &self.info
    }

    /// Counts `n` bytes read towards the preface; stops the handshake timer once it
    /// has arrived.
    fn note_read(&mut self, n: usize) {
        if self.preface_left > 0 {
            self.preface_left = self.preface_left.saturating_sub(n);
            if self.preface_left == 0 {
                self.handshake = None;
            }
        }
    }

    /// True when the connection must end now (forced shutdown, missed handshake
    /// deadline or idle timeout); arms the timers otherwise.
    fn must_close(&mut self, cx: &mut Context<'_>) -> bool {
        if self.expired || self.kill.as_mut().poll(cx).is_ready() {
            return true;
        }
        if let Some(handshake) = &mut self.handshake
            && handshake.as_mut().poll(cx).is_ready()
        {
            self.handshake = None;
            self.expired = true;
            self.stats
                .handshake_timeouts
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                "gNMI connection from {} to {} closed: no HTTP/2 preface in time",
                self.info.peer,
                self.info.local
            );
            return true;
        }
        loop {
            if self.idle.as_mut().poll(cx).is_pending() {
                return false;
            }
            let now = Instant::now();
            match self.info.activity.idle_deadline(self.idle_timeout) {
                Some(deadline) if deadline <= now => return true,
                Some(deadline) => self.idle.as_mut().reset(deadline),
                None => self.idle.as_mut().reset(now + self.idle_timeout),
            }
        }
    }
}

impl Drop for ConnIo {
    fn drop(&mut self) {
        self.stats.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.expired {
            return Poll::Ready(Ok(())); // end of file
        }
        let before = buf.filled().len();
        let polled = match &mut this.transport {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        match polled {
            Poll::Ready(Ok(())) => {
                this.note_read(buf.filled().len() - before);
                Poll::Ready(Ok(()))
            }
            Poll::Pending if this.must_close(cx) => Poll::Ready(Ok(())), // end of file
            other => other,
        }
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.kill.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
        }
        match &mut this.transport {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.kill.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
        }
        match &mut this.transport {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.transport {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.transport {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.transport {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
