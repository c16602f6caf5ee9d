//! Capabilities, Get and Set over real sockets on 127/8.

mod support;

use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::get_request::DataType;
use nl6_gnmi::proto::gnmi::typed_value::Value;
use nl6_gnmi::proto::gnmi::{CapabilityRequest, Encoding, GetRequest, Path, SetRequest};
use nl6_ifstate::{Counter, LinkStatus};
use support::*;
use tonic::Code;

fn get_req(paths: &[&str], kind: DataType, encoding: Encoding) -> GetRequest {
    GetRequest {
        path: paths.iter().map(|p| parse_path(p).unwrap()).collect(),
        r#type: kind as i32,
        encoding: encoding as i32,
        ..GetRequest::default()
    }
}

#[tokio::test]
async fn capabilities_advertise_version_encodings_and_model() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let caps = client
        .capabilities(CapabilityRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(caps.g_nmi_version, "0.10.0");
    assert_eq!(
        caps.supported_encodings,
        vec![
            Encoding::Json as i32,
            Encoding::JsonIetf as i32,
            Encoding::Proto as i32
        ]
    );
    assert_eq!(caps.supported_models.len(), 1);
    assert_eq!(caps.supported_models[0].name, "openconfig-interfaces");
    assert_eq!(
        caps.supported_models[0].organization,
        "OpenConfig working group"
    );
    assert!(!caps.supported_models[0].version.is_empty());
}

#[tokio::test]
async fn get_serves_the_device_of_the_local_address() {
    let h = Harness::start(test_config()).await;
    // Make the two devices distinguishable by state.
    h.fleet
        .get(DEV_B)
        .set_link(1, LinkStatus::Down, 1_700_000_000_000_000_000);
    let oper = "/interfaces/interface[name=Ethernet2]/state/oper-status";
    for (ip, want) in [(DEV_A, "UP"), (DEV_B, "DOWN")] {
        let mut client = h.client(ip).await;
        let resp = client
            .get(get_req(&[oper], DataType::State, Encoding::Proto))
            .await
            .unwrap()
            .into_inner();
        let n = &resp.notification[0];
        assert_eq!(
            n.update[0].val.as_ref().unwrap().value,
            Some(Value::StringVal(want.into()))
        );
    }
}

#[tokio::test]
async fn get_encodings_types_prefix_and_target() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let device = h.fleet.get(DEV_A);

    // JSON_IETF: uint64 counters are strings, one instant for all values.
    let resp = client
        .get(get_req(
            &[
                "/interfaces/interface[name=Ethernet1]/state/counters/in-octets",
                "/interfaces/interface[name=Ethernet1]/state/ifindex",
            ],
            DataType::All,
            Encoding::JsonIetf,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.notification.len(), 2);
    let n0 = &resp.notification[0];
    let ts = n0.timestamp as u64;
    assert_eq!(resp.notification[1].timestamp as u64, ts);
    assert!(n0.prefix.is_none(), "no target asked, none echoed");
    let expected = device.counters_at(0, ts).get(Counter::InOctets);
    assert_eq!(
        n0.update[0].val.as_ref().unwrap().value,
        Some(Value::JsonIetfVal(format!("\"{expected}\"").into_bytes()))
    );
    assert_eq!(
        resp.notification[1].update[0].val.as_ref().unwrap().value,
        Some(Value::JsonIetfVal(b"1".to_vec()))
    );

    // PROTO with a prefix carrying a target: elems prepended, target echoed.
    let mut req = get_req(&["/state/counters"], DataType::Operational, Encoding::Proto);
    req.prefix = Some(Path {
        target: "router-a".into(),
        ..parse_path("/interfaces/interface[name=Ethernet2]").unwrap()
    });
    let resp = client.get(req).await.unwrap().into_inner();
    let n = &resp.notification[0];
    assert_eq!(n.prefix.as_ref().unwrap().target, "router-a");
    assert_eq!(n.update.len(), 12);
    assert!(matches!(
        n.update[0].val.as_ref().unwrap().value,
        Some(Value::UintVal(_))
    ));

    // CONFIG: we serve no config leaves, so one empty notification per path.
    let resp = client
        .get(get_req(&["/interfaces"], DataType::Config, Encoding::Json))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.notification.len(), 1);
    assert!(resp.notification[0].update.is_empty());
}

#[tokio::test]
async fn get_json_ietf_container_is_one_object_per_interface_and_leaf_is_bare() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let device = h.fleet.get(DEV_A);

    // Prefix `/interfaces/interface[name=*]` + path `/state` ends at the state container.
    let mut req = get_req(
        &["/state", "/state/counters/in-octets"],
        DataType::All,
        Encoding::JsonIetf,
    );
    req.prefix = Some(parse_path("/interfaces/interface[name=*]").unwrap());
    let resp = client.get(req).await.unwrap().into_inner();
    assert_eq!(resp.notification.len(), 2);
    let ts = resp.notification[0].timestamp as u64;
    let count = device.interface_count();

    let state = &resp.notification[0];
    assert_eq!(state.update.len(), count, "one update per interface");
    for (idx, update) in state.update.iter().enumerate() {
        let name = format!("Ethernet{}", idx + 1);
        assert_eq!(
            nl6_gnmi::format_path(update.path.as_ref().unwrap()),
            format!("/interfaces/interface[name={name}]/state")
        );
        let Some(Value::JsonIetfVal(text)) = &update.val.as_ref().unwrap().value else {
            panic!("not JSON_IETF: {:?}", update.val);
        };
        let object: serde_json::Value = serde_json::from_slice(text).unwrap();
        let counters = device.counters_at(idx, ts);
        assert_eq!(
            object,
            serde_json::json!({
                "openconfig-interfaces:name": name,
                "openconfig-interfaces:ifindex": idx + 1,
                "openconfig-interfaces:oper-status": "openconfig-interfaces:UP",
                "openconfig-interfaces:admin-status": "openconfig-interfaces:UP",
                "openconfig-interfaces:last-change": "0",
                "openconfig-interfaces:counters": serde_json::Value::Object(
                    Counter::ALL
                        .iter()
                        .map(|c| (c.name().to_string(), counters.get(*c).to_string().into()))
                        .collect()
                ),
            })
        );
    }

    // A leaf stays a bare value, one update per interface, from the same instant.
    let leaf = &resp.notification[1];
    assert_eq!(leaf.timestamp as u64, ts);
    assert_eq!(leaf.update.len(), count);
    let expected = device.counters_at(0, ts).get(Counter::InOctets);
    assert_eq!(
        leaf.update[0].val.as_ref().unwrap().value,
        Some(Value::JsonIetfVal(format!("\"{expected}\"").into_bytes()))
    );

    // CONFIG selects nothing, container or not.
    let mut req = get_req(&["/state"], DataType::Config, Encoding::JsonIetf);
    req.prefix = Some(parse_path("/interfaces/interface[name=*]").unwrap());
    let resp = client.get(req).await.unwrap().into_inner();
    assert!(resp.notification[0].update.is_empty());
}

#[tokio::test]
async fn get_errors_carry_gnmi_codes() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let ok = "/interfaces/interface/state/oper-status";
    let cases = [
        (
            get_req(
                &[ok, "/interfaces/interface/state/bogus"],
                DataType::All,
                Encoding::Proto,
            ),
            Code::NotFound,
        ),
        (
            get_req(
                &["/interfaces/interface[name=Ethernet9]"],
                DataType::All,
                Encoding::Proto,
            ),
            Code::NotFound,
        ),
        (
            get_req(
                &["/interfaces/interface[name=]"],
                DataType::All,
                Encoding::Proto,
            ),
            Code::InvalidArgument,
        ),
        (
            get_req(&[ok], DataType::All, Encoding::Ascii),
            Code::Unimplemented,
        ),
        (
            get_req(&[ok], DataType::All, Encoding::Bytes),
            Code::Unimplemented,
        ),
    ];
    for (req, code) in cases {
        let err = client.get(req.clone()).await.unwrap_err();
        assert_eq!(err.code(), code, "{req:?}: {err:?}");
    }
    let err = client
        .get(get_req(&[ok], DataType::All, Encoding::Ascii))
        .await
        .unwrap_err();
    assert!(err.message().contains("not supported"), "{}", err.message());
}

#[tokio::test]
async fn set_is_unimplemented() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let err = client.set(SetRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    assert!(err.message().contains("read-only"), "{}", err.message());
}

#[tokio::test]
async fn many_devices_share_one_listener_and_each_answers_for_itself() {
    let h = Harness::start(test_config()).await;
    let ips: Vec<std::net::Ipv4Addr> = (0..300u32)
        .map(|i| std::net::Ipv4Addr::new(127, 78, (i / 250) as u8, (i % 250 + 1) as u8))
        .collect();
    for (i, ip) in ips.iter().enumerate() {
        let spec = nl6_ifstate::DeviceSpec {
            seed: 1000 + i as u64,
            interfaces: 2,
            ..Default::default()
        };
        let device = nl6_ifstate::DeviceModel::new(&spec).unwrap();
        h.fleet.insert(*ip, std::sync::Arc::new(device));
    }
    assert_eq!(h.server.status().listeners, 302);
    let path = "/interfaces/interface[name=Ethernet1]/state/counters/in-octets";
    let checks = ips.iter().map(|ip| {
        let h = &h;
        async move {
            let mut client = h.client(*ip).await;
            let resp = client
                .get(get_req(&[path], DataType::State, Encoding::Proto))
                .await
                .unwrap()
                .into_inner();
            let n = &resp.notification[0];
            let want = h
                .fleet
                .get(*ip)
                .counters_at(0, n.timestamp as u64)
                .get(Counter::InOctets);
            assert_eq!(
                n.update[0].val.as_ref().unwrap().value,
                Some(Value::UintVal(want)),
                "{ip}"
            );
        }
    });
    within("300 devices answer", futures::future::join_all(checks)).await;
    assert_eq!(h.server.stats().connections_rejected(), 0);
}
