//! The gRPC service: one tower service that checks credentials, tracks RPCs for the
//! idle timeout, sends gNMI Subscribe through the pass-through codec (pre-encoded bytes
//! from the resolver's wire encoder), the RPCs of registered
//! [`DialinService`](crate::DialinService)s to their service, and everything else through
//! the generated typed gNMI service (which answers UNIMPLEMENTED for unknown paths).
//! gNMI decodes requests of at most [`MAX_REQUEST_BYTES`](crate::MAX_REQUEST_BYTES).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use nl6_gnmi::codec::PassthroughCodec;
use nl6_gnmi::proto::gnmi::g_nmi_server::{GNmi, GNmiServer};
use nl6_gnmi::proto::gnmi::{
    CapabilityRequest, CapabilityResponse, GetRequest, GetResponse, SetRequest, SetResponse,
    SubscribeRequest, SubscribeResponse,
};
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::server::NamedService;
use tonic::{Request, Response, Status, Streaming};

use crate::conn::{ConnInfo, RpcGuard};
use crate::context::Ctx;
use crate::extension::{DialinCall, Services};
use crate::limits::MAX_REQUEST_BYTES;
use crate::subscribe::SubscribeSvc;

/// gRPC path of the Subscribe RPC.
const SUBSCRIBE_PATH: &str = "/gnmi.gNMI/Subscribe";

/// Routes every gNMI RPC of every device.
#[derive(Clone)]
pub(crate) struct GnmiRouter {
    ctx: Arc<Ctx>,
    typed: GNmiServer<Handlers>,
    services: Services,
}

impl GnmiRouter {
    pub(crate) fn new(ctx: Arc<Ctx>, services: Services) -> GnmiRouter {
        GnmiRouter {
            typed: GNmiServer::new(Handlers { ctx: ctx.clone() })
                .max_decoding_message_size(MAX_REQUEST_BYTES),
            ctx,
            services,
        }
    }
}

impl NamedService for GnmiRouter {
    const NAME: &'static str = "gnmi.gNMI";
}

impl Service<http::Request<Body>> for GnmiRouter {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let guard = req
            .extensions()
            .get::<ConnInfo>()
            .map(|info| info.activity.begin());
        if let Err(status) = crate::auth::check(self.ctx.config.credentials.as_ref(), req.headers())
        {
            return Box::pin(async move { Ok(status.into_http()) });
        }
        if req.uri().path() == SUBSCRIBE_PATH {
            let svc = SubscribeSvc::new(self.ctx.clone());
            Box::pin(async move {
                let mut grpc =
                    tonic::server::Grpc::new(PassthroughCodec::<SubscribeRequest>::default())
                        .max_decoding_message_size(MAX_REQUEST_BYTES);
                let response = grpc.streaming(svc, req).await;
                Ok(guarded(response, guard))
            })
        } else if let Some(service) = self.services.route(req.uri().path()) {
            let service = service.clone();
            let mut req = req;
            let call = match DialinCall::of(&self.ctx, req.extensions()) {
                Ok(call) => call,
                Err(status) => return Box::pin(async move { Ok(status.into_http()) }),
            };
            req.extensions_mut().insert(call.clone());
            let response = service.call(call, req);
            Box::pin(async move { Ok(guarded(response.await, guard)) })
        } else {
            let call = self.typed.call(req);
            Box::pin(async move {
                let response = call.await?;
                Ok(guarded(response, guard))
            })
        }
    }
}

/// Keeps the RPC counted as in flight until its response body is finished or dropped.
fn guarded(response: http::Response<Body>, guard: Option<RpcGuard>) -> http::Response<Body> {
    match guard {
        Some(guard) => response.map(|inner| {
            Body::new(GuardedBody {
                inner,
                _guard: guard,
            })
        }),
        None => response,
    }
}

/// A response body holding an [`RpcGuard`].
struct GuardedBody {
    inner: Body,
    _guard: RpcGuard,
}

impl http_body::Body for GuardedBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, Status>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.inner)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::Body::size_hint(&self.inner)
    }
}

/// Capabilities, Get and Set (Subscribe is routed to [`SubscribeSvc`]).
pub(crate) struct Handlers {
    ctx: Arc<Ctx>,
}

#[tonic::async_trait]
impl GNmi for Handlers {
    async fn capabilities(
        &self,
        request: Request<CapabilityRequest>,
    ) -> Result<Response<CapabilityResponse>, Status> {
        let (device, _) = self.ctx.device_of(request.extensions())?;
        Ok(Response::new(crate::capabilities::capabilities(&device)))
    }

    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let (device, _) = self.ctx.device_of(request.extensions())?;
        let now = nl6_ifstate::unix_now_ns();
        crate::get::get(&device, request.get_ref(), now).map(Response::new)
    }

    async fn set(&self, request: Request<SetRequest>) -> Result<Response<SetResponse>, Status> {
        self.ctx.device_of(request.extensions())?;
        Err(Status::unimplemented(
            "Set is not supported: nl6 is a read-only simulator",
        ))
    }

    type SubscribeStream = futures::stream::Empty<Result<SubscribeResponse, Status>>;

    async fn subscribe(
        &self,
        _request: Request<Streaming<SubscribeRequest>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        // Never reached: the router sends Subscribe to the pass-through service.
        Err(Status::internal(
            "Subscribe is served by the pass-through route",
        ))
    }
}
