//! A gRPC codec that sends already-encoded protobuf messages as they are.
//!
//! The telemetry hot path writes `SubscribeResponse` bytes directly (see
//! `nl6-resolver`'s wire encoder); [`PassthroughCodec`] lets a tonic service or
//! client put those bytes on the wire without decoding and re-encoding them, while
//! incoming messages are still decoded with prost.

use std::marker::PhantomData;

use bytes::{BufMut, Bytes};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// One protobuf message, already encoded (without the gRPC length prefix).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoded(pub Bytes);

impl Encoded {
    /// Encodes a prost message (the slow, typed path).
    pub fn from_message<M: prost::Message>(message: &M) -> Encoded {
        Encoded(Bytes::from(message.encode_to_vec()))
    }
}

impl From<Vec<u8>> for Encoded {
    fn from(bytes: Vec<u8>) -> Self {
        Encoded(Bytes::from(bytes))
    }
}

/// Encodes [`Encoded`] messages as-is and decodes `D` with prost.
#[derive(Debug)]
pub struct PassthroughCodec<D>(PhantomData<fn() -> D>);

impl<D> Default for PassthroughCodec<D> {
    fn default() -> Self {
        PassthroughCodec(PhantomData)
    }
}

impl<D: prost::Message + Default + Send + 'static> Codec for PassthroughCodec<D> {
    type Encode = Encoded;
    type Decode = D;
    type Encoder = PassthroughEncoder;
    type Decoder = ProstMessageDecoder<D>;

    fn encoder(&mut self) -> Self::Encoder {
        PassthroughEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstMessageDecoder(PhantomData)
    }
}

/// Writes [`Encoded`] bytes unchanged.
#[derive(Debug, Default)]
pub struct PassthroughEncoder;

impl Encoder for PassthroughEncoder {
    type Item = Encoded;
    type Error = Status;

    fn encode(&mut self, item: Encoded, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item.0);
        Ok(())
    }
}

/// Decodes a prost message.
#[derive(Debug)]
pub struct ProstMessageDecoder<D>(PhantomData<fn() -> D>);

impl<D: prost::Message + Default> Decoder for ProstMessageDecoder<D> {
    type Item = D;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        D::decode(src)
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("malformed protobuf message: {e}")))
    }
}
