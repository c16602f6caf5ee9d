//! MDT dial-out end to end on loopback: simulated devices (each its own 127.79.x.y
//! address) stream to a raw TCP collector reading the 12-byte header, a UDP collector,
//! and a tonic `gRPCMdtDialout` server built from our proto.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use nl6_dialout::{
    BackoffConfig, DeviceIdentity, DialoutConfig, Exporter, ExporterEnv, FlavorRegistry, Mode,
    TlsSettings, Tuning,
};
use nl6_ifstate::{DeviceModel, DeviceSpec, LinkStatus};
use nl6_mdt::proto::mdt_dialout::MdtDialoutArgs;
use nl6_mdt::proto::mdt_dialout::g_rpc_mdt_dialout_server::{GRpcMdtDialout, GRpcMdtDialoutServer};
use nl6_mdt::proto::telemetry::Telemetry;
use nl6_mdt::{
    HEADER_LEN, Header, MdtEncoding, MdtFlavor, MdtSessionConfig, MdtTransport, SensorPath,
};
use nl6_netns::{Dialer, DialerConfig, NsExecutor, SystemResolver};
use parking_lot::Mutex;
use prost::Message;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(20);

fn device(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 79, 0, n)
}

fn model(interfaces: u32) -> Arc<DeviceModel> {
    let spec = DeviceSpec {
        seed: u64::from(interfaces),
        interfaces,
        ..DeviceSpec::default()
    };
    Arc::new(DeviceModel::new(&spec).unwrap())
}

/// An exporter knowing `flavor`, with short timings.
fn exporter(flavor: MdtFlavor) -> Exporter {
    let dialer = Dialer::new(
        DialerConfig::default(),
        Arc::new(SystemResolver),
        NsExecutor::current(),
    )
    .unwrap();
    let mut env = ExporterEnv::new(Arc::new(dialer));
    let mut flavors = FlavorRegistry::empty();
    flavors.register(Arc::new(flavor));
    env.flavors = flavors;
    env.backoff = BackoffConfig {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
        reset_after: Duration::from_secs(30),
        jitter: 0.0,
    };
    env.tuning = Tuning {
        sample_floor: Duration::from_millis(1),
        close_timeout: Duration::from_secs(5),
        ..Tuning::default()
    };
    Exporter::new(env)
}

fn block(flavor: &str, collector: SocketAddr, mode: Mode) -> Arc<DialoutConfig> {
    Arc::new(DialoutConfig {
        flavor: flavor.into(),
        mode,
        sample_interval: Duration::from_millis(50),
        tls: TlsSettings::plaintext(),
        ..DialoutConfig::new(collector.to_string())
    })
}

fn flavor(
    transport: MdtTransport,
    encoding: MdtEncoding,
    paths: Vec<SensorPath>,
    max_datagram: Option<usize>,
) -> MdtFlavor {
    let mut config = MdtSessionConfig::new(transport, encoding, "sub-1", paths);
    if let Some(max) = max_datagram {
        config.max_datagram = max;
    }
    MdtFlavor::new(config).unwrap()
}

/// Reads one header and its payload.
async fn read_record(conn: &mut TcpStream) -> std::io::Result<(Header, Vec<u8>)> {
    let mut header = [0u8; HEADER_LEN];
    conn.read_exact(&mut header).await?;
    let header = Header::parse(&header);
    let mut payload = vec![0; header.length as usize];
    conn.read_exact(&mut payload).await?;
    Ok((header, payload))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_records_carry_the_header_and_json_collections_and_a_reset_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let paths = vec![SensorPath::GenericCounters, SensorPath::InterfaceXr];
    let flavor = flavor(MdtTransport::Tcp, MdtEncoding::Json, paths, None);
    assert_eq!(nl6_dialout::Flavor::name(&flavor), "mdt-tcp");
    let exporter = exporter(flavor);
    let ip = device(1);
    let export = exporter
        .attach_device(
            DeviceIdentity::named(ip, "xr-tcp"),
            model(4),
            block("mdt-tcp", addr, Mode::Sample),
        )
        .unwrap();

    let (mut conn, peer) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
    assert_eq!(
        peer.ip(),
        IpAddr::V4(ip),
        "the connection comes from the device"
    );
    let mut last_id = 0;
    let mut seen_paths = Vec::new();
    for _ in 0..6 {
        let (header, payload) = timeout(WAIT, read_record(&mut conn))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (header.msg_type, header.encap, header.version, header.flags),
            (1, 2, 1, 0),
            "data, JSON, version 1, no flags"
        );
        assert!(header.length as usize <= nl6_mdt::MAX_TCP_MESSAGE);
        let doc: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(doc["node_id_str"], "xr-tcp");
        assert_eq!(doc["subscription_id_str"], "sub-1");
        assert_eq!(
            doc["data_json"].as_array().unwrap().len(),
            4,
            "a row per interface"
        );
        let id = doc["collection_id"].as_u64().unwrap();
        assert!(id > last_id, "collection ids increase");
        last_id = id;
        seen_paths.push(doc["encoding_path"].as_str().unwrap().to_string());
    }
    assert_eq!(
        seen_paths[..2],
        [
            SensorPath::GenericCounters.as_str(),
            SensorPath::InterfaceXr.as_str()
        ],
        "one collection per sensor path per sample, in order"
    );

    // The collector resets the connection: the device notices and dials again.
    let sent_before = export.counters().updates_sent;
    assert!(sent_before > 0);
    socket2::SockRef::from(&conn)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(conn);
    let (mut again, peer) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
    assert_eq!(peer.ip(), IpAddr::V4(ip));
    let (header, _) = timeout(WAIT, read_record(&mut again))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(header.encap, 2);
    let counters = export.counters();
    assert!(counters.reconnects >= 1, "{counters:?}");
    timeout(WAIT, export.stop()).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_datagrams_split_a_collection_by_rows_and_stay_under_the_maximum() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let max = 400;
    let flavor = flavor(
        MdtTransport::Udp,
        MdtEncoding::Gpb,
        vec![SensorPath::GenericCounters],
        Some(max),
    );
    let counters = flavor.counters().clone();
    let exporter = exporter(flavor);
    let ip = device(2);
    let export = exporter
        .attach_device(
            DeviceIdentity::named(ip, "xr-udp"),
            model(10),
            block("mdt-udp", addr, Mode::Sample),
        )
        .unwrap();

    // Collect datagrams until one collection is complete: all 10 rows.
    let mut rows_by_collection = std::collections::BTreeMap::<u64, usize>::new();
    let mut buf = vec![0u8; 65536];
    let deadline = Instant::now() + WAIT;
    let complete = loop {
        let (len, from) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf))
            .await
            .expect("datagrams before the deadline")
            .unwrap();
        assert_eq!(from.ip(), IpAddr::V4(ip), "datagrams come from the device");
        assert!(len <= max, "{len} > {max}");
        let header = Header::parse(buf[..HEADER_LEN].try_into().unwrap());
        assert_eq!((header.msg_type, header.encap), (1, 1));
        assert_eq!(header.length as usize, len - HEADER_LEN);
        let t = Telemetry::decode(&buf[HEADER_LEN..len]).unwrap();
        assert_eq!(t.node_id_str(), "xr-udp");
        assert_eq!(t.subscription_id_str(), "sub-1");
        assert_eq!(t.encoding_path, SensorPath::GenericCounters.as_str());
        let rows = t.data_gpb.unwrap().row.len();
        assert!(rows >= 1);
        let total = rows_by_collection.entry(t.collection_id).or_default();
        *total += rows;
        // The first collection may have started before we listened: wait for a second.
        if *total == 10 && rows_by_collection.len() >= 2 {
            break t.collection_id;
        }
    };
    assert!(complete > 0);
    assert!(
        counters.messages() > counters.collections(),
        "split over datagrams"
    );
    assert_eq!(counters.rows_dropped(), 0);
    timeout(WAIT, export.stop()).await.unwrap().unwrap();
}

type Args = Pin<Box<dyn Stream<Item = Result<MdtDialoutArgs, tonic::Status>> + Send>>;

/// A collector recording every `MdtDialoutArgs` with the peer it came from.
#[derive(Clone, Default)]
struct Recorder {
    got: Arc<Mutex<Vec<(SocketAddr, MdtDialoutArgs)>>>,
}

#[tonic::async_trait]
impl GRpcMdtDialout for Recorder {
    type MdtDialoutStream = Args;

    async fn mdt_dialout(
        &self,
        request: tonic::Request<tonic::Streaming<MdtDialoutArgs>>,
    ) -> Result<tonic::Response<Args>, tonic::Status> {
        let peer = request.remote_addr().expect("a TCP peer");
        let mut inbound = request.into_inner();
        let got = self.got.clone();
        // Nothing is sent back; the reply ends once the device half-closes.
        let (tx, rx) = mpsc::channel::<Result<MdtDialoutArgs, tonic::Status>>(1);
        tokio::spawn(async move {
            while let Ok(Some(args)) = inbound.message().await {
                got.lock().push((peer, args));
            }
            drop(tx);
        });
        Ok(tonic::Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_dialout_streams_kv_gpb_and_event_driven_collections() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recorder = Recorder::default();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(GRpcMdtDialoutServer::new(recorder.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let flavor = flavor(
        MdtTransport::Grpc,
        MdtEncoding::SelfDescribingGpb,
        vec![SensorPath::InterfaceXr, SensorPath::GenericCounters],
        None,
    );
    let exporter = exporter(flavor);
    let ip = device(3);
    let model = model(3);
    let export = exporter
        .attach_device(
            DeviceIdentity::named(ip, "xr-grpc"),
            model.clone(),
            block("mdt-grpc", addr, Mode::OnChange),
        )
        .unwrap();

    let decoded = |recorder: &Recorder| -> Vec<(SocketAddr, i64, Telemetry)> {
        recorder
            .got
            .lock()
            .iter()
            .map(|(peer, args)| {
                (
                    *peer,
                    args.req_id,
                    Telemetry::decode(&args.data[..]).unwrap(),
                )
            })
            .collect()
    };
    let deadline = Instant::now() + WAIT;
    // The on-change stream starts with a snapshot: both paths, every interface.
    while decoded(&recorder).len() < 2 {
        assert!(Instant::now() < deadline, "no snapshot");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let snapshot = decoded(&recorder);
    for (peer, req_id, t) in &snapshot {
        assert_eq!(peer.ip(), IpAddr::V4(ip));
        assert_eq!(*req_id as u64, t.collection_id);
        assert_eq!(t.node_id_str(), "xr-grpc");
        assert_eq!(t.data_gpbkv.len(), 3);
    }
    assert_eq!(
        snapshot[0].2.encoding_path,
        SensorPath::InterfaceXr.as_str()
    );
    assert_eq!(
        snapshot[1].2.encoding_path,
        SensorPath::GenericCounters.as_str()
    );

    // A link goes down: one event-driven collection of the state path, that row only.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    model.set_link(1, LinkStatus::Down, now);
    while decoded(&recorder).len() < 3 {
        assert!(Instant::now() < deadline, "no event collection");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all = decoded(&recorder);
    let event = &all[2].2;
    assert_eq!(event.encoding_path, SensorPath::InterfaceXr.as_str());
    assert_eq!(event.data_gpbkv.len(), 1, "only the changed interface");
    let row = &event.data_gpbkv[0];
    let leaf = |container: usize, name: &str| {
        row.fields[container]
            .fields
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value_by_type.clone())
    };
    use nl6_mdt::proto::telemetry::telemetry_field::ValueByType;
    assert_eq!(
        leaf(0, "interface-name"),
        Some(ValueByType::StringValue("Ethernet2".into()))
    );
    assert_eq!(
        leaf(1, "line-state"),
        Some(ValueByType::StringValue("im-state-down".into()))
    );
    assert_eq!(leaf(1, "mtu"), None, "event rows carry state leaves only");
    timeout(WAIT, export.stop()).await.unwrap().unwrap();
    let row = exporter.stats().status().collectors[0].clone();
    assert_eq!(row.flavor, "mdt-grpc");
    assert_eq!(
        row.updates_produced,
        row.updates_sent + row.updates_dropped + row.updates_discarded,
        "the ledger is exact"
    );
    assert!(row.updates_sent > 0);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_notices_a_collector_closing_an_idle_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let flavor = flavor(
        MdtTransport::Tcp,
        MdtEncoding::Gpb,
        vec![SensorPath::InterfaceXr],
        None,
    );
    let exporter = exporter(flavor);
    let ip = device(4);
    // On-change: after the first snapshot nothing is sent until a state event, so only
    // watching the connection can tell that the collector went away.
    let export = exporter
        .attach_device(
            DeviceIdentity::named(ip, "xr-idle"),
            model(2),
            block("mdt-tcp", addr, Mode::OnChange),
        )
        .unwrap();
    let (mut conn, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
    let (header, payload) = timeout(WAIT, read_record(&mut conn))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((header.msg_type, header.encap), (1, 1), "data, GPB");
    let t = Telemetry::decode(&payload[..]).unwrap();
    assert_eq!(t.data_gpb.unwrap().row.len(), 2);
    drop(conn);
    let (mut again, peer) = timeout(WAIT, listener.accept())
        .await
        .expect("the device dials again once the collector closed")
        .unwrap();
    assert_eq!(peer.ip(), IpAddr::V4(ip));
    let (_, payload) = timeout(WAIT, read_record(&mut again))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Telemetry::decode(&payload[..]).unwrap().node_id_str(),
        "xr-idle"
    );
    timeout(WAIT, export.stop()).await.unwrap().unwrap();
}
