//! The flavor seam: how a dial-out stream is opened on a device's connection,
//! fed and closed. `gnmireverse` is the built-in flavor.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

use futures::future::BoxFuture;
use http::uri::PathAndQuery;
use nl6_gnmi::codec::Encoded;
use tonic::{Code, Status};

use crate::grpc::GrpcConnection;

/// The flavor used when a configuration names none.
pub const DEFAULT_FLAVOR: &str = "gnmireverse";

/// The gRPC method of the Arista gNMIReverse flavor.
pub const GNMIREVERSE_PUBLISH: &str = "/gnmireverse.gNMIReverse/Publish";

/// What a flavor is told about the stream it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamContext {
    /// The device whose stream this is (also the `Prefix.target` of its notifications).
    pub device_ip: Ipv4Addr,
    /// The collector as configured (`host:port`).
    pub collector: Arc<str>,
}

/// A dial-out wire flavor: opens publish streams on a device's own connection.
///
/// Implement it and register it in a [`FlavorRegistry`] to add a flavor; the exporter
/// only ever talks to this trait. Messages are encoded `gnmi.SubscribeResponse`s.
pub trait DialoutTransport: Send + Sync + 'static {
    /// The flavor's name in configuration (e.g. `gnmireverse`).
    fn name(&self) -> &str;

    /// Opens one publish stream on `connection`, owned by one device (e.g. with
    /// [`GrpcConnection::client_streaming`]).
    fn open(
        &self,
        connection: GrpcConnection,
        ctx: &StreamContext,
    ) -> BoxFuture<'static, Result<Box<dyn PublishStream>, Status>>;
}

/// One open publish stream of one device.
pub trait PublishStream: Send {
    /// Sends one encoded message; resolves once the transport took it. An error ends
    /// the stream (the exporter counts a send failure and reconnects).
    fn send(&mut self, message: Encoded) -> BoxFuture<'_, Result<(), Status>>;

    /// Resolves when the stream ended without being closed by us (the collector ended
    /// the call or the connection broke). Must be cancel-safe.
    fn ended(&mut self) -> BoxFuture<'_, Status>;

    /// Half-closes the stream and waits for the collector's final status; `Ok` is a
    /// normal end.
    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), Status>>;
}

/// The flavors an exporter knows, by name.
#[derive(Clone)]
pub struct FlavorRegistry {
    flavors: BTreeMap<String, Arc<dyn DialoutTransport>>,
}

impl Default for FlavorRegistry {
    /// The built-in flavors (`gnmireverse`).
    fn default() -> Self {
        let mut registry = FlavorRegistry::empty();
        registry.register(Arc::new(GnmiReverse));
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

    /// Adds (or replaces) a flavor under its [`DialoutTransport::name`].
    pub fn register(&mut self, flavor: Arc<dyn DialoutTransport>) -> &mut Self {
        self.flavors.insert(flavor.name().to_string(), flavor);
        self
    }

    /// The flavor called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn DialoutTransport>> {
        self.flavors.get(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.flavors.keys().map(String::as_str).collect()
    }
}

/// The Arista gNMIReverse flavor: `Publish(stream SubscribeResponse) returns (Empty)`,
/// fire-and-forget.
#[derive(Debug, Clone, Copy, Default)]
pub struct GnmiReverse;

impl DialoutTransport for GnmiReverse {
    fn name(&self) -> &str {
        DEFAULT_FLAVOR
    }

    fn open(
        &self,
        connection: GrpcConnection,
        _ctx: &StreamContext,
    ) -> BoxFuture<'static, Result<Box<dyn PublishStream>, Status>> {
        let path = PathAndQuery::from_static(GNMIREVERSE_PUBLISH);
        Box::pin(async move {
            let call = connection.client_streaming(path).await?;
            Ok(Box::new(call) as Box<dyn PublishStream>)
        })
    }
}

/// True for the status the goarista gNMIReverse server ends a call with when the
/// client closes it (it returns its `Recv` error, UNKNOWN "EOF"): a normal end.
pub fn is_eof_close(status: &Status) -> bool {
    status.code() == Code::Unknown && status.message() == "EOF"
}
