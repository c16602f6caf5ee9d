//! A recording collector for every built-in flavor on one port: gnmireverse `Publish`
//! and `PublishGet`, SONiC `gNMIDialOut/Publish` and Nokia `DialoutTelemetry/Publish`
//! (the bidi ones answer each message with a `PublishResponse`).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use nl6_gnmi::proto::gnmi::sonic::PublishResponse as SonicResponse;
use nl6_gnmi::proto::gnmi::sonic::g_nmi_dial_out_server::{GNmiDialOut, GNmiDialOutServer};
use nl6_gnmi::proto::gnmi::{GetResponse, Notification, SubscribeResponse, subscribe_response};
use nl6_gnmi::proto::gnmireverse::g_nmi_reverse_server::{GNmiReverse, GNmiReverseServer};
use nl6_gnmi::proto::nokia::sros::PublishResponse as NokiaResponse;
use nl6_gnmi::proto::nokia::sros::dialout_telemetry_server::{
    DialoutTelemetry, DialoutTelemetryServer,
};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

/// One call a collector received.
#[derive(Debug, Clone)]
pub struct Call {
    /// `publish`, `publish_get`, `sonic` or `nokia`.
    pub method: &'static str,
    /// The peer's address.
    pub peer: IpAddr,
    /// `subscription-name` and `system-name` metadata, if sent.
    pub subscription_name: Option<String>,
    pub system_name: Option<String>,
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
    /// Notifications per peer.
    notifications: Mutex<BTreeMap<IpAddr, Vec<Notification>>>,
    /// GetResponses per peer.
    gets: Mutex<BTreeMap<IpAddr, Vec<GetResponse>>>,
    responses_sent: std::sync::atomic::AtomicU64,
}

#[derive(Clone)]
struct Svc {
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
}

fn record_call<T>(svc: &Svc, method: &'static str, request: &Request<T>) -> IpAddr {
    let peer = request
        .remote_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let meta = |name: &str| {
        request
            .metadata()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    svc.shared.calls.lock().push(Call {
        method,
        peer,
        subscription_name: meta("subscription-name"),
        system_name: meta("system-name"),
    });
    peer
}

impl Svc {
    fn notify(&self, peer: IpAddr, message: SubscribeResponse) {
        if let Some(subscribe_response::Response::Update(n)) = message.response {
            self.shared
                .notifications
                .lock()
                .entry(peer)
                .or_default()
                .push(n);
        }
    }

    /// Reads `inbound` to its end (or a stop), answering each message with `reply()`.
    fn bidi<R: Send + Sync + 'static>(
        &self,
        peer: IpAddr,
        mut inbound: Streaming<SubscribeResponse>,
        reply: fn() -> R,
    ) -> ReceiverStream<Result<R, Status>> {
        let (tx, rx) = mpsc::channel(16);
        let svc = self.clone();
        tokio::spawn(async move {
            let mut stop = svc.stop.clone();
            loop {
                let message = tokio::select! {
                    _ = stop.wait_for(|s| *s) => None,
                    m = inbound.message() => Some(m),
                };
                let Some(message) = message else {
                    let _ = tx.send(Err(Status::unavailable("stopping"))).await;
                    return;
                };
                match message {
                    Ok(Some(m)) => {
                        svc.notify(peer, m);
                        svc.shared
                            .responses_sent
                            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        if tx.send(Ok(reply())).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) | Err(_) => return,
                }
            }
        });
        ReceiverStream::new(rx)
    }
}

#[tonic::async_trait]
impl GNmiReverse for Svc {
    async fn publish(
        &self,
        request: Request<Streaming<SubscribeResponse>>,
    ) -> Result<Response<()>, Status> {
        let peer = record_call(self, "publish", &request);
        let mut stream = request.into_inner();
        let mut stop = self.stop.clone();
        loop {
            let message = tokio::select! {
                _ = stop.wait_for(|s| *s) => return Err(Status::unavailable("stopping")),
                m = stream.message() => m?,
            };
            let Some(message) = message else { break };
            self.notify(peer, message);
        }
        Ok(Response::new(()))
    }

    async fn publish_get(
        &self,
        request: Request<Streaming<GetResponse>>,
    ) -> Result<Response<()>, Status> {
        let peer = record_call(self, "publish_get", &request);
        let mut stream = request.into_inner();
        let mut stop = self.stop.clone();
        loop {
            let message = tokio::select! {
                _ = stop.wait_for(|s| *s) => return Err(Status::unavailable("stopping")),
                m = stream.message() => m?,
            };
            let Some(message) = message else { break };
            self.shared
                .gets
                .lock()
                .entry(peer)
                .or_default()
                .push(message);
        }
        Ok(Response::new(()))
    }
}

#[tonic::async_trait]
impl GNmiDialOut for Svc {
    type PublishStream = ReceiverStream<Result<SonicResponse, Status>>;

    async fn publish(
        &self,
        request: Request<Streaming<SubscribeResponse>>,
    ) -> Result<Response<Self::PublishStream>, Status> {
        let peer = record_call(self, "sonic", &request);
        Ok(Response::new(self.bidi(
            peer,
            request.into_inner(),
            SonicResponse::default,
        )))
    }
}

#[tonic::async_trait]
impl DialoutTelemetry for Svc {
    type PublishStream = ReceiverStream<Result<NokiaResponse, Status>>;

    async fn publish(
        &self,
        request: Request<Streaming<SubscribeResponse>>,
    ) -> Result<Response<Self::PublishStream>, Status> {
        let peer = record_call(self, "nokia", &request);
        Ok(Response::new(self.bidi(
            peer,
            request.into_inner(),
            NokiaResponse::default,
        )))
    }
}

/// A running collector (stopped on drop).
pub struct FlavorCollector {
    serving: super::Serving,
    shared: Arc<Shared>,
}

impl FlavorCollector {
    /// Starts on a free 127.0.0.1 port.
    pub async fn start() -> FlavorCollector {
        FlavorCollector::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// Starts on `addr`.
    pub async fn start_on(addr: SocketAddr) -> FlavorCollector {
        let listener = TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared::default());
        let (stop, stop_rx) = watch::channel(false);
        let svc = Svc {
            shared: shared.clone(),
            stop: stop_rx.clone(),
        };
        let mut stop_serving = stop_rx;
        let serve = tonic::transport::Server::builder()
            .add_service(GNmiReverseServer::new(svc.clone()))
            .add_service(GNmiDialOutServer::new(svc.clone()))
            .add_service(DialoutTelemetryServer::new(svc))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                let _ = stop_serving.wait_for(|s| *s).await;
            });
        FlavorCollector {
            serving: super::Serving::spawn(addr, stop, serve),
            shared,
        }
    }

    /// Ends every stream (UNAVAILABLE), stops listening and waits until it has.
    pub async fn stop(mut self) {
        self.serving.stop().await;
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.serving.addr()
    }

    /// `127.0.0.1:<port>` as a collector setting.
    pub fn collector(&self) -> String {
        format!("127.0.0.1:{}", self.addr().port())
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().clone()
    }

    /// Notifications received from `peer`.
    pub fn notifications(&self, peer: IpAddr) -> Vec<Notification> {
        self.shared
            .notifications
            .lock()
            .get(&peer)
            .cloned()
            .unwrap_or_default()
    }

    /// GetResponses received from `peer`.
    pub fn gets(&self, peer: IpAddr) -> Vec<GetResponse> {
        self.shared
            .gets
            .lock()
            .get(&peer)
            .cloned()
            .unwrap_or_default()
    }

    /// PublishResponses sent.
    pub fn responses_sent(&self) -> u64 {
        self.shared
            .responses_sent
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}
