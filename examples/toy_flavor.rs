//! A new dial-out flavor, plugged into a fleet and its REST API without touching the
//! exporter.
//!
//! `toy` publishes `gnmi.SubscribeResponse`s to a made-up method `/nl6.toy.Sink/Push`,
//! and its encoder sends one message per interface instead of one per sample (a flavor
//! encoder turns a sample into zero, one or many messages). The example runs a tiny
//! collector for that method, starts a fleet whose registry holds the built-in flavors
//! plus `toy`, serves the nl6 REST API for it on 127.0.0.1, POSTs a batch of three
//! devices with `"flavor": "toy"`, and checks that every device's messages arrive from
//! its own address and that the OpenAPI document lists `toy`.
//!
//! ```text
//! cargo run -p nl6-examples --example toy_flavor
//! ```

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use http::uri::PathAndQuery;
use nl6_dialout::{
    DeviceNet, FlavorError, FlavorRegistry, PushSession, Sample, SampleEncoder, Session,
    SessionContext, SubscribeResponseEncoder, WireMessage,
};
use nl6_fleet::{Fleet, FleetConfig};
use nl6_gnmi::proto::gnmi::{SubscribeResponse, subscribe_response::Response as Kind};
use nl6_resolver::LeafSet;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::server::{ClientStreamingService, NamedService};
use tonic::{Request, Response, Status, Streaming};

/// The toy flavor's gRPC method.
const TOY_PUSH: &str = "/nl6.toy.Sink/Push";

// ---- the flavor ----------------------------------------------------------------------

/// Publishes to `/nl6.toy.Sink/Push`, one message per interface.
pub struct ToyFlavor;

impl nl6_dialout::Flavor for ToyFlavor {
    fn name(&self) -> &str {
        "toy"
    }

    fn summary(&self) -> &str {
        "an example: one SubscribeResponse per interface on /nl6.toy.Sink/Push"
    }

    fn open<'a>(
        &'a self,
        net: &'a DeviceNet,
        ctx: &'a SessionContext,
    ) -> BoxFuture<'a, Result<Session, FlavorError>> {
        println!("toy: {} opens a stream to {}", ctx.device_ip, ctx.collector);
        Box::pin(async move {
            let connection = net.http2().await?;
            let call = connection
                .client_streaming(PathAndQuery::from_static(TOY_PUSH))
                .await?;
            Ok(Session::Push(PushSession::new(
                call,
                PerInterface::default(),
            )))
        })
    }
}

/// Splits every sample into one notification per interface.
#[derive(Default)]
struct PerInterface {
    inner: SubscribeResponseEncoder,
    masks: Vec<LeafSet>,
}

impl SampleEncoder for PerInterface {
    fn encode(&mut self, sample: &Sample<'_>, out: &mut Vec<WireMessage>) {
        for (idx, leaves) in sample.masks.iter().enumerate() {
            if leaves.is_empty() {
                continue;
            }
            self.masks.clear();
            self.masks.resize(sample.masks.len(), LeafSet::EMPTY);
            self.masks[idx] = *leaves;
            let one = Sample {
                masks: &self.masks,
                ..*sample
            };
            self.inner.encode(&one, out);
        }
    }
}

// ---- a tiny collector for the toy method ------------------------------------------

/// Counts what arrives on `/nl6.toy.Sink/Push`, and from where.
#[derive(Clone, Default)]
pub struct ToySink {
    /// Notifications received.
    pub received: Arc<AtomicU64>,
    /// `prefix.target` of each, with the peer address it came from.
    pub seen: Arc<Mutex<BTreeSet<(String, String)>>>,
}

impl NamedService for ToySink {
    const NAME: &'static str = "nl6.toy.Sink";
}

impl ClientStreamingService<SubscribeResponse> for ToySink {
    type Response = ();
    type Future = BoxFuture<'static, Result<Response<()>, Status>>;

    fn call(&mut self, request: Request<Streaming<SubscribeResponse>>) -> Self::Future {
        let sink = self.clone();
        let peer = request
            .remote_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        Box::pin(async move {
            let mut stream = request.into_inner();
            while let Some(message) = stream.message().await? {
                if let Some(Kind::Update(n)) = message.response {
                    let target = n.prefix.map(|p| p.target).unwrap_or_default();
                    sink.seen.lock().insert((target, peer.clone()));
                    sink.received.fetch_add(1, SeqCst);
                }
            }
            Ok(Response::new(()))
        })
    }
}

impl tower_service::Service<http::Request<tonic::body::Body>> for ToySink {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let sink = self.clone();
        Box::pin(async move {
            if req.uri().path() != TOY_PUSH {
                return Ok(Status::unimplemented(req.uri().path().to_string()).into_http());
            }
            let codec = tonic_prost::ProstCodec::<(), SubscribeResponse>::default();
            Ok(tonic::server::Grpc::new(codec)
                .client_streaming(sink, req)
                .await)
        })
    }
}

// ---- wiring ------------------------------------------------------------------------

/// One HTTP/1.1 request to the REST API; the status code and body.
async fn http(rest: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(rest).await.expect("REST");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {rest}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.expect("reply");
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Runs the whole example; returns what the sink saw.
pub async fn run() -> Result<ToySink, Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let sink = ToySink::default();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(sink.clone())
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    // The fleet's registry: the built-ins plus toy. Validation, REST and the exporter
    // all use it.
    let mut flavors = FlavorRegistry::default();
    flavors.register(Arc::new(ToyFlavor));
    let fleet = Arc::new(
        Fleet::start(FleetConfig {
            dialin: None,
            flavors,
            ..FleetConfig::default()
        })
        .await?,
    );
    let rest = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let rest_addr = rest.local_addr()?;
    let (stop_rest, rest_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(nl6_rest::serve(fleet.clone(), rest, async move {
        let _ = rest_stopped.await;
    }));

    let (status, openapi) = http(rest_addr, "GET", "/api/v1/openapi.json", "").await;
    assert_eq!(status, 200);
    assert!(openapi.contains("toy"), "the OpenAPI document lists toy");

    let body = format!(
        r#"{{"start_ip": "127.78.0.1", "device_count": 3, "interfaces": 4,
            "gnmi_dialout": {{"collector": "127.0.0.1:{port}", "flavor": "toy",
            "sample_interval": "1s", "phase": "aligned", "tls": {{"enabled": false}}}}}}"#
    );
    let (status, reply) = http(rest_addr, "POST", "/api/v1/devices", &body).await;
    assert_eq!(status, 201, "{reply}");

    // 3 devices x 4 interfaces: one message per interface per sample.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sink.seen.lock().len() < 3 || sink.received.load(SeqCst) < 12 {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("the toy sink saw only {:?}", sink.seen.lock()).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, status_json) = http(rest_addr, "GET", "/api/v1/gnmi/dialout/status", "").await;
    println!("{status_json}");
    assert!(status_json.contains(r#""flavor":"toy""#), "{status_json}");

    let _ = stop_rest.send(());
    server.await??;
    fleet.shutdown().await?;
    println!(
        "the toy sink received {} messages from {:?}",
        sink.received.load(SeqCst),
        sink.seen.lock()
    );
    Ok(sink)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sink = run().await?;
    for (target, peer) in sink.seen.lock().iter() {
        assert_eq!(target, peer, "each device dials from its own address");
    }
    Ok(())
}
