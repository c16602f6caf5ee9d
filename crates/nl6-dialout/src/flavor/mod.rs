//! The flavor seam: what a dial-out wire flavor plugs into.
//!
//! A [`Flavor`] dials through the device's [`DeviceNet`] handle (TCP, TLS, HTTP/2 or
//! UDP, all bound to the device address) and returns a [`Session`]:
//!
//! * [`Session::Push`]: a [`PushStream`] plus the flavor's [`SampleEncoder`]. The
//!   exporter produces samples (SAMPLE ticks, on-change events), has the encoder turn
//!   each into zero, one or many [`WireMessage`]s, queues, sends and counts them — the
//!   ledger is the same for every flavor.
//! * [`Session::Serve`]: the flavor runs the session itself ([`ServeSession`]), e.g. a
//!   tunnel that serves dial-in over a connection the device dialed.
//!
//! [`Flavor::encodings`], [`Flavor::options`] and [`Flavor::check`] validate the block
//! for that flavor; a [`FlavorRegistry`] holds the flavors by name.

mod gnmireverse;
mod nokia;
mod sonic;

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use nl6_ifstate::DeviceModel;
use nl6_resolver::{LeafSet, Selection, Snapshot, ValueEncoding};
use tokio::sync::watch;

use crate::config::{ConfigError, DialoutConfig, Encoding};
use crate::error::FlavorError;
use crate::net::DeviceNet;
use crate::stats::DeviceCounters;

pub use gnmireverse::{
    GNMIREVERSE_PUBLISH, GNMIREVERSE_PUBLISH_GET, GetResponseEncoder, GnmiReverse,
    SubscribeResponseEncoder,
};
pub use nokia::{DEFAULT_SUBSCRIPTION, NOKIA_PUBLISH, Nokia};
pub use sonic::{DEFAULT_RETRY_INTERVAL, SONIC_PUBLISH, Sonic};

/// The flavor used when a configuration names none.
pub const DEFAULT_FLAVOR: &str = "gnmireverse";

/// A dial-out wire flavor. Implement it and register it in a [`FlavorRegistry`] (the
/// fleet's, see `nl6_fleet::FleetConfig::flavors`) to add one; the exporter only ever
/// talks to this trait.
pub trait Flavor: Send + Sync + 'static {
    /// The flavor's name in configuration (e.g. `gnmireverse`).
    fn name(&self) -> &str;

    /// One line on what it speaks (listed in the OpenAPI document and `nl6d --help`).
    fn summary(&self) -> &str;

    /// The encodings it can send (default: `json_ietf`, `json` and `proto`).
    fn encodings(&self) -> &[Encoding] {
        &[Encoding::JsonIetf, Encoding::Json, Encoding::Proto]
    }

    /// The flavor-specific block fields it takes (default: none).
    fn options(&self) -> &[FlavorOption] {
        &[]
    }

    /// Anything else about `cfg` this flavor rejects (called after the common checks).
    fn check(&self, cfg: &DialoutConfig) -> Result<(), ConfigError> {
        let _ = cfg;
        Ok(())
    }

    /// The fixed wait before the next attempt once every collector failed (SONiC's
    /// `retry_interval`); `None` (the default) = nl6's jittered exponential backoff.
    /// A configured `retry_interval` wins.
    fn retry_interval(&self) -> Option<Duration> {
        None
    }

    /// Opens one session of one device to the collector `net` dials.
    fn open<'a>(
        &'a self,
        net: &'a DeviceNet,
        ctx: &'a SessionContext,
    ) -> BoxFuture<'a, Result<Session, FlavorError>>;
}

/// Block fields that only some flavors take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlavorOption {
    /// `collectors`: a destination group tried in order.
    Collectors,
    /// `retry_interval`: the fixed wait once every collector failed.
    RetryInterval,
    /// `failback`: how long a device stays on a backup collector before it tries the
    /// first again.
    Failback,
    /// `subscription`: the subscription name sent as metadata.
    Subscription,
    /// `publish`: `subscribe` or `get`.
    Publish,
}

impl FlavorOption {
    /// Every option.
    pub const ALL: [FlavorOption; 5] = [
        FlavorOption::Collectors,
        FlavorOption::RetryInterval,
        FlavorOption::Failback,
        FlavorOption::Subscription,
        FlavorOption::Publish,
    ];

    /// The block field.
    pub fn field(self) -> &'static str {
        match self {
            FlavorOption::Collectors => "collectors",
            FlavorOption::RetryInterval => "retry_interval",
            FlavorOption::Failback => "failback",
            FlavorOption::Subscription => "subscription",
            FlavorOption::Publish => "publish",
        }
    }
}

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
}

/// The flavors an exporter knows, by name.
#[derive(Clone)]
pub struct FlavorRegistry {
    flavors: BTreeMap<String, Arc<dyn Flavor>>,
}

impl Default for FlavorRegistry {
    /// The built-in flavors: `gnmireverse`, `nokia` and `sonic`.
    fn default() -> Self {
        let mut registry = FlavorRegistry::empty();
        registry
            .register(Arc::new(GnmiReverse))
            .register(Arc::new(Nokia))
            .register(Arc::new(Sonic));
        registry
    }
}

impl fmt::Debug for FlavorRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.flavors.keys()).finish()
    }
}

impl FlavorRegistry {
    /// A registry without any flavor.
    pub fn empty() -> FlavorRegistry {
        FlavorRegistry {
            flavors: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a flavor under its [`Flavor::name`].
    pub fn register(&mut self, flavor: Arc<dyn Flavor>) -> &mut Self {
        self.flavors.insert(flavor.name().to_string(), flavor);
        self
    }

    /// The flavor called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Flavor>> {
        self.flavors.get(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.flavors.keys().map(String::as_str).collect()
    }

    /// Every flavor, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Flavor>> {
        self.flavors.values()
    }

    /// The flavors that take `option`, by name.
    pub fn taking(&self, option: FlavorOption) -> Vec<&str> {
        self.flavors
            .values()
            .filter(|f| f.options().contains(&option))
            .map(|f| f.name())
            .collect()
    }

    /// One line per flavor: `name: summary (encodings; options)`, for documentation.
    pub fn describe(&self) -> String {
        self.flavors
            .values()
            .map(|f| {
                let encodings: Vec<&str> = f.encodings().iter().map(|e| e.as_str()).collect();
                let options: Vec<&str> = f.options().iter().map(|o| o.field()).collect();
                format!(
                    "{}: {} (encodings {}; options {})",
                    f.name(),
                    f.summary(),
                    encodings.join(", "),
                    if options.is_empty() {
                        "none".to_string()
                    } else {
                        options.join(", ")
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `items` as `a`, `a or b`, `a, b or c`.
pub(crate) fn or_list(items: &[&str]) -> String {
    match items {
        [] => "nothing".to_string(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}
