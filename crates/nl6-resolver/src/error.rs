//! Resolution errors and their gRPC status codes.
//!
//! Every error that echoes request input holds an [`Excerpt`]: at most
//! [`QUOTE_LIMIT`](nl6_gnmi::QUOTE_LIMIT) bytes of it, whatever the client sent.

use nl6_gnmi::{Excerpt, PathLimitError};

/// Why a path or request could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The path names an origin other than `""` or `openconfig`.
    #[error("unknown origin {origin} in path {path}: only \"\" and \"openconfig\" are served")]
    UnknownOrigin {
        /// The origin given.
        origin: Excerpt,
        /// The path, as text.
        path: Excerpt,
    },
    /// Both the prefix and the path name an origin.
    #[error("origin set in both prefix ({prefix}) and path ({path}); set it in one place")]
    OriginInBoth {
        /// Origin of the prefix.
        prefix: Excerpt,
        /// Origin of the path.
        path: Excerpt,
    },
    /// The path matches nothing this device serves.
    #[error("path {path} does not exist on this device")]
    NoSuchPath {
        /// The path, as text.
        path: Excerpt,
    },
    /// The path names an interface the device does not have.
    #[error("no interface named {name} on this device (path {path})")]
    NoSuchInterface {
        /// The interface name asked for.
        name: Excerpt,
        /// The path, as text.
        path: Excerpt,
    },
    /// The path names a list entry the device does not have (a component, a CPU).
    #[error("no {list} with {key}={value} on this device (path {path})")]
    NoSuchEntry {
        /// The list element, e.g. `component`.
        list: &'static str,
        /// The key name, e.g. `name`.
        key: &'static str,
        /// The key value asked for.
        value: Excerpt,
        /// The path, as text.
        path: Excerpt,
    },
    /// A list key is given with an empty value.
    #[error("empty value for key \"{key}\" of element \"{list}\" in path {path}")]
    EmptyKey {
        /// The list element.
        list: &'static str,
        /// The key name.
        key: &'static str,
        /// The path, as text.
        path: Excerpt,
    },
    /// The `name` key of `interface` is empty.
    #[error("empty value for key \"name\" of element \"interface\" in path {path}")]
    EmptyInterfaceName {
        /// The path, as text.
        path: Excerpt,
    },
    /// The request's prefix or a path is over one of the path limits
    /// ([`nl6_gnmi::path::MAX_PATH_ELEMS`] and the others).
    #[error("{exceeded} (in the request {part})")]
    PathLimit {
        /// `"prefix"` or `"path"`.
        part: &'static str,
        /// Which limit, and by how much.
        exceeded: PathLimitError,
    },
    /// The requested value encoding is not supported.
    #[error("encoding {encoding} is not supported; use JSON, JSON_IETF or PROTO")]
    UnsupportedEncoding {
        /// The encoding's name or number.
        encoding: String,
    },
}

impl ResolveError {
    /// The gRPC status code the gNMI specification assigns to this error.
    pub fn code(&self) -> tonic::Code {
        match self {
            ResolveError::UnknownOrigin { .. }
            | ResolveError::NoSuchPath { .. }
            | ResolveError::NoSuchInterface { .. }
            | ResolveError::NoSuchEntry { .. } => tonic::Code::NotFound,
            ResolveError::OriginInBoth { .. }
            | ResolveError::EmptyInterfaceName { .. }
            | ResolveError::EmptyKey { .. }
            | ResolveError::PathLimit { .. } => tonic::Code::InvalidArgument,
            ResolveError::UnsupportedEncoding { .. } => tonic::Code::Unimplemented,
        }
    }
}

impl From<ResolveError> for tonic::Status {
    fn from(err: ResolveError) -> Self {
        tonic::Status::new(err.code(), err.to_string())
    }
}
