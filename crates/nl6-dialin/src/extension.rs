//! More gRPC services on the dial-in server, next to gNMI: a [`DialinService`] answers
//! every RPC under its service name (`/<name>/<method>`), on every device address,
//! after the same `username` / `password` check gNMI RPCs get.
//!
//! The service receives each request as HTTP/2 (`http::Request` with a tonic body, as a
//! generated tonic server takes it) together with a [`DialinCall`]: the device the
//! connection arrived at, its model, the client, and a future that resolves when the
//! RPC must end (the server is stopping or the device left the fleet). The same
//! [`DialinCall`] is also in the request's extensions, so a generated tonic service can
//! read it from `tonic::Request::extensions()`.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use futures::future::BoxFuture;
use nl6_ifstate::DeviceModel;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::body::Body;

use crate::conn::ConnInfo;
use crate::context::{Ctx, device_gone};

/// A gRPC service served by the dial-in server on every device address, beside gNMI.
///
/// Register it with [`DialinServerBuilder::service`](crate::DialinServerBuilder::service).
pub trait DialinService: Send + Sync + 'static {
    /// The gRPC service name, `package.Service` (e.g.
    /// `IOSXRExtensibleManagabilityService.gRPCConfigOper`): requests whose path is
    /// `/<name>/<method>` come here. Unknown methods are the service's to refuse
    /// (UNIMPLEMENTED, as a generated tonic server does).
    fn name(&self) -> &str;

    /// Answers one RPC. Credentials were checked and the device is still in the
    /// fleet; `call` is also in `request`'s extensions.
    fn call(
        &self,
        call: DialinCall,
        request: http::Request<Body>,
    ) -> BoxFuture<'static, http::Response<Body>>;
}

/// Why a long-lived RPC of a [`DialinService`] must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEnd {
    /// The server is shutting down.
    ServerStopping,
    /// The device was deleted from the fleet (or its address now belongs to another).
    DeviceGone,
}

/// One RPC of a [`DialinService`]: the device it is for and the server's state.
#[derive(Clone)]
pub struct DialinCall {
    info: ConnInfo,
    ctx: Arc<Ctx>,
    stop: CancellationToken,
}

impl DialinCall {
    /// The call on a request's connection, if the fleet still serves its device.
    pub(crate) fn of(ctx: &Arc<Ctx>, extensions: &http::Extensions) -> Result<DialinCall, Status> {
        let (_, info) = ctx.device_of(extensions)?;
        Ok(DialinCall {
            info,
            stop: ctx.stop.child_token(),
            ctx: ctx.clone(),
        })
    }

    /// The device's address: the local address the connection arrived on.
    pub fn device_address(&self) -> Ipv4Addr {
        match self.info.local {
            SocketAddr::V4(local) => *local.ip(),
            // Never: the listener is IPv4 and `device_of` refused anything else.
            SocketAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        }
    }

    /// The device's interface model.
    pub fn device(&self) -> &Arc<DeviceModel> {
        &self.info.device
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.info.peer
    }

    /// The depth of a stream's queue on this server ([`DialinConfig::queue_depth`](crate::DialinConfig::queue_depth)).
    pub fn queue_depth(&self) -> usize {
        self.ctx.config.queue_depth
    }

    /// Whether the fleet still serves this device at its address.
    pub fn is_served(&self) -> bool {
        self.ctx.still_served(&self.info)
    }

    /// Resolves when the RPC must end: at once when the server stops, and within
    /// [`DialinConfig::device_check_interval`](crate::DialinConfig::device_check_interval)
    /// of the device leaving the fleet. Cancel-safe.
    pub async fn ended(&self) -> CallEnd {
        let every = self.ctx.config.device_check_interval;
        let mut check = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        check.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return CallEnd::ServerStopping,
                _ = check.tick() => {
                    if !self.is_served() {
                        return CallEnd::DeviceGone;
                    }
                }
            }
        }
    }

    /// The status a stream ends with for `end`, the same gNMI streams end with.
    pub fn status(&self, end: CallEnd) -> Status {
        match end {
            CallEnd::ServerStopping => crate::subscribe::shutting_down(),
            CallEnd::DeviceGone => device_gone(&self.info),
        }
    }
}

impl fmt::Debug for DialinCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DialinCall")
            .field("device", &self.info.local)
            .field("peer", &self.info.peer)
            .finish_non_exhaustive()
    }
}

/// The registered services, looked up by a request's path.
#[derive(Clone, Default)]
pub(crate) struct Services(Arc<Vec<Arc<dyn DialinService>>>);

impl Services {
    pub(crate) fn new(services: Vec<Arc<dyn DialinService>>) -> Services {
        Services(Arc::new(services))
    }

    /// The service answering `path` (`/<name>/<method>`), if one is registered.
    pub(crate) fn route(&self, path: &str) -> Option<&Arc<dyn DialinService>> {
        let rest = path.strip_prefix('/')?;
        let (name, method) = rest.split_once('/')?;
        if method.is_empty() {
            return None;
        }
        self.0.iter().find(|s| s.name() == name)
    }

    /// Names registered more than once, or that collide with gNMI.
    pub(crate) fn duplicate(&self) -> Option<&str> {
        self.0.iter().enumerate().find_map(|(i, s)| {
            let name = s.name();
            let again = self.0[..i].iter().any(|o| o.name() == name);
            (again || name == "gnmi.gNMI" || name.is_empty() || name.contains('/')).then_some(name)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str);

    impl DialinService for Named {
        fn name(&self) -> &str {
            self.0
        }

        fn call(
            &self,
            _call: DialinCall,
            _request: http::Request<Body>,
        ) -> BoxFuture<'static, http::Response<Body>> {
            Box::pin(async { Status::unimplemented("test").into_http() })
        }
    }

    fn services(names: &[&'static str]) -> Services {
        Services::new(
            names
                .iter()
                .map(|n| Arc::new(Named(n)) as Arc<dyn DialinService>)
                .collect(),
        )
    }

    #[test]
    fn requests_route_by_service_name() {
        let s = services(&["a.B", "c.D"]);
        assert_eq!(s.route("/c.D/Method").map(|s| s.name()), Some("c.D"));
        assert_eq!(s.route("/a.B/X").map(|s| s.name()), Some("a.B"));
        for path in ["/a.B/", "/a.B", "/a.Bx/M", "/gnmi.gNMI/Get", "a.B/M", "/"] {
            assert!(s.route(path).is_none(), "{path}");
        }
        assert_eq!(s.duplicate(), None);
    }

    #[test]
    fn clashing_names_are_found() {
        assert_eq!(services(&["a.B", "a.B"]).duplicate(), Some("a.B"));
        assert_eq!(services(&["gnmi.gNMI"]).duplicate(), Some("gnmi.gNMI"));
        assert_eq!(services(&["a/B"]).duplicate(), Some("a/B"));
        assert_eq!(services(&[""]).duplicate(), Some(""));
    }
}
