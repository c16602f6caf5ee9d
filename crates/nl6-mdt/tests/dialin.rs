//! MDT gRPC dial-in end to end on loopback: a real dial-in server over devices at
//! 127.78.0.x serves `CreateSubs` beside gNMI, and a tonic client built from our
//! `mdt_grpc_dialin.proto` subscribes as a collector would.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http::uri::PathAndQuery;
use nl6_dialin::{DeviceDirectory, DialinConfig, DialinServer, ListenerSource};
use nl6_gnmi::proto::gnmi::CapabilityRequest;
use nl6_gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use nl6_ifstate::{DeviceModel, DeviceSpec, EventCounters, LinkStatus};
use nl6_mdt::proto::dialin::g_rpc_config_oper_client::GRpcConfigOperClient;
use nl6_mdt::proto::dialin::{CreateSubsArgs, CreateSubsReply};
use nl6_mdt::proto::telemetry::Telemetry;
use nl6_mdt::proto::telemetry::telemetry_field::ValueByType;
use nl6_mdt::{MdtConfig, MdtDialin, MdtDirectory, MdtSubscription, SensorPath};
use parking_lot::RwLock;
use prost::Message;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Streaming};

/// How long any single expected thing may take.
const DEADLINE: Duration = Duration::from_secs(10);

/// A device with MDT configuration (host name `xr-a`).
const DEV_A: Ipv4Addr = Ipv4Addr::new(127, 78, 0, 1);
/// A device without MDT configuration.
const DEV_B: Ipv4Addr = Ipv4Addr::new(127, 78, 0, 2);

/// A device's host name and MDT configuration.
type DeviceMdt = (Arc<str>, Arc<MdtConfig>);

/// Devices for the dial-in server and MDT configurations for MDT dial-in.
#[derive(Default)]
struct Fleet {
    devices: RwLock<HashMap<Ipv4Addr, Arc<DeviceModel>>>,
    mdt: RwLock<HashMap<Ipv4Addr, DeviceMdt>>,
}

impl Fleet {
    fn model(&self, ip: Ipv4Addr) -> Arc<DeviceModel> {
        self.devices.read()[&ip].clone()
    }

    fn remove(&self, ip: Ipv4Addr) {
        self.devices.write().remove(&ip);
        self.mdt.write().remove(&ip);
    }
}

impl DeviceDirectory for Fleet {
    fn device(&self, local: Ipv4Addr) -> Option<Arc<DeviceModel>> {
        self.devices.read().get(&local).cloned()
    }

    fn device_count(&self) -> usize {
        self.devices.read().len()
    }
}

impl MdtDirectory for Fleet {
    fn mdt(&self, device: Ipv4Addr) -> Option<DeviceMdt> {
        self.mdt.read().get(&device).cloned()
    }
}

/// `SUB1`: generic-counters and interface-xr every 100 ms; `EDT`: interface-xr,
/// event-driven. (Built directly: validation allows no interval under 1 s.)
fn mdt_config() -> MdtConfig {
    let mut config = MdtConfig::default();
    config.sensor_groups.insert(
        "IFC".into(),
        vec![
            SensorPath::GenericCounters.as_str().into(),
            SensorPath::InterfaceXr.as_str().into(),
        ],
    );
    config.sensor_groups.insert(
        "STATE".into(),
        vec![SensorPath::InterfaceXr.as_str().into()],
    );
    config.subscriptions.insert(
        "SUB1".into(),
        MdtSubscription {
            sensor_groups: vec!["IFC".into()],
            sample_interval: 100,
            destination_groups: vec![],
        },
    );
    config.subscriptions.insert(
        "EDT".into(),
        MdtSubscription {
            sensor_groups: vec!["STATE".into()],
            sample_interval: 0,
            destination_groups: vec![],
        },
    );
    config
}

struct Harness {
    server: DialinServer,
    fleet: Arc<Fleet>,
    dialin: MdtDialin,
    port: u16,
}

impl Harness {
    /// A server on a free loopback port with MDT dial-in, over devices A (with MDT
    /// configuration) and B (without), 3 interfaces each.
    async fn start(credentials: Option<(&str, &str)>) -> Harness {
        let events = Arc::new(EventCounters::default());
        let fleet = Arc::new(Fleet::default());
        for (ip, seed) in [(DEV_A, 1), (DEV_B, 2)] {
            let spec = DeviceSpec {
                seed,
                interfaces: 3,
                ..DeviceSpec::default()
            };
            let model = DeviceModel::with_event_counters(&spec, events.clone()).unwrap();
            fleet.devices.write().insert(ip, Arc::new(model));
        }
        fleet
            .mdt
            .write()
            .insert(DEV_A, ("xr-a".into(), Arc::new(mdt_config())));
        let config = DialinConfig {
            port: 0,
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
            device_check_interval: Duration::from_millis(50),
            ..DialinConfig::default()
        };
        let dialin = MdtDialin::new(fleet.clone());
        let server = DialinServer::builder(config, ListenerSource::Loopback, fleet.clone(), events)
            .service(Arc::new(dialin.clone()))
            .start()
            .await
            .expect("server starts");
        let port = server.local_addr().port();
        Harness {
            server,
            fleet,
            dialin,
            port,
        }
    }

    async fn channel(&self, ip: Ipv4Addr) -> Channel {
        Endpoint::from_shared(format!("http://{}", SocketAddr::from((ip, self.port))))
            .unwrap()
            .connect_timeout(DEADLINE)
            .connect()
            .await
            .expect("connects")
    }

    async fn client(&self, ip: Ipv4Addr) -> GRpcConfigOperClient<Channel> {
        GRpcConfigOperClient::new(self.channel(ip).await)
    }
}

fn args(req_id: i64, encode: i64, subscription: &str) -> CreateSubsArgs {
    CreateSubsArgs {
        req_id,
        encode,
        subidstr: subscription.into(),
        ..CreateSubsArgs::default()
    }
}

/// Awaits `fut`, failing the test after [`DEADLINE`].
async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Polls `cond` until it holds, failing the test after [`DEADLINE`].
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// The next reply; fails if the stream ends or errs.
async fn next(stream: &mut Streaming<CreateSubsReply>) -> CreateSubsReply {
    within("a reply", stream.message())
        .await
        .expect("the stream stays OK")
        .expect("the stream goes on")
}

/// The envelope of one reply, whatever its encoding: (node, subscription, path,
/// collection id, rows).
fn envelope(encode: i64, reply: &CreateSubsReply) -> (String, String, String, u64, usize) {
    if encode == 4 {
        let doc: serde_json::Value = serde_json::from_slice(&reply.data).expect("JSON data");
        return (
            doc["node_id_str"].as_str().unwrap().to_string(),
            doc["subscription_id_str"].as_str().unwrap().to_string(),
            doc["encoding_path"].as_str().unwrap().to_string(),
            doc["collection_id"].as_u64().unwrap(),
            doc["data_json"].as_array().unwrap().len(),
        );
    }
    let t = Telemetry::decode(&reply.data[..]).expect("a Telemetry message");
    let rows = if encode == 2 {
        assert!(t.data_gpbkv.is_empty());
        t.data_gpb.as_ref().map_or(0, |table| table.row.len())
    } else {
        assert!(t.data_gpb.is_none());
        t.data_gpbkv.len()
    };
    assert!(t.msg_timestamp > 0 && t.collection_start_time > 0);
    (
        t.node_id_str().to_string(),
        t.subscription_id_str().to_string(),
        t.encoding_path.clone(),
        t.collection_id,
        rows,
    )
}

#[tokio::test]
async fn create_subs_streams_kvgpb_compact_and_json_collections() {
    let h = Harness::start(None).await;
    let mut client = h.client(DEV_A).await;
    for encode in [2, 3, 4] {
        let req_id = 100 + encode;
        let mut stream = within(
            "CreateSubs",
            client.create_subs(args(req_id, encode, "SUB1")),
        )
        .await
        .expect("CreateSubs is served")
        .into_inner();
        let mut last_id = 0;
        let mut paths = Vec::new();
        // Two samples: one collection per sensor path each.
        for _ in 0..4 {
            let reply = next(&mut stream).await;
            assert_eq!(reply.res_req_id, req_id);
            assert!(reply.errors.is_empty(), "{}", reply.errors);
            let (node, sub, path, id, rows) = envelope(encode, &reply);
            assert_eq!((node.as_str(), sub.as_str()), ("xr-a", "SUB1"));
            assert!(
                id > last_id,
                "collection ids increase: {id} after {last_id}"
            );
            last_id = id;
            assert_eq!(rows, 3, "a row per interface ({path})");
            paths.push(path);
        }
        let expected = [
            SensorPath::GenericCounters.as_str(),
            SensorPath::InterfaceXr.as_str(),
        ];
        assert_eq!(paths, [expected, expected].concat(), "encode {encode}");
    }
    wait_until("the streams to end", || {
        h.dialin.counters().subscriptions_active() == 0
    })
    .await;
    let counters = h.dialin.counters();
    assert_eq!(counters.subscriptions_opened(), 3);
    assert!(counters.collections() >= 12 && counters.messages_sent() >= 12);
    h.server.shutdown().await;
}

#[tokio::test]
async fn compact_rows_decode_with_the_generated_proto_keys() {
    let h = Harness::start(None).await;
    let mut client = h.client(DEV_A).await;
    let mut stream = client
        .create_subs(args(1, 2, "SUB1"))
        .await
        .unwrap()
        .into_inner();
    let reply = next(&mut stream).await;
    let t = Telemetry::decode(&reply.data[..]).unwrap();
    assert_eq!(t.encoding_path, SensorPath::GenericCounters.as_str());
    let table = t.data_gpb.unwrap();
    let names = h.fleet.model(DEV_A).names().clone();
    for (i, row) in table.row.iter().enumerate() {
        // The keys message holds `interface_name` (field 1) only.
        let mut keys = &row.keys[..];
        let key = prost::encoding::decode_key(&mut keys).unwrap();
        assert_eq!(key.0, 1);
        let name = String::from_utf8(keys[1..].to_vec()).unwrap();
        assert_eq!(name, names.name(i));
        assert!(!row.content.is_empty());
    }
    h.server.shutdown().await;
}

#[tokio::test]
async fn unknown_subscriptions_and_encodings_are_answered_with_errors() {
    let h = Harness::start(None).await;
    let mut client = h.client(DEV_A).await;
    let cases = [
        (DEV_A, args(5, 3, "NOPE"), vec!["NOPE", "EDT, SUB1"]),
        (DEV_A, args(6, 7, "SUB1"), vec!["encode", "2", "3", "4"]),
        (DEV_B, args(7, 3, "SUB1"), vec!["SUB1", "no model-driven"]),
    ];
    for (ip, request, words) in cases {
        let mut client = if ip == DEV_A {
            client.clone()
        } else {
            h.client(ip).await
        };
        let req_id = request.req_id;
        let mut stream = client.create_subs(request).await.unwrap().into_inner();
        let reply = next(&mut stream).await;
        assert_eq!(reply.res_req_id, req_id);
        assert!(reply.data.is_empty());
        for word in words {
            assert!(
                reply.errors.contains(word),
                "{word:?} in {:?}",
                reply.errors
            );
        }
        let end = within("the end of the stream", stream.message()).await;
        assert!(matches!(end, Ok(None)), "the stream ends OK: {end:?}");
    }
    assert_eq!(h.dialin.counters().subscriptions_refused(), 3);
    assert_eq!(h.dialin.counters().subscriptions_opened(), 0);

    // Paths no service claims answer UNIMPLEMENTED, in the MDT service as elsewhere.
    client.create_subs(args(8, 3, "SUB1")).await.unwrap(); // the channel still works
    for path in [
        "/IOSXRExtensibleManagabilityService.gRPCConfigOper/GetConfig",
        "/no.Such/Service",
    ] {
        let mut grpc = tonic::client::Grpc::new(h.channel(DEV_A).await);
        grpc.ready().await.unwrap();
        let err = grpc
            .unary(
                tonic::Request::new(args(9, 3, "SUB1")),
                PathAndQuery::from_static(path),
                tonic_prost::ProstCodec::<CreateSubsArgs, CreateSubsReply>::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{path}: {err}");
    }
    h.server.shutdown().await;
}

#[tokio::test]
async fn credentials_are_checked_as_for_gnmi() {
    let h = Harness::start(Some(("admin", "s3cret"))).await;
    let with = |user: &str, password: &str| {
        let mut request = tonic::Request::new(args(1, 3, "SUB1"));
        request
            .metadata_mut()
            .insert("username", user.parse().unwrap());
        request
            .metadata_mut()
            .insert("password", password.parse().unwrap());
        request
    };
    let mut client = h.client(DEV_A).await;
    let err = client
        .create_subs(with("admin", "wrong"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let gnmi = GNmiClient::new(h.channel(DEV_A).await)
        .capabilities(CapabilityRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), gnmi.code(), "refused like gNMI");
    let err = client.create_subs(args(1, 3, "SUB1")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "no metadata");
    assert_eq!(h.dialin.counters().subscriptions_opened(), 0);

    let mut stream = client
        .create_subs(with("admin", "s3cret"))
        .await
        .unwrap()
        .into_inner();
    let reply = next(&mut stream).await;
    assert_eq!(envelope(3, &reply).0, "xr-a");
    h.server.shutdown().await;
}

#[tokio::test]
async fn event_driven_subscriptions_send_on_state_changes() {
    let h = Harness::start(None).await;
    let mut client = h.client(DEV_A).await;
    let mut stream = client
        .create_subs(args(42, 3, "EDT"))
        .await
        .unwrap()
        .into_inner();
    let first = Telemetry::decode(&next(&mut stream).await.data[..]).unwrap();
    assert_eq!(first.encoding_path, SensorPath::InterfaceXr.as_str());
    assert_eq!(first.data_gpbkv.len(), 3, "a first full collection");

    let model = h.fleet.model(DEV_A);
    let now = nl6_ifstate::unix_now_ns();
    let change = model.set_link(1, LinkStatus::Down, now);
    assert!(change.event.is_some(), "the link flips");
    let reply = next(&mut stream).await;
    assert_eq!(reply.res_req_id, 42);
    let event = Telemetry::decode(&reply.data[..]).unwrap();
    assert!(event.collection_id > first.collection_id);
    assert_eq!(event.data_gpbkv.len(), 1, "only the changed interface");
    let row = &event.data_gpbkv[0];
    let leaf = |container: usize, name: &str| {
        row.fields[container]
            .fields
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value_by_type.clone())
    };
    assert_eq!(
        leaf(0, "interface-name"),
        Some(ValueByType::StringValue(model.names().name(1).into()))
    );
    assert_eq!(
        leaf(1, "line-state"),
        Some(ValueByType::StringValue("im-state-down".into()))
    );
    assert_eq!(leaf(1, "mtu"), None, "event rows carry state leaves only");
    h.server.shutdown().await;
}

#[tokio::test]
async fn streams_end_when_the_device_is_deleted_or_the_server_stops() {
    let h = Harness::start(None).await;
    h.fleet
        .mdt
        .write()
        .insert(DEV_B, ("xr-b".into(), Arc::new(mdt_config())));
    let mut deleted = h
        .client(DEV_A)
        .await
        .create_subs(args(1, 3, "SUB1"))
        .await
        .unwrap()
        .into_inner();
    let mut stopped = h
        .client(DEV_B)
        .await
        .create_subs(args(2, 4, "SUB1"))
        .await
        .unwrap()
        .into_inner();
    next(&mut deleted).await;
    next(&mut stopped).await;
    assert_eq!(h.dialin.counters().subscriptions_active(), 2);

    // Deleting the device ends its streams with UNAVAILABLE.
    h.fleet.remove(DEV_A);
    let status = within("the deleted device's stream to end", async {
        loop {
            match deleted.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("ended OK instead of UNAVAILABLE"),
                Err(status) => break status,
            }
        }
    })
    .await;
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("127.78.0.1"), "{status}");

    // So does stopping the server.
    let shutdown = h.server.shutdown();
    let ended = async {
        loop {
            match stopped.message().await {
                Ok(Some(_)) => continue,
                other => break other,
            }
        }
    };
    let ((), end) = within("shutdown", futures::future::join(shutdown, ended)).await;
    assert!(end.is_err(), "the stream ends with a status: {end:?}");
    wait_until("no stream active", || {
        h.dialin.counters().subscriptions_active() == 0
    })
    .await;
}

#[tokio::test]
async fn large_collections_split_by_rows_under_the_message_limit() {
    let h = Harness::start(None).await;
    let big = Ipv4Addr::new(127, 78, 0, 3);
    let spec = DeviceSpec {
        seed: 3,
        interfaces: 1024,
        ..DeviceSpec::default()
    };
    h.fleet
        .devices
        .write()
        .insert(big, Arc::new(DeviceModel::new(&spec).unwrap()));
    h.fleet
        .mdt
        .write()
        .insert(big, ("xr-big".into(), Arc::new(mdt_config())));
    let mut stream = h
        .client(big)
        .await
        .create_subs(args(3, 4, "SUB1"))
        .await
        .unwrap()
        .into_inner();
    // The first collection (generic-counters of 1,024 interfaces) and its messages.
    let mut messages = 0;
    let mut rows = Vec::new();
    let first = loop {
        let reply = next(&mut stream).await;
        assert!(
            reply.data.len() <= nl6_mdt::MAX_TCP_MESSAGE,
            "{}",
            reply.data.len()
        );
        let doc: serde_json::Value = serde_json::from_slice(&reply.data).unwrap();
        if doc["collection_id"] != 1 {
            break doc;
        }
        assert_eq!(doc["encoding_path"], SensorPath::GenericCounters.as_str());
        messages += 1;
        rows.extend(doc["data_json"].as_array().unwrap().iter().map(|row| {
            row["keys"][0]["interface-name"]
                .as_str()
                .expect("a key")
                .to_string()
        }));
    };
    assert!(messages >= 2, "split into {messages} messages");
    let model = h.fleet.model(big);
    let names: Vec<String> = (0..1024)
        .map(|i| model.names().name(i).to_string())
        .collect();
    assert_eq!(rows, names, "every row once, in order");
    assert_eq!(first["collection_id"], 2);
    h.server.shutdown().await;
}
