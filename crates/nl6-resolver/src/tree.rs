//! Subtree values for Get in the JSON encodings: a container path answers with one
//! JSON object per interface instead of one Update per leaf.

use nl6_gnmi::proto::gnmi::{Path, Update};
use nl6_gnmi::{JsonIetfObject, JsonScalar};

use crate::encoding::{MODULE, ValueEncoding};
use crate::leaf::{Leaf, LeafSet};
use crate::select::Selection;
use crate::snapshot::{LeafValue, Snapshot};
use crate::typed::interface_path;

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
        let below: &[&str] = match self {
            Container::Entry => &[],
            Container::State => &["state"],
            Container::Counters => &["state", "counters"],
        };
        interface_path(name, below)
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
    use nl6_ifstate::{Counter, DeviceModel, DeviceSpec, LinkStatus};

    const T: u64 = 1_800_000_000_000_000_000;
    /// When Ethernet2 went down (its `last-change`).
    const DOWN_AT: u64 = 1_799_999_999_000_000_000;

    /// Two interfaces; Ethernet2's link is down.
    fn device() -> DeviceModel {
        let device = DeviceModel::new(&DeviceSpec {
            interfaces: 2,
            ..DeviceSpec::default()
        })
        .unwrap();
        device.set_link(1, LinkStatus::Down, DOWN_AT);
        device
    }

    /// (path, JSON text) of each Update, or None when the caller must answer by leaf.
    fn answer(text: &str, encoding: ValueEncoding) -> Option<Vec<(String, String)>> {
        let device = device();
        let path = parse_path(text).unwrap();
        let selection =
            Selection::compile(None, std::slice::from_ref(&path), device.names()).unwrap();
        let snapshot = Snapshot::capture(&device, T, &selection);
        let updates = subtree_updates(&snapshot, &path, &selection, encoding)?;
        let want_ietf = encoding == ValueEncoding::JsonIetf;
        Some(
            updates
                .into_iter()
                .map(|u| {
                    let value = match u.val.unwrap().value.unwrap() {
                        Value::JsonIetfVal(b) if want_ietf => String::from_utf8(b).unwrap(),
                        Value::JsonVal(b) if !want_ietf => String::from_utf8(b).unwrap(),
                        other => panic!("wrong value kind for {encoding:?}: {other:?}"),
                    };
                    (nl6_gnmi::format_path(&u.path.unwrap()), value)
                })
                .collect(),
        )
    }

    /// The expected `counters` members of interface `idx` at `T`, without braces.
    fn counter_members(idx: usize, qualify: bool, quote: bool) -> String {
        let values = device().counters_at(idx, T).0;
        let q = if quote { "\"" } else { "" };
        Counter::ALL
            .iter()
            .map(|c| c.name())
            .zip(values)
            .map(|(name, v)| {
                let module = if qualify {
                    "openconfig-interfaces:"
                } else {
                    ""
                };
                format!(r#""{module}{name}":{q}{v}{q}"#)
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn state_ietf_ethernet2() -> String {
        format!(
            concat!(
                r#"{{"openconfig-interfaces:name":"Ethernet2","openconfig-interfaces:ifindex":2,"#,
                r#""openconfig-interfaces:oper-status":"openconfig-interfaces:DOWN","#,
                r#""openconfig-interfaces:admin-status":"openconfig-interfaces:UP","#,
                r#""openconfig-interfaces:last-change":"{}","#,
                r#""openconfig-interfaces:counters":{{{}}}}}"#
            ),
            DOWN_AT,
            counter_members(1, false, true)
        )
    }

    #[test]
    fn state_in_json_ietf_and_json() {
        let got = answer(
            "/interfaces/interface[name=Ethernet2]/state",
            ValueEncoding::JsonIetf,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![(
                "/interfaces/interface[name=Ethernet2]/state".to_string(),
                state_ietf_ethernet2()
            )]
        );
        let got = answer(
            "/interfaces/interface[name=Ethernet2]/state",
            ValueEncoding::Json,
        )
        .unwrap();
        let want = format!(
            concat!(
                r#"{{"name":"Ethernet2","ifindex":2,"oper-status":"DOWN","#,
                r#""admin-status":"UP","last-change":{},"counters":{{{}}}}}"#
            ),
            DOWN_AT,
            counter_members(1, false, false)
        );
        assert_eq!(got[0].1, want);
    }

    #[test]
    fn counters_in_json_ietf_and_json() {
        let path = "/interfaces/interface[name=Ethernet1]/state/counters";
        let got = answer(path, ValueEncoding::JsonIetf).unwrap();
        assert_eq!(
            got,
            vec![(
                path.to_string(),
                format!("{{{}}}", counter_members(0, true, true))
            )]
        );
        let got = answer(path, ValueEncoding::Json).unwrap();
        assert_eq!(
            got[0].1,
            format!("{{{}}}", counter_members(0, false, false))
        );
    }

    #[test]
    fn list_entry_in_json_ietf_and_json() {
        let path = "/interfaces/interface[name=Ethernet1]";
        let got = answer(path, ValueEncoding::JsonIetf).unwrap();
        let want = format!(
            concat!(
                r#"{{"openconfig-interfaces:name":"Ethernet1","openconfig-interfaces:state":"#,
                r#"{{"name":"Ethernet1","ifindex":1,"oper-status":"openconfig-interfaces:UP","#,
                r#""admin-status":"openconfig-interfaces:UP","last-change":"0","#,
                r#""counters":{{{}}}}}}}"#
            ),
            counter_members(0, false, true)
        );
        assert_eq!(got, vec![(path.to_string(), want)]);
        let got = answer(path, ValueEncoding::Json).unwrap();
        let want = format!(
            concat!(
                r#"{{"name":"Ethernet1","state":{{"name":"Ethernet1","ifindex":1,"#,
                r#""oper-status":"UP","admin-status":"UP","last-change":0,"#,
                r#""counters":{{{}}}}}}}"#
            ),
            counter_members(0, false, false)
        );
        assert_eq!(got[0].1, want);
    }

    #[test]
    fn wildcard_key_gives_one_update_per_interface() {
        for text in [
            "/interfaces/interface[name=*]/state",
            "/interfaces/interface/state",
        ] {
            let got = answer(text, ValueEncoding::JsonIetf).unwrap();
            let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
            assert_eq!(
                paths,
                [
                    "/interfaces/interface[name=Ethernet1]/state",
                    "/interfaces/interface[name=Ethernet2]/state"
                ]
            );
            assert_eq!(got[1].1, state_ietf_ethernet2());
        }
    }

    #[test]
    fn leaves_roots_ellipsis_and_proto_fall_back() {
        for text in [
            "/interfaces/interface/state/oper-status",
            "/interfaces/interface/state/counters/in-octets",
            "/interfaces/.../state",
            "/.../counters",
            "/interfaces/interface/...",
            "/interfaces",
            "/",
        ] {
            assert!(answer(text, ValueEncoding::JsonIetf).is_none(), "{text}");
            assert!(answer(text, ValueEncoding::Json).is_none(), "{text}");
        }
        assert!(answer("/interfaces/interface/state", ValueEncoding::Proto).is_none());
    }
}
