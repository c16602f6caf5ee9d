//! The shared state of one connection and the write side: opening streams, sending
//! DATA within the flow-control windows, ending and cancelling streams. Writes happen
//! in the task that asks for them, under the connection's write lock; control frames
//! the reader owes the collector (ACKs, window updates) queue in the state and go out
//! with the next write or from the reader itself.

use std::io::IoSlice;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, watch};

use super::frame::{self, DEFAULT_MAX_FRAME, DEFAULT_WINDOW, Reason, head};
use super::hpack::{self, Request};
use super::reader::Reader;
use super::split::{self, Half};
use super::{Coalesce, ConnectionEnd, Http2Error, Phase, StreamOutcome};
use crate::connector::{Io, Keepalive};
use crate::grpc::MessageCounter;
use crate::run::FlowStall;
use crate::session::ResponseCounter;

/// DATA frames written per vectored write, at most.
const FRAMES_PER_WRITE: usize = 8;

/// What the collector told us in its SETTINGS.
#[derive(Debug)]
pub(super) struct PeerSettings {
    pub initial_window: i64,
    pub max_frame: usize,
    pub max_streams: usize,
}

/// One open stream.
#[derive(Debug)]
pub(super) struct StreamState {
    pub id: u32,
    pub send_window: i64,
    /// DATA bytes received and not yet given back with WINDOW_UPDATE.
    pub recv_unacked: u32,
    pub head_seen: bool,
    /// When the stream was opened (the reader coalesces only on settled streams).
    pub opened: Instant,
    pub outcome: Option<StreamOutcome>,
    pub responses: Option<(ResponseCounter, MessageCounter)>,
}

/// Everything the reader and the writers share, under one lock.
#[derive(Debug)]
pub(super) struct State {
    pub conn_window: i64,
    pub peer: PeerSettings,
    pub next_id: u32,
    pub streams: Vec<StreamState>,
    /// Control frames waiting to be written.
    pub control: Vec<u8>,
    /// Why the connection ended, once it did.
    pub ended: Option<Arc<Http2Error>>,
    /// The last stream id a GOAWAY allowed; no new streams after one.
    pub goaway: Option<(u32, Arc<Http2Error>)>,
    /// Every handle is gone: the reader says goodbye and stops.
    pub shutdown: bool,
    /// The reader holds the socket's receive low-water mark up: small frames from the
    /// collector wait in the kernel until the next sweep (see the reader).
    pub coalescing: bool,
    /// A writer needs the collector's frames read at once (its window runs low, or it
    /// waits for the collector's final word); the reader lowers the mark.
    pub read_now: bool,
    /// The largest gRPC message (with its prefix) sent on the connection so far.
    pub largest_message: usize,
}

impl State {
    pub fn stream_mut(&mut self, id: u32) -> Option<&mut StreamState> {
        self.streams.iter_mut().find(|s| s.id == id)
    }
}

/// The connection as the reader and writers see it.
pub(super) struct Shared {
    pub state: Mutex<State>,
    /// Wakes writers waiting for a window or a stream slot, and waiters on a stream's end.
    pub changed: Notify,
    /// Wakes the reader: control frames to flush, or shut down.
    pub reader_wake: Notify,
    pub writer: tokio::sync::Mutex<Half>,
    pub phase: watch::Sender<Phase>,
    /// Sends that waited for a flow-control window, and how long (ns) in all.
    pub stall_waits: AtomicU64,
    pub stall_ns: AtomicU64,
}

impl Shared {
    /// Ends the connection (once): every stream without an outcome fails with `error`,
    /// waiters wake, the phase says how it ended.
    pub fn end(&self, error: Http2Error) {
        let error = Arc::new(error);
        {
            let mut state = self.state.lock();
            if state.ended.is_some() {
                return;
            }
            state.ended = Some(error.clone());
            for stream in &mut state.streams {
                stream
                    .outcome
                    .get_or_insert_with(|| StreamOutcome::Failed(error.clone()));
            }
        }
        self.changed.notify_waiters();
        self.reader_wake.notify_one();
        self.phase
            .send_replace(Phase::Ended(ConnectionEnd::of(&error), error));
    }

    /// Queues a control frame and has the reader write it.
    pub fn queue_control(&self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        head(kind, flags, stream, payload.len()).put(&mut self.state.lock().control, payload);
        self.reader_wake.notify_one();
    }

    /// Writes the queued control frames, if any (the caller holds the write lock).
    pub async fn write_control(&self, w: &mut Half) -> std::io::Result<()> {
        let control = std::mem::take(&mut self.state.lock().control);
        if !control.is_empty() {
            w.write_all(&control).await?;
            w.flush().await?;
        }
        Ok(())
    }

    /// Has the reader read what the collector sends at once rather than at its next
    /// sweep (a no-op unless it coalesces).
    pub fn read_now(&self) {
        let wake = {
            let mut state = self.state.lock();
            let wake = state.coalescing && !state.read_now;
            state.read_now |= wake;
            wake
        };
        if wake {
            self.reader_wake.notify_one();
        }
    }

    /// The error a new stream or a write meets on an ended connection.
    fn ended(&self) -> Option<Arc<Http2Error>> {
        self.state.lock().ended.clone()
    }
}

/// Fails the connection if dropped before [`Interrupt::done`]: a write abandoned
/// half-way leaves the peer in the middle of a frame.
struct Interrupt<'a>(Option<&'a Shared>);

impl Interrupt<'_> {
    fn done(mut self) {
        self.0 = None;
    }
}

impl Drop for Interrupt<'_> {
    fn drop(&mut self) {
        if let Some(shared) = self.0 {
            shared.end(Http2Error::Interrupted);
        }
    }
}

/// A write failure ends the connection; the stream sees the connection's error.
fn write_failed(shared: &Shared, error: std::io::Error) -> Arc<Http2Error> {
    shared.end(Http2Error::Io(error));
    shared
        .ended()
        .unwrap_or_else(|| Arc::new(Http2Error::Closed))
}

/// A handle on one client connection; the connection closes when every handle (and
/// every [`Stream`]) is gone.
pub(crate) struct Client {
    shared: Arc<Shared>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shared.state.lock().shutdown = true;
        self.shared.reader_wake.notify_one();
    }
}

impl Client {
    /// Sends the client preface and our SETTINGS on `io` and spawns the reader task.
    /// The connection is usable once [`Client::ready`] says so. With `coalesce`, the
    /// reader coalesces what the collector sends while the streams are settled.
    pub async fn handshake(
        io: Box<dyn Io>,
        keepalive: Option<Keepalive>,
        coalesce: Option<Coalesce>,
    ) -> std::io::Result<Arc<Client>> {
        let (read, mut write) = split::split(io);
        let mut hello = frame::PREFACE.to_vec();
        let mut settings = Vec::with_capacity(18);
        for (id, value) in [
            // Nothing of ours is pushed, and the collector's encoder need not index.
            (frame::SETTINGS_ENABLE_PUSH, 0u32),
            (frame::SETTINGS_HEADER_TABLE_SIZE, 0),
            (
                frame::SETTINGS_MAX_HEADER_LIST_SIZE,
                hpack::MAX_HEADER_BLOCK as u32,
            ),
        ] {
            settings.extend_from_slice(&id.to_be_bytes());
            settings.extend_from_slice(&value.to_be_bytes());
        }
        head(frame::SETTINGS, 0, 0, settings.len()).put(&mut hello, &settings);
        write.write_all(&hello).await?;
        write.flush().await?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                conn_window: i64::from(DEFAULT_WINDOW),
                peer: PeerSettings {
                    initial_window: i64::from(DEFAULT_WINDOW),
                    max_frame: DEFAULT_MAX_FRAME as usize,
                    max_streams: usize::MAX,
                },
                next_id: 1,
                streams: Vec::new(),
                control: Vec::new(),
                ended: None,
                goaway: None,
                shutdown: false,
                coalescing: false,
                read_now: false,
                largest_message: 0,
            }),
            changed: Notify::new(),
            reader_wake: Notify::new(),
            writer: tokio::sync::Mutex::new(write),
            phase: watch::Sender::new(Phase::Starting),
            stall_waits: AtomicU64::new(0),
            stall_ns: AtomicU64::new(0),
        });
        tokio::spawn(reader_task(shared.clone(), read, keepalive, coalesce));
        Ok(Arc::new(Client { shared }))
    }

    /// Watches the connection's phase.
    pub fn phase(&self) -> watch::Receiver<Phase> {
        self.shared.phase.subscribe()
    }

    /// How often and how long sends on this connection waited for a flow-control
    /// window (the stream's or the connection's) so far.
    pub fn flow_stall(&self) -> FlowStall {
        FlowStall {
            waits: self.shared.stall_waits.load(Relaxed),
            nanos: self.shared.stall_ns.load(Relaxed),
        }
    }

    /// Whether the reader coalesces what the collector sends right now.
    #[cfg(test)]
    pub fn is_coalescing(&self) -> bool {
        self.shared.state.lock().coalescing
    }

    /// Whether the connection ended.
    pub fn is_closed(&self) -> bool {
        self.shared.state.lock().ended.is_some()
    }

    /// Opens a stream with the request header block `request` (the stream id is taken
    /// under the write lock, so ids go out in order). Response messages are counted
    /// into `responses` when given.
    pub async fn open(
        self: &Arc<Self>,
        request: &Request<'_>,
        responses: Option<ResponseCounter>,
    ) -> Result<Stream, Arc<Http2Error>> {
        let shared = &*self.shared;
        loop {
            let notified = shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = shared.state.lock();
                if let Some(error) = &state.ended {
                    return Err(error.clone());
                }
                if let Some((_, error)) = &state.goaway {
                    return Err(error.clone());
                }
                if state.streams.len() < state.peer.max_streams {
                    break;
                }
            }
            notified.await;
        }
        let block = hpack::encode_request(request);
        let interrupt = Interrupt(Some(shared));
        let mut w = shared.writer.lock().await;
        let (id, max_frame) = {
            let mut state = shared.state.lock();
            if let Some(error) = &state.ended {
                interrupt.done();
                return Err(error.clone());
            }
            let id = state.next_id;
            if id > 0x7fff_ffff {
                drop(state);
                interrupt.done();
                return Err(Arc::new(Http2Error::Protocol(
                    "stream ids exhausted on this connection".to_string(),
                )));
            }
            state.next_id += 2;
            let send_window = state.peer.initial_window;
            state.streams.push(StreamState {
                id,
                send_window,
                recv_unacked: 0,
                head_seen: false,
                opened: Instant::now(),
                outcome: None,
                responses: responses.map(|c| (c, MessageCounter::default())),
            });
            (id, state.peer.max_frame)
        };
        let mut frames = Vec::with_capacity(block.len() + 9 * (1 + block.len() / max_frame));
        let mut chunks = block.chunks(max_frame).peekable();
        let mut kind = frame::HEADERS;
        while let Some(chunk) = chunks.next() {
            let flags = if chunks.peek().is_none() {
                frame::END_HEADERS
            } else {
                0
            };
            head(kind, flags, id, chunk.len()).put(&mut frames, chunk);
            kind = frame::CONTINUATION;
        }
        let written = async {
            shared.write_control(&mut w).await?;
            w.write_all(&frames).await?;
            w.flush().await
        }
        .await;
        drop(w);
        interrupt.done();
        // The collector's answer to a new call should be read as soon as it comes.
        shared.read_now();
        match written {
            Ok(()) => Ok(Stream {
                client: self.clone(),
                id,
            }),
            Err(e) => Err(write_failed(shared, e)),
        }
    }
}

/// One open stream of a [`Client`]; dropping it before the collector ended the call
/// cancels it (RST_STREAM `CANCEL`).
pub(crate) struct Stream {
    client: Arc<Client>,
    id: u32,
}

impl Drop for Stream {
    fn drop(&mut self) {
        let shared = &self.client.shared;
        let cancel = {
            let mut state = shared.state.lock();
            let Some(at) = state.streams.iter().position(|s| s.id == self.id) else {
                return;
            };
            let stream = state.streams.swap_remove(at);
            stream.outcome.is_none() && state.ended.is_none()
        };
        if cancel {
            shared.queue_control(
                frame::RST_STREAM,
                0,
                self.id,
                &Reason::CANCEL.0.to_be_bytes(),
            );
        }
        shared.changed.notify_waiters();
    }
}

impl Stream {
    /// The flow-control waits of the stream's connection so far.
    pub fn flow_stall(&self) -> FlowStall {
        self.client.flow_stall()
    }

    /// The stream's outcome, if the collector ended it (or the connection did).
    fn outcome(&self) -> Option<StreamOutcome> {
        let mut state = self.client.shared.state.lock();
        state.stream_mut(self.id).and_then(|s| s.outcome.clone())
    }

    /// Waits until the collector ends the stream (or the connection ends).
    pub async fn finished(&self) -> StreamOutcome {
        let shared = &self.client.shared;
        loop {
            let notified = shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(outcome) = self.outcome() {
                return outcome;
            }
            notified.await;
        }
    }

    /// Waits for send window and takes up to `want` bytes of it: the stream's and the
    /// connection's, at most [`FRAMES_PER_WRITE`] frames' worth. The common case (the
    /// window is open) registers no waiter and counts nothing; a wait is counted in the
    /// connection's stall counters once it is over.
    async fn grant(&self, want: usize, total: usize) -> Result<(usize, usize), StreamOutcome> {
        if let Some(taken) = self.try_grant(want, total) {
            return taken;
        }
        let shared = &self.client.shared;
        let since = Instant::now();
        let taken = loop {
            let notified = shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(taken) = self.try_grant(want, total) {
                break taken;
            }
            notified.await;
        };
        let waited = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        shared.stall_waits.fetch_add(1, Relaxed);
        shared.stall_ns.fetch_add(waited, Relaxed);
        taken
    }

    /// Takes window if there is any; `None` to wait; `Some(Err)` once the stream ended.
    /// `total` is the whole message (with prefix). While the reader coalesces, a window
    /// too small for another message like this one has it read the collector's
    /// WINDOW_UPDATEs at once instead of at its next sweep.
    fn try_grant(
        &self,
        want: usize,
        total: usize,
    ) -> Option<Result<(usize, usize), StreamOutcome>> {
        let shared = &*self.client.shared;
        let mut state = shared.state.lock();
        state.largest_message = state.largest_message.max(total);
        let max_frame = state.peer.max_frame;
        let conn_window = state.conn_window;
        let Some(stream) = state.stream_mut(self.id) else {
            return Some(Err(StreamOutcome::Failed(Arc::new(Http2Error::Closed))));
        };
        if let Some(outcome) = &stream.outcome {
            return Some(Err(outcome.clone()));
        }
        let window = conn_window.min(stream.send_window);
        let taken = if window <= 0 {
            None
        } else {
            let n = (window as usize)
                .min(want)
                .min(max_frame * FRAMES_PER_WRITE);
            stream.send_window -= n as i64;
            Some(n)
        };
        let left = stream.send_window;
        if let Some(n) = taken {
            state.conn_window -= n as i64;
        }
        let left = left.min(state.conn_window);
        let wake_reader = state.coalescing && !state.read_now && left < total as i64;
        if wake_reader {
            state.read_now = true;
        }
        drop(state);
        if wake_reader {
            shared.reader_wake.notify_one();
        }
        taken.map(|n| Ok((n, max_frame)))
    }

    /// Sends one gRPC message (its 5-byte prefix, then `message`, not copied) as DATA
    /// frames within the flow-control windows. Cancelling it before it completes ends
    /// the connection (the collector would see a torn message or frame).
    pub async fn send(&self, message: &Bytes) -> Result<(), StreamOutcome> {
        let shared = &*self.client.shared;
        let len = u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes();
        let prefix = [0, len[0], len[1], len[2], len[3]];
        let total = prefix.len() + message.len();
        let interrupt = Interrupt(Some(shared));
        let mut at = 0;
        while at < total {
            let (n, max_frame) = match self.grant(total - at, total).await {
                Ok(grant) => grant,
                Err(outcome) => {
                    // Whole frames went out before: the connection is intact, and the
                    // stream is over anyway.
                    interrupt.done();
                    return Err(outcome);
                }
            };
            let mut w = shared.writer.lock().await;
            let written = async {
                shared.write_control(&mut w).await?;
                write_data(&mut *w, self.id, &prefix, message, at, n, max_frame).await?;
                w.flush().await
            }
            .await;
            if let Err(e) = written {
                drop(w);
                interrupt.done();
                return Err(StreamOutcome::Failed(write_failed(shared, e)));
            }
            at += n;
        }
        interrupt.done();
        Ok(())
    }

    /// Half-closes the stream (an empty DATA frame with `END_STREAM`), unless the
    /// collector ended it already.
    pub async fn end(&self) -> Result<(), StreamOutcome> {
        if let Some(outcome) = self.outcome() {
            return Err(outcome);
        }
        let shared = &*self.client.shared;
        // The collector's final word should be read as soon as it comes.
        shared.read_now();
        let interrupt = Interrupt(Some(shared));
        let mut w = shared.writer.lock().await;
        let written = async {
            shared.write_control(&mut w).await?;
            w.write_all(&head(frame::DATA, frame::END_STREAM, self.id, 0).bytes())
                .await?;
            w.flush().await
        }
        .await;
        drop(w);
        interrupt.done();
        written.map_err(|e| StreamOutcome::Failed(write_failed(shared, e)))
    }
}

/// Writes `n` bytes of a message's payload (the prefix, then the message), starting at
/// `at`, as DATA frames of at most `max_frame` bytes, vectored: nothing is copied.
async fn write_data<W: AsyncWrite + Unpin>(
    w: &mut W,
    stream: u32,
    prefix: &[u8; 5],
    message: &[u8],
    mut at: usize,
    mut n: usize,
    max_frame: usize,
) -> std::io::Result<()> {
    while n > 0 {
        let mut lens = [0usize; FRAMES_PER_WRITE];
        let mut frames = 0;
        let mut left = n;
        while left > 0 && frames < FRAMES_PER_WRITE {
            lens[frames] = left.min(max_frame);
            left -= lens[frames];
            frames += 1;
        }
        let heads: [[u8; 9]; FRAMES_PER_WRITE] =
            std::array::from_fn(|i| head(frame::DATA, 0, stream, lens[i]).bytes());
        let mut slices = [IoSlice::new(&[]); FRAMES_PER_WRITE * 3];
        let mut count = 0;
        let mut pos = at;
        for i in 0..frames {
            let end = pos + lens[i];
            slices[count] = IoSlice::new(&heads[i]);
            count += 1;
            if pos < prefix.len() {
                slices[count] = IoSlice::new(&prefix[pos..end.min(prefix.len())]);
                count += 1;
            }
            if end > prefix.len() {
                let from = pos.max(prefix.len()) - prefix.len();
                slices[count] = IoSlice::new(&message[from..end - prefix.len()]);
                count += 1;
            }
            pos = end;
        }
        write_all_vectored(w, &mut slices[..count]).await?;
        let sent = pos - at;
        at = pos;
        n -= sent;
    }
    Ok(())
}

/// Writes every slice, however the writer splits them.
async fn write_all_vectored<W: AsyncWrite + Unpin>(
    w: &mut W,
    mut slices: &mut [IoSlice<'_>],
) -> std::io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        let n = w.write_vectored(slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    Ok(())
}

/// Runs the reader until the connection ends, then tells the collector goodbye when
/// we are the ones closing.
async fn reader_task(
    shared: Arc<Shared>,
    read: Half,
    keepalive: Option<Keepalive>,
    coalesce: Option<Coalesce>,
) {
    let mut reader = Reader::new(shared.clone(), read, keepalive, coalesce);
    let error = reader.run().await;
    if let Some(reason) = error.goodbye() {
        // Best effort: a writer stuck on a full socket must not keep the reader alive.
        let bye = async {
            let mut w = shared.writer.lock().await;
            let mut payload = [0u8; 8];
            payload[4..].copy_from_slice(&reason.0.to_be_bytes());
            head(frame::GOAWAY, 0, 0, payload.len())
                .put(&mut shared.state.lock().control, &payload);
            let _ = shared.write_control(&mut w).await;
            let _ = w.shutdown().await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), bye).await;
    }
    shared.end(error.into_error());
}
