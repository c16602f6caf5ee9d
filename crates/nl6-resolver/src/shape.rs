//! Notifications in a device's [`NotificationShape`]: flat (absolute paths, one
//! notification per sample), or one notification per list entry with the entry as the
//! prefix and paths relative to it, and for Junos Juniper's telemetry header extension
//! on every `SubscribeResponse`.
//!
//! The flat shape is [`WireEncoder`]'s fast path, unchanged. The per-entry shapes are
//! built from the typed notification ([`crate::notification`]) split by
//! [`per_entry`], so every shape carries exactly the same values.

use nl6_gnmi::proto::gnmi::{Notification, Path, PathElem, SubscribeResponse, subscribe_response};
use nl6_gnmi::proto::gnmi_ext::{Extension, ExtensionId, RegisteredExtension, extension};
use nl6_gnmi::proto::juniper::GnmiJuniperTelemetryHeaderExtension;
use nl6_ifstate::DeviceModel;
use nl6_model::NotificationShape;
use prost::Message;

use crate::encoding::ValueEncoding;
use crate::leaf::LeafSet;
use crate::snapshot::Snapshot;
use crate::typed::notification;
use crate::wire::WireEncoder;

/// The `component_id` Junos gives data streamed by the Routing Engine.
pub const JUNOS_RE_COMPONENT_ID: u32 = 65_535;

/// The shape `model`'s notifications have: its profile's, or flat for a bare device.
pub fn shape_of(model: &DeviceModel) -> NotificationShape {
    model
        .subtrees()
        .map_or(NotificationShape::Flat, |s| s.shape())
}

/// Where a path splits into its list entry and the rest: after its last keyed element,
/// or, without one, before its last element (a container's leaf).
fn entry_len(path: &Path) -> usize {
    match path.elem.iter().rposition(|e| !e.key.is_empty()) {
        Some(keyed) => keyed + 1,
        None => path.elem.len().saturating_sub(1),
    }
}

/// Splits `flat` into one notification per list entry, in order: each has the entry's
/// path (after `flat`'s prefix: its target and origin) as its prefix and its updates'
/// and deletes' paths relative to it. An entry's leaves that are not adjacent in `flat`
/// start a new notification.
pub fn per_entry(flat: Notification) -> Vec<Notification> {
    let base = flat.prefix.unwrap_or_default();
    let mut out: Vec<Notification> = Vec::new();
    let mut current: Option<Vec<PathElem>> = None;
    let start = |out: &mut Vec<Notification>, elems: &[PathElem]| {
        out.push(Notification {
            timestamp: flat.timestamp,
            prefix: Some(Path {
                elem: base.elem.iter().chain(elems).cloned().collect(),
                ..base.clone()
            }),
            ..Default::default()
        });
    };
    for mut update in flat.update {
        let path = update.path.get_or_insert_with(Path::default);
        let split = entry_len(path);
        let rest = path.elem.split_off(split);
        if current.as_deref() != Some(path.elem.as_slice()) {
            start(&mut out, &path.elem);
            current = Some(std::mem::take(&mut path.elem));
        }
        path.elem = rest;
        if let Some(n) = out.last_mut() {
            n.update.push(update);
        }
    }
    for mut delete in flat.delete {
        let split = entry_len(&delete);
        let rest = delete.elem.split_off(split);
        if current.as_deref() != Some(delete.elem.as_slice()) {
            start(&mut out, &delete.elem);
            current = Some(std::mem::take(&mut delete.elem));
        }
        delete.elem = rest;
        if let Some(n) = out.last_mut() {
            n.delete.push(delete);
        }
    }
    out
}

/// `notifications` in `shape`: as they are when flat, each split per list entry
/// otherwise (Get answers carry no telemetry header).
pub fn shaped(notifications: Vec<Notification>, shape: NotificationShape) -> Vec<Notification> {
    if !shape.per_entry() {
        return notifications;
    }
    notifications.into_iter().flat_map(per_entry).collect()
}

/// The data-producing Junos process nl6 names for a sensor path (`component` of the
/// header).
fn junos_component(streamed_path: &str) -> &'static str {
    let top = streamed_path.trim_start_matches('/').split('/').next();
    match top {
        Some("interfaces") => "mib2d",
        Some("components") | Some("system") => "chassisd",
        Some("network-instances") => "rpd",
        Some("lldp") => "l2cpd",
        _ => "nl6",
    }
}

/// The path of a notification's list entries without keys, slash-terminated as Junos
/// writes sensor paths (`/interfaces/interface/`).
fn sensor_path(prefix: Option<&Path>) -> String {
    let mut text = String::from("/");
    for elem in prefix.map(|p| p.elem.as_slice()).unwrap_or_default() {
        text.push_str(&elem.name);
        text.push('/');
    }
    text
}

/// Unix ms of `ns`.
fn ms(ns: u64) -> i64 {
    i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)
}

/// Writes a device's `SubscribeResponse`s in its [`NotificationShape`]: flat through
/// [`WireEncoder`] (one response per sample), per entry one response per list entry,
/// for Junos each with Juniper's telemetry header (`sequence_number` counting this
/// encoder's responses). Keep one per stream.
#[derive(Clone, Debug)]
pub struct ResponseEncoder {
    wire: WireEncoder,
    shape: NotificationShape,
    /// The next header's `sequence_number`.
    sequence: u64,
    /// When the stream (this encoder) was created, Unix ms.
    created_ms: i64,
    /// The header's `system_id` (empty: the notifications' target).
    system_id: String,
}

impl ResponseEncoder {
    /// An encoder for one stream of `model`, in the model's shape.
    pub fn new(model: &DeviceModel) -> ResponseEncoder {
        ResponseEncoder::with_shape(model, shape_of(model))
    }

    /// An encoder for one stream of `model` in `shape`.
    pub fn with_shape(model: &DeviceModel, shape: NotificationShape) -> ResponseEncoder {
        ResponseEncoder {
            wire: WireEncoder::new(model.names()),
            shape,
            sequence: 0,
            created_ms: ms(nl6_ifstate::unix_now_ns()),
            system_id: String::new(),
        }
    }

    /// The same encoder naming the device `system_id` in Juniper's header (its address;
    /// by default the notifications' target).
    pub fn with_system_id(mut self, system_id: impl Into<String>) -> ResponseEncoder {
        self.system_id = system_id.into();
        self
    }

    /// The shape it writes.
    pub fn shape(&self) -> NotificationShape {
        self.shape
    }

    /// Encodes the leaves of `masks` (index = interface) and the snapshot's other-subtree
    /// leaves, calling `emit(bytes, updates)` for each `SubscribeResponse`: once in the
    /// flat shape (even with no update), once per list entry otherwise. Returns the
    /// updates written.
    pub fn encode(
        &mut self,
        snapshot: &Snapshot<'_>,
        masks: &[LeafSet],
        encoding: ValueEncoding,
        target: Option<&str>,
        emit: &mut dyn FnMut(Vec<u8>, usize),
    ) -> usize {
        if !self.shape.per_entry() {
            let mut out = Vec::with_capacity(256);
            let n = self
                .wire
                .encode_response(snapshot, masks, encoding, target, &mut out);
            emit(out, n);
            return n;
        }
        let entries = per_entry(notification(snapshot, masks, encoding, target));
        let last = entries.len().saturating_sub(1);
        let mut total = 0;
        for (i, n) in entries.into_iter().enumerate() {
            let updates = n.update.len();
            let extension = match self.shape {
                NotificationShape::Junos => vec![self.header(snapshot, &n, target, i == last)],
                _ => Vec::new(),
            };
            let response = SubscribeResponse {
                response: Some(subscribe_response::Response::Update(n)),
                extension,
            };
            emit(response.encode_to_vec(), updates);
            total += updates;
        }
        total
    }

    /// Appends `GetResponse.notification` fields (no header) for the same leaves, and
    /// returns the updates written: one notification flat, one per list entry otherwise.
    pub fn encode_notifications(
        &mut self,
        snapshot: &Snapshot<'_>,
        masks: &[LeafSet],
        encoding: ValueEncoding,
        target: Option<&str>,
        out: &mut Vec<u8>,
    ) -> usize {
        if !self.shape.per_entry() {
            return self
                .wire
                .encode_response(snapshot, masks, encoding, target, out);
        }
        let mut total = 0;
        for n in per_entry(notification(snapshot, masks, encoding, target)) {
            total += n.update.len();
            prost::encoding::message::encode(1, &n, out);
        }
        total
    }

    /// The telemetry header of notification `n`, the next in sequence; `eom` on the last
    /// notification of a sample.
    fn header(
        &mut self,
        snapshot: &Snapshot<'_>,
        n: &Notification,
        target: Option<&str>,
        eom: bool,
    ) -> Extension {
        let streamed_path = sensor_path(n.prefix.as_ref());
        let sequence_number = self.sequence;
        self.sequence += 1;
        let header = GnmiJuniperTelemetryHeaderExtension {
            system_id: if self.system_id.is_empty() {
                target.unwrap_or_default().to_string()
            } else {
                self.system_id.clone()
            },
            component_id: JUNOS_RE_COMPONENT_ID,
            sub_component_id: 0,
            sensor_name: format!("sensor_{}", 1000 + sensor_index(&streamed_path)),
            subscribed_path: streamed_path.clone(),
            component: junos_component(&streamed_path).to_string(),
            streamed_path,
            sequence_number,
            payload_get_timestamp: ms(snapshot.timestamp_ns()),
            stream_creation_timestamp: self.created_ms,
            event_timestamp: 0,
            export_timestamp: ms(nl6_ifstate::unix_now_ns()),
            sub_sequence_number: 0,
            eom,
        };
        Extension {
            ext: Some(extension::Ext::RegisteredExt(RegisteredExtension {
                id: ExtensionId::EidJuniperTelemetryHeader as i32,
                msg: header.encode_to_vec(),
            })),
        }
    }
}

/// A small stable number per sensor path (the `sensor_<n>` of the header).
fn sensor_index(path: &str) -> u32 {
    path.bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl6_gnmi::parse_path;
    use nl6_gnmi::proto::gnmi::Update;

    fn update(text: &str) -> Update {
        Update {
            path: Some(parse_path(text).unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn updates_split_after_their_last_keyed_element() {
        let flat = Notification {
            timestamp: 7,
            prefix: Some(Path {
                target: "127.0.0.1".into(),
                ..Default::default()
            }),
            update: vec![
                update("/interfaces/interface[name=et-0/0/0]/state/oper-status"),
                update("/interfaces/interface[name=et-0/0/0]/state/counters/in-octets"),
                update("/interfaces/interface[name=et-0/0/1]/state/name"),
                update("/system/state/boot-time"),
                update("/system/memory/state/used"),
            ],
            ..Default::default()
        };
        let split = per_entry(flat);
        let shown: Vec<(String, Vec<String>)> = split
            .iter()
            .map(|n| {
                let prefix = n.prefix.as_ref().unwrap();
                assert_eq!(prefix.target, "127.0.0.1");
                assert_eq!(n.timestamp, 7);
                (
                    nl6_gnmi::format_path(prefix),
                    n.update
                        .iter()
                        .map(|u| nl6_gnmi::format_path(u.path.as_ref().unwrap()))
                        .collect(),
                )
            })
            .collect();
        let s = |v: &[&str]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(
            shown,
            vec![
                (
                    "/interfaces/interface[name=et-0/0/0]".to_string(),
                    s(&["/state/oper-status", "/state/counters/in-octets"])
                ),
                (
                    "/interfaces/interface[name=et-0/0/1]".to_string(),
                    s(&["/state/name"])
                ),
                ("/system/state".to_string(), s(&["/boot-time"])),
                ("/system/memory/state".to_string(), s(&["/used"])),
            ]
        );
    }

    #[test]
    fn junos_names_the_producing_process() {
        assert_eq!(junos_component("/interfaces/interface/"), "mib2d");
        assert_eq!(junos_component("/components/component/"), "chassisd");
        let prefix = parse_path("/interfaces/interface[name=et-0/0/0]").unwrap();
        assert_eq!(sensor_path(Some(&prefix)), "/interfaces/interface/");
    }
}
