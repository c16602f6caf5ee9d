//! Dial-out in a device's notification shape: a Junos-shaped device's samples are one
//! `SubscribeResponse` per list entry with Juniper's telemetry header (every push
//! flavor shares this encoder), and PublishGet answers one notification per entry.

use std::sync::Arc;

use nl6_dialout::{
    GetResponseEncoder, Sample, SampleEncoder, SampleKind, SubscribeResponseEncoder,
};
use nl6_gnmi::proto::gnmi::{GetResponse, SubscribeResponse, subscribe_response::Response};
use nl6_gnmi::proto::gnmi_ext::extension::Ext;
use nl6_gnmi::proto::juniper::GnmiJuniperTelemetryHeaderExtension;
use nl6_ifstate::{DeviceModel, DeviceSpec, InterfaceNaming};
use nl6_platform::Inventory;
use nl6_resolver::{NotificationShape, Schema, Selection, Snapshot, ValueEncoding};
use prost::Message;

const AT_NS: u64 = 1_700_000_000_000_000_000;
const TARGET: &str = "127.42.0.7";

fn junos_device() -> Arc<DeviceModel> {
    let spec = DeviceSpec {
        seed: 8,
        interfaces: 2,
        naming: InterfaceNaming::Junos,
        ..DeviceSpec::default()
    };
    let subtrees =
        nl6_platform::subtrees(&Inventory::default()).with_shape(NotificationShape::Junos);
    Arc::new(
        DeviceModel::new(&spec)
            .unwrap()
            .with_subtrees(Arc::new(subtrees)),
    )
}

fn encode(
    encoder: &mut dyn SampleEncoder,
    model: &DeviceModel,
    paths: &[&str],
) -> Vec<nl6_dialout::WireMessage> {
    let paths: Vec<Selection> = paths
        .iter()
        .map(|p| {
            Selection::compile_one(None, &nl6_gnmi::parse_path(p).unwrap(), Schema::of(model))
                .unwrap()
        })
        .collect();
    let union = paths
        .iter()
        .fold(Selection::empty(model.interface_count()), |a, s| a.union(s));
    let snapshot = Snapshot::capture(model, AT_NS, &union);
    let mut out = Vec::new();
    encoder.encode(
        &Sample {
            kind: SampleKind::Snapshot,
            snapshot: &snapshot,
            masks: union.masks(),
            paths: &paths,
            encoding: ValueEncoding::Proto,
            target: TARGET,
            model,
        },
        &mut out,
    );
    out
}

#[test]
fn publish_sends_one_message_per_entry_with_the_juniper_header() {
    let model = junos_device();
    let mut encoder = SubscribeResponseEncoder::default();
    let paths = [
        "/interfaces/interface/state/counters",
        "/system/state/boot-time",
    ];
    let messages = encode(&mut encoder, &model, &paths);
    assert_eq!(messages.len(), 3);
    let mut sequence = Vec::new();
    for (message, (prefix, updates)) in messages.iter().zip([
        ("/interfaces/interface[name=et-0/0/0]", 12),
        ("/interfaces/interface[name=et-0/0/1]", 12),
        ("/system/state", 1),
    ]) {
        assert_eq!(message.updates, updates);
        let response = SubscribeResponse::decode(&message.bytes[..]).unwrap();
        let Some(Response::Update(n)) = &response.response else {
            panic!("an update");
        };
        let p = n.prefix.as_ref().unwrap();
        assert_eq!(nl6_gnmi::format_path(p), prefix);
        assert_eq!(p.target, TARGET);
        let Some(Ext::RegisteredExt(ext)) = &response.extension[0].ext else {
            panic!("a registered extension");
        };
        assert_eq!(ext.id, 1);
        let header = GnmiJuniperTelemetryHeaderExtension::decode(&ext.msg[..]).unwrap();
        assert_eq!(header.system_id, TARGET);
        sequence.push(header.sequence_number);
    }
    // The sequence goes on across samples of one session.
    let more = encode(&mut encoder, &model, &paths);
    let response = SubscribeResponse::decode(&more[0].bytes[..]).unwrap();
    let Some(Ext::RegisteredExt(ext)) = &response.extension[0].ext else {
        panic!("a registered extension");
    };
    let header = GnmiJuniperTelemetryHeaderExtension::decode(&ext.msg[..]).unwrap();
    sequence.push(header.sequence_number);
    assert_eq!(sequence, [0, 1, 2, 3]);
}

#[test]
fn publish_get_answers_one_notification_per_path_and_entry() {
    let model = junos_device();
    let mut encoder = GetResponseEncoder(SubscribeResponseEncoder::default());
    let messages = encode(
        &mut encoder,
        &model,
        &[
            "/interfaces/interface/state/oper-status",
            "/system/memory/state",
        ],
    );
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].updates, 2 + 3);
    let reply = GetResponse::decode(&messages[0].bytes[..]).unwrap();
    let prefixes: Vec<String> = reply
        .notification
        .iter()
        .map(|n| nl6_gnmi::format_path(n.prefix.as_ref().unwrap()))
        .collect();
    assert_eq!(
        prefixes,
        [
            "/interfaces/interface[name=et-0/0/0]",
            "/interfaces/interface[name=et-0/0/1]",
            "/system/memory/state",
        ]
    );
    assert!(reply.extension.is_empty());
}
