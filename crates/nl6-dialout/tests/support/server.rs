//! A scripted gNMIReverse server for behaviours the nl6 collector does not have:
//! goarista's UNKNOWN "EOF" on close, a custom close status, a stream that stops
//! reading. It also records the `:authority` of each call.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use nl6_gnmi::proto::gnmi::{GetResponse, SubscribeResponse};
use nl6_gnmi::proto::gnmireverse::g_nmi_reverse_server::{GNmiReverse, GNmiReverseServer};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status, Streaming};

/// How the server treats a Publish stream.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Read to the client's half-close, then fail the call with `code`/`message`
    /// (goarista returns UNKNOWN "EOF").
    EndWith(Code, &'static str),
    /// Read one message, then never read again (a stalled collector).
    StallAfterFirst,
}

#[derive(Default)]
struct Shared {
    messages: AtomicU64,
    streams: AtomicU64,
    authorities: Mutex<Vec<String>>,
}

struct Svc {
    behaviour: Behaviour,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
}

#[tonic::async_trait]
impl GNmiReverse for Svc {
    async fn publish(
        &self,
        request: Request<Streaming<SubscribeResponse>>,
    ) -> Result<Response<()>, Status> {
        self.shared.streams.fetch_add(1, SeqCst);
        let mut stream = request.into_inner();
        let mut stop = self.stop.clone();
        loop {
            let message = tokio::select! {
                _ = stop.wait_for(|s| *s) => return Err(Status::unavailable("stopping")),
                m = stream.message() => m?,
            };
            let Some(_) = message else { break };
            self.shared.messages.fetch_add(1, SeqCst);
            if let Behaviour::StallAfterFirst = self.behaviour {
                let _ = stop.wait_for(|s| *s).await;
                return Err(Status::unavailable("stopping"));
            }
        }
        match &self.behaviour {
            Behaviour::EndWith(code, message) => Err(Status::new(*code, *message)),
            Behaviour::StallAfterFirst => Ok(Response::new(())),
        }
    }

    async fn publish_get(
        &self,
        _request: Request<Streaming<GetResponse>>,
    ) -> Result<Response<()>, Status> {
        Err(Status::unimplemented("not scripted"))
    }
}

/// A running scripted server (stopped on drop).
pub struct ScriptedServer {
    serving: super::Serving,
    shared: Arc<Shared>,
}

impl ScriptedServer {
    /// Starts on a free 127.0.0.1 port.
    pub async fn start(behaviour: Behaviour) -> ScriptedServer {
        ScriptedServer::start_on("127.0.0.1:0".parse().unwrap(), behaviour).await
    }

    /// Starts on `addr`.
    pub async fn start_on(addr: SocketAddr, behaviour: Behaviour) -> ScriptedServer {
        let listener = TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared::default());
        let (stop, stop_rx) = watch::channel(false);
        let svc = Svc {
            behaviour,
            shared: shared.clone(),
            stop: stop_rx.clone(),
        };
        let record = shared.clone();
        let layer = tower::util::MapRequestLayer::new(move |req: http::Request<_>| {
            let authority = req
                .uri()
                .authority()
                .map(|a| a.to_string())
                .unwrap_or_default();
            record.authorities.lock().push(authority);
            req
        });
        let mut stop_serving = stop_rx;
        let serve = tonic::transport::Server::builder()
            .layer(layer)
            .add_service(GNmiReverseServer::new(svc))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                let _ = stop_serving.wait_for(|s| *s).await;
            });
        ScriptedServer {
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

    /// Messages read so far.
    pub fn messages(&self) -> u64 {
        self.shared.messages.load(SeqCst)
    }

    /// Publish calls received so far.
    pub fn streams(&self) -> u64 {
        self.shared.streams.load(SeqCst)
    }

    /// The `:authority` of every call so far.
    pub fn authorities(&self) -> Vec<String> {
        self.shared.authorities.lock().clone()
    }
}
