//! The run tag: which load-test run a message belongs to, carried as a gNMI registered
//! extension (`gnmi_ext.RegisteredExtension{id: EID_EXPERIMENTAL, msg: "nl6-run:<tag>"}`)
//! in the `extension` field of a `SubscribeResponse` (field 999) or `GetResponse`
//! (field 3).
//!
//! Protobuf merges concatenated messages, so a sender appends the encoded field
//! ([`subscribe_response_suffix`], [`get_response_suffix`]) to a message it already
//! encoded; a receiver reads it back with [`run_tag`].
//!
//! ```
//! use nl6_gnmi::proto::gnmi::SubscribeResponse;
//! use nl6_gnmi::run_tag::{run_tag, subscribe_response_suffix};
//! use prost::Message;
//!
//! let mut bytes = SubscribeResponse::default().encode_to_vec();
//! bytes.extend_from_slice(&subscribe_response_suffix("load-1"));
//! let decoded = SubscribeResponse::decode(bytes.as_slice()).unwrap();
//! assert_eq!(run_tag(&decoded.extension), Some("load-1"));
//! ```

use prost::Message;

use crate::proto::gnmi::{GetResponse, SubscribeResponse};
use crate::proto::gnmi_ext::extension::Ext;
use crate::proto::gnmi_ext::{Extension, ExtensionId, RegisteredExtension};

/// What the extension's `msg` starts with; the tag follows.
pub const RUN_TAG_PREFIX: &str = "nl6-run:";

/// The extension naming run `tag`.
pub fn run_tag_extension(tag: &str) -> Extension {
    Extension {
        ext: Some(Ext::RegisteredExt(RegisteredExtension {
            id: ExtensionId::EidExperimental as i32,
            msg: format!("{RUN_TAG_PREFIX}{tag}").into_bytes(),
        })),
    }
}

/// The encoded `extension` field of a `SubscribeResponse` naming run `tag`.
pub fn subscribe_response_suffix(tag: &str) -> Vec<u8> {
    SubscribeResponse {
        extension: vec![run_tag_extension(tag)],
        ..SubscribeResponse::default()
    }
    .encode_to_vec()
}

/// The encoded `extension` field of a `GetResponse` naming run `tag`.
pub fn get_response_suffix(tag: &str) -> Vec<u8> {
    GetResponse {
        extension: vec![run_tag_extension(tag)],
        ..GetResponse::default()
    }
    .encode_to_vec()
}

/// The run tag among `extensions`, if one is there (and is UTF-8).
pub fn run_tag(extensions: &[Extension]) -> Option<&str> {
    extensions.iter().find_map(|e| match &e.ext {
        Some(Ext::RegisteredExt(r)) if r.id == ExtensionId::EidExperimental as i32 => {
            std::str::from_utf8(&r.msg)
                .ok()?
                .strip_prefix(RUN_TAG_PREFIX)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_response_carries_the_tag_after_its_notifications() {
        let mut bytes = GetResponse {
            notification: vec![Default::default(), Default::default()],
            ..Default::default()
        }
        .encode_to_vec();
        bytes.extend_from_slice(&get_response_suffix("r-7"));
        let decoded = GetResponse::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded.notification.len(), 2);
        assert_eq!(run_tag(&decoded.extension), Some("r-7"));
    }

    #[test]
    fn other_extensions_are_not_tags() {
        let other = Extension {
            ext: Some(Ext::RegisteredExt(RegisteredExtension {
                id: ExtensionId::EidExperimental as i32,
                msg: b"something else".to_vec(),
            })),
        };
        assert_eq!(run_tag(&[other]), None);
        assert_eq!(run_tag(&[]), None);
    }
}
