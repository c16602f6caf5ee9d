//! Entries of a device's other subtrees that went away between two readings (an LLDP
//! neighbour whose device was deleted), and the `Notification.delete` that says so.

use nl6_gnmi::proto::gnmi::{Notification, Path, SubscribeResponse, subscribe_response};
use prost::Message;

use crate::extra::entry_path;
use crate::snapshot::{ExtraReading, Snapshot};
use crate::typed::prefix_for;

/// The paths of the entries that `before` read some leaf of and `now` reads none of, one
/// per entry (e.g. `/lldp/interfaces/interface[name=Ethernet1]/neighbors/neighbor[id=1]`),
/// in subtree and entry order.
pub fn removed_entries(before: &[ExtraReading], now: &Snapshot<'_>) -> Vec<Path> {
    let Some(subtrees) = now.subtrees() else {
        return Vec::new();
    };
    let mut gone: Vec<(u16, u32)> = before
        .iter()
        .map(|r| (r.subtree, r.entry))
        .filter(|&(subtree, entry)| {
            !now.extras()
                .iter()
                .any(|r| (r.subtree, r.entry) == (subtree, entry))
        })
        .collect();
    gone.sort_unstable();
    gone.dedup();
    gone.into_iter()
        .filter_map(|(subtree, entry)| {
            let subtree = subtrees.get(usize::from(subtree))?;
            let entry = entry as usize;
            (entry < subtree.entry_count()).then(|| entry_path(&**subtree, entry, None))
        })
        .collect()
}

/// A `SubscribeResponse` whose Notification deletes `paths` at `timestamp_ns`, with
/// `target` (if any) in its prefix, as wire bytes.
pub fn delete_response(timestamp_ns: u64, target: Option<&str>, paths: Vec<Path>) -> Vec<u8> {
    SubscribeResponse {
        response: Some(subscribe_response::Response::Update(delete_notification(
            timestamp_ns,
            target,
            paths,
        ))),
        extension: Vec::new(),
    }
    .encode_to_vec()
}

/// A Notification deleting `paths` at `timestamp_ns`.
pub fn delete_notification(
    timestamp_ns: u64,
    target: Option<&str>,
    paths: Vec<Path>,
) -> Notification {
    Notification {
        timestamp: timestamp_ns as i64,
        prefix: prefix_for(target),
        update: Vec::new(),
        delete: paths,
        atomic: false,
    }
}
