//! JSON rows as IOS XR sends them in `data_json`:
//! `{"timestamp":ms,"keys":[{"interface-name":"..."}],"content":{"packets-received":1,...}}`,
//! YANG names, numbers as JSON numbers, containers as nested objects.

use super::RowInput;
use crate::row::Value;
use crate::sensor::{FieldKind, FieldSpec};

/// Appends `s` as a JSON string.
pub(super) fn put_str(s: &str, buf: &mut Vec<u8>) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            buf.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            buf.extend_from_slice(escape);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// Appends a catalogue name (plain ASCII, nothing to escape) and its colon.
fn put_name(name: &str, buf: &mut Vec<u8>) {
    buf.push(b'"');
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"\":");
}

/// Appends `n` as a JSON number.
pub(super) fn put_u64(n: u64, buf: &mut Vec<u8>) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn put_value(v: &Value<'_>, buf: &mut Vec<u8>) {
    match v {
        Value::Str(s) => put_str(s, buf),
        Value::Bool(true) => buf.extend_from_slice(b"true"),
        Value::Bool(false) => buf.extend_from_slice(b"false"),
        Value::U32(x) => put_u64(u64::from(*x), buf),
        Value::U64(x) => put_u64(*x, buf),
    }
}

fn put_object(
    fields: &[FieldSpec],
    values: &[Value<'_>],
    cursor: &mut usize,
    event: bool,
    buf: &mut Vec<u8>,
) {
    buf.push(b'{');
    let mut first = true;
    for f in fields {
        if event && !f.on_change {
            *cursor += f.leaf_count();
            continue;
        }
        if !first {
            buf.push(b',');
        }
        first = false;
        put_name(f.name, buf);
        match f.kind {
            FieldKind::Container(children) => put_object(children, values, cursor, event, buf),
            _ => {
                put_value(&values[*cursor], buf);
                *cursor += 1;
            }
        }
    }
    buf.push(b'}');
}

/// Appends one row object of `data_json`, after a comma (the message drops the first).
pub(super) fn put_row(row: &RowInput<'_, '_>, buf: &mut Vec<u8>) {
    buf.extend_from_slice(b",{\"timestamp\":");
    put_u64(row.timestamp_ms, buf);
    buf.extend_from_slice(b",\"keys\":[");
    for (i, (f, v)) in row.keys_spec.iter().zip(row.keys).enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.push(b'{');
        put_name(f.name, buf);
        put_value(v, buf);
        buf.push(b'}');
    }
    buf.extend_from_slice(b"],\"content\":");
    put_object(row.content_spec, row.content, &mut 0, row.event, buf);
    buf.push(b'}');
}
