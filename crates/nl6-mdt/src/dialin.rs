//! MDT gRPC dial-in: a collector calls
//! `/IOSXRExtensibleManagabilityService.gRPCConfigOper/CreateSubs` on the device's own
//! address (the gNMI dial-in port, as on IOS XR), names a subscription configured on
//! the device, and the device streams that subscription's collections back as
//! `CreateSubsReply{ResReqId, data}` messages.
//!
//! [`MdtDialin`] is a [`DialinService`] of nl6's dial-in server: register it with
//! [`DialinServer::builder`](nl6_dialin::DialinServer::builder), give it an
//! [`MdtDirectory`] that finds each device's host name and MDT configuration, and every
//! device with an `mdt` block answers `CreateSubs`:
//!
//! * `subidstr` names a subscription of the device's configuration (its destination
//!   groups do not matter here); its sensor groups give the sensor paths.
//! * `encode` 2 = compact GPB, 3 = self-describing (key-value) GPB, 4 = JSON; `data` is
//!   a serialized `telemetry.Telemetry` (the JSON message for 4).
//! * Every `sample_interval` ms, starting at once, one collection per sensor path;
//!   with `sample_interval` 0 (event-driven) one full collection, then one per
//!   interface state change of the paths that carry state. Collections are the ones
//!   dial-out sends: split by rows into messages of at most 1 MiB, never within a row.
//! * An unknown subscription, a device without MDT configuration or an unsupported
//!   `encode` is answered with one reply whose `errors` says why (naming the configured
//!   subscriptions or the allowed encodings), and the stream ends with OK: collectors
//!   stop on a reply carrying `errors`.
//! * A slow collector never holds the device back: each stream has a drop-oldest
//!   queue of the server's `queue_depth` messages and at most [`MAX_QUEUED_BYTES`]
//!   bytes; what is dropped is counted in [`MdtDialinCounters`].
//! * The stream ends with UNAVAILABLE when the server stops or the device is deleted,
//!   as gNMI streams do.

use std::collections::VecDeque;
use std::fmt;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use futures::future::BoxFuture;
use nl6_dialin::{DialinCall, DialinService};
use nl6_ifstate::{DeviceModel, Listener, StateEvent, unix_now_ns};
use nl6_resolver::{LeafSet, Selection, Snapshot, changed_leaves, event_time_ns};
use tokio::sync::{Notify, oneshot};
use tokio::time::MissedTickBehavior;
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::{Request, Response, Status};

use crate::collect::Collector;
use crate::collect::MdtCounters;
use crate::device::MdtConfig;
use crate::encode::{EncodedMessage, MAX_TCP_MESSAGE, MdtEncoding};
use crate::proto::dialin::g_rpc_config_oper_server::{GRpcConfigOper, GRpcConfigOperServer};
use crate::proto::dialin::{CreateSubsArgs, CreateSubsReply};
use crate::sensor::SensorPath;

/// The gRPC service of MDT dial-in.
pub const MDT_DIALIN_SERVICE: &str = "IOSXRExtensibleManagabilityService.gRPCConfigOper";

/// The gRPC method of MDT dial-in.
pub const MDT_CREATE_SUBS: &str = "/IOSXRExtensibleManagabilityService.gRPCConfigOper/CreateSubs";

/// Most bytes of replies one `CreateSubs` stream holds queued; past it the oldest
/// replies are dropped (one reply always fits, whatever its size).
pub const MAX_QUEUED_BYTES: usize = 4 * 1024 * 1024;

/// Largest `CreateSubsArgs` accepted, in bytes.
const MAX_ARGS_BYTES: usize = 64 * 1024;

/// The fleet's devices, as MDT dial-in needs them.
pub trait MdtDirectory: Send + Sync + 'static {
    /// The host name (`node_id_str`) and MDT configuration of the device at `device`,
    /// or `None` when it has no MDT configuration (called once per `CreateSubs`).
    fn mdt(&self, device: Ipv4Addr) -> Option<(Arc<str>, Arc<MdtConfig>)>;
}

/// Counters of MDT dial-in, over every device.
#[derive(Debug, Default)]
pub struct MdtDialinCounters {
    active: AtomicU64,
    opened: AtomicU64,
    refused: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
    encoded: Arc<MdtCounters>,
}

impl MdtDialinCounters {
    /// `CreateSubs` streams now sending collections.
    pub fn subscriptions_active(&self) -> u64 {
        self.active.load(Relaxed)
    }

    /// `CreateSubs` calls that started streaming.
    pub fn subscriptions_opened(&self) -> u64 {
        self.opened.load(Relaxed)
    }

    /// `CreateSubs` calls answered with `errors` (unknown subscription, no MDT
    /// configuration, unsupported encoding).
    pub fn subscriptions_refused(&self) -> u64 {
        self.refused.load(Relaxed)
    }

    /// Collections encoded.
    pub fn collections(&self) -> u64 {
        self.encoded.collections()
    }

    /// Replies handed to gRPC (several per collection when it was split).
    pub fn messages_sent(&self) -> u64 {
        self.sent.load(Relaxed)
    }

    /// Replies dropped from full stream queues (slow collectors).
    pub fn messages_dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    /// Rows too large for a message of their own, dropped.
    pub fn rows_dropped(&self) -> u64 {
        self.encoded.rows_dropped()
    }
}

/// MDT gRPC dial-in (`CreateSubs`) as a service of nl6's dial-in server; see the
/// module documentation.
#[derive(Clone)]
pub struct MdtDialin {
    server: GRpcConfigOperServer<Handler>,
    counters: Arc<MdtDialinCounters>,
}

impl MdtDialin {
    /// Serves the devices `directory` knows.
    pub fn new(directory: Arc<dyn MdtDirectory>) -> MdtDialin {
        let counters = Arc::new(MdtDialinCounters::default());
        let handler = Handler {
            directory,
            counters: counters.clone(),
        };
        MdtDialin {
            server: GRpcConfigOperServer::new(handler).max_decoding_message_size(MAX_ARGS_BYTES),
            counters,
        }
    }

    /// Its counters.
    pub fn counters(&self) -> &Arc<MdtDialinCounters> {
        &self.counters
    }
}

impl fmt::Debug for MdtDialin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MdtDialin")
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl DialinService for MdtDialin {
    fn name(&self) -> &str {
        MDT_DIALIN_SERVICE
    }

    fn call(
        &self,
        _call: DialinCall,
        request: http::Request<Body>,
    ) -> BoxFuture<'static, http::Response<Body>> {
        // The generated server reads the call from the request's extensions.
        let response = self.server.clone().call(request);
        Box::pin(async move {
            match response.await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        })
    }
}

/// The `CreateSubs` handler behind [`MdtDialin`].
struct Handler {
    directory: Arc<dyn MdtDirectory>,
    counters: Arc<MdtDialinCounters>,
}

/// The replies of one `CreateSubs`.
type ReplyStream = Pin<Box<dyn Stream<Item = Result<CreateSubsReply, Status>> + Send>>;

#[tonic::async_trait]
impl GRpcConfigOper for Handler {
    type CreateSubsStream = ReplyStream;

    async fn create_subs(
        &self,
        request: Request<CreateSubsArgs>,
    ) -> Result<Response<ReplyStream>, Status> {
        let call = request
            .extensions()
            .get::<DialinCall>()
            .cloned()
            .ok_or_else(|| Status::internal("CreateSubs outside the dial-in server"))?;
        let args = request.into_inner();
        let plan = match plan(self.directory.as_ref(), call.device_address(), &args) {
            Ok(plan) => plan,
            Err(errors) => {
                self.counters.refused.fetch_add(1, Relaxed);
                let reply = CreateSubsReply {
                    res_req_id: args.req_id,
                    errors,
                    ..CreateSubsReply::default()
                };
                return Ok(Response::new(Box::pin(futures::stream::iter([Ok(reply)]))));
            }
        };
        self.counters.opened.fetch_add(1, Relaxed);
        let queue = Arc::new(Queue::new(call.queue_depth(), self.counters.clone()));
        let (client, gone) = oneshot::channel();
        let collector = Collector::new(
            plan.hostname,
            args.subidstr.as_str().into(),
            plan.paths.into(),
            plan.encoding,
            MAX_TCP_MESSAGE,
            self.counters.encoded.clone(),
        );
        let producer = Producer {
            active: Active::new(self.counters.clone()),
            call,
            collector,
            queue: queue.clone(),
            req_id: args.req_id,
        };
        tokio::spawn(producer.run(plan.interval_ms, client));
        Ok(Response::new(replies(queue, gone)))
    }
}

/// A `CreateSubs` that can be served.
struct Plan {
    hostname: Arc<str>,
    paths: Vec<SensorPath>,
    encoding: MdtEncoding,
    interval_ms: u64,
}

/// What `args` asks of the device at `device`, or the `errors` text refusing it.
fn plan(
    directory: &dyn MdtDirectory,
    device: Ipv4Addr,
    args: &CreateSubsArgs,
) -> Result<Plan, String> {
    let name = &args.subidstr;
    let Some((hostname, config)) = directory.mdt(device) else {
        return Err(format!(
            "subidstr: no subscription {name:?} is configured on this device (configured: none; \
             the device has no model-driven telemetry configuration)"
        ));
    };
    let paths = config
        .sensor_paths(name)
        .map_err(|e| format!("{}: {}", e.field, e.reason))?;
    let interval_ms = config.subscriptions[name.as_str()].sample_interval;
    let encoding = encoding_of(args.encode)?;
    Ok(Plan {
        hostname,
        paths,
        encoding,
        interval_ms,
    })
}

/// The encoding `encode` asks for.
fn encoding_of(encode: i64) -> Result<MdtEncoding, String> {
    match encode {
        2 => Ok(MdtEncoding::Gpb),
        3 => Ok(MdtEncoding::SelfDescribingGpb),
        4 => Ok(MdtEncoding::Json),
        other => Err(format!(
            "encode: {other} is not an encoding: use 2 (gpb, compact), 3 (self-describing-gpb) \
             or 4 (json)"
        )),
    }
}

/// Counts a stream as active while it lives.
struct Active(Arc<MdtDialinCounters>);

impl Active {
    fn new(counters: Arc<MdtDialinCounters>) -> Active {
        counters.active.fetch_add(1, Relaxed);
        Active(counters)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Relaxed);
    }
}

/// One stream's sampling task.
struct Producer {
    active: Active,
    call: DialinCall,
    collector: Collector,
    queue: Arc<Queue>,
    req_id: i64,
}

impl Producer {
    /// Sends collections every `interval_ms`, or on state events when it is 0, until
    /// the collector leaves (`client` closes: the reply stream was dropped), the server
    /// stops or the device is deleted.
    async fn run(mut self, interval_ms: u64, mut client: oneshot::Sender<()>) {
        let device = self.call.device().clone();
        let speed_bps = device.spec().speed_bps;
        let all = Selection::all(device.interface_count());
        let call = self.call.clone();
        let ended = call.ended();
        tokio::pin!(ended);
        // Event-driven: listen before the first snapshot, so no change is missed.
        let mut listener = (interval_ms == 0).then(|| device.subscribe());
        let mut lost = listener.as_ref().map_or(0, Listener::dropped);
        let mut ticker = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        if listener.is_some() {
            self.snapshot(&device, speed_bps, &all);
        }
        loop {
            tokio::select! {
                end = &mut ended => {
                    self.queue.finish(Some(self.call.status(end)));
                    break;
                }
                _ = client.closed() => break,
                _ = ticker.tick(), if listener.is_none() => {
                    self.snapshot(&device, speed_bps, &all);
                }
                event = next_event(&mut listener) => {
                    let Some(event) = event else {
                        self.queue.finish(Some(Status::unavailable("the device was deleted")));
                        break;
                    };
                    let now_lost = listener.as_ref().map_or(0, Listener::dropped);
                    if now_lost != lost {
                        // Events were lost: re-send everything so the collector is current.
                        lost = now_lost;
                        self.snapshot(&device, speed_bps, &all);
                    } else {
                        self.event(&device, speed_bps, &event);
                    }
                }
            }
        }
        drop(self.active);
    }

    /// One full collection per sensor path.
    fn snapshot(&mut self, device: &DeviceModel, speed_bps: u64, all: &Selection) {
        let snapshot = Snapshot::capture(device, unix_now_ns(), all);
        let (queue, req_id) = (&self.queue, self.req_id);
        self.collector.collect(&snapshot, speed_bps, None, |_, m| {
            queue.push(reply(req_id, m))
        });
    }

    /// One collection per sensor path with state, of the interface `event` changed.
    fn event(&mut self, device: &DeviceModel, speed_bps: u64, event: &StateEvent) {
        let Some(idx) = (event.ifindex as usize).checked_sub(1) else {
            return;
        };
        let leaves = changed_leaves(event).intersect(LeafSet::STATIC.union(LeafSet::ON_CHANGE));
        if leaves.is_empty() || idx >= device.interface_count() {
            return;
        }
        let mut masks = vec![LeafSet::EMPTY; device.interface_count()];
        masks[idx] = leaves;
        let snapshot = Snapshot::of_state(device, event_time_ns(event), idx, event.after);
        let (queue, req_id) = (&self.queue, self.req_id);
        self.collector
            .collect(&snapshot, speed_bps, Some(&masks), |_, m| {
                queue.push(reply(req_id, m))
            });
    }
}

/// The next state event, or never without a listener.
async fn next_event(listener: &mut Option<Listener>) -> Option<StateEvent> {
    match listener {
        Some(listener) => listener.recv().await,
        None => std::future::pending().await,
    }
}

/// `CreateSubsReply{ResReqId, data}` of one message.
fn reply(req_id: i64, message: &EncodedMessage) -> CreateSubsReply {
    CreateSubsReply {
        res_req_id: req_id,
        data: message.payload.to_vec(),
        errors: String::new(),
    }
}

/// One stream's bounded drop-oldest queue of replies.
struct Queue {
    depth: usize,
    state: Mutex<QueueState>,
    ready: Notify,
    counters: Arc<MdtDialinCounters>,
}

#[derive(Default)]
struct QueueState {
    replies: VecDeque<CreateSubsReply>,
    bytes: usize,
    /// Set when the stream is to end after the queued replies: with this status, or
    /// OK for `None`.
    end: Option<Option<Status>>,
}

impl Queue {
    fn new(depth: usize, counters: Arc<MdtDialinCounters>) -> Queue {
        Queue {
            depth: depth.max(1),
            state: Mutex::default(),
            ready: Notify::new(),
            counters,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `reply`, dropping the oldest replies while the queue is over its depth
    /// or [`MAX_QUEUED_BYTES`].
    fn push(&self, reply: CreateSubsReply) {
        let mut state = self.lock();
        let size = reply.data.len();
        while !state.replies.is_empty()
            && (state.replies.len() >= self.depth || state.bytes + size > MAX_QUEUED_BYTES)
        {
            if let Some(old) = state.replies.pop_front() {
                state.bytes -= old.data.len();
                self.counters.dropped.fetch_add(1, Relaxed);
            }
        }
        state.bytes += size;
        state.replies.push_back(reply);
        drop(state);
        self.ready.notify_one();
    }

    /// Ends the stream once the queued replies are sent.
    fn finish(&self, status: Option<Status>) {
        self.lock().end.get_or_insert(status);
        self.ready.notify_one();
    }

    /// The next reply, the final status, or `None` for the end of the stream.
    async fn next(&self) -> Option<Result<CreateSubsReply, Status>> {
        loop {
            {
                let mut state = self.lock();
                if let Some(reply) = state.replies.pop_front() {
                    state.bytes -= reply.data.len();
                    self.counters.sent.fetch_add(1, Relaxed);
                    return Some(Ok(reply));
                }
                if let Some(end) = &mut state.end {
                    return end.take().map(Err);
                }
            }
            self.ready.notified().await;
        }
    }
}

/// The reply stream of `queue`; dropping it tells the producer (`gone`).
fn replies(queue: Arc<Queue>, gone: oneshot::Receiver<()>) -> ReplyStream {
    Box::pin(futures::stream::unfold(
        (queue, gone),
        |(queue, gone)| async move {
            let item = queue.next().await?;
            Some((item, (queue, gone)))
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_and_their_refusal() {
        assert_eq!(encoding_of(2), Ok(MdtEncoding::Gpb));
        assert_eq!(encoding_of(3), Ok(MdtEncoding::SelfDescribingGpb));
        assert_eq!(encoding_of(4), Ok(MdtEncoding::Json));
        let err = encoding_of(1).unwrap_err();
        assert!(err.starts_with("encode: 1"), "{err}");
        assert!(err.contains("2 (gpb") && err.contains("4 (json)"), "{err}");
    }

    #[tokio::test]
    async fn the_queue_drops_the_oldest_and_ends_after_what_is_queued() {
        let counters = Arc::new(MdtDialinCounters::default());
        let queue = Queue::new(2, counters.clone());
        for id in 1..=3 {
            queue.push(CreateSubsReply {
                res_req_id: id,
                data: vec![0; 10],
                ..Default::default()
            });
        }
        queue.finish(Some(Status::unavailable("stopping")));
        let first = queue.next().await.unwrap().unwrap();
        let second = queue.next().await.unwrap().unwrap();
        assert_eq!((first.res_req_id, second.res_req_id), (2, 3));
        let end = queue.next().await.unwrap().unwrap_err();
        assert_eq!(end.code(), tonic::Code::Unavailable);
        assert!(queue.next().await.is_none());
        assert_eq!(
            (counters.messages_dropped(), counters.messages_sent()),
            (1, 2)
        );
    }

    #[tokio::test]
    async fn the_queue_holds_at_most_its_bytes_but_always_one_reply() {
        let counters = Arc::new(MdtDialinCounters::default());
        let queue = Queue::new(100, counters.clone());
        for id in 1..=3 {
            queue.push(CreateSubsReply {
                res_req_id: id,
                data: vec![0; MAX_QUEUED_BYTES / 2 + 1],
                ..Default::default()
            });
        }
        assert_eq!(counters.messages_dropped(), 2);
        queue.push(CreateSubsReply {
            res_req_id: 4,
            data: vec![0; MAX_QUEUED_BYTES * 2],
            ..Default::default()
        });
        assert_eq!(counters.messages_dropped(), 3);
        assert_eq!(queue.next().await.unwrap().unwrap().res_req_id, 4);
    }
}
