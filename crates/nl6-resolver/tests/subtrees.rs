//! Paths into a device's other subtrees (platform components, system): compiled,
//! captured and encoded like interface leaves, typed and wire bytes identical.

use std::sync::Arc;

use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::{SubscribeResponse, subscribe_response, typed_value};
use nl6_ifstate::{DeviceModel, DeviceSpec};
use nl6_platform::{Inventory, subtrees};
use nl6_resolver::{
    ResolveError, Schema, Selection, Snapshot, ValueEncoding, WireEncoder, notification,
};
use prost::Message;

const T: u64 = 1_700_000_000_000_000_000;

fn device() -> DeviceModel {
    DeviceModel::new(&DeviceSpec {
        seed: 11,
        ..DeviceSpec::default()
    })
    .unwrap()
    .with_subtrees(Arc::new(subtrees(&Inventory::default())))
}

fn select(device: &DeviceModel, paths: &[&str]) -> Result<Selection, ResolveError> {
    let paths: Vec<_> = paths.iter().map(|p| parse_path(p).unwrap()).collect();
    Selection::compile(None, &paths, Schema::of(device))
}

fn path_text(update: &nl6_gnmi::proto::gnmi::Update) -> String {
    nl6_gnmi::format_path(update.path.as_ref().unwrap())
}

#[test]
fn a_keyed_component_leaf_is_one_update_with_its_key() {
    let device = device();
    let selection = select(
        &device,
        &["/components/component[name=Chassis]/state/temperature/instant"],
    )
    .unwrap();
    assert_eq!(selection.leaf_count(), 1);
    let snapshot = Snapshot::capture(&device, T, &selection);
    let n = notification(&snapshot, selection.masks(), ValueEncoding::JsonIetf, None);
    assert_eq!(n.update.len(), 1);
    assert_eq!(
        path_text(&n.update[0]),
        "/components/component[name=Chassis]/state/temperature/instant"
    );
    let Some(typed_value::Value::JsonIetfVal(text)) = &n.update[0].val.as_ref().unwrap().value
    else {
        panic!("json_ietf value");
    };
    let text = String::from_utf8(text.clone()).unwrap();
    assert!(text.starts_with('"') && text.contains('.'), "{text}");
}

#[test]
fn wildcards_select_every_entry_and_fans_have_no_temperature() {
    let device = device();
    let selection = select(
        &device,
        &["/components/component[name=*]/state/temperature"],
    )
    .unwrap();
    let snapshot = Snapshot::capture(&device, T, &selection);
    let n = notification(&snapshot, selection.masks(), ValueEncoding::Proto, None);
    // Chassis, 2 PSUs, CPU0, 10 transceivers: 14 components × 5 leaves; 4 fans none.
    assert_eq!(n.update.len(), 14 * 5);
    assert!(n.update.iter().all(|u| !path_text(u).contains("Fan")));
}

#[test]
fn wire_bytes_equal_prost_for_interfaces_and_subtrees_together() {
    let device = device();
    let selection = select(
        &device,
        &[
            "/interfaces/interface[name=Ethernet1]/state/oper-status",
            "/components/component/state",
            "/system/cpus/cpu[index=2]/state/total",
            "/system/memory/state",
            "/system/state/boot-time",
        ],
    )
    .unwrap();
    let snapshot = Snapshot::capture(&device, T, &selection);
    for encoding in [
        ValueEncoding::Proto,
        ValueEncoding::Json,
        ValueEncoding::JsonIetf,
    ] {
        let typed = notification(&snapshot, selection.masks(), encoding, Some("10.0.0.1"));
        let mut wire = Vec::new();
        let n = WireEncoder::new(device.names()).encode_response(
            &snapshot,
            selection.masks(),
            encoding,
            Some("10.0.0.1"),
            &mut wire,
        );
        assert_eq!(n, typed.update.len());
        let expected = SubscribeResponse {
            response: Some(subscribe_response::Response::Update(typed)),
            extension: vec![],
        };
        assert_eq!(wire, expected.encode_to_vec(), "{encoding:?}");
    }
}

#[test]
fn unknown_entries_and_empty_keys_are_refused_by_name() {
    let device = device();
    let err = select(&device, &["/components/component[name=Nope]/state"]).unwrap_err();
    assert!(matches!(err, ResolveError::NoSuchEntry { .. }), "{err}");
    assert!(
        err.to_string().contains("no component with name=\"Nope\""),
        "{err}"
    );
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = select(&device, &["/system/cpus/cpu[index=]/state"]).unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    let err = select(&device, &["/components/component/state/no-such-leaf"]).unwrap_err();
    assert!(matches!(err, ResolveError::NoSuchPath { .. }), "{err}");
}

#[test]
fn a_device_without_subtrees_does_not_serve_them() {
    let bare = DeviceModel::new(&DeviceSpec::default()).unwrap();
    let err = select(&bare, &["/components/component/state"]).unwrap_err();
    assert!(matches!(err, ResolveError::NoSuchPath { .. }), "{err}");
}

#[test]
fn the_root_selects_interfaces_and_every_subtree() {
    let device = device();
    let selection = select(&device, &["/"]).unwrap();
    assert!(selection.leaf_count() > 170);
    let sampled_only = selection.restrict(nl6_resolver::LeafSet::COUNTERS);
    assert!(sampled_only.extras_only_sampled());
    let snapshot = Snapshot::capture(&device, T, &sampled_only);
    assert!(
        snapshot
            .extras()
            .iter()
            .all(|r| !matches!(r.value, nl6_model::Value::Str(_)))
    );
}
