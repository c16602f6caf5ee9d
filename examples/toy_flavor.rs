//! A new dial-out flavor, added without touching the exporter.
//!
//! `toy` publishes the same `gnmi.SubscribeResponse` stream as gnmireverse, but to a
//! made-up method `/nl6.toy.Sink/Push`, and counts what it sends. The example runs a
//! tiny collector for that method, attaches three devices (each dialing from its own
//! 127.0.0.x address) with `flavor: "toy"`, and checks that every message counted as
//! sent arrived.
//!
//! ```text
//! cargo run -p nl6-examples --example toy_flavor
//! ```

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use http::uri::PathAndQuery;
use nl6_dialout::{
    ClientStreamCall, DialoutConfig, DialoutTransport, Exporter, ExporterEnv, FlavorRegistry,
    GrpcConnection, PublishStream, StreamContext, TlsSettings,
};
use nl6_gnmi::codec::Encoded;
use nl6_gnmi::proto::gnmi::{SubscribeResponse, subscribe_response::Response as Kind};
use nl6_ifstate::{DeviceModel, DeviceSpec};
use nl6_netns::{Dialer, DialerConfig, NsExecutor, SystemResolver};
use parking_lot::Mutex;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::server::{ClientStreamingService, NamedService};
use tonic::{Request, Response, Status, Streaming};

/// The toy flavor's gRPC method.
const TOY_PUSH: &str = "/nl6.toy.Sink/Push";

// ---- the flavor: about 40 lines ------------------------------------------------------

/// Publishes to `/nl6.toy.Sink/Push` and counts the messages it sends.
struct ToyFlavor {
    sent: Arc<AtomicU64>,
}

impl DialoutTransport for ToyFlavor {
    fn name(&self) -> &str {
        "toy"
    }

    fn open(
        &self,
        connection: GrpcConnection,
        ctx: &StreamContext,
    ) -> BoxFuture<'static, Result<Box<dyn PublishStream>, Status>> {
        println!("toy: {} opens a stream to {}", ctx.device_ip, ctx.collector);
        let sent = self.sent.clone();
        Box::pin(async move {
            let call = connection
                .client_streaming(PathAndQuery::from_static(TOY_PUSH))
                .await?;
            Ok(Box::new(Counting { call, sent }) as Box<dyn PublishStream>)
        })
    }
}

/// A stream that counts successful sends.
struct Counting {
    call: ClientStreamCall,
    sent: Arc<AtomicU64>,
}

impl PublishStream for Counting {
    fn send(&mut self, message: Encoded) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async move {
            self.call.send(message).await?;
            self.sent.fetch_add(1, SeqCst);
            Ok(())
        })
    }

    fn ended(&mut self) -> BoxFuture<'_, Status> {
        self.call.ended()
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), Status>> {
        Box::new(self.call).close()
    }
}

// ---- a tiny collector for the toy method ------------------------------------------

/// Counts what arrives on `/nl6.toy.Sink/Push`.
#[derive(Clone, Default)]
struct ToySink {
    received: Arc<AtomicU64>,
    targets: Arc<Mutex<BTreeSet<String>>>,
}

impl NamedService for ToySink {
    const NAME: &'static str = "nl6.toy.Sink";
}

impl ClientStreamingService<SubscribeResponse> for ToySink {
    type Response = ();
    type Future = BoxFuture<'static, Result<Response<()>, Status>>;

    fn call(&mut self, request: Request<Streaming<SubscribeResponse>>) -> Self::Future {
        let sink = self.clone();
        Box::pin(async move {
            let mut stream = request.into_inner();
            while let Some(message) = stream.message().await? {
                if let Some(Kind::Update(n)) = message.response {
                    let target = n.prefix.map(|p| p.target).unwrap_or_default();
                    sink.targets.lock().insert(target);
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let sink = ToySink::default();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(sink.clone())
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    // Register the flavor: the exporter itself is unchanged.
    let sent = Arc::new(AtomicU64::new(0));
    let mut flavors = FlavorRegistry::default();
    flavors.register(Arc::new(ToyFlavor { sent: sent.clone() }));
    let dialer = Dialer::new(
        DialerConfig::default(),
        Arc::new(SystemResolver),
        NsExecutor::current(),
    )?;
    let mut env = ExporterEnv::new(Arc::new(dialer));
    env.flavors = flavors;
    env.tuning.sample_floor = Duration::from_millis(100);
    let exporter = Exporter::new(env);

    let config = DialoutConfig {
        flavor: "toy".into(),
        sample_interval: Duration::from_millis(100),
        tls: TlsSettings::plaintext(),
        ..DialoutConfig::new(format!("127.0.0.1:{port}"))
    };
    let mut exports = Vec::new();
    for n in 1..=3 {
        let device = Arc::new(DeviceModel::new(&DeviceSpec {
            seed: n,
            ..DeviceSpec::default()
        })?);
        exports.push(exporter.attach(Ipv4Addr::new(127, 0, 0, n as u8), device, &config)?);
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sink.received.load(SeqCst) < 9 {
        if tokio::time::Instant::now() > deadline {
            return Err("the toy sink received too little within 10 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for export in exports {
        export.stop().await?;
    }

    let status = exporter.stats().status();
    println!("{}", serde_json::to_string_pretty(&status)?);
    println!(
        "toy flavor sent {} messages; the sink received {} from {:?}",
        sent.load(SeqCst),
        sink.received.load(SeqCst),
        sink.targets.lock()
    );
    assert_eq!(sent.load(SeqCst), sink.received.load(SeqCst));
    assert_eq!(status.collectors[0].flavor, "toy");
    assert_eq!(sink.targets.lock().len(), 3);
    Ok(())
}
