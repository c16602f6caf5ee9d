//! Subinterfaces of a vendor profile over gNMI dial-in and dial-out: their state and
//! counters (bounded by the parent's), wildcards on either list, PROTO and JSON_IETF,
//! oper-status following the parent as ON_CHANGE, and none on the generic profile.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use common::gnmi::{
    connect, full_path, get_values, next_value, on_change_stream, try_on_change_stream,
};
use common::{Api, dev, within};
use nl6_collector::CollectorConfig;
use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::typed_value::Value as Tv;
use nl6_gnmi::proto::gnmi::{Encoding, GetRequest};
use serde_json::json;

const XR0: &str = "HundredGigE0/0/0/0";

fn sub(ifname: &str, index: u32, leaf: &str) -> String {
    format!(
        "/interfaces/interface[name={ifname}]/subinterfaces/subinterface[index={index}]/state/{leaf}"
    )
}

async fn get(api: &Api, ip: Ipv4Addr, path: &str) -> Result<BTreeMap<String, Tv>, tonic::Status> {
    get_values(ip, api.dialin_port(), path).await
}

fn uint(values: &BTreeMap<String, Tv>, path: &str) -> u64 {
    match values.get(path) {
        Some(Tv::UintVal(v)) => *v,
        other => panic!("{path}: {other:?} in {values:?}"),
    }
}

#[tokio::test]
async fn a_profiles_subinterfaces_serve_state_and_bounded_counters() {
    let api = Api::start().await;
    let (xr, generic) = (dev(130, 1), dev(130, 2));
    api.create(json!({"start_ip": xr.to_string(), "interfaces": 2, "device_type": "cisco-xr"}))
        .await;
    api.create(json!({"start_ip": generic.to_string(), "interfaces": 2}))
        .await;

    let state = get(
        &api,
        xr,
        &format!("/interfaces/interface[name={XR0}]/subinterfaces/subinterface[index=1]/state"),
    )
    .await
    .unwrap();
    assert_eq!(state.len(), 19, "{state:?}");
    assert_eq!(uint(&state, &sub(XR0, 1, "index")), 1);
    assert_eq!(
        state[&sub(XR0, 1, "name")],
        Tv::StringVal(format!("{XR0}.1"))
    );
    assert_eq!(
        state[&sub(XR0, 1, "oper-status")],
        Tv::StringVal("UP".into())
    );
    assert_eq!(
        state[&sub(XR0, 1, "admin-status")],
        Tv::StringVal("UP".into())
    );
    // Read after the subinterfaces, the parent's counters are at least their sum.
    let both = get(
        &api,
        xr,
        &format!("/interfaces/interface[name={XR0}]/subinterfaces/subinterface/state/counters"),
    )
    .await
    .unwrap();
    let parent = get(
        &api,
        xr,
        &format!("/interfaces/interface[name={XR0}]/state/counters"),
    )
    .await
    .unwrap();
    for (leaf, parent_leaf) in [
        ("in-octets", "in-octets"),
        ("out-octets", "out-octets"),
        ("in-unicast-pkts", "in-unicast-pkts"),
    ] {
        let sum: u64 = (0..2)
            .map(|i| uint(&both, &sub(XR0, i, &format!("counters/{leaf}"))))
            .sum();
        let total = uint(
            &parent,
            &format!("/interfaces/interface[name={XR0}]/state/counters/{parent_leaf}"),
        );
        assert!(sum > 0 && sum <= total, "{leaf}: {sum} > {total}");
    }
    let pkts = uint(&both, &sub(XR0, 0, "counters/in-pkts"));
    assert!(pkts >= uint(&both, &sub(XR0, 0, "counters/in-unicast-pkts")));

    // Wildcards on both lists, and the parent's entry with everything below it.
    let all = get(
        &api,
        xr,
        "/interfaces/interface[name=*]/subinterfaces/subinterface[index=*]/state/oper-status",
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 4, "{all:?}");
    let entry = get(&api, xr, &format!("/interfaces/interface[name={XR0}]"))
        .await
        .unwrap();
    assert_eq!(entry.len(), 17 + 2 * 19, "{entry:?}");
    let everything = get(&api, xr, "/interfaces").await.unwrap();
    assert_eq!(
        everything
            .keys()
            .filter(|p| p.contains("/subinterfaces/"))
            .count(),
        2 * 2 * 19
    );

    // Unknown entries, and a profile without subinterfaces, are NOT_FOUND.
    for (ip, path) in [
        (
            xr,
            "/interfaces/interface/subinterfaces/subinterface[index=2]".to_string(),
        ),
        (
            xr,
            "/interfaces/interface[name=HundredGigE0/9/0/9]/subinterfaces".to_string(),
        ),
        (generic, "/interfaces/interface/subinterfaces".to_string()),
    ] {
        let err = get(&api, ip, &path).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound, "{path}: {err}");
    }
    let bare = get(&api, generic, "/interfaces").await.unwrap();
    assert_eq!(bare.len(), 2 * 17);
    api.stop().await;
}

#[tokio::test]
async fn json_ietf_get_of_an_interface_entry_carries_its_subinterfaces() {
    let api = Api::start().await;
    let xr = dev(131, 1);
    api.create(json!({"start_ip": xr.to_string(), "interfaces": 2, "device_type": "cisco-xr"}))
        .await;
    let mut client = connect(xr, api.dialin_port()).await;
    let get = |path: &str| GetRequest {
        path: vec![parse_path(path).unwrap()],
        encoding: Encoding::JsonIetf as i32,
        ..Default::default()
    };
    let reply = within(
        "get",
        client.get(get(
            "/interfaces/interface[name=*]/subinterfaces/subinterface[index=*]/state/counters/in-octets",
        )),
    )
    .await
    .unwrap()
    .into_inner();
    let updates: Vec<_> = reply.notification.iter().flat_map(|n| &n.update).collect();
    assert_eq!(updates.len(), 4);
    for u in updates {
        let Some(Tv::JsonIetfVal(text)) = u.val.as_ref().and_then(|v| v.value.clone()) else {
            panic!("{u:?}");
        };
        let text = String::from_utf8(text).unwrap();
        // uint64 in JSON_IETF is a quoted number.
        assert!(
            text.starts_with('"') && text.trim_matches('"').parse::<u64>().is_ok(),
            "{text}"
        );
    }
    let reply = within(
        "get",
        client.get(get(&format!("/interfaces/interface[name={XR0}]"))),
    )
    .await
    .unwrap()
    .into_inner();
    let paths: Vec<String> = reply
        .notification
        .iter()
        .flat_map(|n| {
            n.update
                .iter()
                .map(|u| full_path(n.prefix.as_ref(), u.path.as_ref()))
        })
        .collect();
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.starts_with(&format!("/interfaces/interface[name={XR0}]/subinterfaces/")))
            .count(),
        2 * 19,
        "{paths:?}"
    );
    assert!(paths.contains(&format!("/interfaces/interface[name={XR0}]")));
    api.stop().await;
}

#[tokio::test]
async fn a_flapped_parent_takes_its_subinterfaces_down_for_on_change_subscribers() {
    let api = Api::start().await;
    let ip = dev(132, 1);
    api.create(json!({"start_ip": ip.to_string(), "interfaces": 2, "device_type": "juniper-mx"}))
        .await;
    let path = "/interfaces/interface[name=et-0/0/1]/subinterfaces/subinterface[index=*]/state/oper-status";
    let mut stream = on_change_stream(ip, api.dialin_port(), path, false).await;
    let want = sub("et-0/0/1", 0, "oper-status");
    assert_eq!(
        next_value(&mut stream, "the initial state").await,
        (want.clone(), Tv::StringVal("UP".into()))
    );

    let oper = format!("/api/v1/devices/{ip}/interfaces/2/oper-status");
    let reply = api.post(&oper, &json!({"status": "DOWN"})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(
        next_value(&mut stream, "the subinterface going down").await,
        (want.clone(), Tv::StringVal("DOWN".into()))
    );
    let other = get(&api, ip, &sub("et-0/0/0", 0, "oper-status"))
        .await
        .unwrap();
    assert_eq!(
        other[&sub("et-0/0/0", 0, "oper-status")],
        Tv::StringVal("UP".into())
    );
    let reply = api.post(&oper, &json!({"status": "UP"})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(
        next_value(&mut stream, "the subinterface coming back").await,
        (want, Tv::StringVal("UP".into()))
    );

    // Counters change all the time: ON_CHANGE of them alone is refused.
    let err = try_on_change_stream(
        ip,
        api.dialin_port(),
        "/interfaces/interface/subinterfaces/subinterface/state/counters",
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    api.stop().await;
}

#[tokio::test]
async fn dialout_streams_carry_subinterfaces_and_their_state_changes() {
    let (sink, mut received) = tokio::sync::mpsc::channel(1024);
    let collector = nl6_collector::start(
        CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap()).with_sink(sink),
    )
    .await
    .unwrap();
    let api = Api::start().await;
    let (on_change, sampled) = (dev(133, 1), dev(133, 2));
    let collector_addr = collector.local_addr().to_string();
    api.create(json!({
        "start_ip": on_change.to_string(), "interfaces": 2, "device_type": "cisco-xr",
        "gnmi_dialout": {"collector": collector_addr, "mode": "on-change", "encoding": "proto",
                         "paths": ["/interfaces/interface[name=*]/subinterfaces/subinterface[index=*]/state/oper-status"],
                         "tls": {"enabled": false}}
    }))
    .await;
    api.create(json!({
        "start_ip": sampled.to_string(), "interfaces": 2, "device_type": "cisco-xr",
        "gnmi_dialout": {"collector": collector_addr, "mode": "sample", "encoding": "json_ietf",
                         "sample_interval": "1s",
                         "paths": ["/interfaces/interface/subinterfaces/subinterface/state/counters/out-octets"],
                         "tls": {"enabled": false}}
    }))
    .await;
    collector
        .wait_until(common::DEADLINE, |s| s.streams_active == 2)
        .await
        .expect("the dial-out streams");

    // The sampled stream: one JSON_IETF out-octets per subinterface.
    within("sampled subinterface counters", async {
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < 4 {
            let got = received.recv().await.expect("the collector's sink");
            let n = &got.notification;
            if n.prefix
                .as_ref()
                .is_none_or(|p| p.target != sampled.to_string())
            {
                continue;
            }
            for u in &n.update {
                let path = full_path(n.prefix.as_ref(), u.path.as_ref());
                assert!(path.ends_with("/state/counters/out-octets"), "{path}");
                let value = u.val.as_ref().and_then(|v| v.value.clone());
                assert!(matches!(value, Some(Tv::JsonIetfVal(_))), "{value:?}");
                seen.insert(path);
            }
        }
    })
    .await;

    // The on-change stream: the parent goes down, so do both its subinterfaces.
    let reply = api
        .post(
            &format!("/api/v1/devices/{on_change}/interfaces/1/oper-status"),
            &json!({"status": "DOWN"}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    within("subinterfaces going down over dial-out", async {
        let mut down = std::collections::BTreeSet::new();
        while down.len() < 2 {
            let got = received.recv().await.expect("the collector's sink");
            let n = &got.notification;
            if n.prefix
                .as_ref()
                .is_none_or(|p| p.target != on_change.to_string())
            {
                continue;
            }
            for u in &n.update {
                let path = full_path(n.prefix.as_ref(), u.path.as_ref());
                let value = u.val.as_ref().and_then(|v| v.value.clone());
                if value == Some(Tv::StringVal("DOWN".into())) {
                    assert!(
                        path.starts_with(&format!(
                            "/interfaces/interface[name={XR0}]/subinterfaces/"
                        )),
                        "{path}"
                    );
                    down.insert(path);
                }
            }
        }
    })
    .await;
    api.stop().await;
    collector.shutdown().await.unwrap();
}
