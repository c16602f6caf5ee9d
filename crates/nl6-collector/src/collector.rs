//! The in-process collector: configuration, the gNMIReverse service and the handle.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nl6_gnmi::proto::gnmi::subscribe_response::Response as SubscribeKind;
use nl6_gnmi::proto::gnmi::{GetResponse, Notification, SubscribeResponse};
use nl6_gnmi::proto::gnmireverse::g_nmi_reverse_server::{GNmiReverse, GNmiReverseServer};
use nl6_tls::rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::conn::accept_loop;
use crate::stats::{CollectorStats, Counters};

/// Largest gRPC message accepted (a whole-device snapshot can exceed tonic's 4 MiB default).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// Default capacity of the [`CollectorHandle::subscribe`] broadcast channel.
pub const DEFAULT_BROADCAST_CAPACITY: usize = 4096;
/// Default time [`CollectorHandle::shutdown`] lets connections close gracefully.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Accepted connections queued between the accept loop and the gRPC server.
const CONN_QUEUE: usize = 256;

/// Errors starting or stopping a collector.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The `listen` address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The listener's local address could not be read.
    #[error("cannot read the listener's local address: {0}")]
    LocalAddr(#[source] io::Error),
    /// The gRPC server ended with an error.
    #[error("gRPC server stopped with an error: {0}")]
    Serve(#[source] tonic::transport::Error),
    /// The gRPC server task panicked or was aborted.
    #[error("gRPC server task failed: {0}")]
    Task(String),
}

/// One notification as received, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// TCP peer of the stream that carried it (`None` if the transport could not tell).
    pub peer: Option<SocketAddr>,
    /// When the collector decoded it.
    pub received_at: SystemTime,
    /// The notification, unchanged.
    pub notification: Notification,
    /// The run tag of the message that carried it (see [`nl6_gnmi::run_tag`]).
    pub tag: Option<Arc<str>>,
}

/// How to run a collector.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// Address to bind (`127.0.0.1:0` picks a free port); ignored by [`start_on`].
    pub listen: SocketAddr,
    /// TLS server config (see `nl6_tls::server_config`); `None` serves plaintext.
    /// ALPN "h2" is added if missing.
    pub tls: Option<Arc<ServerConfig>>,
    /// Capacity of the lossy [`CollectorHandle::subscribe`] channel.
    pub broadcast_capacity: usize,
    /// Lossless receiver of every notification: streams wait when it is full.
    pub sink: Option<mpsc::Sender<Arc<Received>>>,
    /// How long [`CollectorHandle::shutdown`] waits for connections to close
    /// gracefully before cutting them.
    pub shutdown_grace: Duration,
}

impl CollectorConfig {
    /// A plaintext collector on `listen`.
    pub fn plaintext(listen: SocketAddr) -> Self {
        CollectorConfig {
            listen,
            tls: None,
            broadcast_capacity: DEFAULT_BROADCAST_CAPACITY,
            sink: None,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }

    /// A TLS collector on `listen`.
    pub fn tls(listen: SocketAddr, server_config: Arc<ServerConfig>) -> Self {
        CollectorConfig {
            tls: Some(server_config),
            ..CollectorConfig::plaintext(listen)
        }
    }

    /// Sends every notification to `sink` as well (backpressure: streams wait for it).
    pub fn with_sink(mut self, sink: mpsc::Sender<Arc<Received>>) -> Self {
        self.sink = Some(sink);
        self
    }
}

/// Binds `cfg.listen` and starts serving `/gnmireverse.gNMIReverse/Publish` (and `PublishGet`).
pub async fn start(cfg: CollectorConfig) -> Result<CollectorHandle, Error> {
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: cfg.listen,
            source,
        })?;
    start_on(listener, cfg).await
}

/// Starts serving on an already bound listener (`cfg.listen` is ignored).
pub async fn start_on(
    listener: TcpListener,
    cfg: CollectorConfig,
) -> Result<CollectorHandle, Error> {
    let local_addr = listener.local_addr().map_err(Error::LocalAddr)?;
    let counters = Arc::new(Counters::default());
    let (broadcast, _) = broadcast::channel(cfg.broadcast_capacity.max(1));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (kill, kill_rx) = watch::channel(false);
    let tls = cfg.tls.map(|config| TlsAcceptor::from(with_h2(config)));
    let is_tls = tls.is_some();

    let (conn_tx, conn_rx) = mpsc::channel(CONN_QUEUE);
    let accept = tokio::spawn(accept_loop(
        listener,
        tls,
        conn_tx,
        shutdown_rx.clone(),
        kill_rx,
        counters.clone(),
    ));

    let service = Service {
        counters: counters.clone(),
        broadcast: broadcast.clone(),
        sink: cfg.sink,
        shutdown: shutdown_rx.clone(),
    };
    let incoming = ReceiverStream::new(conn_rx).map(Ok::<_, io::Error>);
    let mut stop = shutdown_rx;
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(
                GNmiReverseServer::new(service).max_decoding_message_size(MAX_MESSAGE_BYTES),
            )
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stop.wait_for(|stop| *stop).await;
            }),
    );
    Ok(CollectorHandle {
        local_addr,
        is_tls,
        counters,
        broadcast,
        shutdown,
        kill,
        shutdown_grace: cfg.shutdown_grace,
        server: Some(server),
        accept,
    })
}

fn with_h2(config: Arc<ServerConfig>) -> Arc<ServerConfig> {
    if config.alpn_protocols.iter().any(|p| p == nl6_tls::ALPN_H2) {
        return config;
    }
    let mut config = (*config).clone();
    config.alpn_protocols.push(nl6_tls::ALPN_H2.to_vec());
    Arc::new(config)
}

/// A running collector. Dropping it stops the collector (without waiting).
pub struct CollectorHandle {
    local_addr: SocketAddr,
    is_tls: bool,
    counters: Arc<Counters>,
    broadcast: broadcast::Sender<Arc<Received>>,
    shutdown: watch::Sender<bool>,
    kill: watch::Sender<bool>,
    shutdown_grace: Duration,
    server: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
    accept: JoinHandle<()>,
}

impl CollectorHandle {
    /// The address actually bound (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the collector serves TLS.
    pub fn is_tls(&self) -> bool {
        self.is_tls
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> CollectorStats {
        self.counters.snapshot()
    }

    /// The distinct non-empty `prefix.target` values seen, sorted.
    pub fn targets(&self) -> Vec<String> {
        self.counters.targets()
    }

    /// The distinct peer IPs that opened a stream, sorted.
    pub fn peers(&self) -> Vec<IpAddr> {
        self.counters.peers()
    }

    /// Receives every notification from now on (lossy: a lagging receiver gets
    /// `RecvError::Lagged`; use [`CollectorConfig::with_sink`] for lossless delivery).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Received>> {
        self.broadcast.subscribe()
    }

    /// Polls the stats every 5 ms until `cond` holds (`Ok`) or `timeout` passes
    /// (`Err` with the last snapshot).
    pub async fn wait_until(
        &self,
        timeout: Duration,
        cond: impl Fn(&CollectorStats) -> bool,
    ) -> Result<CollectorStats, CollectorStats> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let stats = self.stats();
            if cond(&stats) {
                return Ok(stats);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(stats);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops accepting, ends open streams (clients see UNAVAILABLE) and waits
    /// up to [`CollectorConfig::shutdown_grace`] for connections to close
    /// gracefully before cutting them.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        self.shutdown.send_replace(true);
        let _ = (&mut self.accept).await;
        let Some(mut server) = self.server.take() else {
            return Ok(());
        };
        let grace = self.shutdown_grace;
        let joined = match tokio::time::timeout(grace, &mut server).await {
            Ok(joined) => joined,
            Err(_) => {
                tracing::warn!("connections still open after {grace:?}; closing them");
                self.kill.send_replace(true);
                match tokio::time::timeout(DEFAULT_SHUTDOWN_GRACE, &mut server).await {
                    Ok(joined) => joined,
                    Err(_) => {
                        server.abort();
                        return Err(Error::Task("gRPC server did not stop".to_string()));
                    }
                }
            }
        };
        match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Serve(e)),
            Err(join) => Err(Error::Task(join.to_string())),
        }
    }
}

impl Drop for CollectorHandle {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        self.kill.send_replace(true);
    }
}

impl std::fmt::Debug for CollectorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorHandle")
            .field("local_addr", &self.local_addr)
            .field("is_tls", &self.is_tls)
            .finish_non_exhaustive()
    }
}

/// What one inbound message amounts to.
enum Item {
    One(Notification),
    Many(Vec<Notification>),
    Sync,
    Malformed,
}

/// Messages a gNMIReverse stream carries.
trait Inbound: Send + 'static {
    /// The message's run tag, if it carries one.
    fn tag(&self) -> Option<Arc<str>>;
    fn into_item(self) -> Item;
}

impl Inbound for SubscribeResponse {
    fn tag(&self) -> Option<Arc<str>> {
        nl6_gnmi::run_tag::run_tag(&self.extension).map(Arc::from)
    }

    fn into_item(self) -> Item {
        match self.response {
            Some(SubscribeKind::Update(n)) => Item::One(n),
            Some(SubscribeKind::SyncResponse(_)) => Item::Sync,
            _ => Item::Malformed,
        }
    }
}

impl Inbound for GetResponse {
    fn tag(&self) -> Option<Arc<str>> {
        nl6_gnmi::run_tag::run_tag(&self.extension).map(Arc::from)
    }

    #[allow(deprecated)] // `error` is deprecated in gNMI but still worth honouring
    fn into_item(self) -> Item {
        if self.notification.is_empty() && self.error.is_some() {
            Item::Malformed
        } else {
            Item::Many(self.notification)
        }
    }
}

struct Service {
    counters: Arc<Counters>,
    broadcast: broadcast::Sender<Arc<Received>>,
    sink: Option<mpsc::Sender<Arc<Received>>>,
    shutdown: watch::Receiver<bool>,
}

/// Counts a stream as active for as long as it lives (also if tonic drops the handler).
struct StreamGuard<'a>(&'a Counters);

impl<'a> StreamGuard<'a> {
    fn open(counters: &'a Counters, peer: Option<SocketAddr>) -> Self {
        counters.streams_active.fetch_add(1, Relaxed);
        counters.streams_total.fetch_add(1, Relaxed);
        if let Some(peer) = peer {
            counters.add_peer(peer.ip());
        }
        StreamGuard(counters)
    }
}

impl Drop for StreamGuard<'_> {
    fn drop(&mut self) {
        self.0.streams_active.fetch_sub(1, Relaxed);
    }
}

impl Service {
    async fn drain<M: Inbound>(
        &self,
        request: Request<Streaming<M>>,
    ) -> Result<Response<()>, Status> {
        let peer = request.remote_addr();
        let mut stream = request.into_inner();
        let _guard = StreamGuard::open(&self.counters, peer);
        tracing::debug!(?peer, "stream opened");
        let mut shutdown = self.shutdown.clone();
        let mut last_target = String::new();
        loop {
            let message = tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => {
                    return Err(Status::unavailable("collector shutting down"));
                }
                message = stream.message() => message,
            };
            match message {
                Ok(Some(message)) => match (message.tag(), message.into_item()) {
                    (tag, Item::One(n)) => self.observe(n, peer, tag, &mut last_target).await,
                    (tag, Item::Many(list)) => {
                        for n in list {
                            self.observe(n, peer, tag.clone(), &mut last_target).await;
                        }
                    }
                    (_, Item::Sync) => {
                        self.counters.sync_responses.fetch_add(1, Relaxed);
                    }
                    (_, Item::Malformed) => {
                        self.counters.malformed.fetch_add(1, Relaxed);
                    }
                },
                Ok(None) => {
                    tracing::debug!(?peer, "stream closed by the client");
                    return Ok(Response::new(()));
                }
                Err(status) => {
                    if status.code() == tonic::Code::Internal {
                        tracing::warn!(?peer, %status, "stream failed");
                    } else {
                        tracing::debug!(?peer, %status, "stream ended");
                    }
                    return Err(status);
                }
            }
        }
    }

    async fn observe(
        &self,
        n: Notification,
        peer: Option<SocketAddr>,
        tag: Option<Arc<str>>,
        last_target: &mut String,
    ) {
        let c = &self.counters;
        c.notifications.fetch_add(1, Relaxed);
        c.leaves.fetch_add(n.update.len() as u64, Relaxed);
        c.deletes.fetch_add(n.delete.len() as u64, Relaxed);
        let target = crate::format::target(&n);
        if !target.is_empty() && target != last_target.as_str() {
            c.add_target(target);
            target.clone_into(last_target);
        }
        let received_at = SystemTime::now();
        if let Ok(ts) = u64::try_from(n.timestamp)
            && ts > 0
        {
            let sent = UNIX_EPOCH + Duration::from_nanos(ts);
            c.record_latency(received_at.duration_since(sent).unwrap_or_default());
        }
        if self.broadcast.receiver_count() == 0 && self.sink.is_none() {
            return;
        }
        let received = Arc::new(Received {
            peer,
            received_at,
            notification: n,
            tag,
        });
        let _ = self.broadcast.send(received.clone());
        if let Some(sink) = &self.sink {
            let _ = sink.send(received).await;
        }
    }
}

#[tonic::async_trait]
impl GNmiReverse for Service {
    async fn publish(
        &self,
        request: Request<Streaming<SubscribeResponse>>,
    ) -> Result<Response<()>, Status> {
        self.drain(request).await
    }

    async fn publish_get(
        &self,
        request: Request<Streaming<GetResponse>>,
    ) -> Result<Response<()>, Status> {
        self.drain(request).await
    }
}
