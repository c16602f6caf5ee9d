//! A device's HTTP/2 connection and the streaming gRPC calls on it, on nl6's own
//! HTTP/2 client ([`crate::h2c`]): each message goes out as its 5-byte gRPC prefix and
//! the already-encoded bytes, written vectored by the task that sends it. Response
//! messages (SONiC's and Nokia's `PublishResponse`s) are counted, never decoded.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tokio::sync::watch;
use tonic::{Code, Status};

use crate::connector::{Io, Keepalive, error_chain};
use crate::error::{FlavorError, find_source};
use crate::h2c::{self, ConnectionEnd, Http2Error, Phase, Reason, StreamOutcome};
use crate::session::{PushStream, ResponseCounter};
use crate::stats::DisconnectCause;

/// The user agent of every call.
const USER_AGENT: &str = concat!("nl6-dialout/", env!("CARGO_PKG_VERSION"));

/// The scheme and authority of every request on one connection.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    https: bool,
    authority: Authority,
}

impl Origin {
    /// `https` or `http` to `host:port`.
    pub(crate) fn new(tls: bool, host: &str, port: u16) -> Result<Origin, String> {
        let authority = format!("{host}:{port}");
        Ok(Origin {
            https: tls,
            authority: Authority::try_from(authority.as_str())
                .map_err(|e| format!("invalid collector address {authority}: {e}"))?,
        })
    }
}

/// One device's own HTTP/2 connection to its collector, ready for gRPC calls.
///
/// A flavor gets it from [`crate::DeviceNet::http2`] (TCP from the device address, TLS,
/// HTTP/2 keepalive); it closes once it and every call on it are dropped.
pub struct GrpcConnection {
    client: Arc<h2c::Client>,
    origin: Origin,
}

/// Watches how a connection ends (its reader task reports it).
#[derive(Debug, Clone)]
pub(crate) struct ConnectionWatch(watch::Receiver<Phase>);

/// How long a broken stream waits for its connection's outcome before it is classified.
const CONNECTION_END_GRACE: Duration = Duration::from_millis(200);

/// Why a stream ended without us closing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Disconnect {
    pub cause: DisconnectCause,
    /// A GOAWAY `ENHANCE_YOUR_CALM` (`too_many_pings`): ping less often.
    pub too_many_pings: bool,
}

impl ConnectionWatch {
    /// Classifies the end of a stream on this connection from its error and, if it
    /// comes within a short grace period, the connection's own outcome.
    pub(crate) async fn classify(&mut self, error: &FlavorError) -> Disconnect {
        let ended = |phase: &Phase| matches!(phase, Phase::Ended(..));
        let end = tokio::time::timeout(CONNECTION_END_GRACE, self.0.wait_for(ended))
            .await
            .ok()
            .and_then(|r| match r.ok().as_deref() {
                Some(Phase::Ended(end, _)) => Some(*end),
                _ => None,
            });
        if let Some(ConnectionEnd::GoAway(reason)) = end {
            return Disconnect {
                cause: DisconnectCause::GoAway,
                too_many_pings: reason == Reason::ENHANCE_YOUR_CALM,
            };
        }
        let cause = error.cause();
        let err: &(dyn std::error::Error + 'static) = error;
        let too_many_pings = cause == DisconnectCause::GoAway
            && matches!(
                find_source::<Http2Error>(err),
                Some(Http2Error::GoAway {
                    reason: Reason::ENHANCE_YOUR_CALM,
                    ..
                })
            );
        let cause = match (cause, end) {
            (DisconnectCause::Error, Some(ConnectionEnd::Reset)) => DisconnectCause::Reset,
            (DisconnectCause::Error, Some(ConnectionEnd::Closed)) => DisconnectCause::Eof,
            (cause, _) => cause,
        };
        Disconnect {
            cause,
            too_many_pings,
        }
    }
}

/// Why a session without an HTTP/2 connection ended (raw TCP, UDP, serve sessions).
pub(crate) fn classify_plain(error: &FlavorError) -> Disconnect {
    Disconnect {
        cause: error.cause(),
        too_many_pings: false,
    }
}

impl fmt::Debug for GrpcConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcConnection")
            .field("origin", &self.origin)
            .field("closed", &self.client.is_closed())
            .finish()
    }
}

impl GrpcConnection {
    /// Starts HTTP/2 on `io` (our preface and SETTINGS) and spawns the connection's
    /// reader task; [`GrpcConnection::ready`] tells when the collector answered.
    pub(crate) async fn handshake(
        io: Box<dyn Io>,
        origin: Origin,
        keepalive: Option<Keepalive>,
    ) -> std::io::Result<GrpcConnection> {
        // No pings unless asked for: collectors enforce a minimum ping interval (grpc-go:
        // 5 minutes) and answer pings that come more often with GOAWAY too_many_pings.
        let client = h2c::Client::handshake(io, keepalive, Some(h2c::Coalesce::DEFAULT)).await?;
        Ok(GrpcConnection { client, origin })
    }

    /// Waits until the collector's SETTINGS arrived, or the connection ended before
    /// (the error in words).
    pub(crate) async fn ready(&self) -> Result<(), String> {
        let mut phase = self.client.phase();
        let phase = phase
            .wait_for(|p| !matches!(p, Phase::Starting))
            .await
            .map_err(|_| "the connection was dropped".to_string())?;
        match &*phase {
            Phase::Ended(_, error) => Err(error_chain(&**error)),
            _ => Ok(()),
        }
    }

    /// A watch on how this connection ends.
    pub(crate) fn watch(&self) -> ConnectionWatch {
        ConnectionWatch(self.client.phase())
    }

    /// Starts the client-streaming call `path` (a gRPC method, e.g.
    /// `/gnmireverse.gNMIReverse/Publish`) whose reply is ignored but for its status.
    pub async fn client_streaming(&self, path: PathAndQuery) -> Result<GrpcCall, FlavorError> {
        self.call(CallSpec::new(path)).await
    }

    /// Starts the streaming call `spec` describes: its method, extra metadata, and
    /// whether response messages are counted (bidi flavors).
    pub async fn call(&self, spec: CallSpec) -> Result<GrpcCall, FlavorError> {
        let request = h2c::Request {
            https: self.origin.https,
            authority: self.origin.authority.as_str(),
            path: spec.path.as_str(),
            user_agent: USER_AGENT,
            metadata: &spec.metadata,
        };
        let stream = self
            .client
            .open(&request, spec.responses)
            .await
            .map_err(broken)?;
        Ok(GrpcCall {
            stream,
            outcome: None,
        })
    }
}

/// What a streaming call sends besides its messages: the method, metadata, and a
/// counter for the collector's response messages.
#[derive(Debug, Clone)]
pub struct CallSpec {
    path: PathAndQuery,
    metadata: Vec<(HeaderName, HeaderValue)>,
    responses: Option<ResponseCounter>,
}

impl CallSpec {
    /// A call of the gRPC method `path` (e.g. `/gnmi.sonic.gNMIDialOut/Publish`).
    pub fn new(path: PathAndQuery) -> CallSpec {
        CallSpec {
            path,
            metadata: Vec::new(),
            responses: None,
        }
    }

    /// Adds one metadata entry (an HTTP/2 request header, e.g. Nokia's
    /// `subscription-name`).
    pub fn metadata(mut self, name: HeaderName, value: HeaderValue) -> CallSpec {
        self.metadata.push((name, value));
        self
    }

    /// Counts every response message of the call into `counter`.
    pub fn count_responses(mut self, counter: ResponseCounter) -> CallSpec {
        self.responses = Some(counter);
        self
    }
}

/// A broken connection or stream as an error (the HTTP/2 error stays its source).
fn broken(error: Arc<Http2Error>) -> FlavorError {
    FlavorError::Broken {
        message: error_chain(&*error),
        source: Some(error),
    }
}

/// How the collector ended the call: `grpc-status` from a trailers-only response or
/// from the trailers, an HTTP answer that is not gRPC, or a broken stream.
fn call_result(outcome: StreamOutcome) -> Result<(), FlavorError> {
    match outcome {
        StreamOutcome::Final {
            fields,
            trailers: true,
        } => trailers_result(&fields.headers),
        StreamOutcome::Final { fields, .. } => {
            if let Some(status) = Status::from_header_map(&fields.headers) {
                return status_result(status);
            }
            match fields.status {
                Some(200) => Err(missing_status()),
                Some(code) => Err(http_status(
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                )),
                None => Err(FlavorError::status(
                    Code::Internal,
                    "the collector answered without a :status",
                )),
            }
        }
        StreamOutcome::NoTrailers => Err(missing_status()),
        StreamOutcome::Failed(error) => Err(broken(error)),
    }
}

/// Counts gRPC messages in a response body arriving in arbitrary pieces: each message
/// is a 5-byte prefix (flag, big-endian length) and that many bytes.
#[derive(Debug, Default)]
pub(crate) struct MessageCounter {
    /// Prefix bytes seen of the message being read (0..=5).
    prefix_at: usize,
    prefix: [u8; 5],
    /// Bytes of the current message body still to skip.
    body_left: usize,
}

impl MessageCounter {
    /// Feeds `data`; returns the number of messages whose prefix completed in it.
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> u64 {
        let mut messages = 0;
        while !data.is_empty() {
            if self.body_left > 0 {
                let skip = self.body_left.min(data.len());
                self.body_left -= skip;
                data = &data[skip..];
                continue;
            }
            let take = (5 - self.prefix_at).min(data.len());
            self.prefix[self.prefix_at..self.prefix_at + take].copy_from_slice(&data[..take]);
            self.prefix_at += take;
            data = &data[take..];
            if self.prefix_at == 5 {
                messages += 1;
                let len = u32::from_be_bytes([
                    self.prefix[1],
                    self.prefix[2],
                    self.prefix[3],
                    self.prefix[4],
                ]);
                self.body_left = len as usize;
                self.prefix_at = 0;
            }
        }
        messages
    }
}

fn trailers_result(trailers: &HeaderMap) -> Result<(), FlavorError> {
    Status::from_header_map(trailers).map_or_else(|| Err(missing_status()), status_result)
}

fn missing_status() -> FlavorError {
    FlavorError::status(
        Code::Internal,
        "the collector ended the call without a grpc-status",
    )
}

fn status_result(status: Status) -> Result<(), FlavorError> {
    if status.code() == Code::Ok {
        Ok(())
    } else {
        Err(FlavorError::status(status.code(), status.message()))
    }
}

/// A non-gRPC HTTP answer, mapped as gRPC clients do.
fn http_status(status: StatusCode) -> FlavorError {
    let code = match status {
        StatusCode::BAD_REQUEST => Code::Internal,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::Unimplemented,
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => Code::Unavailable,
        _ => Code::Unknown,
    };
    FlavorError::status(code, format!("the collector answered HTTP {status}"))
}

/// A streaming gRPC call sending already-encoded messages: the building block of every
/// gRPC flavor (gnmireverse, SONiC and Nokia differ only in method, metadata and whether
/// responses are counted). Started by [`GrpcConnection::call`]; it is a [`PushStream`].
pub struct GrpcCall {
    stream: h2c::Stream,
    outcome: Option<Result<(), FlavorError>>,
}

impl fmt::Debug for GrpcCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcCall")
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl GrpcCall {
    /// Remembers how the call ended and returns it.
    fn ended_with(&mut self, outcome: StreamOutcome) -> Result<(), FlavorError> {
        self.outcome
            .get_or_insert_with(|| call_result(outcome))
            .clone()
    }

    /// Waits for the collector to end the call.
    async fn finish(&mut self) -> Result<(), FlavorError> {
        if let Some(outcome) = &self.outcome {
            return outcome.clone();
        }
        let outcome = self.stream.finished().await;
        self.ended_with(outcome)
    }
}

impl PushStream for GrpcCall {
    fn send(&mut self, message: Bytes) -> BoxFuture<'_, Result<(), FlavorError>> {
        Box::pin(async move {
            if let Some(outcome) = &self.outcome {
                return Err(outcome.clone().err().unwrap_or(FlavorError::Ended));
            }
            if u32::try_from(message.len()).is_err() {
                return Err(FlavorError::Message(format!(
                    "message of {} bytes is larger than a gRPC frame allows",
                    message.len()
                )));
            }
            match self.stream.send(&message).await {
                Ok(()) => Ok(()),
                // The call is ending: report how it ended.
                Err(outcome) => Err(self.ended_with(outcome).err().unwrap_or(FlavorError::Ended)),
            }
        })
    }

    fn ended(&mut self) -> BoxFuture<'_, FlavorError> {
        Box::pin(async move { self.finish().await.err().unwrap_or(FlavorError::Ended) })
    }

    fn flow_stall(&self) -> crate::run::FlowStall {
        self.stream.flow_stall()
    }

    fn close(mut self: Box<Self>) -> BoxFuture<'static, Result<(), FlavorError>> {
        Box::pin(async move {
            // END_STREAM on the request: the client half-close.
            if self.outcome.is_none()
                && let Err(outcome) = self.stream.end().await
            {
                self.ended_with(outcome).ok();
            }
            match self.finish().await {
                Err(error) if error.is_eof_close() => Ok(()),
                other => other,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_come_from_grpc_status_and_grpc_message() {
        let mut trailers = HeaderMap::new();
        assert!(matches!(
            trailers_result(&trailers).unwrap_err(),
            FlavorError::Status {
                code: Code::Internal,
                ..
            }
        ));
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        assert!(trailers_result(&trailers).is_ok());
        trailers.insert("grpc-status", HeaderValue::from_static("2"));
        trailers.insert("grpc-message", HeaderValue::from_static("EOF"));
        let status = trailers_result(&trailers).unwrap_err();
        assert!(status.is_eof_close(), "{status:?}");
        trailers.insert("grpc-message", HeaderValue::from_static("a%20b"));
        let code_message = |e: FlavorError| match e {
            FlavorError::Status { code, message } => (code, message),
            other => panic!("not a status: {other:?}"),
        };
        assert_eq!(
            code_message(trailers_result(&trailers).unwrap_err()).1,
            "a b"
        );
        assert_eq!(
            code_message(http_status(StatusCode::NOT_FOUND)).0,
            Code::Unimplemented
        );
        assert_eq!(
            code_message(http_status(StatusCode::SERVICE_UNAVAILABLE)).0,
            Code::Unavailable
        );
    }

    #[test]
    fn response_messages_are_counted_across_data_frames() {
        let mut counter = MessageCounter::default();
        // An empty message (Nokia's PublishResponse), then a 3-byte one split in pieces.
        assert_eq!(counter.feed(&[0, 0, 0, 0, 0, 0, 0]), 1);
        assert_eq!(counter.feed(&[0, 0, 3, 1]), 1);
        assert_eq!(counter.feed(&[2, 3, 0]), 0);
        assert_eq!(counter.feed(&[0, 0, 0, 0]), 1);
        assert_eq!(counter.feed(&[]), 0);
    }
}
