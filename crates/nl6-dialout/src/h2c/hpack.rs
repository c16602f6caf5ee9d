//! Header blocks (RFC 7541). Requests are written as literals that never touch the
//! peer's dynamic table (a handful of fields, once per call); responses are decoded
//! with `loona-hpack`, whose dynamic table only holds what the collector indexes.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Static-table indices of the request fields nl6 sends.
const METHOD_POST: u8 = 3;
const SCHEME_HTTP: u8 = 6;
const SCHEME_HTTPS: u8 = 7;
const NAME_AUTHORITY: usize = 1;
const NAME_PATH: usize = 4;
const NAME_CONTENT_TYPE: usize = 31;
const NAME_USER_AGENT: usize = 58;

/// The most header-block bytes one response may carry (headers or trailers, across
/// CONTINUATION frames); more is a protocol error.
pub(super) const MAX_HEADER_BLOCK: usize = 16 * 1024;

/// Writes `value` as an HPACK integer with an `n`-bit prefix whose other bits are
/// `flags` (RFC 7541 §5.1).
fn put_int(out: &mut Vec<u8>, flags: u8, n: u32, value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// A string literal without Huffman coding.
fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_int(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// A literal field that is never added to the dynamic table, its name from the static
/// table (index) or spelled out (index 0).
fn put_literal(out: &mut Vec<u8>, name_index: usize, name: &[u8], value: &[u8]) {
    put_int(out, 0x00, 4, name_index);
    if name_index == 0 {
        put_str(out, name);
    }
    put_str(out, value);
}

/// What a gRPC call's request header block says.
pub(crate) struct Request<'a> {
    pub https: bool,
    pub authority: &'a str,
    pub path: &'a str,
    pub user_agent: &'a str,
    pub metadata: &'a [(HeaderName, HeaderValue)],
}

/// The request's header block: `POST`, scheme, authority, path, the gRPC content
/// type, `te: trailers`, the user agent and the call's metadata.
pub(super) fn encode_request(request: &Request<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + request.path.len() + request.authority.len());
    out.push(0x80 | METHOD_POST);
    out.push(
        0x80 | if request.https {
            SCHEME_HTTPS
        } else {
            SCHEME_HTTP
        },
    );
    put_literal(&mut out, NAME_AUTHORITY, b"", request.authority.as_bytes());
    put_literal(&mut out, NAME_PATH, b"", request.path.as_bytes());
    put_literal(&mut out, NAME_CONTENT_TYPE, b"", b"application/grpc");
    put_literal(&mut out, 0, b"te", b"trailers");
    put_literal(
        &mut out,
        NAME_USER_AGENT,
        b"",
        request.user_agent.as_bytes(),
    );
    for (name, value) in request.metadata {
        put_literal(&mut out, 0, name.as_str().as_bytes(), value.as_bytes());
    }
    out
}

/// A decoded response header block: `:status` and the regular fields.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields {
    pub status: Option<u16>,
    pub headers: HeaderMap,
}

/// The decoder of one connection's response header blocks.
pub(super) struct Decoder(loona_hpack::Decoder<'static>);

impl Decoder {
    pub fn new() -> Decoder {
        let mut decoder = loona_hpack::Decoder::new();
        decoder.set_max_allowed_table_size(4096);
        Decoder(decoder)
    }

    /// Decodes one complete header block; fields that are not valid HTTP are skipped.
    pub fn decode(&mut self, block: &[u8]) -> Result<Fields, String> {
        let mut fields = Fields::default();
        self.0
            .decode_with_cb(block, |name, value| {
                if &*name == b":status" {
                    fields.status = std::str::from_utf8(&value)
                        .ok()
                        .and_then(|s| s.parse().ok());
                } else if name.first() != Some(&b':')
                    && let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(&name),
                        HeaderValue::from_bytes(&value),
                    )
                {
                    fields.headers.append(name, value);
                }
            })
            .map_err(|e| format!("undecodable header block: {e:?}"))?;
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_use_their_prefix_then_continuation_bytes() {
        let mut out = Vec::new();
        put_int(&mut out, 0, 5, 10);
        assert_eq!(out, [10]);
        out.clear();
        // RFC 7541 C.1.2: 1337 with a 5-bit prefix.
        put_int(&mut out, 0, 5, 1337);
        assert_eq!(out, [31, 154, 10]);
        out.clear();
        put_int(&mut out, 0x00, 4, 31);
        assert_eq!(out, [0x0f, 16]);
    }

    #[test]
    fn a_request_block_decodes_to_what_was_asked() {
        let metadata = [(
            HeaderName::from_static("subscription-name"),
            HeaderValue::from_static("nl6"),
        )];
        let block = encode_request(&Request {
            https: true,
            authority: "collector:50051",
            path: "/gnmireverse.gNMIReverse/Publish",
            user_agent: "nl6-dialout/test",
            metadata: &metadata,
        });
        let mut seen = Vec::new();
        loona_hpack::Decoder::new()
            .decode_with_cb(&block, |n, v| {
                seen.push((
                    String::from_utf8(n.into_owned()).unwrap(),
                    String::from_utf8(v.into_owned()).unwrap(),
                ))
            })
            .unwrap();
        let expect = [
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", "collector:50051"),
            (":path", "/gnmireverse.gNMIReverse/Publish"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("user-agent", "nl6-dialout/test"),
            ("subscription-name", "nl6"),
        ];
        let seen: Vec<(&str, &str)> = seen.iter().map(|(n, v)| (&**n, &**v)).collect();
        assert_eq!(seen, expect);
    }

    #[test]
    fn a_response_block_keeps_status_and_regular_fields() {
        let mut encoder = loona_hpack::Encoder::new();
        let block = encoder.encode([
            (&b":status"[..], &b"200"[..]),
            (b"content-type", b"application/grpc"),
            (b"grpc-status", b"0"),
        ]);
        let fields = Decoder::new().decode(&block).unwrap();
        assert_eq!(fields.status, Some(200));
        assert_eq!(fields.headers["grpc-status"], "0");
        assert!(Decoder::new().decode(&[0xff, 0xff, 0xff]).is_err());
    }
}
