//! rustls client configurations for collectors, built once per distinct setting.

use std::collections::HashMap;
use std::sync::Arc;

use nl6_tls::rustls::ClientConfig;
use nl6_tls::{Identity, ServerVerification};
use parking_lot::Mutex;

use crate::config::{CaSource, TlsSettings};
use crate::error::DialoutError;

/// Client configs by TLS settings: loading the system roots or a CA file for each of
/// thousands of devices would be wasteful, and sharing also shares session resumption.
#[derive(Default)]
pub(crate) struct TlsCache {
    configs: Mutex<HashMap<TlsSettings, Arc<ClientConfig>>>,
}

impl TlsCache {
    /// The config for `settings` (TLS enabled), presenting `identity` when `mtls` is set.
    pub(crate) fn client_config(
        &self,
        settings: &TlsSettings,
        identity: Option<&Identity>,
    ) -> Result<Arc<ClientConfig>, DialoutError> {
        if let Some(config) = self.configs.lock().get(settings) {
            return Ok(config.clone());
        }
        let verify = if settings.insecure_skip_verify {
            ServerVerification::InsecureSkipVerify
        } else {
            match &settings.ca {
                None => ServerVerification::SystemRoots,
                Some(CaSource::File(path)) => ServerVerification::CaBundle(
                    nl6_tls::ca_bundle_from_file(path).map_err(|e| DialoutError::Tls {
                        field: "tls.ca_file",
                        source: e,
                    })?,
                ),
                Some(CaSource::InlinePem(pem)) => ServerVerification::CaBundle(
                    nl6_tls::ca_bundle_from_inline_pem(pem).map_err(|e| DialoutError::Tls {
                        field: "tls.ca_pem",
                        source: e,
                    })?,
                ),
            }
        };
        let client_identity = if settings.mtls {
            Some(identity.ok_or(DialoutError::NoClientIdentity)?)
        } else {
            None
        };
        let config =
            nl6_tls::client_config(verify, client_identity).map_err(|e| DialoutError::Tls {
                field: "tls",
                source: e,
            })?;
        self.configs
            .lock()
            .entry(settings.clone())
            .or_insert(config.clone());
        Ok(config)
    }
}
