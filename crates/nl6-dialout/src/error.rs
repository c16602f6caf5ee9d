//! Why attaching a device's dial-out failed.

use crate::config::ConfigError;

/// Attach errors; each names the configuration field at fault.
#[derive(Debug, thiserror::Error)]
pub enum DialoutError {
    /// A field of the configuration is invalid.
    #[error("invalid gnmi_dialout config: {0}")]
    Config(#[from] ConfigError),
    /// A path does not resolve on this device.
    #[error("invalid gnmi_dialout config: paths[{index}]: {source}")]
    Path {
        /// Position of the path in `paths`.
        index: usize,
        /// Why it does not resolve.
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
    #[error("invalid gnmi_dialout config: {field}: {source}")]
    Tls {
        /// The TLS field involved (`tls.ca_file`, `tls.ca_pem` or `tls`).
        field: &'static str,
        /// What went wrong.
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

impl DialoutError {
    /// The configuration field at fault and why (`None` for [`DialoutError::NoRuntime`],
    /// which is not the configuration's fault).
    pub fn config_error(&self) -> Option<ConfigError> {
        let (field, reason) = match self {
            DialoutError::Config(c) => return Some(c.clone()),
            DialoutError::Path { index, source } => (format!("paths[{index}]"), source.to_string()),
            DialoutError::CountersOnly { index, path } => {
                (format!("paths[{index}]"), counters_only(path))
            }
            DialoutError::Tls { field, source } => (field.to_string(), source.to_string()),
            DialoutError::NoClientIdentity => (
                "tls.mtls".to_string(),
                "the simulator has no client certificate to present".to_string(),
            ),
            DialoutError::NoRuntime => return None,
        };
        Some(ConfigError::new(field, reason))
    }
}

fn counters_only(path: &str) -> String {
    format!(
        "{path} covers only counters, which never fire on-change; use mode sample or a path with state leaves"
    )
}
