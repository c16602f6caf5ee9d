//! rustls server and client configurations built on the ring provider.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::TlsError;
use crate::identity::Identity;

/// The ALPN protocol id of HTTP/2, which gRPC requires.
pub const ALPN_H2: &[u8] = b"h2";

/// The crypto provider every config of this crate uses (rustls' ring provider).
///
/// Chosen explicitly, so no process-level default provider is needed.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds a server config presenting `identity`.
///
/// With `client_ca`, clients must present a certificate that chains to it
/// (mutual TLS); without, client certificates are not requested. `alpn_h2`
/// advertises "h2" (needed for gRPC).
pub fn server_config(
    identity: &Identity,
    client_ca: Option<&RootCertStore>,
    alpn_h2: bool,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let fail = |reason: String| TlsError::Config {
        side: "server",
        reason,
    };
    let provider = provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?;
    let builder = match client_ca {
        Some(roots) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots.clone()), provider)
                    .build()
                    .map_err(|e| fail(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(identity.cert_chain().to_vec(), identity.key().clone_key())
        .map_err(|e| fail(e.to_string()))?;
    if alpn_h2 {
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
    }
    Ok(Arc::new(config))
}

/// How a client verifies the server's certificate.
#[derive(Debug, Clone)]
pub enum ServerVerification {
    /// The platform's trust store (via rustls-native-certs).
    SystemRoots,
    /// Only the given CA certificates.
    CaBundle(RootCertStore),
    /// Accept any certificate (handshake signatures are still checked). Dev only.
    InsecureSkipVerify,
}

/// Builds a client config (ALPN "h2") verifying servers per `verify` and,
/// with `client_identity`, presenting it as client certificate (mutual TLS).
pub fn client_config(
    verify: ServerVerification,
    client_identity: Option<&Identity>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let fail = |reason: String| TlsError::Config {
        side: "client",
        reason,
    };
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?;
    let builder = match verify {
        ServerVerification::SystemRoots => builder.with_root_certificates(system_roots()?),
        ServerVerification::CaBundle(roots) => builder.with_root_certificates(roots),
        ServerVerification::InsecureSkipVerify => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert {
                algorithms: provider.signature_verification_algorithms,
            })),
    };
    let mut config = match client_identity {
        Some(id) => builder
            .with_client_auth_cert(id.cert_chain().to_vec(), id.key().clone_key())
            .map_err(|e| fail(format!("client certificate: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// Loads the platform trust store; unparsable entries are skipped.
fn system_roots() -> Result<RootCertStore, TlsError> {
    let loaded = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(loaded.certs);
    if roots.is_empty() {
        let reason = if loaded.errors.is_empty() {
            "the platform store is empty".to_string()
        } else {
            loaded
                .errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Err(TlsError::SystemRoots { reason });
    }
    Ok(roots)
}

/// Accepts any server certificate but verifies handshake signatures, so the
/// peer must still hold the private key of the certificate it presents.
#[derive(Debug)]
struct AcceptAnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_config_sets_alpn_only_when_asked() {
        let id = Identity::self_signed(&[]).unwrap();
        assert_eq!(
            server_config(&id, None, true).unwrap().alpn_protocols,
            vec![b"h2".to_vec()]
        );
        assert!(
            server_config(&id, None, false)
                .unwrap()
                .alpn_protocols
                .is_empty()
        );
    }

    #[test]
    fn empty_client_ca_is_a_config_error() {
        let id = Identity::self_signed(&[]).unwrap();
        let err = server_config(&id, Some(&RootCertStore::empty()), true).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot build the TLS server configuration: client CA"),
            "{err}"
        );
    }

    #[test]
    fn client_configs_build() {
        let id = Identity::self_signed(&[]).unwrap();
        let roots = id.root_store().unwrap();
        let cfg = client_config(ServerVerification::CaBundle(roots), Some(&id)).unwrap();
        assert_eq!(cfg.alpn_protocols, vec![b"h2".to_vec()]);
        assert!(client_config(ServerVerification::InsecureSkipVerify, None).is_ok());
    }

    #[test]
    fn system_roots_load_or_fail_clearly() {
        // The outcome depends on the machine's trust store; both are acceptable.
        match client_config(ServerVerification::SystemRoots, None) {
            Ok(cfg) => assert_eq!(cfg.alpn_protocols, vec![b"h2".to_vec()]),
            Err(e) => assert!(matches!(e, TlsError::SystemRoots { .. }), "{e}"),
        }
    }
}
