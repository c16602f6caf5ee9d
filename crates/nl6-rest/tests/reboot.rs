//! `POST /api/v1/devices/{ip}/reboot`: the new boot time, counters that restart at 0 as a
//! dial-in gNMI Get reads them, `last-change` on-change updates, and the errors.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::gnmi::{connect, on_change_stream};
use common::{Api, dev, within};
use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use nl6_gnmi::proto::gnmi::typed_value::Value as Tv;
use nl6_gnmi::proto::gnmi::{Encoding, GetRequest, subscribe_response};
use serde_json::{Value, json};
use tonic::transport::Channel;

fn reboot(ip: Ipv4Addr) -> String {
    format!("/api/v1/devices/{ip}/reboot")
}

/// `(interface name, leaf) → uint value` of a PROTO Get of `paths`.
async fn get_u64(
    client: &mut GNmiClient<Channel>,
    paths: &[&str],
) -> BTreeMap<(String, String), u64> {
    let reply = client
        .get(GetRequest {
            path: paths.iter().map(|p| parse_path(p).unwrap()).collect(),
            encoding: Encoding::Proto as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = BTreeMap::new();
    for n in reply.notification {
        for u in n.update {
            let path = u.path.unwrap();
            let name = path.elem[1].key["name"].clone();
            let leaf = path.elem.last().unwrap().name.clone();
            match u.val.and_then(|v| v.value) {
                Some(Tv::UintVal(v)) => out.insert((name, leaf), v),
                other => panic!("{leaf}: not a uint: {other:?}"),
            };
        }
    }
    out
}

fn parse_time(v: &Value) -> SystemTime {
    humantime::parse_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}"))).unwrap()
}

#[tokio::test]
async fn devices_boot_apart_and_a_reboot_restarts_their_counters() {
    let before_start = SystemTime::now();
    let api = Api::start().await;
    let first = dev(40, 1);
    api.create(json!({"start_ip": first.to_string(), "device_count": 20, "interfaces": 4}))
        .await;

    // Every device has its own boot time, 1 to 400 days before the fleet started.
    let page = api.get("/api/v1/devices?limit=100").await.json();
    let boots: Vec<SystemTime> = page["data"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| parse_time(&d["boot_time"]))
        .collect();
    assert_eq!(boots.len(), 20);
    let distinct: std::collections::BTreeSet<_> = boots.iter().collect();
    assert!(distinct.len() >= 19, "{boots:?}");
    let day = Duration::from_secs(86_400);
    for b in &boots {
        let up = before_start.duration_since(*b).unwrap();
        assert!(
            up >= day - Duration::from_secs(1) && up <= 400 * day,
            "{up:?}"
        );
    }

    let ip = dev(40, 7);
    let view = api.get(&format!("/api/v1/devices/{ip}")).await.json();
    let booted = parse_time(&view["data"]["boot_time"]);
    assert_eq!(booted, boots[6]);

    // Counters as a dial-in Get reads them: traffic since that boot, not since 1970.
    let mut gnmi = connect(ip, api.dialin_port()).await;
    let paths = [
        "/interfaces/interface[name=*]/state/counters/in-octets",
        "/interfaces/interface[name=*]/state/last-change",
    ];
    let old = get_u64(&mut gnmi, &paths).await;
    let up_s = SystemTime::now()
        .duration_since(booted)
        .unwrap()
        .as_secs_f64();
    let octets = old[&("Ethernet1".to_string(), "in-octets".to_string())] as f64;
    let mean_rate = octets / up_s * 8.0 / 1e9;
    assert!((0.79..=0.81).contains(&mean_rate), "mean load {mean_rate}");

    // An ON_CHANGE subscriber of last-change, synced before the reboot.
    let mut stream = on_change_stream(
        ip,
        api.dialin_port(),
        "/interfaces/interface[name=*]/state/last-change",
        true,
    )
    .await;
    match within("sync", stream.message())
        .await
        .unwrap()
        .unwrap()
        .response
    {
        Some(subscribe_response::Response::SyncResponse(true)) => {}
        other => panic!("expected sync_response, got {other:?}"),
    }

    let before_reboot = SystemTime::now();
    let r = api.post_raw(&reboot(ip), None, "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["data"]["ip"], ip.to_string());
    let boot_ns = body["data"]["boot_time_ns"].as_u64().unwrap();
    let boot = UNIX_EPOCH + Duration::from_nanos(boot_ns);
    assert_eq!(parse_time(&body["data"]["boot_time"]), boot);
    assert!(boot <= SystemTime::now() && boot + Duration::from_secs(1) > before_reboot);
    let view = api.get(&format!("/api/v1/devices/{ip}")).await.json();
    assert_eq!(parse_time(&view["data"]["boot_time"]), boot);

    // The counters dropped (a discontinuity) and every last-change is the boot time.
    let new = get_u64(&mut gnmi, &paths).await;
    let since_boot_s = SystemTime::now()
        .duration_since(boot)
        .unwrap()
        .as_secs_f64();
    for i in 1..=4 {
        let name = format!("Ethernet{i}");
        let was = old[&(name.clone(), "in-octets".to_string())];
        let now = new[&(name.clone(), "in-octets".to_string())];
        assert!(now < was / 1_000, "{name}: {was} -> {now}");
        assert!(
            now as f64 <= since_boot_s * 1.25e8 + 1.0,
            "{name}: {now} after {since_boot_s}s"
        );
        assert_eq!(new[&(name, "last-change".to_string())], boot_ns);
    }
    // The subscriber got last-change = boot time for each interface.
    let mut seen = BTreeMap::new();
    while seen.len() < 4 {
        match within("the last-change updates", stream.message())
            .await
            .unwrap()
            .unwrap()
            .response
        {
            Some(subscribe_response::Response::Update(n)) => {
                for u in n.update {
                    let path = u.path.unwrap();
                    let name = path.elem[1].key["name"].clone();
                    assert_eq!(path.elem.last().unwrap().name, "last-change");
                    assert_eq!(u.val.and_then(|v| v.value), Some(Tv::UintVal(boot_ns)));
                    seen.insert(name, ());
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The other devices kept their boot time.
    let other = api
        .get(&format!("/api/v1/devices/{}", dev(40, 8)))
        .await
        .json();
    assert_eq!(parse_time(&other["data"]["boot_time"]), boots[7]);
    drop(stream);
    api.stop().await;
}

#[tokio::test]
async fn rebooting_an_unknown_device_is_404_and_a_bad_address_400() {
    let api = Api::start().await;
    api.create(json!({"start_ip": dev(41, 1).to_string()}))
        .await;
    let r = api.post(&reboot(dev(41, 9)), &json!({})).await;
    r.assert_error(404, &["no device 127.81.41.9"]);
    let r = api
        .post_raw("/api/v1/devices/127.81/reboot", None, "")
        .await;
    r.assert_error(400, &["not an IPv4 address"]);
    let r = api.get(&reboot(dev(41, 1))).await;
    r.assert_error(405, &["GET"]);
    api.stop().await;
}

#[tokio::test]
async fn an_on_change_subscriber_of_boot_time_sees_the_reboot() {
    let api = Api::start().await;
    let ip = dev(44, 1);
    api.create(json!({"start_ip": ip.to_string(), "device_count": 1, "device_type": "juniper-mx"}))
        .await;
    let mut stream =
        on_change_stream(ip, api.dialin_port(), "/system/state/boot-time", false).await;
    // The boot time as a subscriber reads it: one `uint_val` update per notification.
    async fn next_boot_time(
        stream: &mut tonic::Streaming<nl6_gnmi::proto::gnmi::SubscribeResponse>,
    ) -> u64 {
        loop {
            match within("boot-time update", stream.message())
                .await
                .unwrap()
                .unwrap()
                .response
            {
                Some(subscribe_response::Response::Update(n)) => {
                    assert_eq!(n.update.len(), 1, "{n:?}");
                    match n.update[0].val.as_ref().and_then(|v| v.value.clone()) {
                        Some(Tv::UintVal(v)) => return v,
                        other => panic!("boot-time is not a uint: {other:?}"),
                    }
                }
                Some(subscribe_response::Response::SyncResponse(true)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let view = api.get(&format!("/api/v1/devices/{ip}")).await.json();
    let seeded = parse_time(&view["data"]["boot_time"]);
    let first = next_boot_time(&mut stream).await;
    assert_eq!(UNIX_EPOCH + Duration::from_nanos(first), seeded);

    let r = api.post_raw(&reboot(ip), None, "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let boot_ns = r.json()["data"]["boot_time_ns"].as_u64().unwrap();
    assert!(boot_ns > first);
    assert_eq!(next_boot_time(&mut stream).await, boot_ns);
}
