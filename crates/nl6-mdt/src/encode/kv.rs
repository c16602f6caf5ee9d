//! Self-describing (key-value) GPB rows: one `TelemetryField` per row with the children
//! `keys` and `content`, every leaf named and typed (`uint64_value`, `string_value`, ...).
//!
//! Written with `prost::encoding` primitives in the field order prost itself uses, so
//! the bytes equal those of the generated `TelemetryField` (checked in tests).

use super::RowInput;
use super::wire::{LEN, VARINT, put_bytes, put_key, put_varint, varint_len as encoded_len_varint};
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

/// Writes the body of the container `name` of `fields` into `pool[0]`; nested
/// containers go through `pool[1..]` first (one buffer per depth).
fn put_container(
    name: &str,
    fields: &[FieldSpec],
    input: (&[Value<'_>], &mut usize, bool),
    pool: &mut [Vec<u8>],
) {
    let (values, cursor, event) = input;
    let Some((out, deeper)) = pool.split_first_mut() else {
        return;
    };
    out.clear();
    put_str(NAME, name, out);
    for f in fields {
        if event && !f.on_change {
            *cursor += f.leaf_count();
            continue;
        }
        match f.kind {
            FieldKind::Container(children) => {
                put_container(f.name, children, (values, &mut *cursor, event), deeper);
                let inner = deeper.first().map(Vec::as_slice).unwrap_or_default();
                put_bytes(FIELDS, inner, out);
            }
            _ => {
                put_leaf(f.name, &values[*cursor], out);
                *cursor += 1;
            }
        }
    }
}

/// Appends one row as a `Telemetry.data_gpbkv` entry (`pool`: scratch buffers, at
/// least the containers' depth plus two).
pub(super) fn put_row(row: &RowInput<'_, '_>, pool: &mut [Vec<u8>], buf: &mut Vec<u8>) {
    let (keys, content) = pool.split_at_mut(1);
    put_container("keys", row.keys_spec, (row.keys, &mut 0, false), keys);
    put_container(
        "content",
        row.content_spec,
        (row.content, &mut 0, row.event),
        content,
    );
    let (keys, content) = (&keys[0], &content[0]);
    let mut body = entry_len(keys.len()) + entry_len(content.len());
    if row.timestamp_ms != 0 {
        body += 1 + encoded_len_varint(row.timestamp_ms);
    }
    put_key(DATA_GPBKV, LEN, buf);
    put_varint(body as u64, buf);
    if row.timestamp_ms != 0 {
        put_key(TIMESTAMP, VARINT, buf);
        put_varint(row.timestamp_ms, buf);
    }
    put_bytes(FIELDS, keys, buf);
    put_bytes(FIELDS, content, buf);
}
