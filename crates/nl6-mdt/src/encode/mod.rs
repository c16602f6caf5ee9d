//! Collections → messages: the `telemetry.Telemetry` envelope (or its JSON twin) around
//! rows in one of the three encodings, split by rows to fit a message size limit.
//!
//! A collection is one sensor path read at one instant, one row per interface. Its
//! messages carry the same envelope (`node_id_str`, `subscription_id_str`,
//! `encoding_path`, `collection_id`, and the instant as `collection_start_time`,
//! `msg_timestamp` and `collection_end_time`, ms). When the rows do not fit one message
//! of `max_message` bytes they are spread over several, in order, never splitting a row;
//! a row too large for a message of its own is dropped and counted.

mod compact;
mod json;
mod kv;
#[cfg(test)]
mod tests;
mod wire;

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use self::wire::{LEN, VARINT, put_key, put_varint, varint_len as encoded_len_varint};
use crate::row::{MAX_LEAVES, Row, Value, content_values};
use crate::sensor::{FieldSpec, SensorPath};

/// The largest message a TCP or gRPC collector takes (telegraf refuses more).
pub const MAX_TCP_MESSAGE: usize = 1 << 20;

/// How rows are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MdtEncoding {
    /// `self-describing-gpb`: key-value rows in `data_gpbkv`.
    SelfDescribingGpb,
    /// `gpb`: compact rows in `data_gpb`, decoded with the path's generated `.proto`.
    Gpb,
    /// `json`: a JSON message with rows in `data_json`.
    Json,
}

impl MdtEncoding {
    /// Every encoding.
    pub const ALL: [MdtEncoding; 3] = [
        MdtEncoding::SelfDescribingGpb,
        MdtEncoding::Gpb,
        MdtEncoding::Json,
    ];

    /// The name in XR configuration (`encoding self-describing-gpb`).
    pub fn as_str(self) -> &'static str {
        match self {
            MdtEncoding::SelfDescribingGpb => "self-describing-gpb",
            MdtEncoding::Gpb => "gpb",
            MdtEncoding::Json => "json",
        }
    }
}

impl fmt::Display for MdtEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An encoding name that is not `self-describing-gpb`, `gpb` or `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown MDT encoding {name:?}: use self-describing-gpb, gpb or json")]
pub struct UnknownEncoding {
    /// The name as given.
    pub name: String,
}

impl FromStr for MdtEncoding {
    type Err = UnknownEncoding;

    /// The XR name, case-insensitive; `kvgpb` and `self_describing_gpb` too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "self-describing-gpb" | "self_describing_gpb" | "kvgpb" => {
                Ok(MdtEncoding::SelfDescribingGpb)
            }
            "gpb" | "compact-gpb" => Ok(MdtEncoding::Gpb),
            "json" => Ok(MdtEncoding::Json),
            _ => Err(UnknownEncoding {
                name: s.to_string(),
            }),
        }
    }
}

/// One collection: one sensor path of one device at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Collection<'a> {
    /// The sensor path.
    pub path: SensorPath,
    /// `node_id_str`: the device's host name.
    pub node_id: &'a str,
    /// `subscription_id_str`.
    pub subscription_id: &'a str,
    /// `collection_id`: increases with every collection of the subscription.
    pub collection_id: u64,
    /// The instant the rows were read, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// An event-driven collection: rows carry only the fields that change with
    /// interface state.
    pub event: bool,
    /// One row per interface.
    pub rows: &'a [Row<'a>],
}

/// One message of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedMessage {
    /// A serialized `telemetry.Telemetry`, or the JSON message.
    pub payload: Bytes,
    /// Rows it carries.
    pub rows: usize,
    /// Leaf values it carries, keys included (compact GPB counts its zero values too,
    /// though proto3 leaves them off the wire).
    pub leaves: u64,
}

/// What a row encoder reads.
pub(crate) struct RowInput<'v, 'a> {
    keys_spec: &'static [FieldSpec],
    content_spec: &'static [FieldSpec],
    keys: &'v [Value<'a>],
    content: &'v [Value<'a>],
    timestamp_ms: u64,
    event: bool,
}

/// Number of leaves an event-driven row of `fields` carries.
fn event_leaves(fields: &[FieldSpec]) -> usize {
    fields
        .iter()
        .filter(|f| f.on_change)
        .map(|f| match f.kind {
            crate::sensor::FieldKind::Container(children) => event_leaves(children),
            _ => 1,
        })
        .sum()
}

/// Scratch buffers the row encoders need: the keys, then one per container depth of
/// the deepest path (`openconfig-interfaces`: content, state, counters), and one spare.
const SCRATCH_BUFFERS: usize = 5;

/// Encodes collections; keeps its buffers between calls (one per session).
#[derive(Debug, Default)]
pub struct CollectionEncoder {
    rows: Vec<u8>,
    /// End offset in `rows` of each encoded row.
    ends: Vec<usize>,
    /// Scratch buffers of the row encoders: keys, then one per container depth.
    scratch: Vec<Vec<u8>>,
    envelope: Envelope,
}

impl CollectionEncoder {
    /// An encoder with empty buffers.
    pub fn new() -> CollectionEncoder {
        CollectionEncoder::default()
    }

    /// Appends the messages of `collection` in `encoding`, each at most `max_message`
    /// bytes, to `out`; returns how many rows could not fit a message of their own and
    /// were dropped. A collection without rows yields no message.
    pub fn encode(
        &mut self,
        collection: &Collection<'_>,
        encoding: MdtEncoding,
        max_message: usize,
        out: &mut Vec<EncodedMessage>,
    ) -> usize {
        self.encode_rows(collection, encoding);
        let row_leaves = if collection.event {
            collection.path.keys().len() + event_leaves(collection.path.content())
        } else {
            collection.path.leaf_count()
        } as u64;
        // The envelope's buffers are kept between calls, like the rows'.
        let mut envelope = std::mem::take(&mut self.envelope);
        envelope.build(collection, encoding);
        let mut dropped = 0;
        let mut start = 0;
        let mut group: Option<(usize, usize)> = None;
        for (i, &end) in self.ends.iter().enumerate() {
            let row_len = end - start;
            let (first, rows_len) = match group {
                Some((first, len)) => (first, len),
                None => (i, 0),
            };
            if envelope.size(rows_len + row_len) <= max_message {
                group = Some((first, rows_len + row_len));
            } else {
                if let Some((first, len)) = group {
                    out.push(self.message(&envelope, first..i, len, row_leaves));
                }
                if envelope.size(row_len) <= max_message {
                    group = Some((i, row_len));
                } else {
                    dropped += 1;
                    group = None;
                }
            }
            start = end;
        }
        if let Some((first, len)) = group {
            out.push(self.message(&envelope, first..self.ends.len(), len, row_leaves));
        }
        self.envelope = envelope;
        dropped
    }

    /// Encodes every row of `collection` into `self.rows`.
    fn encode_rows(&mut self, collection: &Collection<'_>, encoding: MdtEncoding) {
        self.rows.clear();
        self.ends.clear();
        let path = collection.path;
        if self.scratch.len() < SCRATCH_BUFFERS {
            self.scratch.resize_with(SCRATCH_BUFFERS, Vec::new);
        }
        let mut values = [Value::U32(0); MAX_LEAVES];
        for row in collection.rows {
            let n = content_values(path, row, collection.timestamp_ms, &mut values);
            let keys = [Value::Str(row.name)];
            let input = RowInput {
                keys_spec: path.keys(),
                content_spec: path.content(),
                keys: &keys,
                content: &values[..n],
                timestamp_ms: collection.timestamp_ms,
                event: collection.event,
            };
            match encoding {
                MdtEncoding::SelfDescribingGpb => {
                    kv::put_row(&input, &mut self.scratch, &mut self.rows)
                }
                MdtEncoding::Gpb => compact::put_row(&input, &mut self.scratch, &mut self.rows),
                MdtEncoding::Json => json::put_row(&input, &mut self.rows),
            }
            self.ends.push(self.rows.len());
        }
    }

    /// The message of rows `range` (`len` bytes of `self.rows`).
    fn message(
        &self,
        envelope: &Envelope,
        range: std::ops::Range<usize>,
        len: usize,
        row_leaves: u64,
    ) -> EncodedMessage {
        let from = if range.start == 0 {
            0
        } else {
            self.ends[range.start - 1]
        };
        let rows = &self.rows[from..from + len];
        let count = range.len();
        let mut payload = Vec::with_capacity(envelope.size(len));
        envelope.write(rows, &mut payload);
        debug_assert_eq!(payload.len(), envelope.size(len));
        EncodedMessage {
            payload: Bytes::from(payload),
            rows: count,
            leaves: row_leaves * count as u64,
        }
    }
}

/// The envelope of a collection's messages, encoded once.
#[derive(Debug)]
struct Envelope {
    encoding: MdtEncoding,
    /// Everything before the rows.
    head: Vec<u8>,
    /// Everything after them.
    tail: Vec<u8>,
}

impl Default for Envelope {
    fn default() -> Self {
        Envelope {
            encoding: MdtEncoding::Gpb,
            head: Vec::new(),
            tail: Vec::new(),
        }
    }
}

fn put_u64_field(tag: u32, value: u64, buf: &mut Vec<u8>) {
    if value != 0 {
        put_key(tag, VARINT, buf);
        put_varint(value, buf);
    }
}

fn put_str_field(tag: u32, value: &str, buf: &mut Vec<u8>) {
    put_key(tag, LEN, buf);
    put_varint(value.len() as u64, buf);
    buf.extend_from_slice(value.as_bytes());
}

impl Envelope {
    /// Encodes the envelope of `c`'s messages in `encoding`.
    fn build(&mut self, c: &Collection<'_>, encoding: MdtEncoding) {
        self.encoding = encoding;
        let (head, tail) = (&mut self.head, &mut self.tail);
        head.clear();
        tail.clear();
        let ts = c.timestamp_ms;
        if encoding == MdtEncoding::Json {
            let field = |name: &str, buf: &mut Vec<u8>| {
                buf.push(b'"');
                buf.extend_from_slice(name.as_bytes());
                buf.extend_from_slice(b"\":");
            };
            head.push(b'{');
            field("node_id_str", head);
            json::put_str(c.node_id, head);
            head.push(b',');
            field("subscription_id_str", head);
            json::put_str(c.subscription_id, head);
            head.push(b',');
            field("encoding_path", head);
            json::put_str(c.path.as_str(), head);
            for (name, value) in [
                ("collection_id", c.collection_id),
                ("collection_start_time", ts),
                ("msg_timestamp", ts),
            ] {
                head.push(b',');
                field(name, head);
                json::put_u64(value, head);
            }
            head.push(b',');
            field("data_json", head);
            head.push(b'[');
            tail.extend_from_slice(b"],");
            field("collection_end_time", tail);
            json::put_u64(ts, tail);
            tail.push(b'}');
        } else {
            // Fields in tag order, as prost writes them.
            put_str_field(1, c.node_id, head);
            put_str_field(3, c.subscription_id, head);
            put_str_field(6, c.path.as_str(), head);
            put_u64_field(8, c.collection_id, head);
            put_u64_field(9, ts, head);
            put_u64_field(10, ts, head);
            put_u64_field(13, ts, tail);
        }
    }

    /// Size of a message whose rows take `rows_len` bytes.
    fn size(&self, rows_len: usize) -> usize {
        let fixed = self.head.len() + self.tail.len();
        match self.encoding {
            MdtEncoding::SelfDescribingGpb => fixed + rows_len,
            MdtEncoding::Gpb => fixed + 1 + encoded_len_varint(rows_len as u64) + rows_len,
            MdtEncoding::Json => fixed + rows_len.saturating_sub(1),
        }
    }

    /// Writes a message of `rows`, already encoded.
    fn write(&self, rows: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head);
        match self.encoding {
            MdtEncoding::SelfDescribingGpb => out.extend_from_slice(rows),
            MdtEncoding::Gpb => {
                put_key(compact::DATA_GPB, LEN, out);
                put_varint(rows.len() as u64, out);
                out.extend_from_slice(rows);
            }
            // Every JSON row starts with its comma: drop the first.
            MdtEncoding::Json => out.extend_from_slice(rows.get(1..).unwrap_or_default()),
        }
        out.extend_from_slice(&self.tail);
    }
}
