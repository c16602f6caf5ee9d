//! A device's HTTP/2 connection and the client-streaming gRPC call on it, straight on
//! hyper: no tower buffer, no encode buffer — each message goes out as its 5-byte gRPC
//! prefix chained to the already-encoded bytes.

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
use http::header::{CONTENT_TYPE, HeaderValue, TE, USER_AGENT};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use nl6_gnmi::codec::Encoded;
use tokio::sync::{mpsc, watch};
use tonic::{Code, Status};

use crate::connector::{Io, Keepalive, error_chain};
use crate::stats::DisconnectCause;
use crate::transport::{PublishStream, is_eof_close};

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
/// The exporter opens it (TCP from the device address, TLS, HTTP/2 keepalive) and hands
/// it to a [`crate::DialoutTransport`]; it closes once it and every call on it are dropped.
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

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
    )
}

/// The first error of type `T` in `error`'s source chain (`error` included).
fn find_source<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = e.source();
    }
    None
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
    /// Classifies the end of a stream on this connection from its status and, if it
    /// comes within a short grace period, the connection's own outcome.
    pub(crate) async fn classify(&mut self, status: &Status) -> Disconnect {
        let end = tokio::time::timeout(CONNECTION_END_GRACE, self.0.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(|r| r.ok().and_then(|end| end.clone()));
        let disconnect = |cause| Disconnect {
            cause,
            too_many_pings: false,
        };
        if let Some(ConnectionEnd::GoAway(reason)) = end {
            return Disconnect {
                cause: DisconnectCause::GoAway,
                too_many_pings: reason == h2::Reason::ENHANCE_YOUR_CALM,
            };
        }
        let err: &(dyn std::error::Error + 'static) = status;
        if let Some(h2) = find_source::<h2::Error>(err) {
            if h2.is_go_away() && h2.is_remote() {
                return Disconnect {
                    cause: DisconnectCause::GoAway,
                    too_many_pings: h2.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM),
                };
            }
            if h2.is_reset() || h2.get_io().is_some_and(is_reset) {
                return disconnect(DisconnectCause::Reset);
            }
        }
        if end == Some(ConnectionEnd::Reset)
            || find_source::<std::io::Error>(err).is_some_and(is_reset)
        {
            return disconnect(DisconnectCause::Reset);
        }
        if find_source::<CollectorEnded>(err).is_some()
            || is_eof_close(status)
            || end == Some(ConnectionEnd::Closed)
        {
            return disconnect(DisconnectCause::Eof);
        }
        disconnect(DisconnectCause::Error)
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
    pub async fn client_streaming(&self, path: PathAndQuery) -> Result<ClientStreamCall, Status> {
        let mut send = self.send.clone();
        send.ready().await.map_err(|e| {
            Status::unavailable(format!("connection not ready: {}", error_chain(&e)))
        })?;
        let uri = Uri::builder()
            .scheme(self.origin.scheme.clone())
            .authority(self.origin.authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|e| Status::invalid_argument(format!("invalid method path: {e}")))?;
        // Capacity 1: a message waits here only while the HTTP/2 stream is blocked.
        let (tx, rx) = mpsc::channel::<Encoded>(1);
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
        let response = send.send_request(request);
        let call = async move {
            // Holding the sender keeps the connection open for as long as the call.
            let _send = send;
            match response.await {
                Ok(response) => call_status(response).await,
                Err(e) => Err(hyper_status(e)),
            }
        };
        Ok(ClientStreamCall {
            tx: Some(tx),
            call: Box::pin(call),
            outcome: None,
        })
    }
}

/// A broken connection or stream as a status (the error stays its source).
fn hyper_status(error: hyper::Error) -> Status {
    let code = if error.is_canceled() {
        Code::Cancelled
    } else {
        Code::Unavailable
    };
    let mut status = Status::new(code, error_chain(&error));
    status.set_source(Arc::new(error));
    status
}

/// How the collector ended the call: `grpc-status` from a trailers-only response or
/// from the trailers.
async fn call_status(response: Response<Incoming>) -> Result<(), Status> {
    let (parts, mut body) = response.into_parts();
    if let Some(status) = Status::from_header_map(&parts.headers) {
        return status_result(status);
    }
    if parts.status != StatusCode::OK {
        return Err(http_status(parts.status));
    }
    loop {
        match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => return Err(missing_status()),
            Some(Err(e)) => return Err(hyper_status(e)),
            Some(Ok(frame)) => {
                if let Ok(trailers) = frame.into_trailers() {
                    return trailers_result(&trailers);
                }
            }
        }
    }
}

fn trailers_result(trailers: &HeaderMap) -> Result<(), Status> {
    Status::from_header_map(trailers).map_or_else(|| Err(missing_status()), status_result)
}

fn missing_status() -> Status {
    Status::internal("the collector ended the call without a grpc-status")
}

fn status_result(status: Status) -> Result<(), Status> {
    if status.code() == Code::Ok {
        Ok(())
    } else {
        Err(status)
    }
}

/// A non-gRPC HTTP answer, mapped as gRPC clients do.
fn http_status(status: StatusCode) -> Status {
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
    Status::new(code, format!("the collector answered HTTP {status}"))
}

/// The request body of a call: each queued message as one gRPC frame.
pub(crate) struct PublishBody {
    rx: mpsc::Receiver<Encoded>,
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
            .map(|message| message.map(|Encoded(bytes)| Ok(Frame::data(GrpcFrame::new(bytes)))))
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

type CallFuture = Pin<Box<dyn Future<Output = Result<(), Status>> + Send>>;

/// A client-streaming gRPC call with an ignored reply, sending already-encoded
/// messages: the building block of gnmireverse and of any flavor shaped like it
/// (only the method path differs). Started by [`GrpcConnection::client_streaming`].
pub struct ClientStreamCall {
    tx: Option<mpsc::Sender<Encoded>>,
    call: CallFuture,
    outcome: Option<Result<(), Status>>,
}

impl fmt::Debug for ClientStreamCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientStreamCall")
            .field("open", &self.tx.is_some())
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl ClientStreamCall {
    /// Polls the call to its end and remembers the outcome.
    async fn finish(&mut self) -> Result<(), Status> {
        if self.outcome.is_none() {
            let result = (&mut self.call).await;
            self.outcome = Some(result);
        }
        self.outcome.clone().unwrap_or(Ok(()))
    }
}

/// The status reported when a call ended `Ok` before we closed it.
fn ended_early() -> Status {
    let mut status = Status::unavailable("the collector ended the stream");
    status.set_source(Arc::new(CollectorEnded));
    status
}

/// The collector ended a call normally before we closed it.
#[derive(Debug, thiserror::Error)]
#[error("the collector ended the stream")]
struct CollectorEnded;

impl PublishStream for ClientStreamCall {
    fn send(&mut self, message: Encoded) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async move {
            if let Some(outcome) = &self.outcome {
                return Err(outcome.clone().err().unwrap_or_else(ended_early));
            }
            if u32::try_from(message.0.len()).is_err() {
                return Err(Status::resource_exhausted(format!(
                    "message of {} bytes is larger than a gRPC frame allows",
                    message.0.len()
                )));
            }
            let Some(tx) = self.tx.clone() else {
                return Err(Status::failed_precondition("stream already closed"));
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
                Some(false) | None => Err(self.finish().await.err().unwrap_or_else(ended_early)),
            }
        })
    }

    fn ended(&mut self) -> BoxFuture<'_, Status> {
        Box::pin(async move { self.finish().await.err().unwrap_or_else(ended_early) })
    }

    fn close(mut self: Box<Self>) -> BoxFuture<'static, Result<(), Status>> {
        Box::pin(async move {
            // Dropping the sender ends the request body: the client half-close.
            self.tx = None;
            match self.finish().await {
                Err(status) if is_eof_close(&status) => Ok(()),
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
        assert_eq!(
            trailers_result(&trailers).unwrap_err().code(),
            Code::Internal
        );
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        assert!(trailers_result(&trailers).is_ok());
        trailers.insert("grpc-status", HeaderValue::from_static("2"));
        trailers.insert("grpc-message", HeaderValue::from_static("EOF"));
        let status = trailers_result(&trailers).unwrap_err();
        assert!(is_eof_close(&status), "{status:?}");
        trailers.insert("grpc-message", HeaderValue::from_static("a%20b"));
        assert_eq!(trailers_result(&trailers).unwrap_err().message(), "a b");
        assert_eq!(
            http_status(StatusCode::NOT_FOUND).code(),
            Code::Unimplemented
        );
        assert_eq!(
            http_status(StatusCode::SERVICE_UNAVAILABLE).code(),
            Code::Unavailable
        );
    }
}
