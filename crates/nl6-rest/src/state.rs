//! The state every handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use nl6_fleet::Fleet;

/// Shared by all handlers: the fleet, the metrics handle and the rendered OpenAPI document.
#[derive(Clone)]
pub(crate) struct ApiState {
    /// The devices the API manages.
    pub(crate) fleet: Arc<Fleet>,
    /// Renders the Prometheus text format.
    pub(crate) metrics: PrometheusHandle,
    /// `GET /api/v1/openapi.json`, rendered once.
    pub(crate) openapi: Arc<str>,
}
