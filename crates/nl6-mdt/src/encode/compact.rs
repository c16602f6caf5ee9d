//! Compact GPB rows: `TelemetryRowGPB{timestamp, keys, content}` whose `keys` and
//! `content` are messages of the path's own `.proto` ([`crate::generate_proto`]):
//! proto3, so zero values, false and empty strings are left out; containers are always
//! sent.

use super::RowInput;
use super::wire::{LEN, VARINT, key_len, put_key, put_varint, varint_len as encoded_len_varint};
use crate::row::Value;
use crate::sensor::{FieldKind, FieldSpec};

/// `TelemetryGPBTable.row`.
pub(super) const ROW: u32 = 1;
/// `Telemetry.data_gpb`.
pub(super) const DATA_GPB: u32 = 12;

fn value_len(tag: u32, v: &Value<'_>) -> usize {
    match v {
        Value::Str("") | Value::Bool(false) | Value::U32(0) | Value::U64(0) => 0,
        Value::Str(s) => key_len(tag) + encoded_len_varint(s.len() as u64) + s.len(),
        Value::Bool(true) => key_len(tag) + 1,
        Value::U32(x) => key_len(tag) + encoded_len_varint(u64::from(*x)),
        Value::U64(x) => key_len(tag) + encoded_len_varint(*x),
    }
}

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

/// Length of the message of `fields`; records it and nested messages' lengths in
/// `lens`, in pre-order.
fn message_len(
    fields: &[FieldSpec],
    values: &[Value<'_>],
    cursor: &mut usize,
    event: bool,
    lens: &mut Vec<usize>,
) -> usize {
    let slot = lens.len();
    lens.push(0);
    let mut len = 0;
    for f in fields {
        if event && !f.on_change {
            *cursor += f.leaf_count();
            continue;
        }
        len += match f.kind {
            FieldKind::Container(children) => {
                let inner = message_len(children, values, cursor, event, lens);
                key_len(f.tag) + encoded_len_varint(inner as u64) + inner
            }
            _ => {
                *cursor += 1;
                value_len(f.tag, &values[*cursor - 1])
            }
        };
    }
    lens[slot] = len;
    len
}

/// Writes the body of the message of `fields` (its length was `lens[*at - 1]`).
fn put_message(
    fields: &[FieldSpec],
    input: (&[Value<'_>], &mut usize, bool),
    lens: (&[usize], &mut usize),
    buf: &mut Vec<u8>,
) {
    let (values, cursor, event) = input;
    let (lens, at) = lens;
    for f in fields {
        if event && !f.on_change {
            *cursor += f.leaf_count();
            continue;
        }
        match f.kind {
            FieldKind::Container(children) => {
                put_key(f.tag, LEN, buf);
                put_varint(lens[*at] as u64, buf);
                *at += 1;
                put_message(
                    children,
                    (values, &mut *cursor, event),
                    (lens, &mut *at),
                    buf,
                );
            }
            _ => {
                put_value(f.tag, &values[*cursor], buf);
                *cursor += 1;
            }
        }
    }
}

/// Appends one row as a `TelemetryGPBTable.row` entry.
pub(super) fn put_row(row: &RowInput<'_, '_>, lens: &mut Vec<usize>, buf: &mut Vec<u8>) {
    lens.clear();
    let keys = message_len(row.keys_spec, row.keys, &mut 0, false, lens);
    let content = message_len(row.content_spec, row.content, &mut 0, row.event, lens);
    let bytes_field = |len: usize| {
        if len == 0 {
            0
        } else {
            1 + encoded_len_varint(len as u64) + len
        }
    };
    let mut body = bytes_field(keys) + bytes_field(content);
    if row.timestamp_ms != 0 {
        body += 1 + encoded_len_varint(row.timestamp_ms);
    }
    put_key(ROW, LEN, buf);
    put_varint(body as u64, buf);
    if row.timestamp_ms != 0 {
        put_key(1, VARINT, buf);
        put_varint(row.timestamp_ms, buf);
    }
    let mut at = 1;
    if keys != 0 {
        put_key(10, LEN, buf);
        put_varint(keys as u64, buf);
        put_message(
            row.keys_spec,
            (row.keys, &mut 0, false),
            (lens, &mut at),
            buf,
        );
    }
    // The content message's own length is the first entry after the keys' messages.
    let keys_messages = at;
    at = keys_messages + 1;
    if content != 0 {
        put_key(11, LEN, buf);
        put_varint(content as u64, buf);
        put_message(
            row.content_spec,
            (row.content, &mut 0, row.event),
            (lens, &mut at),
            buf,
        );
    }
}
