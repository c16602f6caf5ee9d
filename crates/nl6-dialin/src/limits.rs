//! Request-level limits: what one Get or Subscribe request may ask for.
//!
//! All devices share one process, so one request must not be able to cost the fleet
//! unbounded time or memory. Path limits (elements, keys, name and value lengths) live
//! in `nl6_gnmi::path` and are checked by the resolver for every prefix and path; the
//! limits here bound the request as a whole.

use tonic::{Code, Status};

/// Largest gRPC request message the server decodes (4 MiB); a larger one is refused
/// by tonic with OUT_OF_RANGE before it is decoded.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Most paths in one `GetRequest`.
pub const MAX_PATHS_PER_GET: usize = 1_000;

/// Most `Subscription`s in one `SubscriptionList`.
pub const MAX_SUBSCRIPTIONS_PER_REQUEST: usize = 1_000;

/// Longest `prefix.target` accepted, in bytes (it is echoed in every response).
pub const MAX_TARGET_BYTES: usize = 256;

/// Most leaf values one `GetResponse` may carry, summed over its paths (a Get of `/` on
/// a 1,024-interface device is 17,408).
pub const MAX_GET_LEAVES: usize = 50_000;

/// A request over one of the request limits; each variant carries the limit and the
/// actual number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestLimitError {
    /// More than [`MAX_PATHS_PER_GET`] paths (RESOURCE_EXHAUSTED).
    #[error("GetRequest.path has {actual} paths; the limit is {limit} paths per Get")]
    TooManyPaths {
        /// Paths in the request.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// More than [`MAX_SUBSCRIPTIONS_PER_REQUEST`] subscriptions (RESOURCE_EXHAUSTED).
    #[error(
        "SubscriptionList.subscription has {actual} subscriptions; the limit is {limit} \
         subscriptions per SubscribeRequest"
    )]
    TooManySubscriptions {
        /// Subscriptions in the request.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// A `prefix.target` longer than [`MAX_TARGET_BYTES`] (INVALID_ARGUMENT).
    #[error("prefix.target is {actual} bytes; the limit is {limit} bytes")]
    TargetTooLong {
        /// Length of the target in bytes.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// A Get selecting more than [`MAX_GET_LEAVES`] values (RESOURCE_EXHAUSTED).
    #[error(
        "the Get selects {actual} leaf values; the limit is {limit} per GetResponse \
         (ask for fewer paths, or split the Get)"
    )]
    TooManyLeaves {
        /// Leaf values the paths select, summed over the paths.
        actual: usize,
        /// The limit.
        limit: usize,
    },
}

impl RequestLimitError {
    /// The gRPC status code: RESOURCE_EXHAUSTED for counts, INVALID_ARGUMENT for the
    /// target.
    pub fn code(&self) -> Code {
        match self {
            RequestLimitError::TargetTooLong { .. } => Code::InvalidArgument,
            RequestLimitError::TooManyPaths { .. }
            | RequestLimitError::TooManySubscriptions { .. }
            | RequestLimitError::TooManyLeaves { .. } => Code::ResourceExhausted,
        }
    }
}

impl From<RequestLimitError> for Status {
    fn from(err: RequestLimitError) -> Status {
        Status::new(err.code(), err.to_string())
    }
}

/// Checks a request prefix's target against [`MAX_TARGET_BYTES`].
pub(crate) fn check_target(target: &str) -> Result<(), RequestLimitError> {
    if target.len() > MAX_TARGET_BYTES {
        return Err(RequestLimitError::TargetTooLong {
            actual: target.len(),
            limit: MAX_TARGET_BYTES,
        });
    }
    Ok(())
}
