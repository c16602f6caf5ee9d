//! The dial-in server: one listener and one gRPC service for every device of a fleet.
//!
//! Connections are served by hyper's HTTP/2 server directly (not tonic's transport
//! server), because only hyper's builder reaches the per-stream send buffer
//! (`http2_send_buffer`) that bounds what a client that does not read can leave
//! buffered on the server.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use nl6_ifstate::EventCounters;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tonic::codegen::Service;

use crate::accept::{Acceptor, ListenerSource};
use crate::budget::Pool;
use crate::config::DialinConfig;
use crate::conn::{ConnEnv, ConnIo};
use crate::conn_limits::ConnLimits;
use crate::context::{Ctx, DeviceDirectory};
use crate::error::DialinError;
use crate::extension::{DialinService, Services};
use crate::runs::DialinRuns;
use crate::service::GnmiRouter;
use crate::stats::{DialinStats, GnmiStatus};

/// How long [`DialinServer::shutdown`] lets connections finish before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Connections accepted but not yet taken by the gRPC server.
const INCOMING_DEPTH: usize = 1024;

/// A running gNMI dial-in server (see the crate documentation).
pub struct DialinServer {
    ctx: Arc<Ctx>,
    events: Arc<EventCounters>,
    local_addr: SocketAddr,
    kill: CancellationToken,
    running: AtomicBool,
    tasks: Mutex<Option<(JoinHandle<()>, JoinHandle<()>)>>,
}

/// A dial-in server to start, with more gRPC services than gNMI
/// ([`DialinServer::builder`]).
pub struct DialinServerBuilder {
    config: DialinConfig,
    listener: ListenerSource,
    directory: Arc<dyn DeviceDirectory>,
    events: Arc<EventCounters>,
    services: Vec<Arc<dyn DialinService>>,
}

impl DialinServerBuilder {
    /// Also serves `service` on every device address (its RPCs pass the same
    /// credentials check as gNMI's). Service names must be unique and not `gnmi.gNMI`.
    pub fn service(mut self, service: Arc<dyn DialinService>) -> DialinServerBuilder {
        self.services.push(service);
        self
    }

    /// Validates the configuration, opens the listener and starts serving.
    pub async fn start(self) -> Result<DialinServer, DialinError> {
        let services = Services::new(self.services);
        if let Some(name) = services.duplicate() {
            return Err(DialinError::Config {
                field: "services",
                reason: format!(
                    "service name {name:?} is empty, contains '/', is gnmi.gNMI or is registered twice"
                ),
            });
        }
        DialinServer::start_with(
            self.config,
            self.listener,
            self.directory,
            self.events,
            services,
        )
        .await
    }
}

impl std::fmt::Debug for DialinServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.services.iter().map(|s| s.name()).collect();
        f.debug_struct("DialinServerBuilder")
            .field("port", &self.config.port)
            .field("services", &names)
            .finish_non_exhaustive()
    }
}

impl DialinServer {
    /// Validates `config`, opens the listener and starts serving gNMI for every device
    /// of `directory`; `events` feeds the `state_events_*` status fields.
    pub async fn start(
        config: DialinConfig,
        listener: ListenerSource,
        directory: Arc<dyn DeviceDirectory>,
        events: Arc<EventCounters>,
    ) -> Result<DialinServer, DialinError> {
        DialinServer::start_with(config, listener, directory, events, Services::default()).await
    }

    /// A server like [`start`](Self::start)'s that can serve more gRPC services
    /// ([`DialinServerBuilder::service`]) on the same port and device addresses.
    pub fn builder(
        config: DialinConfig,
        listener: ListenerSource,
        directory: Arc<dyn DeviceDirectory>,
        events: Arc<EventCounters>,
    ) -> DialinServerBuilder {
        DialinServerBuilder {
            config,
            listener,
            directory,
            events,
            services: Vec::new(),
        }
    }

    async fn start_with(
        config: DialinConfig,
        listener: ListenerSource,
        directory: Arc<dyn DeviceDirectory>,
        events: Arc<EventCounters>,
        services: Services,
    ) -> Result<DialinServer, DialinError> {
        config.validate()?;
        let listener = listener.into_listener(config.port)?;
        let local_addr = listener.local_addr().map_err(DialinError::Listener)?;
        let stats = Arc::new(DialinStats::default());
        let stop = CancellationToken::new();
        let kill = CancellationToken::new();
        let (tx, rx) = mpsc::channel(INCOMING_DEPTH);
        let acceptor = Acceptor {
            listener,
            directory: directory.clone(),
            tls: config.tls.as_deref().map(with_h2),
            handshake_timeout: config.handshake_timeout,
            limits: Arc::new(ConnLimits::new(
                config.max_connections,
                config.max_connections_per_peer,
                config.max_connections_per_device,
            )),
            env: ConnEnv {
                idle_timeout: config.idle_timeout,
                kill: kill.clone(),
                stats: stats.clone(),
                share: config.connection_share(),
            },
            incoming: tx,
            stop: stop.clone(),
        };
        let http2 = http2_builder(&config);
        let ctx = Arc::new(Ctx {
            budget: Arc::new(Pool::fleet(config.queue_budget, stats.clone())),
            config,
            stats,
            directory,
            stop: stop.clone(),
            runs: Arc::default(),
        });
        let router = GnmiRouter::new(ctx.clone(), services);
        let accept_task = tokio::spawn(acceptor.run());
        let serve_task = tokio::spawn(serve(http2, router, rx, stop.clone()));
        tracing::info!("gNMI dial-in listening on {local_addr}");
        Ok(DialinServer {
            ctx,
            events,
            local_addr,
            kill,
            running: AtomicBool::new(true),
            tasks: Mutex::new(Some((accept_task, serve_task))),
        })
    }

    /// The address the listener is bound to (its port is the dial-in port).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The STREAM Subscribe RPCs open per device, for measured runs.
    pub fn runs(&self) -> &Arc<DialinRuns> {
        &self.ctx.runs
    }

    /// The live counters.
    pub fn stats(&self) -> &Arc<DialinStats> {
        &self.ctx.stats
    }

    /// The status document (`GET /api/v1/gnmi/status`).
    pub fn status(&self) -> GnmiStatus {
        if !self.running.load(Ordering::Relaxed) {
            return GnmiStatus::inactive(&self.events);
        }
        GnmiStatus::active(
            &self.ctx.stats,
            self.ctx.config.tls.is_some(),
            self.ctx.directory.device_count(),
            &self.events,
        )
    }

    /// Stops accepting, ends every stream with UNAVAILABLE, lets connections close
    /// (closing any still open after a few seconds) and returns when all is done.
    /// Idempotent.
    pub async fn shutdown(&self) {
        self.running.store(false, Ordering::Relaxed);
        self.ctx.stop.cancel();
        let Some((accept, mut serve)) = self.tasks.lock().take() else {
            return;
        };
        let _ = accept.await;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut serve)
            .await
            .is_err()
        {
            tracing::warn!("gNMI connections still open after {SHUTDOWN_GRACE:?}; closing them");
            self.kill.cancel();
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut serve)
                .await
                .is_err()
            {
                serve.abort();
            }
        }
        self.kill.cancel();
        tracing::info!("gNMI dial-in on {} stopped", self.local_addr);
    }
}

/// The HTTP/2 server settings of `config`.
fn http2_builder(config: &DialinConfig) -> hyper::server::conn::http2::Builder<TokioExecutor> {
    let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    http2
        .timer(TokioTimer::new())
        .max_concurrent_streams(config.max_streams_per_connection)
        .keep_alive_interval(Some(config.keepalive_interval))
        .keep_alive_timeout(config.keepalive_timeout)
        .initial_stream_window_size(config.http2_stream_window)
        .initial_connection_window_size(config.http2_connection_window)
        .max_send_buf_size(config.http2_send_buffer);
    http2
}

/// Serves every connection the accept loop hands over until `stop`, then lets each
/// finish (HTTP/2 GOAWAY; streams end through `stop` as well) and returns when all
/// are closed. Aborting it closes them all.
async fn serve(
    http2: hyper::server::conn::http2::Builder<TokioExecutor>,
    router: GnmiRouter,
    mut incoming: mpsc::Receiver<ConnIo>,
    stop: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            io = incoming.recv() => match io {
                Some(io) => {
                    // A child token per connection: polling it never contends with
                    // other connections.
                    connections.spawn(serve_connection(
                        http2.clone(),
                        router.clone(),
                        io,
                        stop.child_token(),
                    ));
                }
                None => break,
            },
        }
    }
    drop(incoming);
    while connections.join_next().await.is_some() {}
}

/// Serves one connection: every request carries the connection's
/// [`ConnInfo`](crate::conn::ConnInfo).
async fn serve_connection(
    http2: hyper::server::conn::http2::Builder<TokioExecutor>,
    router: GnmiRouter,
    io: ConnIo,
    stop: CancellationToken,
) {
    let info = io.info().clone();
    let svc = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let mut req = req.map(tonic::body::Body::new);
        req.extensions_mut().insert(info.clone());
        router.clone().call(req)
    });
    let mut conn = pin!(http2.serve_connection(TokioIo::new(io), svc));
    let mut stopping = false;
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            _ = stop.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!("gNMI connection ended: {e}");
    }
}

/// A TLS acceptor for `tls` that always offers ALPN "h2" (gRPC clients such as grpcio
/// refuse a TLS connection that did not negotiate it).
fn with_h2(tls: &rustls::ServerConfig) -> tokio_rustls::TlsAcceptor {
    let mut tls = tls.clone();
    if !tls.alpn_protocols.iter().any(|p| p == b"h2") {
        tls.alpn_protocols.push(b"h2".to_vec());
    }
    tokio_rustls::TlsAcceptor::from(Arc::new(tls))
}

impl Drop for DialinServer {
    fn drop(&mut self) {
        self.ctx.stop.cancel();
        self.kill.cancel();
    }
}

impl std::fmt::Debug for DialinServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialinServer")
            .field("local_addr", &self.local_addr)
            .field("running", &self.running.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
