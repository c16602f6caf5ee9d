//! The fast path: `SubscribeResponse` bytes written directly from pre-encoded paths.
//!
//! Leaf paths are the same for every device with the same interface names, so each
//! `Update.path` field is encoded once per [`InterfaceNames`] and shared. Per leaf the
//! encoder then copies those bytes and writes the value: the output is byte-for-byte
//! what prost produces for the equivalent typed [`Notification`](nl6_gnmi::proto::gnmi::Notification)
//! (see [`crate::notification`]).

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use nl6_ifstate::InterfaceNames;
use parking_lot::Mutex;
use prost::Message;
use prost::encoding::{encode_varint, encoded_len_varint};

use crate::encoding::ValueEncoding;
use crate::leaf::{LEAF_COUNT, Leaf, LeafSet};
use crate::snapshot::{LeafValue, Snapshot};

// Wire tags: (field number << 3) | wire type.
const TAG_RESPONSE_UPDATE: u8 = 0x0a; // SubscribeResponse.update = 1, LEN
const TAG_NOTIF_TIMESTAMP: u8 = 0x08; // Notification.timestamp = 1, VARINT
const TAG_NOTIF_PREFIX: u8 = 0x12; // Notification.prefix = 2, LEN
const TAG_NOTIF_UPDATE: u8 = 0x22; // Notification.update = 4, LEN
const TAG_UPDATE_PATH: u8 = 0x0a; // Update.path = 1, LEN
const TAG_UPDATE_VAL: u8 = 0x1a; // Update.val = 3, LEN
const TAG_PATH_ELEM: u8 = 0x1a; // Path.elem = 3, LEN
const TAG_PATH_TARGET: u8 = 0x22; // Path.target = 4, LEN
const TAG_ELEM_NAME: u8 = 0x0a; // PathElem.name = 1, LEN
const TAG_ELEM_KEY: u8 = 0x12; // PathElem.key = 2 (map entry), LEN
const TAG_ENTRY_KEY: u8 = 0x0a; // map entry key = 1, LEN
const TAG_ENTRY_VALUE: u8 = 0x12; // map entry value = 2, LEN
const TAG_TV_STRING: u8 = 0x0a; // TypedValue.string_val = 1, LEN
const TAG_TV_UINT: u8 = 0x18; // TypedValue.uint_val = 3, VARINT
const TAG_TV_JSON: u8 = 0x52; // TypedValue.json_val = 10, LEN
const TAG_TV_JSON_IETF: u8 = 0x5a; // TypedValue.json_ietf_val = 11, LEN

fn put_len_delimited(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// One cached table and the names it was built for.
type TableEntry = (Arc<InterfaceNames>, Arc<PathTable>);

/// Encoded `Update.path` fields (tag, length and path) for every (interface, leaf).
#[derive(Debug)]
pub(crate) struct PathTable {
    bytes: Vec<u8>,
    spans: Vec<(u32, u32)>,
}

impl PathTable {
    fn build(names: &InterfaceNames) -> PathTable {
        let mut bytes = Vec::new();
        let mut spans = Vec::with_capacity(names.len() * LEAF_COUNT);
        let mut path = Vec::with_capacity(128);
        let mut elem = Vec::with_capacity(64);
        let mut entry = Vec::with_capacity(64);
        for idx in 0..names.len() {
            for leaf in Leaf::all() {
                path.clear();
                let mut push_elem = |path: &mut Vec<u8>, name: &str, key: Option<&str>| {
                    elem.clear();
                    put_len_delimited(&mut elem, TAG_ELEM_NAME, name.as_bytes());
                    if let Some(value) = key {
                        entry.clear();
                        put_len_delimited(&mut entry, TAG_ENTRY_KEY, b"name");
                        if !value.is_empty() {
                            put_len_delimited(&mut entry, TAG_ENTRY_VALUE, value.as_bytes());
                        }
                        put_len_delimited(&mut elem, TAG_ELEM_KEY, &entry);
                    }
                    put_len_delimited(path, TAG_PATH_ELEM, &elem);
                };
                push_elem(&mut path, "interfaces", None);
                push_elem(&mut path, "interface", Some(names.name(idx)));
                push_elem(&mut path, "state", None);
                if let Leaf::Counter(_) = leaf {
                    push_elem(&mut path, "counters", None);
                }
                push_elem(&mut path, leaf.name(), None);
                let start = bytes.len() as u32;
                put_len_delimited(&mut bytes, TAG_UPDATE_PATH, &path);
                spans.push((start, bytes.len() as u32 - start));
            }
        }
        PathTable { bytes, spans }
    }

    /// The table for `names`, built once and shared by every device using them.
    pub(crate) fn for_names(names: &Arc<InterfaceNames>) -> Arc<PathTable> {
        static CACHE: OnceLock<Mutex<Vec<TableEntry>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
        let mut cache = cache.lock();
        if let Some((_, table)) = cache.iter().find(|(n, _)| Arc::ptr_eq(n, names)) {
            return Arc::clone(table);
        }
        let table = Arc::new(PathTable::build(names));
        cache.push((Arc::clone(names), Arc::clone(&table)));
        table
    }

    fn update_path(&self, idx: usize, leaf: Leaf) -> &[u8] {
        let (start, len) = self.spans[idx * LEAF_COUNT + leaf.index()];
        &self.bytes[start as usize..(start + len) as usize]
    }

    /// Number of interfaces the table covers.
    pub fn interface_count(&self) -> usize {
        self.spans.len() / LEAF_COUNT
    }
}

/// Scratch buffers of one thread's encoder runs: a fleet of devices shares them instead
/// of each keeping ~16 KiB of its own between samples.
#[derive(Default)]
struct Scratch {
    body: Vec<u8>,
    value: Vec<u8>,
    json: Vec<u8>,
}

/// Scratch capacity kept between calls; a larger buffer is released after use.
const SCRATCH_KEEP: usize = 256 * 1024;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Writes `SubscribeResponse` bytes for devices with one set of interface names. It
/// holds only the shared path table, so keeping one per device costs a pointer.
#[derive(Clone, Debug)]
pub struct WireEncoder {
    table: Arc<PathTable>,
}

impl WireEncoder {
    /// An encoder for devices with these interface names.
    pub fn new(names: &Arc<InterfaceNames>) -> WireEncoder {
        WireEncoder {
            table: PathTable::for_names(names),
        }
    }

    /// Appends one `SubscribeResponse{update: Notification}` holding the leaves of
    /// `masks` (index = interface) read from `snapshot`, and returns the number of
    /// updates written. `target` goes into `Notification.prefix.target`.
    pub fn encode_response(
        &mut self,
        snapshot: &Snapshot<'_>,
        masks: &[LeafSet],
        encoding: ValueEncoding,
        target: Option<&str>,
        out: &mut Vec<u8>,
    ) -> usize {
        SCRATCH.with(|cell| {
            let mut guard;
            let mut fresh;
            // A re-entrant call (not possible today) would get fresh buffers.
            let scratch: &mut Scratch = match cell.try_borrow_mut() {
                Ok(borrowed) => {
                    guard = borrowed;
                    &mut guard
                }
                Err(_) => {
                    fresh = Scratch::default();
                    &mut fresh
                }
            };
            let n = self.encode_with(scratch, snapshot, masks, encoding, target, out);
            if scratch.body.capacity() > SCRATCH_KEEP {
                scratch.body = Vec::new();
            }
            n
        })
    }

    fn encode_with(
        &self,
        scratch: &mut Scratch,
        snapshot: &Snapshot<'_>,
        masks: &[LeafSet],
        encoding: ValueEncoding,
        target: Option<&str>,
        out: &mut Vec<u8>,
    ) -> usize {
        let Scratch { body, value, json } = scratch;
        body.clear();
        let mut updates = 0;
        for (idx, mask) in masks.iter().enumerate() {
            if mask.is_empty() || idx >= self.table.interface_count() {
                continue;
            }
            for leaf in mask.iter() {
                let Some(leaf_value) = snapshot.value(idx, leaf) else {
                    continue;
                };
                let path = self.table.update_path(idx, leaf);
                match (encoding, leaf_value) {
                    // The common case (counters in PROTO): the value straight into the body.
                    (ValueEncoding::Proto, LeafValue::U64(v)) => put_uint_update(body, path, v),
                    _ => {
                        write_value(value, json, encoding, leaf_value);
                        put_update(body, path, value);
                    }
                }
                updates += 1;
            }
        }
        if let Some(subtrees) = snapshot.subtrees()
            && !snapshot.extras().is_empty()
            && let Some(paths) = crate::extra::ExtraPathTable::of(subtrees)
        {
            for reading in snapshot.extras() {
                let (Some(path), Some(ty)) = (
                    paths.update_path(reading),
                    crate::extra::reading_type(snapshot, reading),
                ) else {
                    continue;
                };
                value.clear();
                crate::extra::extra_value(&reading.value, ty, encoding).encode_raw(value);
                put_update(body, path, value);
                updates += 1;
            }
        }
        write_notification(out, snapshot.timestamp_ns(), target, body);
        updates
    }
}

/// Appends the head of one `Notification.update` whose `TypedValue` is `val_len` bytes:
/// tags and lengths, then the pre-encoded `Update.path` field. The value follows.
#[inline]
fn put_update_head(body: &mut Vec<u8>, path: &[u8], val_len: usize) {
    let update_len = path.len() + 1 + encoded_len_varint(val_len as u64) + val_len;
    body.push(TAG_NOTIF_UPDATE);
    encode_varint(update_len as u64, body);
    body.extend_from_slice(path);
    body.push(TAG_UPDATE_VAL);
    encode_varint(val_len as u64, body);
}

/// Appends one `Notification.update`: `path`, then `val` holding the encoded
/// `TypedValue` `value`.
#[inline]
fn put_update(body: &mut Vec<u8>, path: &[u8], value: &[u8]) {
    put_update_head(body, path, value.len());
    body.extend_from_slice(value);
}

/// [`put_update`] of a `uint_val`, written without a scratch buffer.
#[inline]
fn put_uint_update(body: &mut Vec<u8>, path: &[u8], v: u64) {
    put_update_head(body, path, 1 + encoded_len_varint(v));
    body.push(TAG_TV_UINT);
    encode_varint(v, body);
}

/// Fills `out` with the encoded `TypedValue` message of `value` (`json` is scratch).
fn write_value(
    out: &mut Vec<u8>,
    json: &mut Vec<u8>,
    encoding: ValueEncoding,
    value: LeafValue<'_>,
) {
    out.clear();
    match encoding {
        ValueEncoding::Proto => match value {
            LeafValue::Str(s) => put_len_delimited(out, TAG_TV_STRING, s.as_bytes()),
            LeafValue::Enum(e) => put_len_delimited(out, TAG_TV_STRING, e.as_bytes()),
            LeafValue::U32(v) => {
                out.push(TAG_TV_UINT);
                encode_varint(u64::from(v), out);
            }
            LeafValue::U64(v) => {
                out.push(TAG_TV_UINT);
                encode_varint(v, out);
            }
        },
        ValueEncoding::Json | ValueEncoding::JsonIetf => {
            json.clear();
            encoding.write_json(json, value);
            let tag = if encoding == ValueEncoding::Json {
                TAG_TV_JSON
            } else {
                TAG_TV_JSON_IETF
            };
            put_len_delimited(out, tag, json);
        }
    }
}

/// Writes the `SubscribeResponse` and `Notification` headers around `updates`.
fn write_notification(out: &mut Vec<u8>, timestamp_ns: u64, target: Option<&str>, updates: &[u8]) {
    let mut header_len = 0;
    if timestamp_ns != 0 {
        header_len += 1 + encoded_len_varint(timestamp_ns);
    }
    let target = target.filter(|t| !t.is_empty());
    let prefix_len = target.map_or(0, |t| 1 + encoded_len_varint(t.len() as u64) + t.len());
    if target.is_some() {
        header_len += 1 + encoded_len_varint(prefix_len as u64) + prefix_len;
    }
    let notif_len = header_len + updates.len();
    out.reserve(1 + encoded_len_varint(notif_len as u64) + notif_len);
    out.push(TAG_RESPONSE_UPDATE);
    encode_varint(notif_len as u64, out);
    if timestamp_ns != 0 {
        out.push(TAG_NOTIF_TIMESTAMP);
        encode_varint(timestamp_ns, out);
    }
    if let Some(t) = target {
        out.push(TAG_NOTIF_PREFIX);
        encode_varint(prefix_len as u64, out);
        put_len_delimited(out, TAG_PATH_TARGET, t.as_bytes());
    }
    out.extend_from_slice(updates);
}
