//! Protobuf wire primitives writing straight into a `Vec<u8>` (prost's work through
//! `BufMut`, one capacity check per byte; these are the hot path of every row).

pub(super) use prost::encoding::encoded_len_varint as varint_len;

/// Wire type of varints.
pub(super) const VARINT: u32 = 0;
/// Wire type of length-delimited fields.
pub(super) const LEN: u32 = 2;

/// Appends `v` as a varint.
#[inline]
pub(super) fn put_varint(mut v: u64, buf: &mut Vec<u8>) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends the key of field `tag` with wire type `wire_type`.
#[inline]
pub(super) fn put_key(tag: u32, wire_type: u32, buf: &mut Vec<u8>) {
    put_varint(u64::from(tag << 3 | wire_type), buf);
}

/// Appends a length-delimited field of `bytes`.
#[inline]
pub(super) fn put_bytes(tag: u32, bytes: &[u8], buf: &mut Vec<u8>) {
    put_key(tag, LEN, buf);
    put_varint(bytes.len() as u64, buf);
    buf.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_keys_match_prost() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut ours = Vec::new();
            put_varint(v, &mut ours);
            let mut theirs = Vec::new();
            prost::encoding::encode_varint(v, &mut theirs);
            assert_eq!(ours, theirs, "{v}");
            assert_eq!(ours.len(), varint_len(v));
        }
        for tag in [1u32, 15, 16, 50, 85, 2047, 2048] {
            let mut ours = Vec::new();
            put_key(tag, LEN, &mut ours);
            let mut theirs = Vec::new();
            prost::encoding::encode_key(
                tag,
                prost::encoding::WireType::LengthDelimited,
                &mut theirs,
            );
            assert_eq!(ours, theirs, "{tag}");
        }
    }
}
