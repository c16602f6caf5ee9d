//! The state every handler shares.

use std::sync::Arc;

use nl6_fleet::Fleet;

use crate::history::History;
use crate::metrics::Metrics;
use crate::serve::ListenerStats;

/// Shared by all handlers: the fleet, the metrics handle, the rate history and the
/// rendered OpenAPI document.
#[derive(Clone)]
pub(crate) struct ApiState {
    /// The devices the API manages.
    pub(crate) fleet: Arc<Fleet>,
    /// This router's Prometheus recorder.
    pub(crate) metrics: Arc<Metrics>,
    /// Counters of the listener serving this router.
    pub(crate) listener: Arc<ListenerStats>,
    /// The rate history served at `GET /api/v1/history`.
    pub(crate) history: History,
    /// The measured runs (`/api/v1/runs`).
    pub(crate) runs: nl6_runs::Runs,
    /// `GET /api/v1/openapi.json`, rendered once.
    pub(crate) openapi: Arc<str>,
}
