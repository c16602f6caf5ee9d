//! The flavor encoders: gnmireverse writes byte for byte what the exporter wrote before
//! the flavor seam, and PublishGet answers one notification per configured path.

use std::sync::Arc;

use nl6_dialout::{
    GetResponseEncoder, Sample, SampleEncoder, SampleKind, SubscribeResponseEncoder,
};
use nl6_gnmi::proto::gnmi::{GetResponse, SubscribeResponse, subscribe_response::Response};
use nl6_ifstate::{DeviceModel, DeviceSpec};
use nl6_resolver::{Selection, Snapshot, ValueEncoding, WireEncoder};
use prost::Message;

/// A fixed instant: 2023-11-14T22:13:20Z.
const AT_NS: u64 = 1_700_000_000_000_000_000;

fn device() -> Arc<DeviceModel> {
    let spec = DeviceSpec {
        seed: 42,
        interfaces: 4,
        ..DeviceSpec::default()
    };
    Arc::new(DeviceModel::new(&spec).unwrap())
}

fn selection(model: &DeviceModel, paths: &[&str]) -> Vec<Selection> {
    paths
        .iter()
        .map(|p| {
            Selection::compile_one(None, &nl6_gnmi::parse_path(p).unwrap(), model.names()).unwrap()
        })
        .collect()
}

/// The encoding call the exporter made before the flavor seam (produce.rs, `snapshot()`),
/// kept as it was.
fn old_path(
    model: &DeviceModel,
    snapshot: &Snapshot<'_>,
    selection: &Selection,
    encoding: ValueEncoding,
    target: &str,
) -> (Vec<u8>, u64) {
    let mut encoder = WireEncoder::new(model.names());
    let mut out = Vec::new();
    let updates = encoder.encode_response(
        snapshot,
        selection.masks(),
        encoding,
        Some(target),
        &mut out,
    );
    (out, updates as u64)
}

#[test]
fn gnmireverse_messages_are_byte_identical_to_the_old_encoding() {
    let model = device();
    let target = "127.42.0.1";
    let paths = selection(
        &model,
        &[
            "/interfaces/interface[name=*]/state",
            "/interfaces/interface[name=Ethernet2]/state/counters/in-octets",
        ],
    );
    let union = paths[0].union(&paths[1]);
    let snapshot = Snapshot::capture(&model, AT_NS, &union);
    for encoding in [
        ValueEncoding::JsonIetf,
        ValueEncoding::Json,
        ValueEncoding::Proto,
    ] {
        let (before, updates_before) = old_path(&model, &snapshot, &union, encoding, target);
        let mut encoder = SubscribeResponseEncoder::default();
        let mut out = Vec::new();
        let sample = Sample {
            kind: SampleKind::Snapshot,
            snapshot: &snapshot,
            masks: union.masks(),
            paths: &paths,
            encoding,
            target,
            model: &model,
        };
        encoder.encode(&sample, &mut out);
        // A second sample through the same encoder: no state carries over.
        encoder.encode(&sample, &mut out);
        assert_eq!(out.len(), 2, "one message per sample");
        for message in &out {
            assert_eq!(&message.bytes[..], &before[..], "{encoding:?}");
            assert_eq!(message.updates, updates_before);
        }
        assert_eq!(updates_before, 4 * 17);
        let decoded = SubscribeResponse::decode(&before[..]).unwrap();
        let Some(Response::Update(n)) = decoded.response else {
            panic!("not an update")
        };
        assert_eq!(n.timestamp as u64, AT_NS);
        assert_eq!(n.prefix.unwrap().target, target);
    }
}

#[test]
fn publish_get_sends_one_notification_per_path_at_one_instant() {
    let model = device();
    let paths = selection(
        &model,
        &[
            "/interfaces/interface[name=Ethernet1]/state/oper-status",
            "/interfaces/interface[name=*]/state/counters/in-octets",
        ],
    );
    let union = paths[0].union(&paths[1]);
    let snapshot = Snapshot::capture(&model, AT_NS, &union);
    let mut encoder = GetResponseEncoder(SubscribeResponseEncoder::default());
    let mut out = Vec::new();
    encoder.encode(
        &Sample {
            kind: SampleKind::Snapshot,
            snapshot: &snapshot,
            masks: union.masks(),
            paths: &paths,
            encoding: ValueEncoding::JsonIetf,
            target: "127.42.0.9",
            model: &model,
        },
        &mut out,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].updates, 1 + 4);
    let reply = GetResponse::decode(&out[0].bytes[..]).unwrap();
    let counts: Vec<usize> = reply.notification.iter().map(|n| n.update.len()).collect();
    assert_eq!(counts, [1, 4], "one notification per path, in order");
    for n in &reply.notification {
        assert_eq!(n.timestamp as u64, AT_NS);
        assert_eq!(n.prefix.as_ref().unwrap().target, "127.42.0.9");
    }
    let first = nl6_gnmi::format_path(reply.notification[0].update[0].path.as_ref().unwrap());
    assert!(first.ends_with("state/oper-status"), "{first}");
}
