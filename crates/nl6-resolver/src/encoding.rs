//! Value encodings and how each leaf value is written in them.

use nl6_gnmi::proto::gnmi::{Encoding, TypedValue, typed_value};
use nl6_gnmi::value as json;

use crate::error::ResolveError;
use crate::snapshot::LeafValue;

/// The YANG module of every leaf served (used for JSON_IETF identity values).
pub const MODULE: &str = "openconfig-interfaces";

/// The value encodings the resolver produces.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ValueEncoding {
    /// gNMI `JSON`: plain JSON, 64-bit integers as numbers, no module names.
    Json,
    /// gNMI `JSON_IETF`: RFC 7951 (64-bit integers as strings, module-qualified names).
    JsonIetf,
    /// gNMI `PROTO`: scalar `TypedValue`s (`uint_val`, `string_val`).
    Proto,
}

impl ValueEncoding {
    /// Maps a gNMI `Encoding` number; BYTES, ASCII and unknown values are Unimplemented.
    pub fn from_gnmi(value: i32) -> Result<ValueEncoding, ResolveError> {
        match Encoding::try_from(value) {
            Ok(Encoding::Json) => Ok(ValueEncoding::Json),
            Ok(Encoding::JsonIetf) => Ok(ValueEncoding::JsonIetf),
            Ok(Encoding::Proto) => Ok(ValueEncoding::Proto),
            Ok(other) => Err(ResolveError::UnsupportedEncoding {
                encoding: other.as_str_name().to_string(),
            }),
            Err(_) => Err(ResolveError::UnsupportedEncoding {
                encoding: value.to_string(),
            }),
        }
    }

    /// The gNMI `Encoding` this corresponds to.
    pub fn to_gnmi(self) -> Encoding {
        match self {
            ValueEncoding::Json => Encoding::Json,
            ValueEncoding::JsonIetf => Encoding::JsonIetf,
            ValueEncoding::Proto => Encoding::Proto,
        }
    }

    /// Appends the JSON text of a value (JSON and JSON_IETF only).
    pub(crate) fn write_json(self, out: &mut Vec<u8>, value: LeafValue<'_>) {
        match (self, value) {
            (_, LeafValue::Str(s)) => json::write_json_string(out, s),
            (_, LeafValue::U32(v)) => json::write_json_u32(out, v),
            (ValueEncoding::JsonIetf, LeafValue::U64(v)) => json::write_json_u64(out, v),
            (_, LeafValue::U64(v)) => {
                let mut buf = itoa::Buffer::new();
                out.extend_from_slice(buf.format(v).as_bytes());
            }
            (ValueEncoding::JsonIetf, LeafValue::Enum(e)) => {
                json::write_json_identity(out, MODULE, e)
            }
            (_, LeafValue::Enum(e)) => json::write_json_string(out, e),
        }
    }

    /// The typed value of a leaf in this encoding.
    pub fn typed_value(self, value: LeafValue<'_>) -> TypedValue {
        let value = match self {
            ValueEncoding::Proto => match value {
                LeafValue::Str(s) => typed_value::Value::StringVal(s.to_string()),
                LeafValue::Enum(e) => typed_value::Value::StringVal(e.to_string()),
                LeafValue::U32(v) => typed_value::Value::UintVal(u64::from(v)),
                LeafValue::U64(v) => typed_value::Value::UintVal(v),
            },
            ValueEncoding::Json | ValueEncoding::JsonIetf => {
                let mut text = Vec::with_capacity(32);
                self.write_json(&mut text, value);
                if self == ValueEncoding::Json {
                    typed_value::Value::JsonVal(text)
                } else {
                    typed_value::Value::JsonIetfVal(text)
                }
            }
        };
        TypedValue { value: Some(value) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_text(enc: ValueEncoding, value: LeafValue<'_>) -> String {
        let mut out = Vec::new();
        enc.write_json(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_ietf_follows_rfc7951() {
        let e = ValueEncoding::JsonIetf;
        assert_eq!(json_text(e, LeafValue::U64(42)), "\"42\"");
        assert_eq!(json_text(e, LeafValue::U32(7)), "7");
        assert_eq!(
            json_text(e, LeafValue::Enum("UP")),
            "\"openconfig-interfaces:UP\""
        );
        assert_eq!(json_text(e, LeafValue::Str("Ethernet1")), "\"Ethernet1\"");
        let j = ValueEncoding::Json;
        assert_eq!(json_text(j, LeafValue::U64(42)), "42");
        assert_eq!(json_text(j, LeafValue::Enum("DOWN")), "\"DOWN\"");
    }

    #[test]
    fn unsupported_encodings_are_unimplemented() {
        assert_eq!(
            ValueEncoding::from_gnmi(4).unwrap(),
            ValueEncoding::JsonIetf
        );
        for bad in [Encoding::Bytes as i32, Encoding::Ascii as i32, 99] {
            let err = ValueEncoding::from_gnmi(bad).unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unimplemented);
        }
    }
}
