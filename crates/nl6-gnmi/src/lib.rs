//! gNMI 0.10.0 and Arista gNMIReverse protocol types for nl6.
//!
//! The generated messages and tonic services live in [`proto`]; [`path`]
//! converts between path text (`/interfaces/interface[name=Ethernet1]/state`)
//! and [`proto::gnmi::Path`], joins prefixes and matches wildcards; [`value`]
//! builds typed values in the PROTO, JSON_IETF (RFC 7951) and JSON encodings.
//!
//! ```
//! use nl6_gnmi::{JsonScalar, format_path, json_ietf_val, parse_path};
//! use nl6_gnmi::proto::gnmi::typed_value::Value;
//!
//! let path = parse_path("openconfig:/interfaces/interface[name=Ethernet1/1]/state")?;
//! assert_eq!(path.origin, "openconfig");
//! assert_eq!(path.elem[1].key["name"], "Ethernet1/1");
//! assert_eq!(
//!     format_path(&path),
//!     "openconfig:/interfaces/interface[name=Ethernet1/1]/state"
//! );
//!
//! let up = json_ietf_val(JsonScalar::identity("openconfig-interfaces", "UP"));
//! assert_eq!(up.value, Some(Value::JsonIetfVal(br#""openconfig-interfaces:UP""#.to_vec())));
//! let octets = json_ietf_val(1234u64); // uint64 is a JSON string in RFC 7951
//! assert_eq!(octets.value, Some(Value::JsonIetfVal(br#""1234""#.to_vec())));
//! # Ok::<(), nl6_gnmi::PathError>(())
//! ```

pub mod codec;
mod excerpt;
pub mod path;
pub mod proto;
pub mod run_tag;
pub mod value;

pub use excerpt::{Excerpt, QUOTE_LIMIT, quote_truncated};
pub use path::{PathError, PathLimitError, check_limits, format_path, parse_path};
pub use value::{
    JsonIetfObject, JsonScalar, bool_val, int_val, json_ietf_val, json_val, string_val, uint_val,
};

/// Compiles the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
