//! The Subscribe RPC (gNMI specification 3.5).
//!
//! The handler waits for the first request (bounded by `first_request_timeout`),
//! validates the `SubscriptionList` into a [`plan::Plan`], and returns a response stream
//! fed by a bounded drop-oldest [`queue`]. ONCE is queued at once; POLL and STREAM run
//! one task per RPC that owns its tickers, its interface-state listener and the request
//! stream. Every value is read by the resolver and written by its wire encoder.

mod emit;
mod once;
mod plan;
mod poll;
mod queue;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use nl6_gnmi::codec::Encoded;
use nl6_gnmi::proto::gnmi::{SubscribeRequest, SubscriptionList, subscribe_request};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use crate::conn::ConnInfo;
use crate::context::{Ctx, device_gone};
use emit::Emitter;
use plan::{Mode, Plan};
use queue::QueueStream;

/// Serves `/gnmi.gNMI/Subscribe` with the pass-through codec.
pub(crate) struct SubscribeSvc {
    ctx: Arc<Ctx>,
}

impl SubscribeSvc {
    pub(crate) fn new(ctx: Arc<Ctx>) -> SubscribeSvc {
        SubscribeSvc { ctx }
    }
}

impl tonic::server::StreamingService<SubscribeRequest> for SubscribeSvc {
    type Response = Encoded;
    type ResponseStream = QueueStream;
    type Future = BoxFuture<'static, Result<Response<QueueStream>, Status>>;

    fn call(&mut self, request: Request<Streaming<SubscribeRequest>>) -> Self::Future {
        Box::pin(open(self.ctx.clone(), request))
    }
}

/// Validates the first request and starts producing.
async fn open(
    ctx: Arc<Ctx>,
    request: Request<Streaming<SubscribeRequest>>,
) -> Result<Response<QueueStream>, Status> {
    let (device, info) = ctx.device_of(request.extensions())?;
    tracing::debug!("Subscribe from {} to device {}", info.peer, info.local);
    let mut requests = request.into_inner();
    let list = first_request(&ctx, &mut requests).await?;
    let plan = Plan::compile(
        &list,
        nl6_resolver::Schema::of(&device),
        ctx.config.min_sample_interval,
    )?;
    let budgets = queue::Budgets {
        fleet: ctx.budget.clone(),
        connection: info.share.clone(),
    };
    let (tx, rx) = queue::channel(
        ctx.config.queue_depth,
        ctx.stats.clone(),
        budgets,
        info.peer,
        info.local,
    );
    let system_id = info.local.ip().to_string();
    let mut emit = Emitter::new(&device, system_id, plan.encoding, plan.target, tx);
    // Only STREAM RPCs take part in measured runs.
    let run = match (&plan.mode, info.local.ip()) {
        (Mode::Stream(_), std::net::IpAddr::V4(ip)) => Some(ctx.runs.register(ip)),
        _ => None,
    };
    let session = Session::new(ctx, info, requests);
    match plan.mode {
        Mode::Once(selection) => once::run(&device, &selection, plan.updates_only, &mut emit),
        Mode::Poll(selection) => {
            tokio::spawn(poll::run(session, selection, plan.updates_only, emit));
        }
        Mode::Stream(subs) => {
            let emit = match run {
                Some(registration) => emit.with_run(registration),
                None => emit,
            };
            tokio::spawn(stream::run(session, subs, plan.updates_only, emit));
        }
    }
    Ok(Response::new(rx))
}

/// Waits for the first request, which must carry a `SubscriptionList`.
async fn first_request(
    ctx: &Ctx,
    requests: &mut Streaming<SubscribeRequest>,
) -> Result<SubscriptionList, Status> {
    let timeout = ctx.config.first_request_timeout;
    let first = tokio::select! {
        _ = ctx.stop.cancelled() => return Err(shutting_down()),
        first = tokio::time::timeout(timeout, requests.message()) => first,
    };
    let first = first.map_err(|_| {
        Status::deadline_exceeded(format!(
            "no SubscribeRequest within {timeout:?} of opening the Subscribe RPC"
        ))
    })??;
    match first.and_then(|r| r.request) {
        Some(subscribe_request::Request::Subscribe(list)) => Ok(list),
        Some(subscribe_request::Request::Poll(_)) => Err(Status::invalid_argument(
            "Poll on a non-existent subscription: the first SubscribeRequest must carry a \
             SubscriptionList",
        )),
        None => Err(Status::invalid_argument(
            "the first SubscribeRequest must carry a SubscriptionList",
        )),
    }
}

/// The status streams end with when the server shuts down.
pub(crate) fn shutting_down() -> Status {
    Status::unavailable("the gNMI server is shutting down")
}

/// What the client or the server asked a running RPC to do.
#[derive(Debug, PartialEq, Eq)]
enum Control {
    /// The RPC is over (already finished with a status, or the client is gone).
    Stop,
    /// The client sent a Poll.
    Poll,
    /// The client closed its side of the stream.
    ClientDone,
}

/// The parts of a running POLL or STREAM RPC that are not about producing data.
struct Session {
    ctx: Arc<Ctx>,
    /// This RPC's own child of the server's stop token (polled without contention).
    stop: CancellationToken,
    info: ConnInfo,
    requests: Streaming<SubscribeRequest>,
    requests_open: bool,
    check: Interval,
}

impl Session {
    fn new(ctx: Arc<Ctx>, info: ConnInfo, requests: Streaming<SubscribeRequest>) -> Session {
        let every = ctx.config.device_check_interval;
        Session {
            check: ticker(every),
            stop: ctx.stop.child_token(),
            ctx,
            info,
            requests,
            requests_open: true,
        }
    }

    /// Waits for shutdown, the end of the RPC, the device leaving the fleet, or a client
    /// request; ends the stream with the right status where needed. Cancel-safe.
    async fn next(&mut self, emit: &Emitter) -> Control {
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => {
                    emit.finish(Some(shutting_down()));
                    return Control::Stop;
                }
                _ = emit.closed() => return Control::Stop,
                _ = self.check.tick() => {
                    if !self.ctx.still_served(&self.info) {
                        emit.finish(Some(device_gone(&self.info)));
                        return Control::Stop;
                    }
                }
                message = self.requests.message(), if self.requests_open => {
                    match message.map(|m| m.map(|r| r.request)) {
                        Ok(Some(Some(subscribe_request::Request::Poll(_)))) => return Control::Poll,
                        Ok(Some(Some(subscribe_request::Request::Subscribe(_)))) => {
                            emit.finish(Some(Status::invalid_argument(
                                "a SubscriptionList was already sent on this Subscribe RPC; \
                                 open a new RPC for new subscriptions",
                            )));
                            return Control::Stop;
                        }
                        Ok(Some(None)) => {
                            emit.finish(Some(Status::invalid_argument(
                                "SubscribeRequest carries neither a SubscriptionList nor a Poll",
                            )));
                            return Control::Stop;
                        }
                        Ok(None) => {
                            self.requests_open = false;
                            return Control::ClientDone;
                        }
                        Err(_) => return Control::Stop, // the client reset the stream
                    }
                }
            }
        }
    }
}

/// A ticker whose first tick is one `period` from now and that skips missed ticks.
fn ticker(period: Duration) -> Interval {
    let mut interval = tokio::time::interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    interval
}
