//! BGP neighbours of a vendor profile over gNMI dial-in: the neighbour count of the
//! profile, keys on three lists in every path, session state as ON_CHANGE, prefix
//! counters as SAMPLE, and unknown neighbours refused.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use common::gnmi::{
    connect, full_path, get_values, next_value, on_change_stream, try_on_change_stream,
};
use common::{Api, dev, within};
use nl6_gnmi::format_path;
use nl6_gnmi::proto::gnmi::typed_value::Value as Tv;
use nl6_gnmi::proto::gnmi::{CapabilityRequest, subscribe_response};
use serde_json::json;

const BGP: &str = "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

/// `path → value` of a PROTO Get of `path` on the device at `ip`.
async fn get(api: &Api, ip: Ipv4Addr, path: &str) -> Result<BTreeMap<String, Tv>, tonic::Status> {
    get_values(ip, api.dialin_port(), path).await
}

#[tokio::test]
async fn a_profiles_bgp_neighbors_are_served_with_state_and_prefixes() {
    let api = Api::start().await;
    let (mx, eos) = (dev(97, 1), dev(97, 2));
    api.create(json!({"start_ip": mx.to_string(), "interfaces": 2, "device_type": "juniper-mx"}))
        .await;
    api.create(json!({"start_ip": eos.to_string(), "interfaces": 2, "device_type": "arista-eos"}))
        .await;

    let states = get(
        &api,
        mx,
        &format!("{BGP}/neighbors/neighbor/state/session-state"),
    )
    .await
    .unwrap();
    assert_eq!(
        states.len(),
        16,
        "juniper-mx declares 16 neighbours: {states:?}"
    );
    assert!(
        states
            .values()
            .all(|v| *v == Tv::StringVal("ESTABLISHED".into()))
    );
    let eos_states = get(&api, eos, &format!("{BGP}/neighbors")).await.unwrap();
    assert_eq!(
        eos_states
            .keys()
            .filter(|p| p.ends_with("/session-state"))
            .count(),
        4
    );

    let one = format!("{BGP}/neighbors/neighbor[neighbor-address=10.255.0.2]");
    let state = get(&api, mx, &format!("{one}/state")).await.unwrap();
    assert_eq!(
        state[&format!("{one}/state/neighbor-address")],
        Tv::StringVal("10.255.0.2".into())
    );
    let Tv::UintVal(peer_as) = state[&format!("{one}/state/peer-as")] else {
        panic!("{state:?}");
    };
    assert!((65_000..65_500).contains(&peer_as));
    assert_eq!(
        state[&format!("{one}/state/peer-type")],
        Tv::StringVal("EXTERNAL".into())
    );

    let afi = format!("{one}/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/state");
    let prefixes = get(&api, mx, &format!("{afi}/prefixes")).await.unwrap();
    let count = |leaf: &str| match prefixes[&format!("{afi}/prefixes/{leaf}")] {
        Tv::UintVal(v) => v,
        ref other => panic!("{other:?}"),
    };
    assert!(count("installed") <= count("received") && count("received") >= 990);
    assert!(count("sent") >= 9);

    // Unknown neighbours and families are NOT_FOUND.
    for path in [
        format!("{BGP}/neighbors/neighbor[neighbor-address=10.255.0.17]"),
        format!("{one}/afi-safis/afi-safi[afi-safi-name=IPV6_UNICAST]"),
        "/network-instances/network-instance[name=mgmt]".to_string(),
    ] {
        let err = get(&api, mx, &path).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound, "{path}: {err}");
    }

    let mut client = connect(mx, api.dialin_port()).await;
    let caps = within(
        "capabilities",
        client.capabilities(CapabilityRequest::default()),
    )
    .await
    .unwrap()
    .into_inner();
    assert!(
        caps.supported_models
            .iter()
            .any(|m| m.name == "openconfig-network-instance"),
        "{caps:?}"
    );
    api.stop().await;
}

#[tokio::test]
async fn session_state_is_on_change_and_prefix_counters_are_sample_only() {
    let api = Api::start().await;
    let ip = dev(98, 1);
    api.create(json!({"start_ip": ip.to_string(), "interfaces": 2, "device_type": "sonic"}))
        .await;
    let mut stream = on_change_stream(
        ip,
        api.dialin_port(),
        &format!("{BGP}/neighbors/neighbor/state/session-state"),
        false,
    )
    .await;
    let first = within("the initial states", stream.message())
        .await
        .unwrap()
        .unwrap();
    let Some(subscribe_response::Response::Update(n)) = first.response else {
        panic!("{first:?}");
    };
    let paths: Vec<String> = n
        .update
        .iter()
        .map(|u| format_path(u.path.as_ref().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [
            format!("{BGP}/neighbors/neighbor[neighbor-address=10.255.0.1]/state/session-state"),
            format!("{BGP}/neighbors/neighbor[neighbor-address=10.255.0.2]/state/session-state"),
        ]
    );
    let sync = within("sync", stream.message()).await.unwrap().unwrap();
    assert!(matches!(
        sync.response,
        Some(subscribe_response::Response::SyncResponse(true))
    ));

    let err = try_on_change_stream(
        ip,
        api.dialin_port(),
        &format!("{BGP}/neighbors/neighbor/afi-safis/afi-safi/state/prefixes/received"),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    assert!(err.message().contains("SAMPLE"), "{err}");
    api.stop().await;
}

#[tokio::test]
async fn a_session_goes_down_and_up_with_the_interface_it_runs_over() {
    let api = Api::start().await;
    let ip = dev(98, 2);
    api.create(json!({"start_ip": ip.to_string(), "interfaces": 2, "device_type": "juniper-mx"}))
        .await;
    // Neighbour 10.255.0.3 (the third) runs over the first interface, et-0/0/0.
    let one = format!("{BGP}/neighbors/neighbor[neighbor-address=10.255.0.3]");
    let state = format!("{one}/state/session-state");
    let mut stream = on_change_stream(ip, api.dialin_port(), &state, false).await;
    assert_eq!(
        next_value(&mut stream, "the initial state").await,
        (state.clone(), Tv::StringVal("ESTABLISHED".into()))
    );

    let oper = format!("/api/v1/devices/{ip}/interfaces/1/oper-status");
    let reply = api.post(&oper, &json!({"status": "DOWN"})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(
        next_value(&mut stream, "the session going down").await,
        (state.clone(), Tv::StringVal("ACTIVE".into()))
    );
    let afi = format!("{one}/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/state");
    let down = get(&api, ip, &afi).await.unwrap();
    assert_eq!(down[&format!("{afi}/prefixes/received")], Tv::UintVal(0));
    assert_eq!(down[&format!("{afi}/active")], Tv::BoolVal(false));
    // A neighbour over the other interface stays up.
    let other = get(
        &api,
        ip,
        &format!("{BGP}/neighbors/neighbor[neighbor-address=10.255.0.2]/state/session-state"),
    )
    .await
    .unwrap();
    assert!(
        other
            .values()
            .all(|v| *v == Tv::StringVal("ESTABLISHED".into()))
    );

    let reply = api.post(&oper, &json!({"status": "UP"})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(
        next_value(&mut stream, "the session coming back").await,
        (state.clone(), Tv::StringVal("ESTABLISHED".into()))
    );
    let up = get(&api, ip, &format!("{one}/state/last-established"))
        .await
        .unwrap();
    let Tv::UintVal(since) = up[&format!("{one}/state/last-established")] else {
        panic!("{up:?}");
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(
        now - since < 60_000_000_000,
        "established {since}, now {now}"
    );
    api.stop().await;
}

#[tokio::test]
async fn a_bgp_flap_goes_idle_active_established_and_counts_the_transition() {
    let api = Api::start().await;
    let (ip, bare) = (dev(98, 3), dev(98, 4));
    api.create(json!({"start_ip": ip.to_string(), "interfaces": 2, "device_type": "sonic"}))
        .await;
    api.create(json!({"start_ip": bare.to_string(), "interfaces": 2}))
        .await;
    let one = format!("{BGP}/neighbors/neighbor[neighbor-address=10.255.0.2]");
    let state = format!("{one}/state/session-state");
    let transitions = format!("{one}/state/established-transitions");
    let read = |path: String| {
        let api = &api;
        async move {
            match get(api, ip, &path).await.unwrap().remove(&path) {
                Some(Tv::UintVal(v)) => v,
                other => panic!("{path}: {other:?}"),
            }
        }
    };
    assert_eq!(read(transitions.clone()).await, 1);
    let mut stream = on_change_stream(ip, api.dialin_port(), &state, false).await;
    assert_eq!(
        next_value(&mut stream, "the initial state").await,
        (state.clone(), Tv::StringVal("ESTABLISHED".into()))
    );

    let flap =
        "/api/v1/devices/{ip}/bgp/neighbors/10.255.0.2/flap".replace("{ip}", &ip.to_string());
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let reply = api.post(&flap, &json!({"duration": "1s"})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.json()["data"]["down_ms"], 1000);
    // One flap of a session at a time.
    let again = api.post(&flap, &json!({})).await;
    again.assert_error(409, &["flapping already"]);
    for want in ["IDLE", "ACTIVE", "ESTABLISHED"] {
        assert_eq!(
            next_value(&mut stream, want).await,
            (state.clone(), Tv::StringVal(want.into()))
        );
    }
    assert_eq!(read(transitions.clone()).await, 2);
    let since = read(format!("{one}/state/last-established")).await;
    assert!(since >= before + 1_000_000_000, "{since} < {before} + 1 s");
    // The other session never went down.
    assert_eq!(
        get(&api, ip, &format!("{BGP}/neighbors/neighbor[neighbor-address=10.255.0.1]/state/established-transitions"))
            .await
            .unwrap()
            .into_values()
            .collect::<Vec<_>>(),
        [Tv::UintVal(1)]
    );

    // Bad requests name what is wrong; nothing starts.
    let base = format!("/api/v1/devices/{ip}/bgp/neighbors");
    api.post(&format!("{base}/10.255.0.3/flap"), &json!({}))
        .await
        .assert_error(404, &["10.255.0.3", "10.255.0.1 … 10.255.0.2"]);
    api.post(
        &format!("{base}/10.255.0.1/flap"),
        &json!({"duration": "2h"}),
    )
    .await
    .assert_error(400, &["duration"]);
    api.post(
        &format!("{base}/10.255.0.1/flap"),
        &json!({"duration": "0s"}),
    )
    .await
    .assert_error(400, &["duration"]);
    api.post(&format!("{base}/10.255.0.1/flap"), &json!({"length": "2s"}))
        .await
        .assert_error(400, &["unknown field `length`"]);
    api.post(
        &format!("/api/v1/devices/{bare}/bgp/neighbors/10.255.0.1/flap"),
        &json!({}),
    )
    .await
    .assert_error(404, &["no BGP"]);
    assert_eq!(
        get(
            &api,
            ip,
            &format!("{BGP}/neighbors/neighbor[neighbor-address=10.255.0.1]/state/session-state")
        )
        .await
        .unwrap()
        .into_values()
        .collect::<Vec<_>>(),
        [Tv::StringVal("ESTABLISHED".into())]
    );

    // A reboot starts the count over.
    let reply = api
        .post(&format!("/api/v1/devices/{ip}/reboot"), &json!({}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(read(transitions).await, 1);
    api.stop().await;
}

#[tokio::test]
async fn a_batch_bgp_flap_scenario_flaps_sessions_on_its_own() {
    let api = Api::start().await;
    let first = dev(98, 10);
    let reply = api
        .post(
            "/api/v1/devices",
            &json!({"start_ip": first.to_string(), "device_count": 4, "interfaces": 2,
                    "device_type": "juniper-mx", "bgp_flap_scenario": "aggressive"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let one = api.get(&format!("/api/v1/devices/{first}")).await.json();
    assert_eq!(one["data"]["config"]["bgp_flap_scenario"], "aggressive");
    let ips: Vec<Ipv4Addr> = (10..14).map(|h| dev(98, h)).collect();
    let path = format!("{BGP}/neighbors/neighbor/state/established-transitions");
    // 64 sessions, each flapping once a minute on average: one has ended a flap soon.
    common::wait_until("a session that flapped on its own", || {
        let (api, ips, path) = (&api, &ips, &path);
        async move {
            for &ip in ips {
                let counts = get(api, ip, path).await.unwrap();
                if counts
                    .values()
                    .any(|v| matches!(v, Tv::UintVal(n) if *n >= 2))
                {
                    return true;
                }
            }
            false
        }
    })
    .await;
    let err = api
        .post(
            "/api/v1/devices",
            &json!({"start_ip": dev(98, 20).to_string(), "bgp_flap_scenario": "often"}),
        )
        .await;
    err.assert_error(400, &["bgp_flap_scenario", "aggressive"]);
    api.stop().await;
}

#[tokio::test]
async fn an_on_change_dialout_stream_carries_each_step_of_a_bgp_flap() {
    let (sink, mut received) = tokio::sync::mpsc::channel(256);
    let collector = nl6_collector::start(
        nl6_collector::CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap()).with_sink(sink),
    )
    .await
    .unwrap();
    let api = Api::start().await;
    let ip = dev(98, 30);
    let state =
        format!("{BGP}/neighbors/neighbor[neighbor-address=10.255.0.1]/state/session-state");
    api.create(json!({
        "start_ip": ip.to_string(), "interfaces": 2, "device_type": "sonic",
        "gnmi_dialout": {"collector": collector.local_addr().to_string(), "mode": "on-change",
                         "encoding": "proto", "paths": [state.clone()], "tls": {"enabled": false}}
    }))
    .await;
    collector
        .wait_until(common::DEADLINE, |s| s.streams_active == 1)
        .await
        .expect("the dial-out stream");
    let mut seen: Vec<String> = Vec::new();
    let mut wait_for = async |count: usize, what: &str| {
        within(what, async {
            while seen.len() < count {
                let got = received.recv().await.expect("the collector's sink");
                let n = &got.notification;
                for u in &n.update {
                    assert_eq!(full_path(n.prefix.as_ref(), u.path.as_ref()), state);
                    match u.val.as_ref().and_then(|v| v.value.clone()) {
                        Some(Tv::StringVal(s)) => seen.push(s),
                        other => panic!("{other:?}"),
                    }
                }
            }
        })
        .await;
        seen.clone()
    };
    assert_eq!(
        wait_for(1, "the stream's first snapshot").await,
        ["ESTABLISHED"]
    );
    let reply = api
        .post(
            &format!("/api/v1/devices/{ip}/bgp/neighbors/10.255.0.1/flap"),
            &json!({"duration": "1s"}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(
        wait_for(4, "the flap over dial-out").await,
        ["ESTABLISHED", "IDLE", "ACTIVE", "ESTABLISHED"]
    );
    api.stop().await;
    collector.shutdown().await.unwrap();
}
