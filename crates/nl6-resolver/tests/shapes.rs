//! Notification shapes: a Junos-shaped device sends one `SubscribeResponse` per list
//! entry (the entry as prefix, relative paths) with Juniper's telemetry header, and the
//! same values as the flat shape.

use std::sync::Arc;

use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::{Notification, SubscribeResponse, subscribe_response};
use nl6_gnmi::proto::gnmi_ext::{ExtensionId, extension};
use nl6_gnmi::proto::juniper::GnmiJuniperTelemetryHeaderExtension;
use nl6_ifstate::{DeviceModel, DeviceSpec, InterfaceNaming};
use nl6_platform::{Inventory, subtrees};
use nl6_resolver::{
    JUNOS_RE_COMPONENT_ID, NotificationShape, ResponseEncoder, Schema, Selection, Snapshot,
    ValueEncoding, notification,
};
use prost::Message;

const T: u64 = 1_700_000_000_000_000_000;

fn device(shape: NotificationShape) -> DeviceModel {
    DeviceModel::new(&DeviceSpec {
        seed: 5,
        interfaces: 3,
        naming: InterfaceNaming::Junos,
        ..DeviceSpec::default()
    })
    .unwrap()
    .with_subtrees(Arc::new(subtrees(&Inventory::default()).with_shape(shape)))
}

/// The responses `paths` encode to on a device of `shape`.
fn responses(shape: NotificationShape, paths: &[&str]) -> Vec<SubscribeResponse> {
    let device = device(shape);
    let paths: Vec<_> = paths.iter().map(|p| parse_path(p).unwrap()).collect();
    let selection = Selection::compile(None, &paths, Schema::of(&device)).unwrap();
    let snapshot = Snapshot::capture(&device, T, &selection);
    let mut encoder = ResponseEncoder::new(&device);
    assert_eq!(encoder.shape(), shape);
    let mut out = Vec::new();
    let total = encoder.encode(
        &snapshot,
        selection.masks(),
        ValueEncoding::Proto,
        Some("127.0.0.9"),
        &mut |bytes, updates| out.push((bytes, updates)),
    );
    assert_eq!(total, out.iter().map(|(_, n)| n).sum::<usize>());
    out.into_iter()
        .map(|(bytes, updates)| {
            let response = SubscribeResponse::decode(bytes.as_slice()).unwrap();
            assert_eq!(update_of(&response).update.len(), updates);
            response
        })
        .collect()
}

fn update_of(response: &SubscribeResponse) -> &Notification {
    match &response.response {
        Some(subscribe_response::Response::Update(n)) => n,
        other => panic!("not an update: {other:?}"),
    }
}

fn header(response: &SubscribeResponse) -> GnmiJuniperTelemetryHeaderExtension {
    let [ext] = response.extension.as_slice() else {
        panic!("one extension: {:?}", response.extension);
    };
    let Some(extension::Ext::RegisteredExt(registered)) = &ext.ext else {
        panic!("a registered extension");
    };
    assert_eq!(registered.id, ExtensionId::EidJuniperTelemetryHeader as i32);
    assert_eq!(registered.id, 1);
    GnmiJuniperTelemetryHeaderExtension::decode(registered.msg.as_slice()).unwrap()
}

/// (absolute path, value) of every update, whatever the shape.
fn absolute(responses: &[SubscribeResponse]) -> Vec<(String, String)> {
    responses
        .iter()
        .flat_map(|r| {
            let n = update_of(r);
            let prefix = n.prefix.clone().unwrap_or_default();
            n.update.iter().map(move |u| {
                let mut path = prefix.clone();
                path.target.clear();
                path.elem.extend(u.path.clone().unwrap().elem);
                (nl6_gnmi::format_path(&path), format!("{:?}", u.val))
            })
        })
        .collect()
}

const PATHS: &[&str] = &[
    "/interfaces/interface/state",
    "/components/component[name=Chassis]/state/temperature",
    "/system/memory/state",
];

#[test]
fn junos_sends_one_response_per_list_entry_with_the_header() {
    let junos = responses(NotificationShape::Junos, PATHS);
    let prefixes: Vec<String> = junos
        .iter()
        .map(|r| nl6_gnmi::format_path(update_of(r).prefix.as_ref().unwrap()))
        .collect();
    assert_eq!(
        prefixes,
        [
            "/interfaces/interface[name=et-0/0/0]",
            "/interfaces/interface[name=et-0/0/1]",
            "/interfaces/interface[name=et-0/0/2]",
            "/components/component[name=Chassis]",
            "/system/memory/state",
        ]
    );
    let first = update_of(&junos[0]);
    assert_eq!(first.prefix.as_ref().unwrap().target, "127.0.0.9");
    assert_eq!(first.timestamp, T as i64);
    assert_eq!(first.update.len(), 17);
    assert_eq!(
        nl6_gnmi::format_path(first.update[2].path.as_ref().unwrap()),
        "/state/oper-status"
    );
    for (i, response) in junos.iter().enumerate() {
        let h = header(response);
        assert_eq!(h.sequence_number, i as u64);
        assert_eq!(h.system_id, "127.0.0.9");
        assert_eq!(h.component_id, JUNOS_RE_COMPONENT_ID);
        assert_eq!(h.payload_get_timestamp, (T / 1_000_000) as i64);
        assert_eq!(h.eom, i == junos.len() - 1);
        assert!(h.sensor_name.starts_with("sensor_"), "{}", h.sensor_name);
    }
    let h = header(&junos[0]);
    assert_eq!(h.streamed_path, "/interfaces/interface/");
    assert_eq!(h.subscribed_path, "/interfaces/interface/");
    assert_eq!(h.component, "mib2d");
    assert_eq!(header(&junos[3]).component, "chassisd");

    // The same values as the flat shape, which stays one response without extension.
    let flat = responses(NotificationShape::Flat, PATHS);
    assert_eq!(flat.len(), 1);
    assert!(flat[0].extension.is_empty());
    assert_eq!(absolute(&junos), absolute(&flat));

    // Prefixed: the same split, no header.
    let prefixed = responses(NotificationShape::Prefixed, PATHS);
    assert_eq!(prefixed.len(), junos.len());
    assert!(prefixed.iter().all(|r| r.extension.is_empty()));
    assert_eq!(absolute(&prefixed), absolute(&flat));
}

#[test]
fn get_notifications_split_per_entry_without_a_header() {
    let device = device(NotificationShape::Junos);
    let path = parse_path("/interfaces/interface[name=et-0/0/1]/state/counters").unwrap();
    let selection = Selection::compile(None, &[path], Schema::of(&device)).unwrap();
    let snapshot = Snapshot::capture(&device, T, &selection);
    let mut bytes = Vec::new();
    let mut encoder = ResponseEncoder::new(&device);
    let n = encoder.encode_notifications(
        &snapshot,
        selection.masks(),
        ValueEncoding::Proto,
        None,
        &mut bytes,
    );
    assert_eq!(n, 12);
    let get = nl6_gnmi::proto::gnmi::GetResponse::decode(bytes.as_slice()).unwrap();
    let typed = nl6_resolver::shaped(
        vec![notification(
            &snapshot,
            selection.masks(),
            ValueEncoding::Proto,
            None,
        )],
        NotificationShape::Junos,
    );
    assert_eq!(get.notification, typed);
    assert_eq!(typed.len(), 1);
    assert_eq!(
        nl6_gnmi::format_path(typed[0].prefix.as_ref().unwrap()),
        "/interfaces/interface[name=et-0/0/1]"
    );
}
