//! What a flavor's session is made of: the [`Session`] it returns from
//! [`crate::Flavor::open`] (push or serve), the [`PushStream`] and [`SampleEncoder`] of a
//! push session, and the [`Sample`]s the exporter hands the encoder.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use futures::future::BoxFuture;
use nl6_ifstate::DeviceModel;
use nl6_resolver::{LeafSet, Selection, Snapshot, ValueEncoding};
use tokio::sync::watch;

use crate::config::DialoutConfig;
use crate::error::FlavorError;
use crate::run::RunSlot;
use crate::stats::DeviceCounters;

/// What a flavor is told about the session it opens.
#[derive(Clone)]
pub struct SessionContext {
    /// The device (also the `Prefix.target` of its notifications).
    pub device_ip: Ipv4Addr,
    /// The device's host name (Nokia's `system-name`).
    pub hostname: Arc<str>,
    /// The collector this session goes to (`host:port` as configured).
    pub collector: Arc<str>,
    /// The device's dial-out block.
    pub config: Arc<DialoutConfig>,
    pub(crate) counters: Arc<DeviceCounters>,
    pub(crate) run: RunSlot,
}

impl fmt::Debug for SessionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionContext")
            .field("device_ip", &self.device_ip)
            .field("hostname", &self.hostname)
            .field("collector", &self.collector)
            .finish_non_exhaustive()
    }
}

impl SessionContext {
    /// The counter of messages the collector sends back (`responses_received`).
    pub fn responses(&self) -> ResponseCounter {
        ResponseCounter(self.counters.clone())
    }

    /// The run the device takes part in: a flavor that writes the run tag inside its
    /// messages looks at [`RunSlot::ledger`] per sample.
    pub fn run(&self) -> &RunSlot {
        &self.run
    }
}

/// Counts messages a collector sent back on a session (SONiC's and Nokia's
/// `PublishResponse`s) into the device's `responses_received`.
#[derive(Clone)]
pub struct ResponseCounter(Arc<DeviceCounters>);

impl fmt::Debug for ResponseCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResponseCounter")
            .field(&self.0.responses_received.load(Relaxed))
            .finish()
    }
}

impl ResponseCounter {
    /// Adds `n` received messages.
    pub fn add(&self, n: u64) {
        self.0.responses_received.fetch_add(n, Relaxed);
    }
}

#[cfg(test)]
impl ResponseCounter {
    /// A counter of its own, for tests.
    pub(crate) fn detached() -> ResponseCounter {
        ResponseCounter(Arc::new(DeviceCounters::default()))
    }

    /// What it counted.
    pub(crate) fn get(&self) -> u64 {
        self.0.responses_received.load(Relaxed)
    }
}

/// An open session of one device.
pub enum Session {
    /// The exporter produces, encodes with `encoder`, queues, sends and counts.
    Push(PushSession),
    /// The flavor runs the session until it ends or is asked to stop.
    Serve(Box<dyn ServeSession>),
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Session::Push(_) => f.write_str("Session::Push"),
            Session::Serve(_) => f.write_str("Session::Serve"),
        }
    }
}

/// A push session: where the messages go and how samples become messages.
pub struct PushSession {
    /// The open stream (a gRPC call, a TCP connection, a UDP socket, ...).
    pub stream: Box<dyn PushStream>,
    /// Turns each sample into wire messages.
    pub encoder: Box<dyn SampleEncoder>,
}

impl PushSession {
    /// A push session of `stream` and `encoder`.
    pub fn new(stream: impl PushStream + 'static, encoder: impl SampleEncoder + 'static) -> Self {
        PushSession {
            stream: Box::new(stream),
            encoder: Box::new(encoder),
        }
    }
}

/// One open push stream of one device.
pub trait PushStream: Send {
    /// Sends one encoded message; resolves once the transport took it. An error ends
    /// the stream (the exporter counts a send failure and reconnects).
    fn send(&mut self, message: Bytes) -> BoxFuture<'_, Result<(), FlavorError>>;

    /// Resolves when the stream ended without being closed by us (the collector ended
    /// the call or the connection broke). Must be cancel-safe; a stream that cannot
    /// tell (UDP) never resolves.
    fn ended(&mut self) -> BoxFuture<'_, FlavorError>;

    /// Closes the stream and waits for the collector's final word; `Ok` is a normal end.
    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), FlavorError>>;

    /// How often and how long sends waited for an HTTP/2 flow-control window so far
    /// (on the stream's connection); zero for transports without flow control.
    fn flow_stall(&self) -> crate::run::FlowStall {
        crate::run::FlowStall::default()
    }
}

/// A session the flavor runs itself.
pub trait ServeSession: Send {
    /// Runs until the session ends (the error says why; `Ok` = the collector ended it
    /// normally) or `stop` fires (then it winds down and returns).
    fn run(self: Box<Self>, stop: StopSignal) -> BoxFuture<'static, Result<(), FlavorError>>;
}

/// Fires when the device's export is being stopped.
#[derive(Debug, Clone)]
pub struct StopSignal(pub(crate) watch::Receiver<bool>);

impl StopSignal {
    /// Resolves once a stop was asked for (at once if it already was).
    pub async fn requested(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// What made a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    /// A SAMPLE tick, or the snapshot that starts an on-change stream: every selected
    /// leaf at one instant.
    Snapshot,
    /// One interface-state event: only the leaves it changed.
    Event,
}

/// One sample of one device, ready to encode.
pub struct Sample<'a> {
    /// Snapshot or event.
    pub kind: SampleKind,
    /// The values, read at one instant.
    pub snapshot: &'a Snapshot<'a>,
    /// The leaves to send, index = interface (a tick: every selected leaf; an event:
    /// the changed ones).
    pub masks: &'a [LeafSet],
    /// Each configured path's own selection, in configuration order (for flavors that
    /// report per path, e.g. a Get answer).
    pub paths: &'a [Selection],
    /// The value encoding configured.
    pub encoding: ValueEncoding,
    /// `Prefix.target`: the device address.
    pub target: &'a str,
    /// The device's interface model (names, counts).
    pub model: &'a DeviceModel,
}

/// One wire message and the updates (leaves) it carries, for the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireMessage {
    /// The bytes as the stream sends them (a protobuf message without gRPC prefix, a
    /// framed TCP record, a datagram, ...).
    pub bytes: Bytes,
    /// Updates (leaves) it carries.
    pub updates: u64,
}

/// Turns samples into wire messages; one per session.
pub trait SampleEncoder: Send {
    /// Appends the messages for `sample` to `out` (zero, one or many).
    fn encode(&mut self, sample: &Sample<'_>, out: &mut Vec<WireMessage>);

    /// Appends the messages saying that the list entries at `paths` went away at `at_ns`
    /// (an LLDP neighbour whose link or peer was deleted), on the device `target`, for
    /// formats that can say so (a gNMI `Notification.delete`); the default sends nothing.
    fn encode_delete(
        &mut self,
        _at_ns: u64,
        _target: &str,
        _paths: Vec<nl6_gnmi::proto::gnmi::Path>,
        _out: &mut Vec<WireMessage>,
    ) {
    }
}
