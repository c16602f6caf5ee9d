//! `protocol: "gnmi-dialin"` runs over real sockets: tonic gNMI clients hold STREAM
//! SAMPLE subscriptions to two devices on loopback; the report's counts must match
//! exactly what the clients received, every in-window response tagged.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use common::{Api, dev, gnmi, wait_until, within};
use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::{
    Encoding, SubscribeRequest, Subscription, SubscriptionList, SubscriptionMode,
    subscribe_request, subscribe_response, subscription_list,
};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// One notification a client received: device, timestamp, updates, run tag.
type Got = (Ipv4Addr, u64, u64, Option<String>);

/// Opens a STREAM of one SAMPLE subscription (every second) to the device at `ip` and
/// records every notification it receives; the request sender is returned so the
/// stream stays open.
async fn sample_stream(
    ip: Ipv4Addr,
    port: u16,
    got: Arc<Mutex<Vec<Got>>>,
) -> mpsc::Sender<SubscribeRequest> {
    let (tx, rx) = mpsc::channel(4);
    tx.send(SubscribeRequest {
        request: Some(subscribe_request::Request::Subscribe(SubscriptionList {
            mode: subscription_list::Mode::Stream as i32,
            encoding: Encoding::Proto as i32,
            subscription: vec![Subscription {
                path: Some(parse_path("/interfaces/interface[name=*]/state/counters").unwrap()),
                mode: SubscriptionMode::Sample as i32,
                sample_interval: 1_000_000_000,
                ..Subscription::default()
            }],
            ..SubscriptionList::default()
        })),
        extension: vec![],
    })
    .await
    .unwrap();
    let mut client = gnmi::connect(ip, port).await;
    let mut stream = within("subscribe", client.subscribe(ReceiverStream::new(rx)))
        .await
        .unwrap()
        .into_inner();
    tokio::spawn(async move {
        let _client = client;
        while let Ok(Some(response)) = stream.message().await {
            let tag = nl6_gnmi::run_tag::run_tag(&response.extension).map(str::to_string);
            if let Some(subscribe_response::Response::Update(n)) = response.response {
                let ts = u64::try_from(n.timestamp).unwrap();
                got.lock().push((ip, ts, n.update.len() as u64, tag));
            }
        }
    });
    tx
}

fn ns(rfc3339: &Value) -> u64 {
    let t = humantime::parse_rfc3339(rfc3339.as_str().unwrap()).unwrap();
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap().as_nanos()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialin_run_counts_exactly_what_the_clients_received() {
    let api = Api::start().await;
    let first = dev(116, 1);
    api.create(json!({"start_ip": first.to_string(), "device_count": 3, "interfaces": 2}))
        .await;
    let port = api.dialin_port();
    let got = Arc::new(Mutex::new(Vec::new()));
    // Two of the three devices are streamed; the third is not a participant.
    let streamed = [first, dev(116, 2)];
    let mut senders = Vec::new();
    for ip in streamed {
        senders.push(sample_stream(ip, port, got.clone()).await);
    }
    wait_until("both streams delivering", || {
        let n = got.lock().len();
        async move { n >= 2 }
    })
    .await;

    let reply = api
        .post(
            "/api/v1/runs",
            &json!({"devices": {"batch": first.to_string()}, "protocol": "gnmi-dialin",
                "window": "3s", "slices": 3, "pre_roll": "1s", "drain": "2s", "tag": "d-116"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let armed = reply.json()["data"].clone();
    assert_eq!(armed["protocol"], "gnmi-dialin", "{armed}");
    assert_eq!(armed["selected_devices"], 3, "{armed}");
    assert_eq!(armed["participants"], 2, "{armed}");
    let id = armed["id"].as_str().unwrap().to_string();
    let (t0, t1) = (
        armed["t0_ns"].as_u64().unwrap(),
        armed["t1_ns"].as_u64().unwrap(),
    );
    let armed_ns = ns(&armed["armed_at"]);

    let report = api.finished_run(&id).await;
    let totals = &report["totals"];
    let sent = totals["sent"]["messages"].as_u64().unwrap();
    assert!(sent >= 2, "{report}");
    assert_eq!(report["unsettled"], 0, "{report}");
    for what in ["dropped", "discarded", "send_failures"] {
        assert_eq!(totals[what]["messages"], 0, "{what}: {report}");
    }

    let tagged = |all: &[Got]| all.iter().filter(|g| g.3.is_some()).count() as u64;
    wait_until("every sent notification received", || {
        let n = tagged(&got.lock());
        async move { n >= sent }
    })
    .await;
    let all = got.lock().clone();
    assert_eq!(tagged(&all), sent, "{report}");

    let mut received: BTreeMap<(String, u64), (u64, u64)> = BTreeMap::new();
    for (ip, ts, updates, tag) in &all {
        match tag {
            Some(tag) => {
                assert_eq!(tag, "d-116");
                assert!((t0..t1).contains(ts), "{ip}: tagged at {ts}");
                let slice = (ts - t0) * 3 / (t1 - t0);
                let entry = received.entry((ip.to_string(), slice)).or_default();
                entry.0 += 1;
                entry.1 += updates;
            }
            None => assert!(
                !(armed_ns + 100_000_000..t1).contains(ts),
                "{ip} sent untagged at {ts}, after arming and before T1"
            ),
        }
    }
    for device in report["devices"].as_array().unwrap() {
        let ip = device["device"].as_str().unwrap();
        assert_eq!(device["flavor"], "gnmi-dialin");
        assert!(device["suppressed"].as_u64().unwrap() >= 1, "{device}");
        for (slice, counts) in device["slices"].as_array().unwrap().iter().enumerate() {
            let (messages, updates) = received
                .get(&(ip.to_string(), slice as u64))
                .copied()
                .unwrap_or((0, 0));
            assert_eq!(counts["sent"]["messages"], messages, "{ip} slice {slice}");
            assert_eq!(counts["sent"]["updates"], updates, "{ip} slice {slice}");
        }
    }
    drop(senders);
    api.stop().await;
}
