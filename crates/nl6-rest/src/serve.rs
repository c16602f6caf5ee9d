//! The REST listener: a bounded number of connections, a header read timeout and an idle
//! timeout, so idle or slow clients cannot use up the process's sockets; refusals are
//! counted and logged at most once per 10 s.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::auth::BearerToken;

/// Default [`ServeOptions::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default [`ServeOptions::max_connections_per_peer`].
pub const DEFAULT_MAX_CONNECTIONS_PER_PEER: usize = 32;
/// Default [`ServeOptions::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ServeOptions::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a refused-connection log line waits for the next one.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);
/// How long open requests may finish after a shutdown or an idle close.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Limits and authentication of the REST listener.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Connections served at once; further ones are closed at accept and counted.
    pub max_connections: usize,
    /// Connections one client address may hold at once, so one client cannot take every
    /// slot.
    pub max_connections_per_peer: usize,
    /// Time a client has to send a request's headers (HTTP/1.1).
    pub header_read_timeout: Duration,
    /// A connection that moves no bytes for this long is closed.
    pub idle_timeout: Duration,
    /// When set, every route but `/health` and the status page's files needs
    /// `Authorization: Bearer <token>`.
    pub token: Option<BearerToken>,
    /// The rate history `GET /api/v1/history` serves and the status page charts; `None`
    /// serves an empty one.
    pub history: Option<crate::History>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_peer: DEFAULT_MAX_CONNECTIONS_PER_PEER,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            token: None,
            history: None,
        }
    }
}

/// Counters of the REST listener (in `GET /api/v1/status` and `/metrics`).
#[derive(Debug, Default)]
pub(crate) struct ListenerStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections closed at accept because a connection limit was reached.
    pub refused: AtomicU64,
    /// Connections closed for moving no bytes for `idle_timeout`.
    pub idle_closed: AtomicU64,
    refusal_log: Mutex<RefusalLog>,
}

#[derive(Debug, Default)]
struct RefusalLog {
    last_line: Option<Instant>,
    unreported: u64,
}

impl ListenerStats {
    /// Counts a refusal and logs the refusals of the last 10 s in one line.
    fn refused(&self, limit: &str) {
        self.refused.fetch_add(1, Relaxed);
        let mut log = self.refusal_log.lock();
        log.unreported += 1;
        let now = Instant::now();
        if log
            .last_line
            .is_none_or(|t| now.duration_since(t) >= REFUSAL_LOG_EVERY)
        {
            tracing::warn!(
                "REST: refused {} connection(s) in the last {}s; the latest hit {limit}",
                log.unreported,
                REFUSAL_LOG_EVERY.as_secs()
            );
            log.unreported = 0;
            log.last_line = Some(now);
        }
    }
}

/// Serves `router` on `listener` with `options` until `shutdown` resolves, then lets the
/// requests in flight finish (at most 5 s).
pub(crate) async fn serve(
    router: Router,
    stats: Arc<ListenerStats>,
    listener: TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(options.max_connections));
    let peers = Arc::new(PeerCounts::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("REST: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            stats.refused(&format!(
                "the limit of {} REST connections (--rest-max-connections)",
                options.max_connections
            ));
            drop(socket);
            continue;
        };
        let Some(peer_slot) = peers
            .clone()
            .take(peer.ip(), options.max_connections_per_peer)
        else {
            stats.refused(&format!(
                "the limit of {} REST connections per client address",
                options.max_connections_per_peer
            ));
            drop(socket);
            continue;
        };
        let _ = socket.set_nodelay(true);
        let router = router.clone();
        let stats = stats.clone();
        let stop = stop_rx.clone();
        let options = options.clone();
        tokio::spawn(async move {
            stats.open.fetch_add(1, Relaxed);
            serve_connection(socket, router, &options, &stats, stop).await;
            stats.open.fetch_sub(1, Relaxed);
            drop(peer_slot);
            drop(permit);
        });
    }
    stop_tx.send_replace(true);
    // Wait for the connections to drain (each one gives up after DRAIN_TIMEOUT).
    let _ = permits
        .acquire_many(u32::try_from(options.max_connections).unwrap_or(u32::MAX))
        .await;
    Ok(())
}

async fn serve_connection(
    socket: TcpStream,
    router: Router,
    options: &ServeOptions,
    stats: &ListenerStats,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(ActivityIo {
        inner: socket,
        activity: activity.clone(),
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .keep_alive(true);
    let service = TowerToHyperService::new(router);
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    let idle = options.idle_timeout;
    let closing = loop {
        let deadline = activity.last() + idle;
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stop.wait_for(|s| *s) => break false,
            _ = tokio::time::sleep_until(deadline) => {
                if activity.last() + idle <= Instant::now() {
                    break true;
                }
            }
        }
    };
    if closing {
        stats.idle_closed.fetch_add(1, Relaxed);
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, connection).await;
}

/// Open connections per client address.
#[derive(Default)]
struct PeerCounts(Mutex<HashMap<IpAddr, usize>>);

/// One connection of a client address; dropping it frees the slot.
struct PeerSlot {
    counts: Arc<PeerCounts>,
    ip: IpAddr,
}

impl PeerCounts {
    /// A slot for `ip`, unless it holds `limit` already.
    fn take(self: Arc<Self>, ip: IpAddr, limit: usize) -> Option<PeerSlot> {
        let mut counts = self.0.lock();
        let n = counts.entry(ip).or_default();
        if *n >= limit {
            return None;
        }
        *n += 1;
        drop(counts);
        Some(PeerSlot { counts: self, ip })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock();
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// When a connection last moved bytes.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Relaxed))
    }
}

/// A socket that records when it last moved bytes.
struct ActivityIo {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for ActivityIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for ActivityIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
