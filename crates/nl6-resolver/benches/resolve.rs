//! Resolve + encode one device's full `/interfaces/interface[name=*]/state`
//! (10 interfaces, 170 leaves) to `SubscribeResponse` bytes, in PROTO and JSON_IETF,
//! on the fast wire path and on the typed (prost) path. Prints ns per device and
//! ns per leaf (medians); the same per subtree of a device with platform and system
//! subtrees (components, CPUs, memory); each also in the Junos notification shape (one
//! response per list entry with Juniper's header); then the cost of compiling pathological `...`
//! paths (the matcher must stay linear in the path length); then runs the criterion
//! groups.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::{Path, PathElem, SubscribeResponse, subscribe_response::Response};
use nl6_ifstate::{DeviceModel, DeviceSpec, unix_now_ns};
use nl6_model::{NotificationShape, Subtrees};
use nl6_resolver::{
    ResponseEncoder, Schema, Selection, Snapshot, ValueEncoding, WireEncoder, notification,
};
use prost::Message;

struct Fixture {
    device: Arc<DeviceModel>,
    /// The same device in the Junos notification shape.
    junos: Arc<DeviceModel>,
    selection: Selection,
}

/// `subtrees` in the Junos shape, on a default device.
fn junos_device(subtrees: Subtrees) -> Arc<DeviceModel> {
    Arc::new(
        DeviceModel::new(&DeviceSpec::default())
            .expect("default spec")
            .with_subtrees(Arc::new(subtrees.with_shape(NotificationShape::Junos))),
    )
}

fn fixture() -> Fixture {
    let device = Arc::new(DeviceModel::new(&DeviceSpec::default()).expect("default spec"));
    let path = parse_path("/interfaces/interface[name=*]/state").expect("path");
    let selection = Selection::compile(None, &[path], device.names()).expect("selection");
    let junos = junos_device(Subtrees::default());
    Fixture {
        device,
        junos,
        selection,
    }
}

/// A device with a modular router's components and system subtrees, BGP and LLDP
/// neighbours, and `path` on it.
fn subtree_fixture(path: &str) -> Fixture {
    let inventory = nl6_platform::Inventory {
        linecards: 4,
        fans: 6,
        power_supplies: 6,
        cpus: 16,
        ..nl6_platform::Inventory::default()
    };
    let spec = DeviceSpec::default();
    let platform = nl6_platform::subtrees(&inventory);
    let mut items = platform.items().to_vec();
    // 16 BGP neighbours, and an LLDP neighbour on every interface.
    items.push(Arc::new(nl6_bgp::BgpNeighbors::new(16)));
    items.push(Arc::new(nl6_bgp::BgpAfiSafis::new(16)));
    let table = Arc::new(nl6_lldp::NeighborTable::default());
    let names = nl6_ifstate::InterfaceNames::for_count(spec.interfaces);
    let names: Vec<String> = (0..names.len())
        .map(|i| names.name(i).to_string())
        .collect();
    for ifindex in 1..=spec.interfaces {
        table.set(
            spec.seed,
            ifindex,
            nl6_lldp::Neighbor {
                system_name: "spine1.lab".into(),
                system_description: "Arista EOS".into(),
                chassis_id: nl6_lldp::chassis_id(ifindex.into()),
                port_id: format!("Ethernet{ifindex}"),
                management_address: "10.0.0.1".into(),
            },
        );
    }
    items.push(Arc::new(nl6_lldp::LldpNeighbors::new(&names, table)));
    let subtrees = nl6_model::Subtrees::new(items, platform.models().to_vec());
    let device = Arc::new(
        DeviceModel::new(&spec)
            .expect("default spec")
            .with_subtrees(Arc::new(subtrees)),
    );
    let path = parse_path(path).expect("path");
    let selection = Selection::compile(None, &[path], Schema::of(&device)).expect("selection");
    let junos = junos_device(nl6_platform::subtrees(&inventory));
    Fixture {
        device,
        junos,
        selection,
    }
}

/// The Junos shape: one `SubscribeResponse` per list entry, each with the header.
fn junos(f: &Fixture, encoder: &mut ResponseEncoder, enc: ValueEncoding) -> usize {
    let snapshot = Snapshot::capture(&f.junos, unix_now_ns(), &f.selection);
    encoder.encode(
        &snapshot,
        f.selection.masks(),
        enc,
        Some("127.42.0.1"),
        &mut |bytes, _| {
            black_box(bytes);
        },
    )
}

fn fast(f: &Fixture, encoder: &mut WireEncoder, out: &mut Vec<u8>, enc: ValueEncoding) -> usize {
    out.clear();
    let snapshot = Snapshot::capture(&f.device, unix_now_ns(), &f.selection);
    encoder.encode_response(&snapshot, f.selection.masks(), enc, Some("127.42.0.1"), out)
}

fn typed(f: &Fixture, enc: ValueEncoding) -> Vec<u8> {
    let snapshot = Snapshot::capture(&f.device, unix_now_ns(), &f.selection);
    let n = notification(&snapshot, f.selection.masks(), enc, Some("127.42.0.1"));
    SubscribeResponse {
        response: Some(Response::Update(n)),
        extension: vec![],
    }
    .encode_to_vec()
}

/// Median ns per call over `rounds` rounds of `iters` calls.
fn median_ns(rounds: usize, iters: usize, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn summary(label: &str, f: &Fixture) {
    let leaves = f.selection.leaf_count() as f64;
    let mut encoder = WireEncoder::new(f.device.names());
    let mut out = Vec::with_capacity(16 * 1024);
    println!(
        "resolve+encode one device's {label}, {} leaves (median of 21 rounds)",
        leaves
    );
    println!("{:<28} {:>12} {:>10}", "path", "ns/device", "ns/leaf");
    for (name, enc) in [
        ("fast PROTO", ValueEncoding::Proto),
        ("fast JSON_IETF", ValueEncoding::JsonIetf),
    ] {
        let ns = median_ns(21, 2_000, || {
            black_box(fast(f, &mut encoder, &mut out, enc));
        });
        println!("{:<28} {:>12.0} {:>10.1}", name, ns, ns / leaves);
    }
    let mut shaped = ResponseEncoder::new(&f.junos);
    for (name, enc) in [
        ("junos PROTO", ValueEncoding::Proto),
        ("junos JSON_IETF", ValueEncoding::JsonIetf),
    ] {
        let ns = median_ns(11, 500, || {
            black_box(junos(f, &mut shaped, enc));
        });
        println!("{:<28} {:>12.0} {:>10.1}", name, ns, ns / leaves);
    }
    for (name, enc) in [
        ("typed prost PROTO", ValueEncoding::Proto),
        ("typed prost JSON_IETF", ValueEncoding::JsonIetf),
    ] {
        let ns = median_ns(11, 500, || {
            black_box(typed(f, enc));
        });
        println!("{:<28} {:>12.0} {:>10.1}", name, ns, ns / leaves);
    }
}

/// A path of `n` `...` elements, built as a `gnmi.Path` (as a gRPC client can send it).
fn dots(n: usize) -> Path {
    Path {
        elem: vec![
            PathElem {
                name: "...".to_string(),
                key: Default::default(),
            };
            n
        ],
        ..Default::default()
    }
}

/// Median ns of one `Selection::compile_one` of `path`, with as many calls as fit in
/// about 0.2 s (one call when a call is slower than that).
fn compile_ns(f: &Fixture, path: &Path) -> (f64, bool) {
    let names = f.device.names();
    let once = Instant::now();
    let accepted = Selection::compile_one(None, path, names).is_ok();
    let first = once.elapsed().as_nanos().max(1) as f64;
    if first > 2e8 {
        return (first, accepted);
    }
    let iters = ((2e7 / first) as usize).clamp(1, 100_000);
    let ns = median_ns(11, iters, || {
        let _ = black_box(Selection::compile_one(None, black_box(path), names));
    });
    (ns, accepted)
}

/// Pathological paths: `n` × `...`, and `...` alternating with `*`.
fn pathological(f: &Fixture) {
    println!("compile one pathological path (median)");
    println!("{:<28} {:>14} {:>10}", "path", "ns/compile", "outcome");
    let alternating = |n: usize| {
        let mut path = dots(n);
        for elem in path.elem.iter_mut().skip(1).step_by(2) {
            elem.name = "*".to_string();
        }
        path
    };
    let cases = [
        ("8 x ...", dots(8)),
        ("16 x ...", dots(16)),
        ("32 x ...", dots(32)),
        ("64 x ... (the limit)", dots(64)),
        ("64 x .../* alternating", alternating(64)),
        ("10,000 x ...", dots(10_000)),
    ];
    for (name, path) in &cases {
        let (ns, accepted) = compile_ns(f, path);
        let outcome = if accepted { "answered" } else { "rejected" };
        println!("{name:<28} {ns:>14.0} {outcome:>10}");
    }
}

fn main() {
    let f = fixture();
    summary("/interfaces/interface[name=*]/state", &f);
    for path in [
        "/components/component[name=*]/state",
        "/system/cpus/cpu[index=*]/state",
        "/system/memory/state",
        "/network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor[neighbor-address=*]/state",
        "/lldp/interfaces/interface[name=*]/neighbors/neighbor/state",
    ] {
        println!();
        summary(path, &subtree_fixture(path));
    }
    println!();
    pathological(&f);
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("resolve_full_state_10_interfaces");
    group.throughput(Throughput::Elements(f.selection.leaf_count() as u64));
    let mut encoder = WireEncoder::new(f.device.names());
    let mut out = Vec::with_capacity(16 * 1024);
    group.bench_function("fast_proto", |b| {
        b.iter(|| fast(&f, &mut encoder, &mut out, ValueEncoding::Proto))
    });
    group.bench_function("fast_json_ietf", |b| {
        b.iter(|| fast(&f, &mut encoder, &mut out, ValueEncoding::JsonIetf))
    });
    group.bench_function("typed_proto", |b| {
        b.iter(|| typed(&f, ValueEncoding::Proto))
    });
    group.bench_function("typed_json_ietf", |b| {
        b.iter(|| typed(&f, ValueEncoding::JsonIetf))
    });
    group.finish();
    c.final_summary();
}
