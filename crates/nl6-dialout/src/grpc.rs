//! A device's HTTP/2 connection and the streaming gRPC calls on it, straight on hyper:
//! no tower buffer, no encode buffer — each message goes out as its 5-byte gRPC prefix
//! chained to the already-encoded bytes. Response messages (SONiC's and Nokia's
//! `PublishResponse`s) are counted, never decoded.

use std::convert::Infallible;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures::future::BoxFuture;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, TE, USER_AGENT};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::sync::{mpsc, watch};
use tonic::{Code, Status};

use crate::connector::{Io, Keepalive, error_chain};
use crate::error::{FlavorError, find_source, is_reset};
use crate::session::{PushStream, ResponseCounter};
use crate::stats::DisconnectCause;

/// The scheme and authority of every request on one connection.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    scheme: Scheme,
    authority: Authority,
}

impl Origin {
    /// `https` or `http` to `host:port`.
    pub(crate) fn new(tls: bool, host: &str, port: u16) -> Result<Origin, String> {
        let authority = format!("{host}:{port}");
        Ok(Origin {
            scheme: if tls { Scheme::HTTPS } else { Scheme::HTTP },
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
    send: http2::SendRequest<PublishBody>,
    origin: Origin,
    ended: ConnectionWatch,
}

/// How a device's HTTP/2 connection ended, as its driver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnectionEnd {
    /// Closed without an error.
    Closed,
    /// The collector sent GOAWAY with this error code.
    GoAway(h2::Reason),
    /// The TCP connection was reset.
    Reset,
    /// Any other failure.
    Failed,
}

impl ConnectionEnd {
    fn of(result: &Result<(), hyper::Error>) -> ConnectionEnd {
        let Err(error) = result else {
            return ConnectionEnd::Closed;
        };
        if let Some(h2) = find_source::<h2::Error>(error) {
            if h2.is_go_away() && h2.is_remote() {
                return ConnectionEnd::GoAway(h2.reason().unwrap_or(h2::Reason::NO_ERROR));
            }
            if h2.get_io().is_some_and(is_reset) {
                return ConnectionEnd::Reset;
            }
        }
        if find_source::<std::io::Error>(error).is_some_and(is_reset) {
            return ConnectionEnd::Reset;
        }
        ConnectionEnd::Failed
    }
}

/// Watches how a connection ends (its driver task reports it).
#[derive(Debug, Clone)]
pub(crate) struct ConnectionWatch(watch::Receiver<Option<ConnectionEnd>>);

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
        let end = tokio::time::timeout(CONNECTION_END_GRACE, self.0.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(|r| r.ok().and_then(|end| end.clone()));
        if let Some(ConnectionEnd::GoAway(reason)) = end {
            return Disconnect {
                cause: DisconnectCause::GoAway,
                too_many_pings: reason == h2::Reason::ENHANCE_YOUR_CALM,
            };
        }
        let cause = error.cause();
        let err: &(dyn std::error::Error + 'static) = error;
        let too_many_pings = cause == DisconnectCause::GoAway
            && find_source::<h2::Error>(err)
                .is_some_and(|h2| h2.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM));
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
            .field("closed", &self.send.is_closed())
            .finish()
    }
}

impl GrpcConnection {
    /// Starts HTTP/2 on `io` and spawns the connection's driver task.
    pub(crate) async fn handshake(
        io: Box<dyn Io>,
        origin: Origin,
        keepalive: Option<Keepalive>,
    ) -> Result<GrpcConnection, hyper::Error> {
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder.timer(TokioTimer::new());
        // No pings unless asked for: collectors enforce a minimum ping interval (grpc-go:
        // 5 minutes) and answer pings that come more often with GOAWAY too_many_pings.
        if let Some(keepalive) = keepalive {
            builder
                .keep_alive_interval(keepalive.interval)
                .keep_alive_timeout(keepalive.timeout)
                .keep_alive_while_idle(true);
        }
        let (send, connection) = builder.handshake(TokioIo::new(io)).await?;
        let (ended_tx, ended_rx) = watch::channel(None);
        tokio::spawn(async move {
            let result = connection.await;
            if let Err(error) = &result {
                tracing::debug!(%error, "dial-out connection ended");
            }
            ended_tx.send_replace(Some(ConnectionEnd::of(&result)));
        });
        Ok(GrpcConnection {
            send,
            origin,
            ended: ConnectionWatch(ended_rx),
        })
    }

    /// A watch on how this connection ends.
    pub(crate) fn watch(&self) -> ConnectionWatch {
        self.ended.clone()
    }

    /// Starts the client-streaming call `path` (a gRPC method, e.g.
    /// `/gnmireverse.gNMIReverse/Publish`) whose reply is ignored but for its status.
    pub async fn client_streaming(&self, path: PathAndQuery) -> Result<GrpcCall, FlavorError> {
        self.call(CallSpec::new(path)).await
    }

    /// Starts the streaming call `spec` describes: its method, extra metadata, and
    /// whether response messages are counted (bidi flavors).
    pub async fn call(&self, spec: CallSpec) -> Result<GrpcCall, FlavorError> {
        let mut send = self.send.clone();
        send.ready().await.map_err(|e| FlavorError::Broken {
            message: format!("connection not ready: {}", error_chain(&e)),
            source: Some(Arc::new(e)),
        })?;
        let uri = Uri::builder()
            .scheme(self.origin.scheme.clone())
            .authority(self.origin.authority.clone())
            .path_and_query(spec.path)
            .build()
            .map_err(|e| FlavorError::Message(format!("invalid method path: {e}")))?;
        // Capacity 1: a message waits here only while the HTTP/2 stream is blocked.
        let (tx, rx) = mpsc::channel::<Bytes>(1);
        let mut request = Request::new(PublishBody { rx });
        *request.uri_mut() = uri;
        *request.method_mut() = http::Method::POST;
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(TE, HeaderValue::from_static("trailers"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("nl6-dialout/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, value) in spec.metadata {
            headers.append(name, value);
        }
        let responses = spec.responses;
        let response = send.send_request(request);
        let call = async move {
            // Holding the sender keeps the connection open for as long as the call.
            let _send = send;
            match response.await {
                Ok(response) => call_status(response, responses).await,
                Err(e) => Err(hyper_error(e)),
            }
        };
        Ok(GrpcCall {
            tx: Some(tx),
            call: Box::pin(call),
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

/// A broken connection or stream as an error (hyper's error stays its source).
fn hyper_error(error: hyper::Error) -> FlavorError {
    FlavorError::Broken {
        message: error_chain(&error),
        source: Some(Arc::new(error)),
    }
}

/// How the collector ended the call: `grpc-status` from a trailers-only response or
/// from the trailers. Response messages on the way are counted when asked.
async fn call_status(
    response: Response<Incoming>,
    responses: Option<ResponseCounter>,
) -> Result<(), FlavorError> {
    let (parts, mut body) = response.into_parts();
    if let Some(status) = Status::from_header_map(&parts.headers) {
        return status_result(status);
    }
    if parts.status != StatusCode::OK {
        return Err(http_status(parts.status));
    }
    let mut frames = MessageCounter::default();
    loop {
        match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => return Err(missing_status()),
            Some(Err(e)) => return Err(hyper_error(e)),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    if let Some(counter) = &responses {
                        let n = frames.feed(&data);
                        if n > 0 {
                            counter.add(n);
                        }
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        return trailers_result(&trailers);
                    }
                }
            },
        }
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

/// The request body of a call: each queued message as one gRPC frame.
pub(crate) struct PublishBody {
    rx: mpsc::Receiver<Bytes>,
}

impl fmt::Debug for PublishBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishBody").finish_non_exhaustive()
    }
}

impl Body for PublishBody {
    type Data = GrpcFrame;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<GrpcFrame>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|message| message.map(|bytes| Ok(Frame::data(GrpcFrame::new(bytes)))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// One gRPC message on the wire: the uncompressed 5-byte prefix, then the message bytes
/// (not copied).
pub(crate) struct GrpcFrame {
    prefix: [u8; 5],
    at: usize,
    message: Bytes,
}

impl fmt::Debug for GrpcFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcFrame")
            .field("remaining", &self.remaining())
            .finish()
    }
}

impl GrpcFrame {
    /// `message` behind its prefix; its length was checked to fit in 32 bits.
    fn new(message: Bytes) -> GrpcFrame {
        let len = u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes();
        GrpcFrame {
            prefix: [0, len[0], len[1], len[2], len[3]],
            at: 0,
            message,
        }
    }
}

impl Buf for GrpcFrame {
    fn remaining(&self) -> usize {
        self.prefix.len() - self.at + self.message.len()
    }

    fn chunk(&self) -> &[u8] {
        if self.at < self.prefix.len() {
            &self.prefix[self.at..]
        } else {
            &self.message
        }
    }

    fn advance(&mut self, cnt: usize) {
        let in_prefix = cnt.min(self.prefix.len() - self.at);
        self.at += in_prefix;
        self.message.advance(cnt - in_prefix);
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for chunk in [&self.prefix[self.at..], &self.message[..]] {
            if n == dst.len() {
                break;
            }
            if !chunk.is_empty() {
                dst[n] = IoSlice::new(chunk);
                n += 1;
            }
        }
        n
    }
}

type CallFuture = Pin<Box<dyn Future<Output = Result<(), FlavorError>> + Send>>;

/// A streaming gRPC call sending already-encoded messages: the building block of every
/// gRPC flavor (gnmireverse, SONiC and Nokia differ only in method, metadata and whether
/// responses are counted). Started by [`GrpcConnection::call`]; it is a [`PushStream`].
pub struct GrpcCall {
    tx: Option<mpsc::Sender<Bytes>>,
    call: CallFuture,
    outcome: Option<Result<(), FlavorError>>,
}

impl fmt::Debug for GrpcCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcCall")
            .field("open", &self.tx.is_some())
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl GrpcCall {
    /// Polls the call to its end and remembers the outcome.
    async fn finish(&mut self) -> Result<(), FlavorError> {
        if self.outcome.is_none() {
            let result = (&mut self.call).await;
            self.outcome = Some(result);
        }
        self.outcome.clone().unwrap_or(Ok(()))
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
            let Some(tx) = self.tx.clone() else {
                return Err(FlavorError::Closed);
            };
            let sent = tokio::select! {
                biased;
                result = &mut self.call => {
                    self.outcome = Some(result);
                    None
                }
                sent = tx.send(message) => Some(sent.is_ok()),
            };
            match sent {
                Some(true) => Ok(()),
                // The body was dropped: the call is ending; report how it ended.
                Some(false) | None => Err(self.finish().await.err().unwrap_or(FlavorError::Ended)),
            }
        })
    }

    fn ended(&mut self) -> BoxFuture<'_, FlavorError> {
        Box::pin(async move { self.finish().await.err().unwrap_or(FlavorError::Ended) })
    }

    fn close(mut self: Box<Self>) -> BoxFuture<'static, Result<(), FlavorError>> {
        Box::pin(async move {
            // Dropping the sender ends the request body: the client half-close.
            self.tx = None;
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
    fn a_frame_is_the_prefix_then_the_message_uncopied() {
        let message = Bytes::from_static(b"hello");
        let mut frame = GrpcFrame::new(message.clone());
        assert_eq!(frame.remaining(), 10);
        assert_eq!(frame.chunk(), [0, 0, 0, 0, 5]);
        let mut slices = [IoSlice::new(&[]); 4];
        assert_eq!(frame.chunks_vectored(&mut slices), 2);
        assert_eq!(&*slices[1], b"hello");
        assert_eq!(slices[1].as_ptr(), message.as_ptr(), "no copy");

        frame.advance(3);
        assert_eq!(frame.chunk(), [0, 5]);
        frame.advance(4);
        assert_eq!(frame.chunk(), b"llo");
        let mut slices = [IoSlice::new(&[]); 4];
        assert_eq!(frame.chunks_vectored(&mut slices), 1);
        frame.advance(3);
        assert_eq!(frame.remaining(), 0);
        assert_eq!(frame.copy_to_bytes(0).len(), 0);
    }

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
