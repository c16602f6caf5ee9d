//! Subtree values for Get in the JSON encodings: a container path answers with one
//! JSON object per interface instead of one Update per leaf.

use nl6_gnmi::proto::gnmi::{Path, PathElem, Update};
use nl6_gnmi::{JsonIetfObject, JsonScalar};

use crate::encoding::{MODULE, ValueEncoding};
use crate::leaf::{Leaf, LeafSet};
use crate::select::Selection;
use crate::snapshot::{LeafValue, Snapshot};

/// The containers that answer with an object.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Container {
    /// `/interfaces/interface[name=K]`: the list entry.
    Entry,
    /// `…/state`.
    State,
    /// `…/state/counters`.
    Counters,
}

impl Container {
    /// The container a full request path ends at, if it is one of the served ones.
    fn of(path: &Path) -> Option<Container> {
        let names: Vec<&str> = path.elem.iter().map(|e| e.name.as_str()).collect();
        match names.as_slice() {
            ["interfaces", "interface"] => Some(Container::Entry),
            ["interfaces", "interface", "state"] => Some(Container::State),
            ["interfaces", "interface", "state", "counters"] => Some(Container::Counters),
            _ => None,
        }
    }

    /// The concrete path of this container on the interface named `name`.
    fn path(self, name: &str) -> Path {
        let elem = |n: &str| PathElem {
            name: n.to_string(),
            key: Default::default(),
        };
        let mut elems = vec![
            elem("interfaces"),
            PathElem {
                name: "interface".to_string(),
                key: [("name".to_string(), name.to_string())]
                    .into_iter()
                    .collect(),
            },
        ];
        if self != Container::Entry {
            elems.push(elem("state"));
        }
        if self == Container::Counters {
            elems.push(elem("counters"));
        }
        Path {
            elem: elems,
            ..Default::default()
        }
    }
}

fn scalar(value: LeafValue<'_>) -> JsonScalar {
    match value {
        LeafValue::Str(s) => JsonScalar::String(s.to_string()),
        LeafValue::Enum(e) => JsonScalar::identity(MODULE, e),
        LeafValue::U32(v) => JsonScalar::U32(v),
        LeafValue::U64(v) => JsonScalar::U64(v),
    }
}

/// The `counters` object of interface `idx` (the counters of `mask`).
fn counters_object(snapshot: &Snapshot<'_>, idx: usize, mask: LeafSet) -> JsonIetfObject {
    let mut object = JsonIetfObject::new();
    for leaf in mask.intersect(LeafSet::COUNTERS).iter() {
        if let Some(value) = snapshot.value(idx, leaf) {
            object.leaf(MODULE, leaf.name(), scalar(value));
        }
    }
    object
}

/// The `state` object of interface `idx` (the leaves of `mask`).
fn state_object(snapshot: &Snapshot<'_>, idx: usize, mask: LeafSet) -> JsonIetfObject {
    let mut object = JsonIetfObject::new();
    for leaf in mask.without(LeafSet::COUNTERS).iter() {
        if let Some(value) = snapshot.value(idx, leaf) {
            object.leaf(MODULE, leaf.name(), scalar(value));
        }
    }
    if !mask.intersect(LeafSet::COUNTERS).is_empty() {
        object.object(MODULE, "counters", counters_object(snapshot, idx, mask));
    }
    object
}

/// For a Get of `full_path` (prefix already joined) in JSON or JSON_IETF that ends at a
/// container (`/interfaces/interface[name=K]`, `…/state`, `…/state/counters`), one
/// Update per selected interface whose value is the subtree as one JSON object (RFC 7951
/// member names in JSON_IETF). `None` when the path is not such a container, uses
/// `...`, or the encoding is PROTO: the caller then answers leaf by leaf.
pub fn subtree_updates(
    snapshot: &Snapshot<'_>,
    full_path: &Path,
    selection: &Selection,
    encoding: ValueEncoding,
) -> Option<Vec<Update>> {
    if encoding == ValueEncoding::Proto {
        return None;
    }
    let container = Container::of(full_path)?;
    let mut updates = Vec::new();
    for (idx, mask) in selection.masks().iter().enumerate() {
        if mask.is_empty() {
            continue;
        }
        let name = snapshot.names().name(idx);
        let object = match container {
            Container::Counters => counters_object(snapshot, idx, *mask),
            Container::State => state_object(snapshot, idx, *mask),
            Container::Entry => {
                let mut entry = JsonIetfObject::new();
                entry.leaf(
                    MODULE,
                    Leaf::Name.name(),
                    JsonScalar::String(name.to_string()),
                );
                entry.object(MODULE, "state", state_object(snapshot, idx, *mask));
                entry
            }
        };
        let val = match encoding {
            ValueEncoding::JsonIetf => object.to_json_ietf_val(),
            _ => object.to_json_val(),
        };
        updates.push(Update {
            path: Some(container.path(name)),
            val: Some(val),
            duplicates: 0,
        });
    }
    Some(updates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl6_gnmi::parse_path;
    use nl6_gnmi::proto::gnmi::typed_value::Value;
    use nl6_ifstate::{DeviceModel, DeviceSpec};

    const T: u64 = 1_800_000_000_000_000_000;

    fn json(text: &str, encoding: ValueEncoding) -> Option<Vec<(String, String)>> {
        let device = DeviceModel::new(&DeviceSpec {
            interfaces: 2,
            ..DeviceSpec::default()
        })
        .unwrap();
        let path = parse_path(text).unwrap();
        let selection =
            Selection::compile(None, std::slice::from_ref(&path), device.names()).unwrap();
        let snapshot = Snapshot::capture(&device, T, &selection);
        let updates = subtree_updates(&snapshot, &path, &selection, encoding)?;
        Some(
            updates
                .into_iter()
                .map(|u| {
                    let value = match u.val.unwrap().value.unwrap() {
                        Value::JsonIetfVal(b) | Value::JsonVal(b) => String::from_utf8(b).unwrap(),
                        other => panic!("not JSON: {other:?}"),
                    };
                    (nl6_gnmi::format_path(&u.path.unwrap()), value)
                })
                .collect(),
        )
    }

    #[test]
    fn state_is_one_rfc7951_object_per_interface() {
        let got = json(
            "/interfaces/interface[name=*]/state",
            ValueEncoding::JsonIetf,
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, "/interfaces/interface[name=Ethernet2]/state");
        let v: &str = &got[1].1;
        assert!(v.starts_with(
            r#"{"openconfig-interfaces:name":"Ethernet2","openconfig-interfaces:ifindex":2,"openconfig-interfaces:oper-status":"openconfig-interfaces:UP","openconfig-interfaces:admin-status":"openconfig-interfaces:UP","openconfig-interfaces:last-change":"0","openconfig-interfaces:counters":{"in-octets":""#
        ), "{v}");
    }

    #[test]
    fn counters_and_entry_shapes() {
        let counters = json(
            "/interfaces/interface[name=Ethernet1]/state/counters",
            ValueEncoding::Json,
        )
        .unwrap();
        assert_eq!(counters.len(), 1);
        // Plain JSON: unqualified names, 64-bit counters as numbers.
        let text = &counters[0].1;
        assert!(text.starts_with(r#"{"in-octets":"#), "{text}");
        assert!(
            text[r#"{"in-octets":"#.len()..].starts_with(|c: char| c.is_ascii_digit()),
            "{text}"
        );
        assert_eq!(text.matches(':').count(), 12, "{text}");
        let entry = json(
            "/interfaces/interface[name=Ethernet1]",
            ValueEncoding::JsonIetf,
        )
        .unwrap();
        assert_eq!(entry[0].0, "/interfaces/interface[name=Ethernet1]");
        assert!(
            entry[0].1.starts_with(r#"{"openconfig-interfaces:name":"Ethernet1","openconfig-interfaces:state":{"name":"Ethernet1","ifindex":1,"#),
            "{}",
            entry[0].1
        );
    }

    #[test]
    fn leaves_wildcards_and_proto_fall_back() {
        assert!(
            json(
                "/interfaces/interface/state/oper-status",
                ValueEncoding::JsonIetf
            )
            .is_none()
        );
        assert!(json("/interfaces/.../state", ValueEncoding::JsonIetf).is_none());
        assert!(json("/interfaces", ValueEncoding::JsonIetf).is_none());
        assert!(json("/interfaces/interface/state", ValueEncoding::Proto).is_none());
    }
}
