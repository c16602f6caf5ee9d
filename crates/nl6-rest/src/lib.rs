//! The nl6 REST API: create and delete batches of simulated devices, reboot a device,
//! change interface state, read gNMI dial-in/dial-out status, scrape Prometheus metrics, and fetch the
//! OpenAPI document of all of it (`GET /api/v1/openapi.json`, generated from the handlers
//! and body types, so it cannot drift from the code).
//!
//! [`router`] builds the axum router over a [`Fleet`]; [`serve`] runs it on a listener
//! until a shutdown future resolves. `GET /` is a live status page (embedded, no CDN) fed
//! by the status endpoints and a [`History`] of one-second rate samples.
//!
//! ```
//! use std::sync::Arc;
//! use axum::body::{Body, to_bytes};
//! use axum::http::{Request, StatusCode};
//! use nl6_fleet::{Fleet, FleetConfig};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Loopback devices, no dial-in server.
//! let fleet = Arc::new(Fleet::start(FleetConfig { dialin: None, ..Default::default() }).await?);
//! let app = nl6_rest::router(fleet.clone());
//!
//! let create = Request::post("/api/v1/devices")
//!     .header("content-type", "application/json")
//!     .body(Body::from(r#"{"start_ip": "127.77.0.1", "device_count": 3, "interfaces": 4}"#))?;
//! let reply = app.clone().oneshot(create).await?;
//! assert_eq!(reply.status(), StatusCode::CREATED);
//! let body: serde_json::Value = serde_json::from_slice(&to_bytes(reply.into_body(), 1 << 16).await?)?;
//! assert_eq!(body["data"]["created"], 3);
//!
//! // One unknown field anywhere fails the whole request, naming the field.
//! let bad = Request::post("/api/v1/devices")
//!     .header("content-type", "application/json")
//!     .body(Body::from(r#"{"start_ip": "127.77.1.1", "colour": "red"}"#))?;
//! let reply = app.oneshot(bad).await?;
//! assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
//! assert_eq!(fleet.len(), 3);
//! fleet.shutdown().await?;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use nl6_fleet::Fleet;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod auth;
mod body;
mod body_error;
mod envelope;
mod error;
mod extract;
mod history;
mod metrics;
mod openapi;
mod page;
mod routes;
mod serve;
mod state;

pub use auth::{BearerToken, MIN_TOKEN_LEN, TokenError};
pub use body::{
    CreateDevices, DEFAULT_DEVICE_COUNT, DEFAULT_INTERFACES, DEFAULT_NETMASK, DEFAULT_SPEED_BPS,
    DialoutBody, InterfaceStateBody, NetmaskValue, TlsBody,
};
pub use body_error::{BodyError, MAX_BODY_BYTES};
pub use envelope::Envelope;
pub use error::{ApiError, ErrorBody, InterfaceErrorBody};
/// How every JSON request body is decoded (exposed for the body fuzz target).
pub use extract::parse_json;
pub use history::{
    DestinationRate, HISTORY_CAPACITY, History, HistoryDocument, MAX_SAMPLE_DESTINATIONS,
    SAMPLE_INTERVAL, Sample, Sampler,
};
pub use routes::bgp::{BgpFlapBody, BgpFlapView};
pub use routes::reboot::Rebooted;
pub use routes::topology::{LinkBody, LinkEndBody, TopologyBody, TopologyView};
pub use serve::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_PEER, ServeOptions,
};

use routes::{devices, interfaces, status};
use state::ApiState;

/// The version reported by `GET /api/v1/status`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every route with its OpenAPI description: the API's table of contents.
fn api() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        // Devices.
        .routes(routes!(devices::create, devices::list, devices::delete_all))
        .routes(routes!(devices::get, devices::delete))
        .routes(routes!(routes::reboot::reboot))
        .routes(routes!(routes::bgp::flap))
        // Measured runs.
        .routes(routes!(routes::runs::arm, routes::runs::list))
        .routes(routes!(routes::runs::get))
        // Topology (LLDP neighbours).
        .routes(routes!(
            routes::topology::add,
            routes::topology::get,
            routes::topology::delete
        ))
        // Interface state.
        .routes(routes!(interfaces::list))
        .routes(routes!(interfaces::set_oper_status))
        .routes(routes!(interfaces::set_admin_status))
        // Status.
        .routes(routes!(status::server))
        .routes(routes!(status::gnmi))
        .routes(routes!(status::dialout))
        .routes(routes!(routes::mdt::status))
        .routes(routes!(routes::mdt::proto))
        .routes(routes!(routes::history::history))
        .routes(routes!(status::health))
        .routes(routes!(routes::metrics::scrape))
        // This document.
        .routes(routes!(openapi::document))
}

/// The OpenAPI document of the API (what `GET /api/v1/openapi.json` serves), as JSON.
/// The flavors listed are the built-ins; a served document lists its fleet's.
pub fn openapi_json() -> String {
    let mut doc = api().into_openapi();
    openapi::describe_flavors(&mut doc, &nl6_dialout::FlavorRegistry::default());
    openapi::render(&doc)
}

/// The API over `fleet`: every route, the status page at `/`, the JSON 404/405 fallbacks,
/// the 64 KiB body limit and the request-metrics middleware; no authentication and an
/// empty rate history (see [`router_with`]).
pub fn router(fleet: Arc<Fleet>) -> Router {
    build(fleet, None, History::new(), Arc::default())
}

/// [`router`], requiring `token` (as `Authorization: Bearer`) on every route but
/// `/health` and the status page's files.
pub fn router_with_token(fleet: Arc<Fleet>, token: BearerToken) -> Router {
    build(fleet, Some(token), History::new(), Arc::default())
}

/// [`router`] with an optional `token` and the rate `history` that `GET /api/v1/history`
/// serves (fill it with [`History::spawn_sampler`]).
pub fn router_with(fleet: Arc<Fleet>, token: Option<BearerToken>, history: History) -> Router {
    build(fleet, token, history, Arc::default())
}

fn build(
    fleet: Arc<Fleet>,
    token: Option<BearerToken>,
    history: History,
    listener: Arc<serve::ListenerStats>,
) -> Router {
    let (routes, mut doc) = api().split_for_parts();
    openapi::describe_flavors(&mut doc, fleet.flavors());
    let state = ApiState {
        fleet,
        metrics: metrics::Metrics::new(),
        listener,
        history,
        runs: nl6_runs::Runs::new(),
        openapi: openapi::render(&doc).into(),
    };
    let routes = routes
        .merge(page::routes())
        .fallback(routes::no_route)
        .method_not_allowed_fallback(routes::wrong_method)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            routes::metrics::track,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    match token {
        Some(token) => routes.layer(middleware::from_fn_with_state(token, auth::require)),
        None => routes,
    }
}

/// Serves [`router`] on `listener` with the default [`ServeOptions`] until `shutdown`
/// resolves, then finishes the requests in flight.
pub async fn serve(
    fleet: Arc<Fleet>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(fleet, listener, ServeOptions::default(), shutdown).await
}

/// Serves the API on `listener` with `options` (connection limit, timeouts, token, rate
/// history) until
/// `shutdown` resolves, then finishes the requests in flight (at most 5 s).
pub async fn serve_with(
    fleet: Arc<Fleet>,
    listener: tokio::net::TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let stats = Arc::<serve::ListenerStats>::default();
    let history = options.history.clone().unwrap_or_default();
    let router = build(fleet, options.token.clone(), history, stats.clone());
    serve::serve(router, stats, listener, options, shutdown).await
}

/// Compiles the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
