//! The 12-byte header IOS XR puts before every TCP dial-out message and in every UDP
//! datagram: type, encap, header version and flags (u16 each), then the payload length
//! (u32), all big-endian.

use bytes::{BufMut, Bytes, BytesMut};

use crate::encode::MdtEncoding;

/// Bytes of the header.
pub const HEADER_LEN: usize = 12;
/// `type` of a telemetry data message.
pub const TYPE_DATA: u16 = 1;
/// `encap` of GPB, compact or self-describing (IOS XR 6.1.1 and later).
pub const ENCAP_GPB: u16 = 1;
/// `encap` of JSON.
pub const ENCAP_JSON: u16 = 2;
/// The header version sent.
pub const HEADER_VERSION: u16 = 1;

/// A parsed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// 1 = data, 2 = heartbeat.
    pub msg_type: u16,
    /// 1 = GPB, 2 = JSON.
    pub encap: u16,
    /// 1.
    pub version: u16,
    /// 0.
    pub flags: u16,
    /// Bytes of payload after the header.
    pub length: u32,
}

impl Header {
    /// The header of a data message of `length` bytes in `encoding`.
    pub fn data(encoding: MdtEncoding, length: u32) -> Header {
        Header {
            msg_type: TYPE_DATA,
            encap: match encoding {
                MdtEncoding::Json => ENCAP_JSON,
                MdtEncoding::Gpb | MdtEncoding::SelfDescribingGpb => ENCAP_GPB,
            },
            version: HEADER_VERSION,
            flags: 0,
            length,
        }
    }

    /// The header as sent.
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..2].copy_from_slice(&self.msg_type.to_be_bytes());
        out[2..4].copy_from_slice(&self.encap.to_be_bytes());
        out[4..6].copy_from_slice(&self.version.to_be_bytes());
        out[6..8].copy_from_slice(&self.flags.to_be_bytes());
        out[8..12].copy_from_slice(&self.length.to_be_bytes());
        out
    }

    /// The header in `bytes`.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Header {
        let u16_at = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        Header {
            msg_type: u16_at(0),
            encap: u16_at(2),
            version: u16_at(4),
            flags: u16_at(6),
            length: u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
        }
    }
}

/// `payload` behind its data header (a TCP record or a UDP datagram).
pub fn frame(encoding: MdtEncoding, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.put_slice(&Header::data(encoding, length).to_bytes());
    out.put_slice(payload);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_big_endian_and_counts_the_payload_only() {
        let framed = frame(MdtEncoding::Json, b"{}");
        assert_eq!(
            &framed[..],
            &[0, 1, 0, 2, 0, 1, 0, 0, 0, 0, 0, 2, b'{', b'}']
        );
        let header = Header::parse(framed[..HEADER_LEN].try_into().unwrap());
        assert_eq!(header, Header::data(MdtEncoding::Json, 2));
        assert_eq!(Header::data(MdtEncoding::Gpb, 0).encap, ENCAP_GPB);
        assert_eq!(
            Header::data(MdtEncoding::SelfDescribingGpb, 0).encap,
            ENCAP_GPB
        );
    }
}
