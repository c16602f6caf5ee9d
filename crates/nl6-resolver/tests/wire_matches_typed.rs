//! The fast wire encoder and the typed API produce identical bytes.

use std::sync::Arc;

use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::{SubscribeResponse, subscribe_response::Response};
use nl6_ifstate::{AdminStatus, DeviceModel, DeviceSpec, ErrorScenario, LinkStatus};
use nl6_resolver::{LeafSet, Selection, Snapshot, ValueEncoding, WireEncoder, notification};
use proptest::prelude::*;
use prost::Message;

fn typed_bytes(
    snapshot: &Snapshot<'_>,
    masks: &[LeafSet],
    enc: ValueEncoding,
    target: Option<&str>,
) -> Vec<u8> {
    SubscribeResponse {
        response: Some(Response::Update(notification(snapshot, masks, enc, target))),
        extension: vec![],
    }
    .encode_to_vec()
}

const ENCODINGS: [ValueEncoding; 3] = [
    ValueEncoding::Proto,
    ValueEncoding::JsonIetf,
    ValueEncoding::Json,
];

proptest! {
    #[test]
    fn wire_equals_typed(seed in any::<u64>(), interfaces in 1u32..40, t in 0u64..4_000_000_000_000_000_000,
                         masks in proptest::collection::vec(0u32..(1 << 17), 40),
                         target in proptest::option::of("[a-z0-9.:]{0,20}"),
                         flip in any::<bool>()) {
        let spec = DeviceSpec { seed, interfaces, errors: ErrorScenario::Failing, ..DeviceSpec::default() };
        let device = Arc::new(DeviceModel::new(&spec).unwrap());
        if flip {
            device.set_admin(0, AdminStatus::Down, t / 2);
            device.set_link(interfaces as usize - 1, LinkStatus::Down, t / 3);
        }
        let all = Selection::all(interfaces as usize);
        let snapshot = Snapshot::capture(&device, t, &all);
        let masks: Vec<LeafSet> = masks.iter().take(interfaces as usize)
            .map(|m| LeafSet::from_bits(*m)).collect();
        let mut encoder = WireEncoder::new(device.names());
        for enc in ENCODINGS {
            let mut wire = Vec::new();
            let n = encoder.encode_response(&snapshot, &masks, enc, target.as_deref(), &mut wire);
            prop_assert_eq!(n, masks.iter().map(|m| m.len()).sum::<usize>());
            prop_assert_eq!(&wire, &typed_bytes(&snapshot, &masks, enc, target.as_deref()));
        }
    }
}

#[test]
fn full_state_subtree_is_170_leaves_and_decodes() {
    let device = Arc::new(DeviceModel::new(&DeviceSpec::default()).unwrap());
    let sel = Selection::compile(
        None,
        &[parse_path("/interfaces/interface[name=*]/state").unwrap()],
        device.names(),
    )
    .unwrap();
    let snapshot = Snapshot::capture(&device, 1_800_000_000_000_000_000, &sel);
    let mut encoder = WireEncoder::new(device.names());
    let mut wire = Vec::new();
    assert_eq!(
        encoder.encode_response(
            &snapshot,
            sel.masks(),
            ValueEncoding::JsonIetf,
            None,
            &mut wire
        ),
        170
    );
    let decoded = SubscribeResponse::decode(wire.as_slice()).unwrap();
    let Some(Response::Update(n)) = decoded.response else {
        panic!("not an update")
    };
    assert!(n.prefix.is_none(), "no target asked, none set");
    assert_eq!(n.update.len(), 170);
    let oper = n
        .update
        .iter()
        .find(|u| nl6_gnmi::format_path(u.path.as_ref().unwrap()).ends_with("/oper-status"))
        .unwrap();
    let Some(nl6_gnmi::proto::gnmi::typed_value::Value::JsonIetfVal(v)) =
        &oper.val.as_ref().unwrap().value
    else {
        panic!()
    };
    assert_eq!(v, b"\"openconfig-interfaces:UP\"");
}
