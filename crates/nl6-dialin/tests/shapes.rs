//! A Junos-shaped device (profile `juniper-mx`) over real dial-in RPCs: one
//! notification per list entry with the entry as prefix and relative paths, and
//! Juniper's telemetry header on every `SubscribeResponse`.

mod support;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::{
    Encoding, GetRequest, Notification, SubscribeResponse, SubscriptionMode, subscribe_response,
    subscription_list::Mode,
};
use nl6_gnmi::proto::gnmi_ext::{ExtensionId, extension};
use nl6_gnmi::proto::juniper::GnmiJuniperTelemetryHeaderExtension;
use nl6_ifstate::{DeviceModel, DeviceSpec, LinkStatus};
use nl6_profile::ProfileRegistry;
use prost::Message;
use support::*;
use tonic::Streaming;

/// The Junos-shaped device's address.
const MX: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 3);

/// A harness whose fleet also has a `juniper-mx` device of 3 interfaces at [`MX`].
async fn harness() -> (Harness, Arc<DeviceModel>) {
    let h = Harness::start(test_config()).await;
    let profile = ProfileRegistry::builtin()
        .get("juniper-mx")
        .unwrap()
        .clone();
    let spec = DeviceSpec {
        seed: 3,
        interfaces: 3,
        naming: profile.naming(),
        ..DeviceSpec::default()
    };
    let device = Arc::new(
        DeviceModel::with_event_counters(&spec, h.events.clone())
            .unwrap()
            .with_subtrees(profile.subtrees_for(3).unwrap()),
    );
    h.fleet.insert(MX, device.clone());
    (h, device)
}

/// The next response of `rx`, whole (with its extensions).
async fn response(rx: &mut Streaming<SubscribeResponse>) -> SubscribeResponse {
    within("a Subscribe response", rx.message())
        .await
        .expect("stream ok")
        .expect("stream open")
}

fn update(response: &SubscribeResponse) -> &Notification {
    match &response.response {
        Some(subscribe_response::Response::Update(n)) => n,
        other => panic!("expected an update, got {other:?}"),
    }
}

fn header(response: &SubscribeResponse) -> GnmiJuniperTelemetryHeaderExtension {
    let [ext] = response.extension.as_slice() else {
        panic!("one extension, got {:?}", response.extension);
    };
    let Some(extension::Ext::RegisteredExt(registered)) = &ext.ext else {
        panic!("a registered extension, got {ext:?}");
    };
    assert_eq!(registered.id, ExtensionId::EidJuniperTelemetryHeader as i32);
    GnmiJuniperTelemetryHeaderExtension::decode(registered.msg.as_slice()).unwrap()
}

fn text(path: Option<&nl6_gnmi::proto::gnmi::Path>) -> String {
    nl6_gnmi::format_path(path.unwrap())
}

#[tokio::test]
async fn sample_sends_one_notification_per_interface_with_the_header() {
    let (h, _device) = harness().await;
    let mut client = h.client(MX).await;
    let l = list(
        Mode::Stream,
        vec![sub(
            "/interfaces/interface/state/counters",
            SubscriptionMode::Sample,
            Duration::from_secs(60),
        )],
    );
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    for (i, name) in ["et-0/0/0", "et-0/0/1", "et-0/0/2"].iter().enumerate() {
        let r = response(&mut s.rx).await;
        let n = update(&r);
        assert_eq!(
            text(n.prefix.as_ref()),
            format!("/interfaces/interface[name={name}]")
        );
        assert_eq!(n.update.len(), 12);
        assert_eq!(text(n.update[0].path.as_ref()), "/state/counters/in-octets");
        let h = header(&r);
        assert_eq!(h.sequence_number, i as u64);
        assert_eq!(h.system_id, MX.to_string());
        assert_eq!(h.component_id, 65_535);
        assert_eq!(h.streamed_path, "/interfaces/interface/");
        assert_eq!(h.component, "mib2d");
        assert_eq!(h.eom, i == 2);
        assert_eq!(h.payload_get_timestamp, n.timestamp / 1_000_000);
    }
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
}

#[tokio::test]
async fn on_change_events_carry_the_interface_as_prefix() {
    let (h, device) = harness().await;
    let mut client = h.client(MX).await;
    let l = list(
        Mode::Stream,
        vec![sub(
            "/interfaces/interface/state/oper-status",
            SubscriptionMode::OnChange,
            Duration::ZERO,
        )],
    );
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    for _ in 0..3 {
        assert_eq!(update(&response(&mut s.rx).await).update.len(), 1);
    }
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    device.set_link(1, LinkStatus::Down, nl6_ifstate::unix_now_ns());
    let r = response(&mut s.rx).await;
    let n = update(&r);
    assert_eq!(
        text(n.prefix.as_ref()),
        "/interfaces/interface[name=et-0/0/1]"
    );
    assert_eq!(n.prefix.as_ref().unwrap().target, "");
    assert_eq!(n.update.len(), 1);
    assert_eq!(text(n.update[0].path.as_ref()), "/state/oper-status");
    let h = header(&r);
    assert_eq!(h.sequence_number, 3);
    assert!(h.eom);
}

#[tokio::test]
async fn get_answers_one_notification_per_entry() {
    let (h, _device) = harness().await;
    let mut client = h.client(MX).await;
    let request = GetRequest {
        path: vec![
            parse_path("/interfaces/interface/state/oper-status").unwrap(),
            parse_path("/components/component[name=Chassis]/state/serial-no").unwrap(),
        ],
        encoding: Encoding::Proto as i32,
        ..GetRequest::default()
    };
    let got = within("Get", client.get(request))
        .await
        .unwrap()
        .into_inner();
    let prefixes: Vec<String> = got
        .notification
        .iter()
        .map(|n| text(n.prefix.as_ref()))
        .collect();
    assert_eq!(
        prefixes,
        [
            "/interfaces/interface[name=et-0/0/0]",
            "/interfaces/interface[name=et-0/0/1]",
            "/interfaces/interface[name=et-0/0/2]",
            "/components/component[name=Chassis]",
        ]
    );
    assert_eq!(
        text(got.notification[3].update[0].path.as_ref()),
        "/state/serial-no"
    );
}

#[tokio::test]
async fn a_flat_device_keeps_absolute_paths_and_no_extension() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let l = list(
        Mode::Once,
        vec![sub(
            "/interfaces/interface/state/oper-status",
            SubscriptionMode::Sample,
            Duration::ZERO,
        )],
    );
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    let r = response(&mut s.rx).await;
    assert!(r.extension.is_empty());
    let n = update(&r);
    assert!(n.prefix.is_none());
    assert_eq!(n.update.len(), 4);
    assert_eq!(
        text(n.update[0].path.as_ref()),
        "/interfaces/interface[name=Ethernet1]/state/oper-status"
    );
}
