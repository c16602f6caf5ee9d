//! Compact GPB rows: `TelemetryRowGPB{timestamp, keys, content}` whose `keys` and
//! `content` are messages of the path's own `.proto` ([`crate::generate_proto`]):
//! proto3, so zero values, false and empty strings are left out; containers are always
//! sent.

use super::RowInput;
use super::wire::{LEN, VARINT, put_bytes, put_key, put_varint, varint_len as encoded_len_varint};
use crate::row::Value;
use crate::sensor::{FieldKind, FieldSpec};

/// `TelemetryGPBTable.row`.
pub(super) const ROW: u32 = 1;
/// `Telemetry.data_gpb`.
pub(super) const DATA_GPB: u32 = 12;

fn put_value(tag: u32, v: &Value<'_>, buf: &mut Vec<u8>) {
    match v {
        Value::Str("") | Value::Bool(false) | Value::U32(0) | Value::U64(0) => {}
        Value::Str(s) => {
            put_key(tag, LEN, buf);
            put_varint(s.len() as u64, buf);
            buf.extend_from_slice(s.as_bytes());
        }
        Value::Bool(true) => {
            put_key(tag, VARINT, buf);
            buf.push(1);
        }
        Value::U32(x) => {
            put_key(tag, VARINT, buf);
            put_varint(u64::from(*x), buf);
        }
        Value::U64(x) => {
            put_key(tag, VARINT, buf);
            put_varint(*x, buf);
        }
    }
}

/// Writes the message of `fields` into `pool[0]`; nested messages go through
/// `pool[1..]` first (one buffer per depth), so every length is known when written.
fn put_message(
    fields: &[FieldSpec],
    input: (&[Value<'_>], &mut usize, bool),
    pool: &mut [Vec<u8>],
) {
    let (values, cursor, event) = input;
    let Some((out, deeper)) = pool.split_first_mut() else {
        return;
    };
    out.clear();
    for f in fields {
        if event && !f.on_change {
            *cursor += f.leaf_count();
            continue;
        }
        match f.kind {
            FieldKind::Container(children) => {
                put_message(children, (values, &mut *cursor, event), deeper);
                let inner = deeper.first().map(Vec::as_slice).unwrap_or_default();
                put_key(f.tag, LEN, out);
                put_varint(inner.len() as u64, out);
                out.extend_from_slice(inner);
            }
            _ => {
                put_value(f.tag, &values[*cursor], out);
                *cursor += 1;
            }
        }
    }
}

/// Appends one row as a `TelemetryGPBTable.row` entry (`pool`: scratch buffers, at
/// least the containers' depth plus two).
pub(super) fn put_row(row: &RowInput<'_, '_>, pool: &mut [Vec<u8>], buf: &mut Vec<u8>) {
    let (keys, content) = pool.split_at_mut(1);
    put_message(row.keys_spec, (row.keys, &mut 0, false), keys);
    put_message(row.content_spec, (row.content, &mut 0, row.event), content);
    let (keys, content) = (&keys[0], &content[0]);
    let bytes_field = |len: usize| {
        if len == 0 {
            0
        } else {
            1 + encoded_len_varint(len as u64) + len
        }
    };
    let mut body = bytes_field(keys.len()) + bytes_field(content.len());
    if row.timestamp_ms != 0 {
        body += 1 + encoded_len_varint(row.timestamp_ms);
    }
    put_key(ROW, LEN, buf);
    put_varint(body as u64, buf);
    if row.timestamp_ms != 0 {
        put_key(1, VARINT, buf);
        put_varint(row.timestamp_ms, buf);
    }
    // proto3 leaves empty bytes fields out.
    if !keys.is_empty() {
        put_bytes(10, keys, buf);
    }
    if !content.is_empty() {
        put_bytes(11, content, buf);
    }
}
