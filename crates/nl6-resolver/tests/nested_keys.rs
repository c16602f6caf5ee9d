//! A subtree whose entries sit in a list below another keyed list (LLDP neighbours
//! below their interface): paths carry both keys, either key selects, entries that go
//! away become deletes.

use std::sync::Arc;

use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::{SubscribeResponse, subscribe_response};
use nl6_ifstate::{DeviceModel, DeviceSpec, InterfaceNames};
use nl6_lldp::{LldpNeighbors, NEIGHBORS, Neighbor, NeighborTable, chassis_id};
use nl6_model::{Subtree, Subtrees};
use nl6_resolver::{
    ResolveError, Schema, Selection, Snapshot, ValueEncoding, WireEncoder, delete_response,
    notification, removed_entries,
};
use prost::Message;

const T: u64 = 1_700_000_000_000_000_000;
const SEED: u64 = 21;

fn device(table: &Arc<NeighborTable>) -> DeviceModel {
    let names = InterfaceNames::for_count(4);
    let names: Vec<String> = (0..4).map(|i| names.name(i).to_string()).collect();
    let lldp: Arc<dyn Subtree> = Arc::new(LldpNeighbors::new(&names, table.clone()));
    DeviceModel::new(&DeviceSpec {
        seed: SEED,
        interfaces: 4,
        ..DeviceSpec::default()
    })
    .unwrap()
    .with_subtrees(Arc::new(Subtrees::new(
        vec![lldp],
        vec![nl6_lldp::LLDP_MODEL],
    )))
}

fn neighbor(name: &str) -> Neighbor {
    Neighbor {
        system_name: name.to_string(),
        system_description: "test".to_string(),
        chassis_id: chassis_id(5),
        port_id: "Ethernet3".to_string(),
        management_address: "127.42.0.5".to_string(),
    }
}

fn select(device: &DeviceModel, path: &str) -> Result<Selection, ResolveError> {
    Selection::compile(None, &[parse_path(path).unwrap()], Schema::of(device))
}

fn paths(snapshot: &Snapshot<'_>, selection: &Selection) -> Vec<String> {
    notification(snapshot, selection.masks(), ValueEncoding::Proto, None)
        .update
        .iter()
        .map(|u| nl6_gnmi::format_path(u.path.as_ref().unwrap()))
        .collect()
}

#[test]
fn a_neighbor_leaf_path_carries_the_interface_and_neighbor_keys() {
    let table = Arc::new(NeighborTable::default());
    let device = device(&table);
    table.set(SEED, 2, neighbor("spine1"));
    let selection = select(
        &device,
        "/lldp/interfaces/interface[name=Ethernet2]/neighbors/neighbor[id=1]/state/system-name",
    )
    .unwrap();
    assert_eq!(selection.leaf_count(), 1);
    let snapshot = Snapshot::capture(&device, T, &selection);
    assert_eq!(
        paths(&snapshot, &selection),
        ["/lldp/interfaces/interface[name=Ethernet2]/neighbors/neighbor[id=1]/state/system-name"]
    );
    // The fast path writes what prost writes.
    let mut wire = Vec::new();
    let mut encoder = WireEncoder::new(device.names());
    encoder.encode_response(
        &snapshot,
        selection.masks(),
        ValueEncoding::Proto,
        None,
        &mut wire,
    );
    let typed = SubscribeResponse {
        response: Some(subscribe_response::Response::Update(notification(
            &snapshot,
            selection.masks(),
            ValueEncoding::Proto,
            None,
        ))),
        extension: vec![],
    };
    assert_eq!(wire, typed.encode_to_vec());
}

#[test]
fn either_key_selects_and_slots_without_a_neighbor_send_nothing() {
    let table = Arc::new(NeighborTable::default());
    let device = device(&table);
    let all = select(&device, "/lldp").unwrap();
    assert_eq!(all.leaf_count(), 4 * NEIGHBORS.leaves.len());
    assert!(Snapshot::capture(&device, T, &all).extras().is_empty());
    table.set(SEED, 1, neighbor("a"));
    table.set(SEED, 3, neighbor("b"));
    let names = select(
        &device,
        "/lldp/interfaces/interface/neighbors/neighbor/state/system-name",
    )
    .unwrap();
    let snapshot = Snapshot::capture(&device, T, &names);
    assert_eq!(
        paths(&snapshot, &names),
        [
            "/lldp/interfaces/interface[name=Ethernet1]/neighbors/neighbor[id=1]/state/system-name",
            "/lldp/interfaces/interface[name=Ethernet3]/neighbors/neighbor[id=1]/state/system-name",
        ]
    );
    let one = select(&device, "/lldp/interfaces/interface[name=Ethernet3]").unwrap();
    assert_eq!(one.leaf_count(), NEIGHBORS.leaves.len());
    let by_id = select(
        &device,
        "/lldp/interfaces/interface[name=*]/neighbors/neighbor[id=1]/state/port-id",
    )
    .unwrap();
    assert_eq!(by_id.leaf_count(), 4);
}

#[test]
fn unknown_and_empty_keys_name_their_list() {
    let table = Arc::new(NeighborTable::default());
    let device = device(&table);
    let err = select(&device, "/lldp/interfaces/interface[name=Ethernet9]").unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert!(
        matches!(
            err,
            ResolveError::NoSuchEntry {
                list: "interface",
                key: "name",
                ..
            }
        ),
        "{err}"
    );
    let err = select(
        &device,
        "/lldp/interfaces/interface/neighbors/neighbor[id=7]",
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ResolveError::NoSuchEntry {
                list: "neighbor",
                key: "id",
                ..
            }
        ),
        "{err}"
    );
    let err = select(&device, "/lldp/interfaces/interface[name=]/neighbors").unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    // Keys only sit on lists.
    let err = select(&device, "/lldp/interfaces[name=Ethernet1]").unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
}

#[test]
fn a_neighbor_that_goes_away_is_one_delete_of_its_entry() {
    let table = Arc::new(NeighborTable::default());
    let device = device(&table);
    table.set(SEED, 2, neighbor("a"));
    table.set(SEED, 4, neighbor("b"));
    let all = select(&device, "/lldp").unwrap();
    let before = Snapshot::capture(&device, T, &all);
    table.remove(SEED, 2);
    let after = Snapshot::capture(&device, T + 1, &all);
    let gone = removed_entries(before.extras(), &after);
    let texts: Vec<String> = gone.iter().map(nl6_gnmi::format_path).collect();
    assert_eq!(
        texts,
        ["/lldp/interfaces/interface[name=Ethernet2]/neighbors/neighbor[id=1]"]
    );
    assert!(removed_entries(after.extras(), &after).is_empty());
    let bytes = delete_response(T + 1, Some("r1"), gone);
    let decoded = SubscribeResponse::decode(&bytes[..]).unwrap();
    let Some(subscribe_response::Response::Update(n)) = decoded.response else {
        panic!("a notification");
    };
    assert_eq!(
        (n.timestamp, n.update.len(), n.delete.len()),
        ((T + 1) as i64, 0, 1)
    );
    assert_eq!(n.prefix.unwrap().target, "r1");
}

/// Neighbours of a protocol of a network instance: keys on three lists, two of them
/// called `name`.
#[derive(Debug)]
struct Peers {
    parents: [nl6_model::ParentKey; 3],
}

static PEERS: nl6_model::SubtreeSchema = nl6_model::SubtreeSchema {
    module: "example-instances",
    list: &[
        "instances",
        "instance",
        "protocols",
        "protocol",
        "peers",
        "peer",
    ],
    key: Some("address"),
    leaves: &[nl6_model::LeafSchema {
        path: &["state", "as"],
        ty: nl6_model::LeafType::Uint32,
        class: nl6_model::LeafClass::Static,
    }],
};

impl Subtree for Peers {
    fn schema(&self) -> &'static nl6_model::SubtreeSchema {
        &PEERS
    }
    fn entry_count(&self) -> usize {
        2
    }
    fn key(&self, entry: usize) -> &str {
        ["10.0.0.1", "10.0.0.2"][entry]
    }
    fn value(
        &self,
        _: nl6_model::DeviceKey,
        entry: usize,
        _: usize,
        _: u64,
    ) -> Option<nl6_model::Value> {
        Some(nl6_model::Value::Uint(65_000 + entry as u64))
    }
    fn parent_keys(&self, _entry: usize) -> &[nl6_model::ParentKey] {
        &self.parents
    }
}

#[test]
fn keys_of_the_same_name_on_different_lists_are_told_apart_by_depth() {
    let key = |depth, name, value: &str| nl6_model::ParentKey {
        depth,
        name,
        value: value.to_string(),
    };
    let peers: Arc<dyn Subtree> = Arc::new(Peers {
        parents: [
            key(1, "name", "default"),
            key(3, "identifier", "BGP"),
            key(3, "name", "bgp-1"),
        ],
    });
    let device = DeviceModel::new(&DeviceSpec::default())
        .unwrap()
        .with_subtrees(Arc::new(Subtrees::new(vec![peers], vec![])));
    let full = "/instances/instance[name=default]/protocols/protocol[identifier=BGP][name=bgp-1]/peers/peer[address=10.0.0.2]/state/as";
    let one = select(&device, full).unwrap();
    assert_eq!(one.leaf_count(), 1);
    let snapshot = Snapshot::capture(&device, T, &one);
    assert_eq!(paths(&snapshot, &one), [full]);
    let err = select(
        &device,
        "/instances/instance[name=bgp-1]/protocols/protocol/peers",
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ResolveError::NoSuchEntry {
                list: "instance",
                key: "name",
                ..
            }
        ),
        "{err}"
    );
    let err = select(
        &device,
        "/instances/instance/protocols/protocol[name=default]/peers",
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ResolveError::NoSuchEntry {
                list: "protocol",
                key: "name",
                ..
            }
        ),
        "{err}"
    );
    // After a `...` a key is matched by its name alone.
    let any = select(&device, "/instances/.../peer[address=10.0.0.1]").unwrap();
    assert_eq!(any.leaf_count(), 1);
    assert_eq!(select(&device, "/instances").unwrap().leaf_count(), 2);
}
