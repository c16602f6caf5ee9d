//! Typed values: PROTO scalars, JSON_IETF (RFC 7951) and plain JSON text.
//!
//! JSON_IETF rules applied here: `uint64`, `int64` and `decimal64` are JSON
//! strings (`"123"`), 32-bit and smaller integers are JSON numbers, an
//! identityref is the string `"module:identity"`, strings are escaped as RFC
//! 8259 requires. A leaf is a bare JSON value; a subtree is an object built
//! with [`JsonIetfObject`].
//!
//! Plain JSON (gNMI `JSON` encoding) differs in writing every integer and
//! decimal64 as a JSON number, identities as the bare identity name, and
//! member names without module qualification.
//!
//! The `write_*` functions append to a caller-owned buffer and allocate
//! nothing themselves, for the telemetry fast path.

use crate::proto::gnmi::{TypedValue, typed_value::Value};

mod object;

pub use object::JsonIetfObject;

/// PROTO-encoded unsigned scalar (`uint_val`).
pub fn uint_val(v: u64) -> TypedValue {
    typed(Value::UintVal(v))
}

/// PROTO-encoded signed scalar (`int_val`).
pub fn int_val(v: i64) -> TypedValue {
    typed(Value::IntVal(v))
}

/// PROTO-encoded string scalar (`string_val`).
pub fn string_val(v: &str) -> TypedValue {
    typed(Value::StringVal(v.to_owned()))
}

/// PROTO-encoded boolean scalar (`bool_val`).
pub fn bool_val(v: bool) -> TypedValue {
    typed(Value::BoolVal(v))
}

/// A JSON_IETF leaf value (`json_ietf_val`), e.g. `json_ietf_val(5u64)` → `"5"`.
pub fn json_ietf_val(v: impl Into<JsonScalar>) -> TypedValue {
    let mut out = Vec::new();
    v.into().write_ietf(&mut out);
    typed(Value::JsonIetfVal(out))
}

/// A plain JSON leaf value (`json_val`), e.g. `json_val(5u64)` → `5`.
pub fn json_val(v: impl Into<JsonScalar>) -> TypedValue {
    let mut out = Vec::new();
    v.into().write_json(&mut out);
    typed(Value::JsonVal(out))
}

fn typed(value: Value) -> TypedValue {
    TypedValue { value: Some(value) }
}

/// One YANG scalar, written as JSON_IETF or plain JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonScalar {
    /// `uint64`: a string in JSON_IETF, a number in JSON.
    U64(u64),
    /// `int64`: a string in JSON_IETF, a number in JSON.
    I64(i64),
    /// `uint32` and smaller: a number.
    U32(u32),
    /// `int32` and smaller: a number.
    I32(i32),
    /// `boolean`.
    Bool(bool),
    /// `string` (and other string-typed leaves such as enumerations).
    String(String),
    /// `identityref`: `"module:identity"` in JSON_IETF, `"identity"` in JSON.
    Identity {
        /// Module that defines the identity, e.g. `openconfig-interfaces`.
        module: String,
        /// Identity name, e.g. `UP`.
        identity: String,
    },
    /// `decimal64` as `digits × 10^-fraction_digits`: a string in JSON_IETF, a number in JSON.
    Decimal64 {
        /// The value scaled by `10^fraction_digits`.
        digits: i64,
        /// Number of digits after the decimal point.
        fraction_digits: u8,
    },
}

impl JsonScalar {
    /// An `identityref` value, e.g. `JsonScalar::identity("openconfig-interfaces", "UP")`.
    pub fn identity(module: &str, identity: &str) -> Self {
        Self::Identity {
            module: module.to_owned(),
            identity: identity.to_owned(),
        }
    }

    /// Appends the RFC 7951 (JSON_IETF) text of this value.
    pub fn write_ietf(&self, out: &mut Vec<u8>) {
        match self {
            Self::U64(v) => write_json_u64(out, *v),
            Self::I64(v) => write_json_i64(out, *v),
            Self::U32(v) => write_json_u32(out, *v),
            Self::I32(v) => write_json_i32(out, *v),
            Self::Bool(v) => write_json_bool(out, *v),
            Self::String(v) => write_json_string(out, v),
            Self::Identity { module, identity } => write_json_identity(out, module, identity),
            Self::Decimal64 {
                digits,
                fraction_digits,
            } => {
                out.push(b'"');
                write_decimal(out, *digits, *fraction_digits);
                out.push(b'"');
            }
        }
    }

    /// Appends the plain JSON (gNMI `JSON` encoding) text of this value.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Self::U64(v) => write_int(out, *v),
            Self::I64(v) => write_int(out, *v),
            Self::Identity { identity, .. } => write_json_string(out, identity),
            Self::Decimal64 {
                digits,
                fraction_digits,
            } => write_decimal(out, *digits, *fraction_digits),
            other => other.write_ietf(out),
        }
    }
}

macro_rules! scalar_from {
    ($($ty:ty => $variant:ident as $conv:ty),* $(,)?) => {$(
        impl From<$ty> for JsonScalar {
            fn from(v: $ty) -> Self {
                Self::$variant(<$conv>::from(v))
            }
        }
    )*};
}

scalar_from! {
    u64 => U64 as u64,
    u32 => U32 as u32,
    u16 => U32 as u32,
    u8 => U32 as u32,
    i64 => I64 as i64,
    i32 => I32 as i32,
    i16 => I32 as i32,
    i8 => I32 as i32,
    bool => Bool as bool,
    String => String as String,
    &str => String as String,
}

/// Appends a JSON_IETF `uint64`: the decimal digits in quotes (`"123"`).
pub fn write_json_u64(out: &mut Vec<u8>, v: u64) {
    out.push(b'"');
    write_int(out, v);
    out.push(b'"');
}

/// Appends a JSON_IETF `int64`: the decimal digits in quotes (`"-5"`).
pub fn write_json_i64(out: &mut Vec<u8>, v: i64) {
    out.push(b'"');
    write_int(out, v);
    out.push(b'"');
}

/// Appends a `uint32` (or smaller) as a JSON number (`123`).
pub fn write_json_u32(out: &mut Vec<u8>, v: u32) {
    write_int(out, v);
}

/// Appends an `int32` (or smaller) as a JSON number (`-5`).
pub fn write_json_i32(out: &mut Vec<u8>, v: i32) {
    write_int(out, v);
}

/// Appends `true` or `false`.
pub fn write_json_bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

/// Appends `s` as a quoted JSON string with RFC 8259 escaping.
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_escaped(out, s);
    out.push(b'"');
}

/// Appends a JSON_IETF identityref: `"module:identity"`.
pub fn write_json_identity(out: &mut Vec<u8>, module: &str, identity: &str) {
    out.push(b'"');
    write_escaped(out, module);
    out.push(b':');
    write_escaped(out, identity);
    out.push(b'"');
}

/// Appends a JSON_IETF `decimal64` (`digits × 10^-fraction_digits`) in quotes, e.g. `"12.34"`.
pub fn write_json_decimal64(out: &mut Vec<u8>, digits: i64, fraction_digits: u8) {
    out.push(b'"');
    write_decimal(out, digits, fraction_digits);
    out.push(b'"');
}

fn write_int(out: &mut Vec<u8>, v: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Writes `digits × 10^-fraction_digits` as unquoted decimal text (`-0.05`, `12`).
fn write_decimal(out: &mut Vec<u8>, digits: i64, fraction_digits: u8) {
    if digits < 0 {
        out.push(b'-');
    }
    let mut buf = itoa::Buffer::new();
    let text = buf.format(digits.unsigned_abs()).as_bytes();
    let frac = usize::from(fraction_digits);
    if frac == 0 {
        out.extend_from_slice(text);
    } else if text.len() <= frac {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + (frac - text.len()), b'0');
        out.extend_from_slice(text);
    } else {
        let (int_part, frac_part) = text.split_at(text.len() - frac);
        out.extend_from_slice(int_part);
        out.push(b'.');
        out.extend_from_slice(frac_part);
    }
}

/// Writes the body of a JSON string (no quotes): `"`, `\` and control characters escaped.
fn write_escaped(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
    }
    out.extend_from_slice(&bytes[run..]);
}

#[cfg(test)]
mod tests;
