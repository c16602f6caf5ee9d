//! What the server shares with everything below it: the fleet's [`DeviceDirectory`]
//! and the state every RPC handler reaches for (configuration, counters, the stop
//! token, the queue budget).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use nl6_ifstate::DeviceModel;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::budget::Pool;
use crate::config::DialinConfig;
use crate::conn::ConnInfo;
use crate::runs::DialinRuns;
use crate::stats::DialinStats;

/// The fleet's devices, looked up by the local address a connection arrived on.
pub trait DeviceDirectory: Send + Sync + 'static {
    /// The device owning address `local`, if any (called once per accepted connection
    /// and when streams re-check their device, so it should be a map lookup).
    fn device(&self, local: Ipv4Addr) -> Option<Arc<DeviceModel>>;

    /// Number of devices reachable over dial-in (reported as `listeners`).
    fn device_count(&self) -> usize;
}

/// State shared by every RPC handler.
pub(crate) struct Ctx {
    pub(crate) config: DialinConfig,
    pub(crate) stats: Arc<DialinStats>,
    pub(crate) directory: Arc<dyn DeviceDirectory>,
    /// Cancelled when the server shuts down: streams end with UNAVAILABLE.
    pub(crate) stop: CancellationToken,
    /// The fleet-wide `queue_budget`.
    pub(crate) budget: Arc<Pool>,
    /// STREAM RPCs per device, for measured runs.
    pub(crate) runs: Arc<DialinRuns>,
}

impl Ctx {
    /// Whether `info`'s device is still the one the fleet serves at its address.
    pub(crate) fn still_served(&self, info: &ConnInfo) -> bool {
        let SocketAddr::V4(local) = info.local else {
            return false;
        };
        self.directory
            .device(*local.ip())
            .is_some_and(|d| Arc::ptr_eq(&d, &info.device))
    }

    /// The device of a request's connection, if the fleet still serves it.
    pub(crate) fn device_of(
        &self,
        extensions: &http::Extensions,
    ) -> Result<(Arc<DeviceModel>, ConnInfo), Status> {
        let info = extensions
            .get::<ConnInfo>()
            .ok_or_else(|| Status::internal("request without connection info"))?;
        if !self.still_served(info) {
            return Err(device_gone(info));
        }
        Ok((info.device.clone(), info.clone()))
    }
}

/// The status for a connection whose device was deleted from the fleet.
pub(crate) fn device_gone(info: &ConnInfo) -> Status {
    Status::unavailable(format!("device {} is no longer simulated", info.local.ip()))
}
