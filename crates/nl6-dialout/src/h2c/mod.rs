//! A small HTTP/2 client for one device's gRPC calls (RFC 9113), written for the
//! cost of a fleet: per connection it keeps no fixed buffers (frames are parsed from a
//! transient read buffer, messages are written vectored from their own bytes by the
//! task that sends them, the header decoder's table holds only what the collector
//! indexes), and one reader task per connection handles what the collector sends
//! (settings, window updates, pings, response headers, resets, GOAWAY). While the
//! connection's streams are settled it reads those in batches (receive coalescing, see
//! `Coalesce`), so a collector that answers every message does not wake the process
//! once per message.
//!
//! It is a client for gRPC over HTTP/2 only: no server push, no priorities, request
//! headers as literals, response bodies counted as gRPC messages, not kept.

mod conn;
mod frame;
mod hpack;
mod reader;
mod split;

use std::sync::Arc;
use std::time::Duration;

pub(crate) use conn::{Client, Stream};

/// Receive coalescing of a connection (see the reader): what the collector sends
/// while the streams are settled waits in the kernel and is read in sweeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Coalesce {
    /// How long a stream is open before the connection coalesces.
    pub settle: Duration,
    /// How often what waits is read at least: the longest a GOAWAY without a close, a
    /// collector's ping or a response message waits.
    pub sweep: Duration,
}

impl Coalesce {
    /// Five seconds to settle, a sweep every five seconds.
    pub(crate) const DEFAULT: Coalesce = Coalesce {
        settle: Duration::from_secs(5),
        sweep: Duration::from_secs(5),
    };
}
pub use frame::Reason;
pub(crate) use hpack::{Fields, Request};

/// Why a connection or one of its streams failed, as the client saw it.
#[derive(Debug, thiserror::Error)]
pub enum Http2Error {
    /// The collector sent GOAWAY with this error code (and optional debug text).
    #[error("the collector sent GOAWAY {reason}{}", debug_suffix(debug))]
    GoAway {
        /// The GOAWAY error code.
        reason: Reason,
        /// The GOAWAY debug data, as text.
        debug: String,
    },
    /// The collector reset the stream (RST_STREAM) with this error code.
    #[error("the collector reset the stream: {0}")]
    Reset(Reason),
    /// Reading or writing the connection failed.
    #[error("HTTP/2 connection I/O failed")]
    Io(#[source] std::io::Error),
    /// The collector broke the HTTP/2 protocol (nl6 answered with GOAWAY).
    #[error("the collector broke HTTP/2: {0}")]
    Protocol(String),
    /// The collector closed the connection.
    #[error("the collector closed the connection")]
    Closed,
    /// A keepalive ping was not acknowledged in time.
    #[error("no keepalive ping acknowledgement within {0:?}")]
    KeepaliveTimeout(Duration),
    /// A frame write was abandoned half-way, so the connection cannot go on.
    #[error("a frame write was abandoned half-way; the connection was dropped")]
    Interrupted,
}

fn debug_suffix(debug: &str) -> String {
    if debug.is_empty() {
        String::new()
    } else {
        format!(" ({debug})")
    }
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectionEnd {
    /// Closed without an error (by either side).
    Closed,
    /// The collector sent GOAWAY with this error code.
    GoAway(Reason),
    /// The TCP connection was reset.
    Reset,
    /// Any other failure.
    Failed,
}

impl ConnectionEnd {
    /// The end an error stands for.
    fn of(error: &Http2Error) -> ConnectionEnd {
        match error {
            Http2Error::GoAway { reason, .. } => ConnectionEnd::GoAway(*reason),
            Http2Error::Closed => ConnectionEnd::Closed,
            Http2Error::Io(e) if crate::error::is_reset(e) => ConnectionEnd::Reset,
            _ => ConnectionEnd::Failed,
        }
    }
}

/// Where a connection is in its life.
#[derive(Debug, Clone)]
pub(crate) enum Phase {
    /// Our preface went out; the collector has not sent its SETTINGS yet.
    Starting,
    /// The collector's SETTINGS arrived: calls can start.
    Ready,
    /// The connection ended.
    Ended(ConnectionEnd, Arc<Http2Error>),
}

/// How a stream ended, from the collector's side.
#[derive(Debug, Clone)]
pub(crate) enum StreamOutcome {
    /// The header block that ended the call: the trailers, or a response head that
    /// carries `grpc-status`, a non-200 `:status` or `END_STREAM`.
    Final {
        /// The fields of that block.
        fields: Fields,
        /// Whether it was the trailers (a second header block).
        trailers: bool,
    },
    /// The stream ended with DATA, without trailers.
    NoTrailers,
    /// The stream or connection failed.
    Failed(Arc<Http2Error>),
}

#[cfg(test)]
mod tests;
