//! The Get RPC: one Notification per path, all read at one captured instant.

use std::borrow::Cow;

use nl6_gnmi::proto::gnmi::{GetRequest, GetResponse, Path, get_request::DataType};
use nl6_ifstate::DeviceModel;
use nl6_resolver::{
    LeafSet, Schema, Selection, Snapshot, ValueEncoding, notification, shape_of, shaped,
    subtree_updates,
};
use tonic::Status;

use crate::limits::{MAX_GET_LEAVES, MAX_PATHS_PER_GET, RequestLimitError, check_target};

/// Answers `request` for `device` at `now_ns` (Unix ns).
///
/// The request limits are checked first (paths, target; the values selected as each path
/// compiles). The prefix is prepended to every path; the first path that fails fails the
/// RPC with its code. In JSON and JSON_IETF a path ending at a container (list entry, `state`,
/// `counters`) answers one Update per interface holding the subtree as one object. `type` CONFIG selects no leaf (every leaf served is state), so each
/// notification is empty; ALL, STATE and OPERATIONAL select the state leaves. No path
/// at all reads the prefix itself. A device of a per-entry notification shape answers each
/// path with one notification per list entry (the entry as prefix).
pub(crate) fn get(
    device: &DeviceModel,
    request: &GetRequest,
    now_ns: u64,
) -> Result<GetResponse, Status> {
    let encoding = ValueEncoding::from_gnmi(request.encoding)?;
    let allowed = match DataType::try_from(request.r#type) {
        Ok(DataType::Config) => LeafSet::EMPTY,
        Ok(DataType::All | DataType::State | DataType::Operational) => LeafSet::ALL,
        Err(_) => {
            return Err(Status::invalid_argument(format!(
                "GetRequest.type {} is not a gNMI DataType (ALL, CONFIG, STATE, OPERATIONAL)",
                request.r#type
            )));
        }
    };
    if request.path.len() > MAX_PATHS_PER_GET {
        return Err(RequestLimitError::TooManyPaths {
            actual: request.path.len(),
            limit: MAX_PATHS_PER_GET,
        }
        .into());
    }
    let prefix = request.prefix.as_ref();
    if let Some(prefix) = prefix {
        check_target(&prefix.target)?;
    }
    let paths: Cow<'_, [Path]> = if request.path.is_empty() {
        Cow::Owned(vec![Path::default()])
    } else {
        Cow::Borrowed(&request.path)
    };
    let names = device.names();
    let mut selections = Vec::with_capacity(paths.len());
    let mut leaves = 0;
    for path in paths.iter() {
        let selection = Selection::compile_one(prefix, path, Schema::of(device))?.restrict(allowed);
        leaves += selection.leaf_count();
        if leaves > MAX_GET_LEAVES {
            return Err(RequestLimitError::TooManyLeaves {
                actual: leaves,
                limit: MAX_GET_LEAVES,
            }
            .into());
        }
        selections.push(selection);
    }
    let union = selections
        .iter()
        .fold(Selection::empty(names.len()), |acc, s| acc.union(s));
    let snapshot = Snapshot::capture(device, now_ns, &union);
    let target = prefix.map(|p| p.target.as_str());
    let notification = paths
        .iter()
        .zip(&selections)
        .map(|(path, s)| {
            // JSON encodings answer a container path with one object per interface;
            // everything else (and PROTO) is answered leaf by leaf.
            let full = nl6_gnmi::path::join(prefix, path);
            match subtree_updates(&snapshot, &full, s, encoding) {
                Some(updates) => {
                    // The interfaces as objects, then the leaves of the other subtrees
                    // below them (subinterfaces).
                    let mut n = notification(&snapshot.narrowed(s), &[], encoding, target);
                    let extras = std::mem::replace(&mut n.update, updates);
                    n.update.extend(extras);
                    n
                }
                // Only a union with other-subtree leaves needs narrowing to this path.
                None if snapshot.extras().is_empty() => {
                    notification(&snapshot, s.masks(), encoding, target)
                }
                None => notification(&snapshot.narrowed(s), s.masks(), encoding, target),
            }
        })
        .collect();
    let notification = shaped(notification, shape_of(device));
    Ok(GetResponse {
        notification,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl6_gnmi::parse_path;
    use nl6_gnmi::proto::gnmi::Encoding;
    use nl6_ifstate::DeviceSpec;

    const T: u64 = 1_763_000_000_000_000_000;

    fn request(paths: &[&str], kind: DataType, encoding: Encoding) -> GetRequest {
        GetRequest {
            path: paths.iter().map(|p| parse_path(p).unwrap()).collect(),
            r#type: kind as i32,
            encoding: encoding as i32,
            ..Default::default()
        }
    }

    #[test]
    fn one_notification_per_path_at_one_instant() {
        let dev = DeviceModel::new(&DeviceSpec::default()).unwrap();
        let req = request(
            &[
                "/interfaces/interface[name=Ethernet1]/state/counters",
                "/interfaces/interface[name=Ethernet2]/state/oper-status",
            ],
            DataType::All,
            Encoding::Proto,
        );
        let resp = get(&dev, &req, T).unwrap();
        assert_eq!(resp.notification.len(), 2);
        assert_eq!(resp.notification[0].update.len(), 12);
        assert_eq!(resp.notification[1].update.len(), 1);
        assert!(
            resp.notification
                .iter()
                .all(|n| n.timestamp == T as i64 && n.prefix.is_none())
        );
        let config = get(
            &dev,
            &request(&["/interfaces"], DataType::Config, Encoding::Proto),
            T,
        )
        .unwrap();
        assert_eq!(config.notification.len(), 1);
        assert!(config.notification[0].update.is_empty());
    }

    #[test]
    fn json_containers_are_objects_and_config_is_empty() {
        use nl6_gnmi::proto::gnmi::typed_value::Value;
        let dev = DeviceModel::new(&DeviceSpec::default()).unwrap();
        let paths = [
            "/interfaces/interface[name=Ethernet1]/state",
            "/interfaces/interface[name=Ethernet1]/state/ifindex",
        ];
        let resp = get(
            &dev,
            &request(&paths, DataType::State, Encoding::JsonIetf),
            T,
        )
        .unwrap();
        let state = &resp.notification[0];
        assert_eq!(state.update.len(), 1);
        assert_eq!(
            nl6_gnmi::format_path(state.update[0].path.as_ref().unwrap()),
            paths[0]
        );
        let Some(Value::JsonIetfVal(text)) = &state.update[0].val.as_ref().unwrap().value else {
            panic!("not JSON_IETF: {:?}", state.update[0].val);
        };
        assert!(text.starts_with(br#"{"openconfig-interfaces:name":"Ethernet1","#));
        assert_eq!(
            resp.notification[1].update[0].val.as_ref().unwrap().value,
            Some(Value::JsonIetfVal(b"1".to_vec()))
        );
        let config = get(
            &dev,
            &request(&paths, DataType::Config, Encoding::JsonIetf),
            T,
        )
        .unwrap();
        assert_eq!(config.notification.len(), 2);
        assert!(config.notification.iter().all(|n| n.update.is_empty()));
    }

    #[test]
    fn request_limits_name_the_limit() {
        let dev = DeviceModel::new(&DeviceSpec::default()).unwrap();
        let leaf = "/interfaces/interface[name=Ethernet1]/state/ifindex";
        let at_limit = request(&[leaf; MAX_PATHS_PER_GET], DataType::All, Encoding::Proto);
        assert_eq!(get(&dev, &at_limit, T).unwrap().notification.len(), 1_000);
        let mut over = at_limit.clone();
        over.path.push(over.path[0].clone());
        let err = get(&dev, &over, T).unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        assert_eq!(
            err.message(),
            "GetRequest.path has 1001 paths; the limit is 1000 paths per Get"
        );

        let mut target = request(&[leaf], DataType::All, Encoding::Proto);
        target.prefix = Some(Path {
            target: "t".repeat(crate::MAX_TARGET_BYTES),
            ..Default::default()
        });
        let resp = get(&dev, &target, T).unwrap();
        assert_eq!(
            resp.notification[0].prefix.as_ref().unwrap().target.len(),
            256
        );
        target.prefix.as_mut().unwrap().target = "t".repeat(1 << 20);
        let err = get(&dev, &target, T).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            err.message(),
            "prefix.target is 1048576 bytes; the limit is 256 bytes"
        );

        // 1,000 empty paths each read the whole device: 170 leaves each.
        let mut roots = request(&[], DataType::All, Encoding::Proto);
        roots.path = vec![Path::default(); MAX_PATHS_PER_GET];
        let err = get(&dev, &roots, T).unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        assert!(
            err.message().contains("the limit is 50000 per GetResponse"),
            "{}",
            err.message()
        );
        roots.path.truncate(MAX_GET_LEAVES / 170);
        let resp = get(&dev, &roots, T).unwrap();
        assert_eq!(resp.notification.len(), MAX_GET_LEAVES / 170);
    }

    #[test]
    fn errors_carry_gnmi_codes() {
        let dev = DeviceModel::new(&DeviceSpec::default()).unwrap();
        let code = |req: GetRequest| get(&dev, &req, T).unwrap_err().code();
        let ok = "/interfaces/interface/state";
        assert_eq!(
            code(request(&[ok, "/system"], DataType::All, Encoding::Proto)),
            tonic::Code::NotFound
        );
        assert_eq!(
            code(request(
                &["/interfaces/interface[name=]"],
                DataType::All,
                Encoding::Proto
            )),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            code(request(&[ok], DataType::All, Encoding::Ascii)),
            tonic::Code::Unimplemented
        );
        let mut bad_type = request(&[ok], DataType::All, Encoding::Proto);
        bad_type.r#type = 9;
        assert_eq!(code(bad_type), tonic::Code::InvalidArgument);
    }
}
