//! gNMI 0.10.0 and Arista gNMIReverse protocol types for nl6.
//!
//! The generated messages and tonic services live in [`proto`]; [`path`]
//! converts between path text (`/interfaces/interface[name=Ethernet1]/state`)
//! and [`proto::gnmi::Path`]; [`value`] builds typed values in the JSON_IETF
//! (RFC 7951) and PROTO encodings.

pub mod proto;
