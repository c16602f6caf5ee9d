//! Interface-state endpoints: replies, errors, revert timers, and the change as seen by a
//! dial-in ON_CHANGE subscriber and by a dial-out collector.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use common::{Api, DEADLINE, Reply, dev, wait_until, within};
use nl6_collector::CollectorConfig;
use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use nl6_gnmi::proto::gnmi::typed_value::Value as Tv;
use nl6_gnmi::proto::gnmi::{
    Encoding, Notification, SubscribeRequest, Subscription, SubscriptionList, SubscriptionMode,
    subscribe_request, subscribe_response, subscription_list,
};
use nl6_ifstate::{AdminStatus, LinkStatus};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn oper(ip: Ipv4Addr, ifindex: &str) -> String {
    format!("/api/v1/devices/{ip}/interfaces/{ifindex}/oper-status")
}

fn admin(ip: Ipv4Addr, ifindex: &str) -> String {
    format!("/api/v1/devices/{ip}/interfaces/{ifindex}/admin-status")
}

/// Asserts a 400 `{"error", "validIfIndexes"}` reply; returns the error text.
#[track_caller]
fn assert_bad(reply: &Reply, valid: &[u32], needle: &str) -> String {
    assert_eq!(reply.status, 400, "{}", reply.text);
    let body = reply.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["error", "validIfIndexes"], "{body}");
    assert_eq!(body["validIfIndexes"], json!(valid), "{body}");
    let error = body["error"].as_str().unwrap().to_string();
    assert!(error.contains(needle), "{needle:?} not in {error:?}");
    error
}

#[tokio::test]
async fn changes_reply_202_with_the_resulting_state() {
    let api = Api::start().await;
    let ip = dev(20, 1);
    api.create(json!({"start_ip": ip.to_string(), "interfaces": 4}))
        .await;

    let r = api.post(&oper(ip, "1"), &json!({"status": "DOWN"})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"link": "DOWN", "oper_status": "DOWN", "admin_status": "UP", "masked": false})
    );

    // Admin DOWN forces oper DOWN; a link change under it is masked.
    let r = api.post(&admin(ip, "2"), &json!({"status": "down"})).await;
    assert_eq!(
        r.json(),
        json!({"link": "UP", "oper_status": "DOWN", "admin_status": "DOWN", "masked": false})
    );
    let r = api.post(&oper(ip, "2"), &json!({"status": "DOWN"})).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["masked"], true);
    let r = api
        .post(&admin(ip, "2"), &json!({"status": "TESTING"}))
        .await;
    assert_eq!(r.json()["oper_status"], "TESTING");
    let r = api.post(&admin(ip, "2"), &json!({"status": "UP"})).await;
    assert_eq!(
        r.json(),
        json!({"link": "DOWN", "oper_status": "DOWN", "admin_status": "UP", "masked": false})
    );

    let model = api.fleet.model(ip).unwrap();
    assert_eq!(model.state(0).link, LinkStatus::Down);
    assert_eq!(model.state(1).admin, AdminStatus::Up);
    api.stop().await;
}

#[tokio::test]
async fn a_duration_reverts_the_change() {
    let api = Api::start().await;
    let ip = dev(21, 1);
    api.create(json!({"start_ip": ip.to_string(), "interfaces": 2}))
        .await;
    let model = api.fleet.model(ip).unwrap();
    let r = api
        .post(
            &oper(ip, "2"),
            &json!({"status": "DOWN", "duration": "300ms"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(model.state(1).link, LinkStatus::Down);
    wait_until("the link to come back", || {
        let up = model.state(1).link == LinkStatus::Up;
        async move { up }
    })
    .await;

    // A newer change cancels the pending revert: once a revert due later than the
    // cancelled one has happened, the cancelled one has not.
    api.post(
        &admin(ip, "1"),
        &json!({"status": "DOWN", "duration": "200ms"}),
    )
    .await;
    api.post(&admin(ip, "1"), &json!({"status": "TESTING"}))
        .await;
    api.post(
        &oper(ip, "1"),
        &json!({"status": "DOWN", "duration": "600ms"}),
    )
    .await;
    wait_until("the later revert", || {
        let up = model.state(0).link == LinkStatus::Up;
        async move { up }
    })
    .await;
    assert_eq!(model.state(0).admin, AdminStatus::Testing);
    api.stop().await;
}

#[tokio::test]
async fn bad_requests_reply_400_with_the_valid_ifindexes() {
    let api = Api::start().await;
    let ip = dev(22, 1);
    api.create(json!({"start_ip": ip.to_string(), "interfaces": 3}))
        .await;
    let valid = [1, 2, 3];

    let r = api
        .post(&oper(ip, "1"), &json!({"status": "SIDEWAYS"}))
        .await;
    assert_bad(&r, &valid, "SIDEWAYS");
    let r = api
        .post(&admin(ip, "1"), &json!({"status": "DORMANT"}))
        .await;
    assert_bad(&r, &valid, "UP, DOWN, TESTING");
    for ifindex in ["0", "4"] {
        let r = api
            .post(&oper(ip, ifindex), &json!({"status": "DOWN"}))
            .await;
        assert_bad(&r, &valid, &format!("ifindex {ifindex}"));
    }
    let r = api
        .post(&oper(ip, "eth1"), &json!({"status": "DOWN"}))
        .await;
    assert_bad(&r, &valid, "\"eth1\" is not a number");
    let r = api
        .post(&oper(ip, "1"), &json!({"status": "DOWN", "why": "test"}))
        .await;
    assert_bad(&r, &valid, "unknown field `why`");
    let r = api.post(&oper(ip, "1"), &json!({"duration": "1s"})).await;
    assert_bad(&r, &valid, "missing field `status`");
    let r = api
        .post_raw(&oper(ip, "1"), Some("application/json"), "{\"status\":")
        .await;
    assert_bad(&r, &valid, "malformed JSON");
    for (duration, needle) in [("25h", "24h"), ("0s", "duration"), ("later", "\"later\"")] {
        let r = api
            .post(
                &oper(ip, "1"),
                &json!({"status": "DOWN", "duration": duration}),
            )
            .await;
        assert_bad(&r, &valid, needle);
    }
    let r = api
        .post(
            &oper(Ipv4Addr::new(127, 81, 22, 9), "1"),
            &json!({"status": "DOWN"}),
        )
        .await;
    r.assert_error(404, &["no device 127.81.22.9"]);
    let r = api
        .post(
            "/api/v1/devices/127.81/interfaces/1/oper-status",
            &json!({"status": "DOWN"}),
        )
        .await;
    assert_bad(&r, &[], "not an IPv4 address");
    let r = api
        .post_raw(&oper(ip, "1"), Some("text/plain"), r#"{"status":"DOWN"}"#)
        .await;
    r.assert_error(415, &["application/json"]);

    // Nothing changed.
    let model = api.fleet.model(ip).unwrap();
    for i in 0..3 {
        assert_eq!(model.state(i).link, LinkStatus::Up);
        assert_eq!(model.state(i).admin, AdminStatus::Up);
    }
    api.stop().await;
}

/// The text of a gNMI value (PROTO string or JSON_IETF).
fn text(v: &Option<nl6_gnmi::proto::gnmi::TypedValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Tv::StringVal(s)) => s.clone(),
        Some(Tv::JsonIetfVal(b)) | Some(Tv::JsonVal(b)) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

/// `(leaf, value)` of every update of `n`.
fn leaves(n: &Notification) -> Vec<(String, String)> {
    n.update
        .iter()
        .map(|u| {
            let leaf = u.path.as_ref().unwrap().elem.last().unwrap().name.clone();
            (leaf, text(&u.val))
        })
        .collect()
}

#[tokio::test]
async fn a_dial_in_on_change_subscriber_sees_the_change() {
    let api = Api::start().await;
    let ip = dev(23, 1);
    api.create(json!({"start_ip": ip.to_string(), "interfaces": 2}))
        .await;

    let endpoint = tonic::transport::Endpoint::from_shared(format!(
        "http://{}",
        SocketAddr::from((ip, api.dialin_port()))
    ))
    .unwrap()
    .connect_timeout(DEADLINE);
    let channel = within("dial-in connect", endpoint.connect()).await.unwrap();
    let mut client = GNmiClient::new(channel);
    let (tx, rx) = mpsc::channel(4);
    tx.send(SubscribeRequest {
        request: Some(subscribe_request::Request::Subscribe(SubscriptionList {
            mode: subscription_list::Mode::Stream as i32,
            encoding: Encoding::Proto as i32,
            subscription: vec![Subscription {
                path: Some(
                    parse_path("/interfaces/interface[name=Ethernet2]/state/oper-status").unwrap(),
                ),
                mode: SubscriptionMode::OnChange as i32,
                ..Subscription::default()
            }],
            ..SubscriptionList::default()
        })),
        extension: vec![],
    })
    .await
    .unwrap();
    let mut stream = within("subscribe", client.subscribe(ReceiverStream::new(rx)))
        .await
        .unwrap()
        .into_inner();
    // Snapshot, then sync.
    let mut synced = false;
    while !synced {
        match within("snapshot", stream.message())
            .await
            .unwrap()
            .unwrap()
            .response
        {
            Some(subscribe_response::Response::Update(n)) => {
                assert_eq!(leaves(&n), [("oper-status".to_string(), "UP".to_string())]);
            }
            Some(subscribe_response::Response::SyncResponse(true)) => synced = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    let r = api.post(&oper(ip, "2"), &json!({"status": "DOWN"})).await;
    assert_eq!(r.status, 202);
    match within("the change", stream.message())
        .await
        .unwrap()
        .unwrap()
        .response
    {
        Some(subscribe_response::Response::Update(n)) => {
            assert_eq!(
                leaves(&n),
                [("oper-status".to_string(), "DOWN".to_string())]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let status = api.get("/api/v1/gnmi/status").await.json();
    assert_eq!(status["active_subscriptions"], 1, "{status}");
    assert!(
        status["state_events_emitted"].as_u64().unwrap() >= 1,
        "{status}"
    );
    drop(stream);
    api.stop().await;
}

#[tokio::test]
async fn a_dial_out_collector_sees_the_change() {
    let collector =
        nl6_collector::start(CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let mut received = collector.subscribe();
    let api = Api::start().await;
    let ip = dev(24, 1);
    api.create(json!({
        "start_ip": ip.to_string(),
        "interfaces": 2,
        "gnmi_dialout": {
            "collector": collector.local_addr().to_string(),
            "mode": "on-change",
            "tls": {"enabled": false}
        }
    }))
    .await;
    let target = ip.to_string();
    let mine = |n: &Notification| n.prefix.as_ref().is_some_and(|p| p.target == target);
    // The on-change snapshot arrives first.
    loop {
        let got = within("the snapshot", received.recv()).await.unwrap();
        if mine(&got.notification) {
            assert!(
                leaves(&got.notification)
                    .iter()
                    .any(|(l, _)| l == "admin-status")
            );
            break;
        }
    }
    let r = api.post(&admin(ip, "1"), &json!({"status": "DOWN"})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    loop {
        let got = within("the change", received.recv()).await.unwrap();
        let leaves = leaves(&got.notification);
        if mine(&got.notification)
            && leaves
                .iter()
                .any(|(l, v)| l == "admin-status" && v.contains("DOWN"))
        {
            assert!(
                leaves
                    .iter()
                    .all(|(l, _)| !l.starts_with("in-") && !l.starts_with("out-"))
            );
            break;
        }
    }
    let status: Value = api.get("/api/v1/gnmi/dialout/status").await.json();
    let c = &status["collectors"][0];
    assert_eq!(c["collector"], collector.local_addr().to_string());
    assert_eq!(c["devices"], 1);
    assert!(c["updates_sent"].as_u64().unwrap() >= 2, "{status}");
    api.stop().await;
    collector.shutdown().await.unwrap();
}
