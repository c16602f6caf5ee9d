//! `protocol: "mdt"` runs over real sockets: devices stream MDT dial-out over TCP, gRPC
//! and UDP to in-process receivers on loopback; the report's counts must match exactly what
//! the receivers got, every in-window message tagged, nothing in the pre-roll.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use common::{Api, dev, wait_until};
use futures::Stream;
use nl6_mdt::proto::mdt_dialout::MdtDialoutArgs;
use nl6_mdt::proto::mdt_dialout::g_rpc_mdt_dialout_server::{GRpcMdtDialout, GRpcMdtDialoutServer};
use nl6_mdt::proto::telemetry::Telemetry;
use nl6_mdt::{HEADER_LEN, Header};
use parking_lot::Mutex;
use prost::Message;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

const COUNTERS: &str =
    "Cisco-IOS-XR-infra-statsd-oper:infra-statistics/interfaces/interface/latest/generic-counters";
const INTERFACE_XR: &str = "Cisco-IOS-XR-pfi-im-cmd-oper:interfaces/interface-xr/interface";

/// One message a receiver got: the device (the peer address), the transport, the
/// decoded envelope.
type Got = (Ipv4Addr, &'static str, Telemetry);

/// Everything both receivers got.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Got>>>);

impl Received {
    fn push(&self, peer: SocketAddr, transport: &'static str, telemetry: Telemetry) {
        let IpAddr::V4(ip) = peer.ip() else {
            panic!("an IPv6 peer {peer}");
        };
        self.0.lock().push((ip, transport, telemetry));
    }

    fn snapshot(&self) -> Vec<Got> {
        self.0.lock().clone()
    }
}

/// A TCP dial-out receiver: reads the 12-byte header and the `Telemetry` after it.
async fn tcp_receiver(got: Received) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, peer)) = listener.accept().await {
            let got = got.clone();
            tokio::spawn(async move {
                loop {
                    let mut header = [0u8; HEADER_LEN];
                    if conn.read_exact(&mut header).await.is_err() {
                        return;
                    }
                    let header = Header::parse(&header);
                    let mut payload = vec![0; header.length as usize];
                    if conn.read_exact(&mut payload).await.is_err() {
                        return;
                    }
                    got.push(peer, "tcp", Telemetry::decode(&payload[..]).unwrap());
                }
            });
        }
    });
    addr
}

/// A UDP dial-out receiver: one message per datagram, after the 12-byte header.
async fn udp_receiver(got: Received) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            let header = Header::parse(buf[..HEADER_LEN].try_into().unwrap());
            let end = HEADER_LEN + header.length as usize;
            assert_eq!(end, n, "a datagram holds one message");
            got.push(
                peer,
                "udp",
                Telemetry::decode(&buf[HEADER_LEN..end]).unwrap(),
            );
        }
    });
    addr
}

type Args = Pin<Box<dyn Stream<Item = Result<MdtDialoutArgs, tonic::Status>> + Send>>;

/// A gRPC dial-out receiver (`gRPCMdtDialout`): decodes every `MdtDialoutArgs.data`.
#[derive(Clone)]
struct GrpcReceiver(Received);

#[tonic::async_trait]
impl GRpcMdtDialout for GrpcReceiver {
    type MdtDialoutStream = Args;

    async fn mdt_dialout(
        &self,
        request: tonic::Request<tonic::Streaming<MdtDialoutArgs>>,
    ) -> Result<tonic::Response<Args>, tonic::Status> {
        let peer = request.remote_addr().expect("a TCP peer");
        let mut inbound = request.into_inner();
        let got = self.0.clone();
        let (tx, rx) = mpsc::channel::<Result<MdtDialoutArgs, tonic::Status>>(1);
        tokio::spawn(async move {
            while let Ok(Some(args)) = inbound.message().await {
                got.push(peer, "grpc", Telemetry::decode(&args.data[..]).unwrap());
            }
            drop(tx);
        });
        Ok(tonic::Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

async fn grpc_receiver(got: Received) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(GRpcMdtDialoutServer::new(GrpcReceiver(got)))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

fn ns(rfc3339: &Value) -> u64 {
    let t = humantime::parse_rfc3339(rfc3339.as_str().unwrap()).unwrap();
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap().as_nanos()).unwrap()
}

fn count(counts: &Value, what: &str) -> u64 {
    counts[what]["messages"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mdt_run_counts_exactly_what_the_receivers_got_and_tags_every_message() {
    let got = Received::default();
    let tcp = tcp_receiver(got.clone()).await;
    let grpc = grpc_receiver(got.clone()).await;
    let udp = udp_receiver(got.clone()).await;
    let api = Api::start().await;
    let first = dev(114, 1);
    api.create(json!({
        "start_ip": first.to_string(), "device_count": 2, "interfaces": 2,
        "mdt": {
            "sensor_groups": {"IFC": [COUNTERS, INTERFACE_XR]},
            "destination_groups": {"COL": [
                {"address": "127.0.0.1", "port": tcp.port(), "protocol": "tcp",
                 "encoding": "self-describing-gpb"},
                {"address": "127.0.0.1", "port": grpc.port(), "protocol": "grpc",
                 "encoding": "gpb"},
                {"address": "127.0.0.1", "port": udp.port(), "protocol": "udp",
                 "encoding": "gpb"}
            ]},
            "subscriptions": {"SUB1": {"sensor_groups": ["IFC"], "sample_interval": 1000,
                                       "destination_groups": ["COL"]}}
        }
    }))
    .await;
    // Both devices stream on their three sessions before the run is armed.
    wait_until("six MDT sessions delivering", || {
        let sessions: BTreeSet<(Ipv4Addr, &str)> =
            got.snapshot().iter().map(|(ip, t, _)| (*ip, *t)).collect();
        async move { sessions.len() == 6 }
    })
    .await;

    let reply = api
        .post(
            "/api/v1/runs",
            &json!({"devices": {"batch": first.to_string()}, "protocol": "mdt",
                "window": "3s", "slices": 3, "pre_roll": "1s", "drain": "2s", "tag": "m-114"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let armed = reply.json()["data"].clone();
    assert_eq!(armed["protocol"], "mdt", "{armed}");
    assert_eq!(armed["participants"], 2, "{armed}");
    for device in armed["devices"].as_array().unwrap() {
        assert_eq!(
            device["flavor"], "mdt-tcp-self-describing-gpb,mdt-grpc-gpb,mdt-udp-gpb",
            "{device}"
        );
        assert_eq!(
            device["collector"],
            format!(
                "127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}",
                tcp.port(),
                grpc.port(),
                udp.port()
            )
        );
    }
    let id = armed["id"].as_str().unwrap().to_string();
    let (t0, t1) = (
        armed["t0_ns"].as_u64().unwrap(),
        armed["t1_ns"].as_u64().unwrap(),
    );
    let armed_ns = ns(&armed["armed_at"]);

    let report = api.finished_run(&id).await;
    let totals = &report["totals"];
    let sent = count(totals, "sent");
    // 2 devices × 3 sessions × 2 sensor paths per tick × 3 ticks of 1 s; a tick a
    // session could not take costs its 2 collections.
    let skipped = totals["skipped_ticks"].as_u64().unwrap();
    assert_eq!(
        sent + count(totals, "dropped")
            + count(totals, "discarded")
            + count(totals, "send_failures")
            + 2 * skipped,
        36,
        "{report}"
    );
    assert!(sent > 0, "{report}");
    assert_eq!(report["unsettled"], 0, "{report}");
    assert!(
        totals["sent"]["updates"].as_u64().unwrap() > sent,
        "{report}"
    );

    let tagged = |all: &[Got]| {
        all.iter()
            .filter(|(_, _, t)| t.subscription_id_str().contains('@'))
            .count() as u64
    };
    wait_until("every sent message received", || {
        let n = tagged(&got.snapshot());
        async move { n >= sent }
    })
    .await;
    let all = got.snapshot();
    assert_eq!(tagged(&all), sent, "no message of the run arrived twice");

    // Received per (device, slice), from the tag and the collection's timestamp.
    let mut received: BTreeMap<(String, u64), u64> = BTreeMap::new();
    for (ip, transport, t) in &all {
        let at = t.msg_timestamp * 1_000_000;
        match nl6_mdt::split_run_tag(t.subscription_id_str()) {
            Some((subscription, tag)) => {
                assert_eq!((subscription, tag), ("SUB1", "m-114"), "{ip} {transport}");
                assert!((t0..t1).contains(&at), "{ip} {transport}: tagged at {at}");
                let slice = (at - t0) * 3 / (t1 - t0);
                *received.entry((ip.to_string(), slice)).or_default() += 1;
            }
            None => {
                // Untagged: from before arming, or after the window.
                assert_eq!(t.subscription_id_str(), "SUB1");
                assert!(
                    !(armed_ns + 100_000_000..t1).contains(&at),
                    "{ip} {transport} sent untagged at {at}, after arming and before T1"
                );
            }
        }
    }
    for device in report["devices"].as_array().unwrap() {
        let ip = device["device"].as_str().unwrap();
        assert!(device["suppressed"].as_u64().unwrap() >= 1, "{device}");
        for (slice, counts) in device["slices"].as_array().unwrap().iter().enumerate() {
            let got = received
                .get(&(ip.to_string(), slice as u64))
                .copied()
                .unwrap_or(0);
            assert_eq!(count(counts, "sent"), got, "{ip} slice {slice}: {device}");
        }
    }
    api.stop().await;
}
