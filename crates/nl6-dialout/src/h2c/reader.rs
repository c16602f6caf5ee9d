//! The read side of a connection: parses the collector's frames and applies them to
//! the shared state (settings, windows, pings, response headers, resets, GOAWAY), and
//! sends keepalive pings when asked to.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::Instant;

use super::conn::Shared;
use super::frame::{self, DEFAULT_MAX_FRAME, DEFAULT_WINDOW, HEAD_LEN, Head, MAX_WINDOW, Reason};
use super::hpack::{Decoder, MAX_HEADER_BLOCK};
use super::split::Half;
use super::{Coalesce, Http2Error, Phase, StreamOutcome};
use crate::connector::Keepalive;

/// Bytes read from the socket per poll (a stack buffer, never kept).
const READ_CHUNK: usize = 4096;

/// Why the reader stopped.
pub(super) enum ReaderEnd {
    /// Every handle is gone: we close, politely.
    Shutdown,
    /// The collector broke the protocol: we close with this code.
    Protocol(Reason, String),
    /// The connection ended for another reason.
    Error(Http2Error),
}

impl ReaderEnd {
    /// The GOAWAY code we send before closing, if we close.
    pub fn goodbye(&self) -> Option<Reason> {
        match self {
            ReaderEnd::Shutdown => Some(Reason::NO_ERROR),
            ReaderEnd::Protocol(reason, _) => Some(*reason),
            ReaderEnd::Error(Http2Error::KeepaliveTimeout(_)) => Some(Reason::NO_ERROR),
            ReaderEnd::Error(_) => None,
        }
    }

    pub fn into_error(self) -> Http2Error {
        match self {
            ReaderEnd::Shutdown => Http2Error::Closed,
            ReaderEnd::Protocol(reason, message) => {
                Http2Error::Protocol(format!("{message} ({reason})"))
            }
            ReaderEnd::Error(error) => error,
        }
    }
}

/// A connection error found while parsing.
struct ConnError(Reason, String);

fn protocol(message: impl Into<String>) -> ConnError {
    ConnError(Reason::PROTOCOL_ERROR, message.into())
}

/// A header block being collected across HEADERS and CONTINUATION frames.
struct Block {
    stream: u32,
    end_stream: bool,
    bytes: Vec<u8>,
}

/// Keepalive pings: one outstanding at a time.
struct Pinger {
    keepalive: Keepalive,
    /// When the collector last said something about a call (HEADERS, DATA) or answered
    /// a ping: pings go out after `interval` without that. Window updates and settings
    /// do not count, so a busy sending connection still pings.
    last_read: Instant,
    /// When the outstanding ping was sent.
    sent: Option<Instant>,
}

impl Pinger {
    fn deadline(&self) -> Instant {
        match self.sent {
            Some(sent) => sent + self.keepalive.timeout,
            None => self.last_read + self.keepalive.interval,
        }
    }
}

/// The payload of our keepalive pings.
const PING_PAYLOAD: [u8; 8] = *b"nl6-ping";

/// The receive low-water mark while coalescing: the kernel wakes the reader early once
/// this much is queued.
const COALESCE_BYTES: u32 = 16 * 1024;

/// Sweeps fall on this grid, so the readers of many connections wake together.
const SWEEP_GRID: Duration = Duration::from_millis(10);

/// Receive coalescing. While every stream of the connection is settled (open for the
/// settle time, response headers seen) and has send window to spare, the reader
/// raises the socket's receive low-water mark: the collector's small frames
/// (PublishResponses, WINDOW_UPDATEs, acks) wait in the kernel instead of waking the
/// process one by one, and a sweep every interval lowers the mark and reads them. A
/// closed or reset connection still wakes the reader at once, and so does a writer
/// that runs short of window, opens a stream or closes one.
struct Coalescer {
    timing: Coalesce,
    /// The mark is raised now.
    raised: bool,
    /// The next sweep, while raised.
    sweep_at: Instant,
}

/// `at` rounded up to the [`SWEEP_GRID`] (counted from the first call in the process).
fn on_sweep_grid(at: Instant) -> Instant {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    let since = at.saturating_duration_since(base).as_nanos();
    let grid = SWEEP_GRID.as_nanos();
    let rounded = since.div_ceil(grid) * grid;
    base + Duration::from_nanos(u64::try_from(rounded).unwrap_or(u64::MAX))
}

pub(super) struct Reader {
    shared: Arc<Shared>,
    read: Half,
    /// A partial frame carried over between reads (empty most of the time).
    partial: Vec<u8>,
    block: Option<Block>,
    decoder: Decoder,
    settings_seen: bool,
    /// DATA bytes received on the connection, not yet given back.
    conn_unacked: u32,
    pinger: Option<Pinger>,
    /// A GOAWAY arrived: the connection's end, once the socket closes.
    goaway: Option<(Reason, String)>,
    /// Receive coalescing, unless off (or the socket refused the option).
    coalescer: Option<Coalescer>,
}

impl Reader {
    pub fn new(
        shared: Arc<Shared>,
        read: Half,
        keepalive: Option<Keepalive>,
        coalesce: Option<Coalesce>,
    ) -> Reader {
        Reader {
            shared,
            read,
            partial: Vec::new(),
            block: None,
            decoder: Decoder::new(),
            settings_seen: false,
            conn_unacked: 0,
            pinger: keepalive.map(|keepalive| Pinger {
                keepalive,
                last_read: Instant::now(),
                sent: None,
            }),
            goaway: None,
            coalescer: coalesce.map(|timing| Coalescer {
                timing,
                raised: false,
                sweep_at: Instant::now(),
            }),
        }
    }

    /// Reads and applies frames until the connection ends.
    pub async fn run(&mut self) -> ReaderEnd {
        let shared = self.shared.clone();
        loop {
            let ping_at = self.pinger.as_ref().map(Pinger::deadline);
            let sweep_at = self
                .coalescer
                .as_ref()
                .filter(|c| c.raised)
                .map(|c| c.sweep_at);
            let event = {
                let wake = shared.reader_wake.notified();
                let ping = async {
                    match ping_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                let sweep = async {
                    match sweep_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    biased;
                    _ = wake => Event::Wake,
                    read = self.read_some() => Event::Read(read),
                    _ = ping => Event::Ping,
                    _ = sweep => Event::Sweep,
                }
            };
            match event {
                Event::Wake => {
                    let (shutdown, ended, read_now) = {
                        let state = shared.state.lock();
                        (state.shutdown, state.ended.is_some(), state.read_now)
                    };
                    if shutdown {
                        return ReaderEnd::Shutdown;
                    }
                    if ended {
                        // A writer ended the connection; its error stands.
                        return ReaderEnd::Error(Http2Error::Closed);
                    }
                    if read_now {
                        self.lower_low_water();
                    }
                }
                Event::Read(Ok(true)) => self.raise_low_water(),
                Event::Sweep => self.lower_low_water(),
                Event::Read(Ok(false)) => return ReaderEnd::Error(self.closed_error()),
                Event::Read(Err(ReadError::Io(e))) => {
                    return ReaderEnd::Error(match self.goaway.take() {
                        Some((reason, debug)) => Http2Error::GoAway { reason, debug },
                        None => Http2Error::Io(e),
                    });
                }
                Event::Read(Err(ReadError::Conn(ConnError(reason, message)))) => {
                    return ReaderEnd::Protocol(reason, message);
                }
                Event::Ping => {
                    if let Some(end) = self.on_ping_timer() {
                        return ReaderEnd::Error(end);
                    }
                    // The ping's answer is read as soon as it comes.
                    self.lower_low_water();
                }
            }
            if let Err(e) = flush_control(&shared).await {
                return ReaderEnd::Error(Http2Error::Io(e));
            }
        }
    }

    /// Raises the receive low-water mark if the connection is settled: SETTINGS seen,
    /// no header block, GOAWAY or ping outstanding, and every stream open for the
    /// settle time, answered, and with window for another message of the largest size
    /// sent.
    fn raise_low_water(&mut self) {
        let Some(coalescer) = &mut self.coalescer else {
            return;
        };
        if coalescer.raised
            || !self.settings_seen
            || self.block.is_some()
            || self.goaway.is_some()
            || self.pinger.as_ref().is_some_and(|p| p.sent.is_some())
        {
            return;
        }
        let now = Instant::now();
        {
            let mut state = self.shared.state.lock();
            let need = state.largest_message as i64;
            let settled = !state.streams.is_empty()
                && !state.read_now
                && state.ended.is_none()
                && state.goaway.is_none()
                && state.conn_window >= need
                && state.streams.iter().all(|s| {
                    s.head_seen
                        && s.outcome.is_none()
                        && s.send_window >= need
                        && now.saturating_duration_since(s.opened.into()) >= coalescer.timing.settle
                });
            if !settled {
                return;
            }
            // Under the lock with the window check: a writer that runs short from
            // now on sees the flag and asks for a read.
            state.coalescing = true;
        }
        coalescer.raised = true;
        coalescer.sweep_at = on_sweep_grid(now + coalescer.timing.sweep);
        if let Err(e) = self.read.set_recv_low_water(COALESCE_BYTES) {
            self.coalescing_failed(&e);
        }
    }

    /// Lowers the receive low-water mark (if raised): whatever the kernel holds is
    /// read now, and every frame from here on as it comes.
    fn lower_low_water(&mut self) {
        let Some(coalescer) = &mut self.coalescer else {
            return;
        };
        if !coalescer.raised {
            return;
        }
        coalescer.raised = false;
        {
            let mut state = self.shared.state.lock();
            state.coalescing = false;
            state.read_now = false;
        }
        if let Err(e) = self.read.set_recv_low_water(1) {
            self.coalescing_failed(&e);
        }
    }

    /// The socket refused the low-water mark: read every frame as it comes from now on.
    fn coalescing_failed(&mut self, error: &std::io::Error) {
        tracing::debug!("receive coalescing off for this connection: SO_RCVLOWAT: {error}");
        self.coalescer = None;
        let mut state = self.shared.state.lock();
        state.coalescing = false;
        state.read_now = false;
    }

    /// The error of a connection the collector closed.
    fn closed_error(&mut self) -> Http2Error {
        match self.goaway.take() {
            Some((reason, debug)) => Http2Error::GoAway { reason, debug },
            None => Http2Error::Closed,
        }
    }

    /// Sends a keepalive ping, or gives up on an unanswered one.
    fn on_ping_timer(&mut self) -> Option<Http2Error> {
        let pinger = self.pinger.as_mut()?;
        if pinger.sent.is_some() {
            return Some(Http2Error::KeepaliveTimeout(pinger.keepalive.timeout));
        }
        pinger.sent = Some(Instant::now());
        self.shared.queue_control(frame::PING, 0, 0, &PING_PAYLOAD);
        None
    }

    /// Reads what the socket has (at most [`READ_CHUNK`] bytes, into a stack buffer)
    /// and applies every complete frame; `false` at end of stream.
    async fn read_some(&mut self) -> Result<bool, ReadError> {
        poll_fn(|cx| {
            let mut buf = [0u8; READ_CHUNK];
            let mut read = ReadBuf::new(&mut buf);
            match Pin::new(&mut self.read).poll_read(cx, &mut read) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(e)) => Poll::Ready(Err(ReadError::Io(e))),
                Poll::Ready(Ok(())) if read.filled().is_empty() => Poll::Ready(Ok(false)),
                Poll::Ready(Ok(())) => {
                    let n = read.filled().len();
                    Poll::Ready(self.feed(&buf[..n]).map(|()| true))
                }
            }
        })
        .await
    }

    /// Applies the complete frames of `data` (after any partial frame carried over).
    fn feed(&mut self, data: &[u8]) -> Result<(), ReadError> {
        if self.partial.is_empty() {
            let used = self.frames(data)?;
            self.partial.extend_from_slice(&data[used..]);
        } else {
            let mut partial = std::mem::take(&mut self.partial);
            partial.extend_from_slice(data);
            let used = self.frames(&partial)?;
            partial.drain(..used);
            self.partial = partial;
        }
        if self.partial.is_empty() && self.partial.capacity() > READ_CHUNK {
            self.partial = Vec::new();
        }
        Ok(())
    }

    /// Applies every complete frame at the start of `data`; returns the bytes used.
    fn frames(&mut self, data: &[u8]) -> Result<usize, ReadError> {
        let mut at = 0;
        while data.len() - at >= HEAD_LEN {
            let head = Head::parse(&data[at..at + HEAD_LEN]);
            if head.len > DEFAULT_MAX_FRAME {
                return Err(ReadError::Conn(ConnError(
                    Reason::FRAME_SIZE_ERROR,
                    format!(
                        "a frame of {} bytes is larger than the {DEFAULT_MAX_FRAME} nl6 allows",
                        head.len
                    ),
                )));
            }
            let end = at + HEAD_LEN + head.len as usize;
            if data.len() < end {
                break;
            }
            self.frame(head, &data[at + HEAD_LEN..end])
                .map_err(ReadError::Conn)?;
            at = end;
        }
        Ok(at)
    }

    fn frame(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if matches!(head.kind, frame::HEADERS | frame::DATA)
            && let Some(pinger) = &mut self.pinger
        {
            pinger.last_read = Instant::now();
        }
        if self.block.is_some() && head.kind != frame::CONTINUATION {
            return Err(protocol("a header block was interrupted by another frame"));
        }
        match head.kind {
            frame::SETTINGS => self.settings(head, payload),
            frame::PING => self.ping(head, payload),
            frame::WINDOW_UPDATE => self.window_update(head, payload),
            frame::HEADERS => self.headers(head, payload),
            frame::CONTINUATION => self.continuation(head, payload),
            frame::DATA => self.data(head, payload),
            frame::RST_STREAM => self.rst_stream(head, payload),
            frame::GOAWAY => self.goaway(head, payload),
            frame::PUSH_PROMISE => Err(protocol("PUSH_PROMISE although push is disabled")),
            // PRIORITY and unknown frame types are ignored (RFC 9113 §5.5).
            _ => Ok(()),
        }
    }

    fn settings(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream != 0 {
            return Err(protocol("SETTINGS on a stream"));
        }
        if head.flags & frame::ACK != 0 {
            return if payload.is_empty() {
                Ok(())
            } else {
                Err(ConnError(
                    Reason::FRAME_SIZE_ERROR,
                    "SETTINGS ACK with a payload".to_string(),
                ))
            };
        }
        if !payload.len().is_multiple_of(6) {
            return Err(ConnError(
                Reason::FRAME_SIZE_ERROR,
                "SETTINGS length not a multiple of 6".to_string(),
            ));
        }
        {
            let mut state = self.shared.state.lock();
            for setting in payload.chunks_exact(6) {
                let id = u16::from_be_bytes([setting[0], setting[1]]);
                let value = frame::be_u32(setting, 2);
                match id {
                    frame::SETTINGS_INITIAL_WINDOW_SIZE => {
                        let value = i64::from(value);
                        if value > MAX_WINDOW {
                            return Err(ConnError(
                                Reason::FLOW_CONTROL_ERROR,
                                format!("SETTINGS_INITIAL_WINDOW_SIZE {value} above 2^31-1"),
                            ));
                        }
                        let delta = value - state.peer.initial_window;
                        state.peer.initial_window = value;
                        for stream in &mut state.streams {
                            stream.send_window += delta;
                        }
                    }
                    frame::SETTINGS_MAX_FRAME_SIZE => {
                        if !(DEFAULT_MAX_FRAME..=0xff_ffff).contains(&value) {
                            return Err(protocol(format!(
                                "SETTINGS_MAX_FRAME_SIZE {value} outside 16384..=16777215"
                            )));
                        }
                        state.peer.max_frame = value as usize;
                    }
                    frame::SETTINGS_MAX_CONCURRENT_STREAMS => {
                        state.peer.max_streams = value as usize;
                    }
                    // The header table size bounds our encoder's table, which we never
                    // use; push and header-list limits do not apply to a client.
                    _ => {}
                }
            }
            head_ack(&mut state.control, frame::SETTINGS, &[]);
        }
        self.shared.changed.notify_waiters();
        if !self.settings_seen {
            self.settings_seen = true;
            self.shared.phase.send_if_modified(|phase| {
                if matches!(phase, Phase::Starting) {
                    *phase = Phase::Ready;
                    true
                } else {
                    false
                }
            });
        }
        Ok(())
    }

    fn ping(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream != 0 {
            return Err(protocol("PING on a stream"));
        }
        if payload.len() != 8 {
            return Err(ConnError(
                Reason::FRAME_SIZE_ERROR,
                "PING of a length other than 8".to_string(),
            ));
        }
        if head.flags & frame::ACK != 0 {
            if let Some(pinger) = &mut self.pinger
                && payload == PING_PAYLOAD
            {
                pinger.sent = None;
                pinger.last_read = Instant::now();
            }
        } else {
            head_ack(&mut self.shared.state.lock().control, frame::PING, payload);
        }
        Ok(())
    }

    fn window_update(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if payload.len() != 4 {
            return Err(ConnError(
                Reason::FRAME_SIZE_ERROR,
                "WINDOW_UPDATE of a length other than 4".to_string(),
            ));
        }
        let increment = i64::from(frame::be_u32(payload, 0) & 0x7fff_ffff);
        {
            let mut state = self.shared.state.lock();
            if head.stream == 0 {
                if increment == 0 {
                    return Err(protocol("connection WINDOW_UPDATE of 0"));
                }
                state.conn_window += increment;
                if state.conn_window > MAX_WINDOW {
                    return Err(ConnError(
                        Reason::FLOW_CONTROL_ERROR,
                        "connection window above 2^31-1".to_string(),
                    ));
                }
            } else if let Some(stream) = state.stream_mut(head.stream) {
                if increment == 0 || stream.send_window + increment > MAX_WINDOW {
                    // A stream error: the call fails, the connection goes on.
                    let reason = if increment == 0 {
                        Reason::PROTOCOL_ERROR
                    } else {
                        Reason::FLOW_CONTROL_ERROR
                    };
                    stream.outcome.get_or_insert_with(|| {
                        StreamOutcome::Failed(Arc::new(Http2Error::Protocol(format!(
                            "bad stream WINDOW_UPDATE ({reason})"
                        ))))
                    });
                    let id = head.stream;
                    let mut rst = Vec::new();
                    frame::head(frame::RST_STREAM, 0, id, 4).put(&mut rst, &reason.0.to_be_bytes());
                    state.control.extend_from_slice(&rst);
                } else {
                    stream.send_window += increment;
                }
            }
        }
        self.shared.changed.notify_waiters();
        Ok(())
    }

    fn headers(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream == 0 {
            return Err(protocol("HEADERS on stream 0"));
        }
        let mut fragment = unpad(head, payload)?;
        if head.flags & frame::PRIORITY != 0 {
            fragment = fragment
                .get(5..)
                .ok_or_else(|| protocol("HEADERS too short for its priority"))?;
        }
        self.block = Some(Block {
            stream: head.stream,
            end_stream: head.flags & frame::END_STREAM != 0,
            bytes: fragment.to_vec(),
        });
        if head.flags & frame::END_HEADERS != 0 {
            self.finish_block()?;
        }
        Ok(())
    }

    fn continuation(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        let Some(block) = &mut self.block else {
            return Err(protocol("CONTINUATION without a header block"));
        };
        if block.stream != head.stream {
            return Err(protocol("CONTINUATION on another stream"));
        }
        if block.bytes.len() + payload.len() > MAX_HEADER_BLOCK {
            return Err(protocol(format!(
                "a header block above the {MAX_HEADER_BLOCK}-byte limit"
            )));
        }
        block.bytes.extend_from_slice(payload);
        if head.flags & frame::END_HEADERS != 0 {
            self.finish_block()?;
        }
        Ok(())
    }

    /// Decodes a complete header block (always: the decoder's table must stay in step)
    /// and applies it to its stream.
    fn finish_block(&mut self) -> Result<(), ConnError> {
        let Some(block) = self.block.take() else {
            return Ok(());
        };
        let fields = self
            .decoder
            .decode(&block.bytes)
            .map_err(|e| ConnError(Reason::COMPRESSION_ERROR, e))?;
        {
            let mut state = self.shared.state.lock();
            let Some(stream) = state.stream_mut(block.stream) else {
                return Ok(());
            };
            if stream.outcome.is_some() {
                return Ok(());
            }
            let informational = fields.status.is_some_and(|s| (100..200).contains(&s));
            if informational && !block.end_stream {
                return Ok(());
            }
            let trailers = stream.head_seen;
            stream.head_seen = true;
            let last = block.end_stream
                || trailers
                || fields.status != Some(200)
                || fields.headers.contains_key("grpc-status");
            if last {
                stream.outcome = Some(StreamOutcome::Final { fields, trailers });
            }
        }
        self.shared.changed.notify_waiters();
        Ok(())
    }

    fn data(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream == 0 {
            return Err(protocol("DATA on stream 0"));
        }
        let body = unpad(head, payload)?;
        let len = head.len;
        let end_stream = head.flags & frame::END_STREAM != 0;
        let mut ended = false;
        {
            let mut state = self.shared.state.lock();
            self.conn_unacked += len;
            if self.conn_unacked >= DEFAULT_WINDOW / 2 {
                let increment = std::mem::take(&mut self.conn_unacked);
                window_update(&mut state.control, 0, increment);
            }
            let mut stream_update = None;
            if let Some(stream) = state.stream_mut(head.stream)
                && stream.outcome.is_none()
            {
                if let Some((counter, messages)) = &mut stream.responses {
                    let n = messages.feed(body);
                    if n > 0 {
                        counter.add(n);
                    }
                }
                stream.recv_unacked += len;
                if end_stream {
                    stream.outcome = Some(StreamOutcome::NoTrailers);
                    ended = true;
                } else if stream.recv_unacked >= DEFAULT_WINDOW / 2 {
                    stream_update = Some(std::mem::take(&mut stream.recv_unacked));
                }
            }
            if let Some(increment) = stream_update {
                window_update(&mut state.control, head.stream, increment);
            }
        }
        if ended {
            self.shared.changed.notify_waiters();
        }
        Ok(())
    }

    fn rst_stream(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream == 0 {
            return Err(protocol("RST_STREAM on stream 0"));
        }
        if payload.len() != 4 {
            return Err(ConnError(
                Reason::FRAME_SIZE_ERROR,
                "RST_STREAM of a length other than 4".to_string(),
            ));
        }
        let reason = Reason(frame::be_u32(payload, 0));
        {
            let mut state = self.shared.state.lock();
            if let Some(stream) = state.stream_mut(head.stream) {
                stream.outcome.get_or_insert_with(|| {
                    StreamOutcome::Failed(Arc::new(Http2Error::Reset(reason)))
                });
            }
        }
        self.shared.changed.notify_waiters();
        Ok(())
    }

    fn goaway(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream != 0 {
            return Err(protocol("GOAWAY on a stream"));
        }
        if payload.len() < 8 {
            return Err(ConnError(
                Reason::FRAME_SIZE_ERROR,
                "GOAWAY shorter than 8 bytes".to_string(),
            ));
        }
        let last = frame::be_u32(payload, 0) & 0x7fff_ffff;
        let reason = Reason(frame::be_u32(payload, 4));
        let debug: String = String::from_utf8_lossy(&payload[8..])
            .chars()
            .take(256)
            .collect();
        let error = Arc::new(Http2Error::GoAway {
            reason,
            debug: debug.clone(),
        });
        {
            let mut state = self.shared.state.lock();
            state.goaway = Some((last, error.clone()));
            for stream in &mut state.streams {
                // Streams the collector never processed fail now; so does every stream
                // when the GOAWAY carries an error.
                if stream.id > last || reason != Reason::NO_ERROR {
                    stream
                        .outcome
                        .get_or_insert_with(|| StreamOutcome::Failed(error.clone()));
                }
            }
        }
        self.goaway = Some((reason, debug));
        self.shared.changed.notify_waiters();
        Ok(())
    }
}

/// Writes the queued control frames, if any.
async fn flush_control(shared: &Shared) -> std::io::Result<()> {
    if shared.state.lock().control.is_empty() {
        return Ok(());
    }
    let mut w = shared.writer.lock().await;
    shared.write_control(&mut w).await
}

/// Why a read stopped.
enum ReadError {
    Io(std::io::Error),
    Conn(ConnError),
}

/// What woke the reader.
enum Event {
    Wake,
    Read(Result<bool, ReadError>),
    Ping,
    Sweep,
}

/// The payload without its padding (`PADDED` flag).
fn unpad(head: Head, payload: &[u8]) -> Result<&[u8], ConnError> {
    if head.flags & frame::PADDED == 0 {
        return Ok(payload);
    }
    let (&pad, rest) = payload
        .split_first()
        .ok_or_else(|| protocol("a padded frame without its pad length"))?;
    rest.len()
        .checked_sub(usize::from(pad))
        .map(|len| &rest[..len])
        .ok_or_else(|| protocol("padding longer than the frame"))
}

/// Appends the ACK of a SETTINGS or PING frame.
fn head_ack(control: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    frame::head(kind, frame::ACK, 0, payload.len()).put(control, payload);
}

/// Appends a WINDOW_UPDATE.
fn window_update(control: &mut Vec<u8>, stream: u32, increment: u32) {
    frame::head(frame::WINDOW_UPDATE, 0, stream, 4).put(control, &increment.to_be_bytes());
}
