//! Self-describing (key-value) GPB rows: one `TelemetryField` per row with the children
//! `keys` and `content`, every leaf named and typed (`uint64_value`, `string_value`, ...).
//!
//! Written with `prost::encoding` primitives in the field order prost itself uses, so
//! the bytes equal those of the generated `TelemetryField` (checked in tests).

use super::RowInput;
use super::wire::{LEN, VARINT, put_key, put_varint, varint_len as encoded_len_varint};
use crate::row::Value;
use crate::sensor::{FieldKind, FieldSpec};

const TIMESTAMP: u32 = 1;
const NAME: u32 = 2;
const FIELDS: u32 = 15;
/// `Telemetry.data_gpbkv`.
pub(super) const DATA_GPBKV: u32 = 11;

fn str_len(s: &str) -> usize {
    1 + encoded_len_varint(s.len() as u64) + s.len()
}

/// A field of a message, one-byte key: key + length + body.
fn entry_len(body: usize) -> usize {
    1 + encoded_len_varint(body as u64) + body
}

fn value_len(v: &Value<'_>) -> usize {
    1 + match v {
        Value::Str(s) => encoded_len_varint(s.len() as u64) + s.len(),
        Value::Bool(_) => 1,
        Value::U32(x) => encoded_len_varint(u64::from(*x)),
        Value::U64(x) => encoded_len_varint(*x),
    }
}

fn leaf_len(name: &str, v: &Value<'_>) -> usize {
    str_len(name) + value_len(v)
}

fn put_str(tag: u32, s: &str, buf: &mut Vec<u8>) {
    super::wire::put_bytes(tag, s.as_bytes(), buf);
}

fn put_leaf(name: &str, v: &Value<'_>, buf: &mut Vec<u8>) {
    put_key(FIELDS, LEN, buf);
    put_varint(leaf_len(name, v) as u64, buf);
    put_str(NAME, name, buf);
    match v {
        Value::Str(s) => put_str(5, s, buf),
        Value::Bool(b) => {
            put_key(6, VARINT, buf);
            buf.push(u8::from(*b));
        }
        Value::U32(x) => {
            put_key(7, VARINT, buf);
            put_varint(u64::from(*x), buf);
        }
        Value::U64(x) => {
            put_key(8, VARINT, buf);
            put_varint(*x, buf);
        }
    }
}

/// Body length of the container `name` of `fields`, reading values from `*cursor`;
/// records it and every nested container's length in `lens`, in pre-order.
fn container_len(
    name: &str,
    fields: &[FieldSpec],
    values: &[Value<'_>],
    cursor: &mut usize,
    event: bool,
    lens: &mut Vec<usize>,
) -> usize {
    let slot = lens.len();
    lens.push(0);
    let mut body = str_len(name);
    for f in fields {
        if event && !f.on_change {
            *cursor += f.leaf_count();
            continue;
        }
        body += match f.kind {
            FieldKind::Container(children) => {
                entry_len(container_len(f.name, children, values, cursor, event, lens))
            }
            _ => {
                *cursor += 1;
                entry_len(leaf_len(f.name, &values[*cursor - 1]))
            }
        };
    }
    lens[slot] = body;
    body
}

/// Writes the container whose length is `lens[*at]` as an entry of `fields`.
fn put_container(
    name: &str,
    fields: &[FieldSpec],
    input: (&[Value<'_>], &mut usize, bool),
    lens: (&[usize], &mut usize),
    buf: &mut Vec<u8>,
) {
    let (values, cursor, event) = input;
    let (lens, at) = lens;
    put_key(FIELDS, LEN, buf);
    put_varint(lens[*at] as u64, buf);
    *at += 1;
    put_str(NAME, name, buf);
    for f in fields {
        if event && !f.on_change {
            *cursor += f.leaf_count();
            continue;
        }
        match f.kind {
            FieldKind::Container(children) => put_container(
                f.name,
                children,
                (values, &mut *cursor, event),
                (lens, &mut *at),
                buf,
            ),
            _ => {
                put_leaf(f.name, &values[*cursor], buf);
                *cursor += 1;
            }
        }
    }
}

/// Appends one row as a `Telemetry.data_gpbkv` entry.
pub(super) fn put_row(row: &RowInput<'_, '_>, lens: &mut Vec<usize>, buf: &mut Vec<u8>) {
    lens.clear();
    let mut cursor = 0;
    let keys = container_len("keys", row.keys_spec, row.keys, &mut cursor, false, lens);
    let mut cursor = 0;
    let content = container_len(
        "content",
        row.content_spec,
        row.content,
        &mut cursor,
        row.event,
        lens,
    );
    let mut body = entry_len(keys) + entry_len(content);
    if row.timestamp_ms != 0 {
        body += 1 + encoded_len_varint(row.timestamp_ms);
    }
    put_key(DATA_GPBKV, LEN, buf);
    put_varint(body as u64, buf);
    if row.timestamp_ms != 0 {
        put_key(TIMESTAMP, VARINT, buf);
        put_varint(row.timestamp_ms, buf);
    }
    let mut at = 0;
    put_container(
        "keys",
        row.keys_spec,
        (row.keys, &mut 0, false),
        (lens, &mut at),
        buf,
    );
    put_container(
        "content",
        row.content_spec,
        (row.content, &mut 0, row.event),
        (lens, &mut at),
        buf,
    );
}
