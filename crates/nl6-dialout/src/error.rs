//! Why attaching a device's dial-out failed.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{ConfigError, ConfigKey};
use crate::h2c::Http2Error;
use crate::stats::DisconnectCause;

/// Attach errors; each names the configuration field at fault.
#[derive(Debug, thiserror::Error)]
pub enum DialoutError {
    /// A field of the configuration is invalid (the field and reason are data, printed
    /// here, not a source).
    #[error("invalid gnmi_dialout config: {0}")]
    Config(ConfigError),
    /// A path does not resolve on this device.
    #[error("invalid gnmi_dialout config: paths[{index}] does not resolve")]
    Path {
        /// Position of the path in `paths`.
        index: usize,
        /// Why it does not resolve.
        #[source]
        source: nl6_resolver::ResolveError,
    },
    /// An on-change path covers only counters, which never change on-change.
    #[error("invalid gnmi_dialout config: paths[{index}]: {}", counters_only(path))]
    CountersOnly {
        /// Position of the path in `paths`.
        index: usize,
        /// The path as configured.
        path: String,
    },
    /// The TLS material could not be loaded.
    #[error("invalid gnmi_dialout config: {field}: the TLS material cannot be used")]
    Tls {
        /// The TLS field involved (`tls.ca_file`, `tls.ca_pem` or `tls`).
        field: &'static str,
        /// What went wrong.
        #[source]
        source: nl6_tls::TlsError,
    },
    /// `tls.mtls` is set but the exporter has no certificate to present.
    #[error(
        "invalid gnmi_dialout config: tls.mtls: the simulator has no client certificate to present"
    )]
    NoClientIdentity,
    /// `attach` was called outside a tokio runtime.
    #[error("dial-out needs a tokio runtime: attach must be called from within one")]
    NoRuntime,
}

impl From<ConfigError> for DialoutError {
    fn from(e: ConfigError) -> Self {
        DialoutError::Config(e)
    }
}

impl DialoutError {
    /// The configuration field at fault and why (`None` for [`DialoutError::NoRuntime`],
    /// which is not the configuration's fault).
    pub fn config_error(&self) -> Option<ConfigError> {
        let (key, field, reason) = match self {
            DialoutError::Config(c) => return Some(c.clone()),
            DialoutError::Path { index, source } => (
                ConfigKey::Paths,
                format!("paths[{index}]"),
                source.to_string(),
            ),
            DialoutError::CountersOnly { index, path } => (
                ConfigKey::Paths,
                format!("paths[{index}]"),
                counters_only(path),
            ),
            DialoutError::Tls { field, source } => (
                ConfigKey::Tls,
                field.to_string(),
                crate::connector::error_chain(source),
            ),
            DialoutError::NoClientIdentity => (
                ConfigKey::Tls,
                "tls.mtls".to_string(),
                "the simulator has no client certificate to present".to_string(),
            ),
            DialoutError::NoRuntime => return None,
        };
        Some(ConfigError::at(key, field, reason))
    }
}

fn counters_only(path: &str) -> String {
    format!(
        "{path} covers only counters, which never fire on-change; use mode sample or a path with state leaves"
    )
}

/// Why a flavor's session could not open, or why it ended: the error of every flavor
/// call ([`crate::Flavor::open`], [`crate::PushStream`], [`crate::ServeSession`]).
///
/// The exporter classifies a disconnect from it ([`FlavorError::cause`] plus, for HTTP/2
/// sessions, how the connection itself ended), so keep transport errors as the
/// [`FlavorError::Broken`] source instead of flattening them into text.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FlavorError {
    /// The device could not reach the collector: dial, TLS handshake or HTTP/2 start.
    #[error("{0}")]
    Connect(String),
    /// The collector ended the call with a non-OK gRPC status.
    #[error("status: {code:?}, message: {message:?}")]
    Status {
        /// The gRPC status code.
        code: tonic::Code,
        /// The `grpc-message`.
        message: String,
    },
    /// The collector ended the stream normally before nl6 closed it.
    #[error("the collector ended the stream")]
    Ended,
    /// The connection or stream broke (GOAWAY, RST_STREAM, TCP reset, ...); `source`
    /// keeps the transport's own error for classification.
    #[error("{message}")]
    Broken {
        /// What happened, with the source chain in words.
        message: String,
        /// The transport error (e.g. an [`Http2Error`]).
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
    /// An I/O error of a raw TCP or UDP session (the error itself is the source).
    #[error("I/O error on the collector connection")]
    Io(#[source] Arc<std::io::Error>),
    /// A message cannot be sent as it is (e.g. larger than the wire format allows).
    #[error("{0}")]
    Message(String),
    /// The stream was closed already.
    #[error("the stream is closed")]
    Closed,
    /// The collector did not end the call within the close timeout.
    #[error("the collector did not end the call within {0:?} of our close")]
    CloseTimeout(Duration),
}

impl From<std::io::Error> for FlavorError {
    fn from(e: std::io::Error) -> Self {
        FlavorError::Io(Arc::new(e))
    }
}

impl FlavorError {
    /// A gRPC status error.
    pub fn status(code: tonic::Code, message: impl Into<String>) -> FlavorError {
        FlavorError::Status {
            code,
            message: message.into(),
        }
    }

    /// True for the status the goarista gNMIReverse server ends a call with when the
    /// client closes it (it returns its `Recv` error, UNKNOWN "EOF"): a normal end.
    pub fn is_eof_close(&self) -> bool {
        matches!(self, FlavorError::Status { code: tonic::Code::Unknown, message } if message == "EOF")
    }

    /// How this error ends a stream, judged from the error alone: a reset in its source
    /// chain, a normal end by the collector, or anything else.
    pub fn cause(&self) -> DisconnectCause {
        let err: &(dyn std::error::Error + 'static) = self;
        match find_source::<Http2Error>(err) {
            Some(Http2Error::GoAway { .. }) => return DisconnectCause::GoAway,
            Some(Http2Error::Reset(_)) => return DisconnectCause::Reset,
            _ => {}
        }
        if find_source::<std::io::Error>(err).is_some_and(is_reset) {
            return DisconnectCause::Reset;
        }
        if matches!(self, FlavorError::Ended) || self.is_eof_close() {
            return DisconnectCause::Eof;
        }
        DisconnectCause::Error
    }
}

/// Whether an I/O error is a connection reset or a broken pipe.
pub(crate) fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
    )
}

/// The first error of type `T` in `error`'s source chain (`error` included).
pub(crate) fn find_source<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        // A shared source is looked into, not past (its own `source` skips it).
        if let Some(shared) = e.downcast_ref::<Arc<dyn std::error::Error + Send + Sync>>() {
            next = Some(&**shared);
            continue;
        }
        if let Some(io) = e.downcast_ref::<Arc<std::io::Error>>() {
            return (io.as_ref() as &(dyn std::error::Error + 'static)).downcast_ref::<T>();
        }
        next = e.source();
    }
    None
}
