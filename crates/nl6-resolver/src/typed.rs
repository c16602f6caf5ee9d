//! The typed API: prost [`Notification`]s for embedders and for Get.

use nl6_gnmi::proto::gnmi::{Notification, Path, PathElem, Update};

use crate::encoding::ValueEncoding;
use crate::leaf::{Leaf, LeafSet};
use crate::snapshot::Snapshot;

/// The concrete path `/interfaces/interface[name=<name>]/<below...>`.
pub(crate) fn interface_path(name: &str, below: &[&str]) -> Path {
    let elem = |n: &str| PathElem {
        name: n.to_string(),
        key: Default::default(),
    };
    let mut elems = Vec::with_capacity(2 + below.len());
    elems.push(elem("interfaces"));
    elems.push(PathElem {
        name: "interface".to_string(),
        key: [("name".to_string(), name.to_string())]
            .into_iter()
            .collect(),
    });
    elems.extend(below.iter().map(|n| elem(n)));
    Path {
        elem: elems,
        ..Default::default()
    }
}

/// The full, concrete path of `leaf` on the interface named `name`.
pub fn leaf_path(name: &str, leaf: Leaf) -> Path {
    match leaf {
        Leaf::Counter(c) => interface_path(name, &["state", "counters", c.name()]),
        other => interface_path(name, &["state", other.name()]),
    }
}

/// The response prefix: the target when there is one, else none.
pub fn prefix_for(target: Option<&str>) -> Option<Path> {
    target.filter(|t| !t.is_empty()).map(|t| Path {
        target: t.to_string(),
        ..Default::default()
    })
}

/// A typed notification of the leaves of `masks` (index = interface) read from
/// `snapshot`, then the snapshot's leaves of the device's other subtrees; encodes to
/// exactly the bytes [`crate::WireEncoder`] writes.
pub fn notification(
    snapshot: &Snapshot<'_>,
    masks: &[LeafSet],
    encoding: ValueEncoding,
    target: Option<&str>,
) -> Notification {
    let mut update = Vec::new();
    for (idx, mask) in masks.iter().enumerate() {
        for leaf in mask.iter() {
            if let Some(value) = snapshot.value(idx, leaf) {
                update.push(Update {
                    path: Some(leaf_path(snapshot.names().name(idx), leaf)),
                    val: Some(encoding.typed_value(value)),
                    duplicates: 0,
                });
            }
        }
    }
    update.extend(crate::extra::extra_updates(snapshot, encoding));
    Notification {
        timestamp: snapshot.timestamp_ns() as i64,
        prefix: prefix_for(target),
        update,
        delete: Vec::new(),
        atomic: false,
    }
}
