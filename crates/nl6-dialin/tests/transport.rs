//! Connections: device lookup, authentication, TLS, idle timeout, slow clients, and the
//! bytes on the wire.

mod support;

use std::time::Duration;

use bytes::Buf;
use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use nl6_gnmi::proto::gnmi::subscription_list::Mode;
use nl6_gnmi::proto::gnmi::{
    CapabilityRequest, Encoding, GetRequest, Path, SubscribeRequest, SubscribeResponse,
    SubscriptionMode, subscribe_response,
};
use nl6_resolver::{Selection, Snapshot, ValueEncoding, notification};
use prost::Message;
use tokio::io::AsyncReadExt;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Endpoint;

use support::*;

#[tokio::test]
async fn connection_to_an_address_that_is_no_device_is_closed() {
    let h = Harness::start(test_config()).await;
    let mut tcp = within(
        "connect",
        tokio::net::TcpStream::connect(h.addr(NOT_A_DEVICE)),
    )
    .await
    .unwrap();
    let mut buf = [0u8; 16];
    let n = within("close", tcp.read(&mut buf)).await.unwrap_or(0);
    assert_eq!(n, 0, "closed without a byte");
    assert_eq!(h.server.stats().connections_rejected(), 1);
    // A device address on the same port works.
    let mut client = h.client(DEV_B).await;
    client
        .capabilities(CapabilityRequest::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_external_listener_is_adopted() {
    // As in namespace mode: the caller creates the socket (here bound to device A only).
    let listener = std::net::TcpListener::bind((DEV_A, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = Harness::start_on(test_config(), nl6_dialin::ListenerSource::Std(listener)).await;
    assert_eq!(h.port, port);
    let mut client = h.client(DEV_A).await;
    client
        .capabilities(CapabilityRequest::default())
        .await
        .unwrap();
    assert_eq!(h.server.status().listeners, 2);
}

fn with_creds<T>(msg: T, user: &str, password: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut().insert("username", user.parse().unwrap());
    req.metadata_mut()
        .insert("password", password.parse().unwrap());
    req
}

#[tokio::test]
async fn credentials_are_required_when_configured() {
    let mut config = test_config();
    config.credentials = Some(("admin".into(), "nl6pass".into()));
    let h = Harness::start(config).await;
    let mut client = h.client(DEV_A).await;
    let err = client
        .capabilities(CapabilityRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = client
        .get(with_creds(GetRequest::default(), "admin", "wrong"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let first = subscribe_req(list(
        Mode::Once,
        vec![sub("/interfaces", SubscriptionMode::Sample, Duration::ZERO)],
    ));
    let err = client
        .subscribe(futures::stream::iter(vec![first.clone()]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    client
        .capabilities(with_creds(CapabilityRequest::default(), "admin", "nl6pass"))
        .await
        .unwrap();
    let mut once = client
        .subscribe(with_creds(
            futures::stream::iter(vec![first]),
            "admin",
            "nl6pass",
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(next(&mut once).await, Msg::Update(_)));
}

/// A gNMI client speaking TLS (rustls) to `addr`, trusting `roots`.
async fn tls_client(
    addr: std::net::SocketAddr,
    roots: rustls::RootCertStore,
) -> GNmiClient<tonic::transport::Channel> {
    let config =
        nl6_tls::client_config(nl6_tls::ServerVerification::CaBundle(roots), None).unwrap();
    let connector = tokio_rustls::TlsConnector::from(config);
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_| {
            let connector = connector.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
                let tls = connector.connect(name, tcp).await?;
                assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
        .unwrap();
    GNmiClient::new(channel)
}

#[tokio::test]
async fn tls_serves_trusting_clients_and_counts_failed_handshakes() {
    let identity = nl6_tls::Identity::self_signed(&[]).unwrap();
    let mut config = test_config();
    // Built without ALPN: the server adds "h2" itself (the client checks it).
    config.tls = Some(nl6_tls::server_config(&identity, None, false).unwrap());
    let h = Harness::start(config).await;
    assert!(h.server.status().tls_enabled);

    let mut client = tls_client(h.addr(DEV_A), identity.root_store().unwrap()).await;
    let caps = client
        .capabilities(CapabilityRequest::default())
        .await
        .unwrap();
    assert_eq!(caps.into_inner().g_nmi_version, "0.10.0");

    // A plaintext HTTP/2 client is not a TLS client.
    let plain = Endpoint::from_shared(format!("http://{}", h.addr(DEV_A)))
        .unwrap()
        .connect_timeout(DEADLINE);
    if let Ok(channel) = plain.connect().await {
        let _ = GNmiClient::new(channel)
            .capabilities(CapabilityRequest::default())
            .await
            .unwrap_err();
    }
    // A client that does not trust the certificate aborts the handshake.
    let stranger = nl6_tls::Identity::self_signed(&[]).unwrap();
    let config = nl6_tls::client_config(
        nl6_tls::ServerVerification::CaBundle(stranger.root_store().unwrap()),
        None,
    )
    .unwrap();
    let tcp = tokio::net::TcpStream::connect(h.addr(DEV_A)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    assert!(
        tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .is_err()
    );
    wait_until("two failed handshakes counted", || {
        h.server.stats().tls_handshake_failures() >= 2
    })
    .await;
    assert_eq!(
        h.server.status().tls_handshake_failures,
        h.server.stats().tls_handshake_failures()
    );
}

#[tokio::test]
async fn idle_connections_close_but_busy_ones_stay() {
    let mut config = test_config();
    config.idle_timeout = Duration::from_millis(300);
    let h = Harness::start(config).await;
    let mut client = h.client(DEV_A).await;
    client
        .capabilities(CapabilityRequest::default())
        .await
        .unwrap();
    assert_eq!(h.server.stats().connections_open(), 1);
    wait_until("idle connection closed", || {
        h.server.stats().connections_open() == 0
    })
    .await;

    // A connection with a Subscribe in flight is not idle, however long it lasts.
    let mut client = h.client(DEV_B).await;
    let l = list(
        Mode::Stream,
        vec![sub(
            "/interfaces/interface[name=Ethernet1]/state/counters/in-octets",
            SubscriptionMode::Sample,
            Duration::from_millis(100),
        )],
    );
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_millis(800) {
        assert!(matches!(next(&mut s.rx).await, Msg::Update(_) | Msg::Sync));
    }
    assert_eq!(h.server.stats().connections_open(), 1);
}

#[tokio::test]
async fn slow_client_loses_oldest_updates_and_others_are_unaffected() {
    let mut config = test_config();
    config.min_sample_interval = Duration::from_millis(1);
    let h = Harness::start(config).await;

    // Device A: a client that never reads a 1 ms sample stream, over small windows.
    let slow_channel = Endpoint::from_shared(format!("http://{}", h.addr(DEV_A)))
        .unwrap()
        .initial_stream_window_size(Some(65_535))
        .initial_connection_window_size(Some(65_535))
        .connect()
        .await
        .unwrap();
    let mut slow = GNmiClient::new(slow_channel);
    let mut fat = list(
        Mode::Stream,
        vec![sub(
            "/interfaces",
            SubscriptionMode::Sample,
            Duration::from_millis(1),
        )],
    );
    fat.encoding = Encoding::JsonIetf as i32;
    let slow_stream = open(&mut slow, subscribe_req(fat)).await.unwrap();
    wait_until("updates dropped for the slow client", || {
        h.server.stats().updates_dropped() > 0
    })
    .await;

    // Device B, meanwhile: every tick on time.
    let mut client = h.client(DEV_B).await;
    let l = list(
        Mode::Stream,
        vec![sub(
            "/interfaces/interface[name=Ethernet1]/state/counters",
            SubscriptionMode::Sample,
            Duration::from_millis(100),
        )],
    );
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    let mut prev = next(&mut s.rx).await.update().timestamp;
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    for _ in 0..3 {
        let n = tokio::time::timeout(Duration::from_secs(2), next(&mut s.rx))
            .await
            .expect("device B keeps its pace")
            .update();
        assert!(n.timestamp - prev < 2_000_000_000);
        prev = n.timestamp;
    }
    let got = client
        .get(GetRequest {
            path: vec![parse_path("/interfaces").unwrap()],
            ..GetRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(got.into_inner().notification[0].update.len(), 68);
    let dropped = h.server.stats().updates_dropped();
    wait_until("drops keep growing", || {
        h.server.stats().updates_dropped() > dropped
    })
    .await;
    let status = h.server.status();
    assert!(status.updates_dropped >= dropped && status.updates_sent > 0);
    assert_eq!(status.active_subscriptions, 2);
    assert_eq!(status.listeners, 2);
    drop(slow_stream);
}

/// A codec that sends typed requests and hands back the raw bytes of each response.
#[derive(Default)]
struct RawCodec;

struct RequestEncoder;
struct RawDecoder;

impl Codec for RawCodec {
    type Encode = SubscribeRequest;
    type Decode = Vec<u8>;
    type Encoder = RequestEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RequestEncoder {
        RequestEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RequestEncoder {
    type Item = SubscribeRequest;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: SubscribeRequest,
        dst: &mut EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        item.encode(dst)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n).to_vec()))
    }
}

#[tokio::test]
async fn subscribe_fast_path_bytes_equal_the_typed_notification() {
    let h = Harness::start(test_config()).await;
    let device = h.fleet.get(DEV_A);
    let channel = h.channel(DEV_A).await;
    let text = "/interfaces/interface[name=Ethernet2]/state";
    for (encoding, value_encoding) in [
        (Encoding::Proto, ValueEncoding::Proto),
        (Encoding::JsonIetf, ValueEncoding::JsonIetf),
        (Encoding::Json, ValueEncoding::Json),
    ] {
        let mut l = list(
            Mode::Once,
            vec![sub(text, SubscriptionMode::Sample, Duration::ZERO)],
        );
        l.encoding = encoding as i32;
        l.prefix = Some(Path {
            target: "wire".into(),
            ..Path::default()
        });
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        within("ready", grpc.ready()).await.unwrap();
        let response = grpc
            .streaming(
                tonic::Request::new(futures::stream::iter(vec![subscribe_req(l)])),
                http::uri::PathAndQuery::from_static("/gnmi.gNMI/Subscribe"),
                RawCodec,
            )
            .await
            .unwrap();
        let mut rx = response.into_inner();
        let wire = within("raw response", rx.message()).await.unwrap().unwrap();
        let decoded = SubscribeResponse::decode(wire.as_slice()).unwrap();
        let Some(subscribe_response::Response::Update(n)) = decoded.response else {
            panic!("{decoded:?}");
        };
        // The typed API, same paths, same captured instant.
        let selection =
            Selection::compile(None, &[parse_path(text).unwrap()], device.names()).unwrap();
        let snapshot = Snapshot::capture(&device, n.timestamp as u64, &selection);
        let typed = SubscribeResponse {
            response: Some(subscribe_response::Response::Update(notification(
                &snapshot,
                selection.masks(),
                value_encoding,
                Some("wire"),
            ))),
            extension: vec![],
        };
        assert_eq!(wire, typed.encode_to_vec(), "{encoding:?}");
    }
}
