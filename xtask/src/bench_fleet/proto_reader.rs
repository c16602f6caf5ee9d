//! A protobuf wire-format reader: leaf count and timestamp of a `SubscribeResponse`
//! without decoding it.

use super::*;

/// Leaf count and timestamp of an encoded `SubscribeResponse{update: Notification}`,
/// found by walking the wire format (no allocation); `None` if it is anything else.
pub(super) fn summarize(response: &[u8]) -> Option<Summary> {
    let mut outer = WireReader(response);
    while let Some((field, wire)) = outer.key()? {
        if field == 1 && wire == 2 {
            return summarize_notification(outer.bytes()?);
        }
        outer.skip(wire)?;
    }
    None
}

/// `Notification{timestamp = 1; prefix = 2; update = 4 (repeated); ...}`.
pub(super) fn summarize_notification(notification: &[u8]) -> Option<Summary> {
    let mut r = WireReader(notification);
    let mut summary = Summary {
        updates: 0,
        timestamp_ns: 0,
    };
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, 0) => summary.timestamp_ns = r.varint()?,
            (4, 2) => {
                r.bytes()?;
                summary.updates += 1;
            }
            _ => r.skip(wire)?,
        }
    }
    Some(summary)
}

/// A protobuf wire-format cursor.
pub(super) struct WireReader<'a>(&'a [u8]);

impl<'a> WireReader<'a> {
    pub(super) fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for (i, byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return Some(value);
            }
        }
        None
    }

    /// The next (field number, wire type), `Some(None)` at the end, `None` if malformed.
    pub(super) fn key(&mut self) -> Option<Option<(u64, u8)>> {
        if self.0.is_empty() {
            return Some(None);
        }
        let key = self.varint()?;
        Some(Some((key >> 3, (key & 7) as u8)))
    }

    pub(super) fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        let (value, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(value)
    }

    pub(super) fn skip(&mut self, wire: u8) -> Option<()> {
        let n = match wire {
            0 => return self.varint().map(|_| ()),
            1 => 8,
            2 => return self.bytes().map(|_| ()),
            5 => 4,
            _ => return None,
        };
        self.0 = self.0.get(n..)?;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes_wire_encoder_output() {
        let model = DeviceModel::new(&DeviceSpec::default()).unwrap();
        let path = nl6_gnmi::parse_path(STATE_PATH).unwrap();
        let selection = Selection::compile(None, &[path], model.names()).unwrap();
        let mut encoder = WireEncoder::new(model.names());
        let snapshot = Snapshot::capture(&model, 1_700_000_000_123_456_789, &selection);
        let mut out = Vec::new();
        let n = encoder.encode_response(
            &snapshot,
            selection.masks(),
            ValueEncoding::JsonIetf,
            Some("127.50.0.1"),
            &mut out,
        );
        let summary = summarize(&out).unwrap();
        assert_eq!(summary.updates, n as u64);
        assert_eq!(summary.updates, LEAVES_PER_DEVICE);
        assert_eq!(summary.timestamp_ns, 1_700_000_000_123_456_789);
        assert_eq!(summarize(&out[..out.len() - 1]), None, "truncated");
    }

    #[test]
    fn summarizes_only_updates() {
        use nl6_gnmi::codec::Encoded;
        use nl6_gnmi::proto::gnmi::{SubscribeResponse, subscribe_response::Response};
        let sync = Encoded::from_message(&SubscribeResponse {
            response: Some(Response::SyncResponse(true)),
            extension: vec![],
        });
        assert_eq!(summarize(&sync.0), None);
        assert_eq!(summarize(&[]), None);
    }
}
