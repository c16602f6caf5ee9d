//! TLS material shared by nl6's gNMI server (dial-in), the gNMI dial-out client
//! and the nl6 collector.
//!
//! Everything is built on rustls with the ring provider chosen explicitly
//! ([`provider`]), so no process-wide default `CryptoProvider` is needed.
//! PEM is read with rustls-pki-types' `PemObject`.
//!
//! ```
//! use nl6_tls::{Identity, ServerVerification, client_config, server_config};
//!
//! // A self-signed server identity; peers trust it by using it as their CA.
//! let names = vec!["collector.example".to_string(), "localhost".into(), "127.0.0.1".into()];
//! let server_id = Identity::self_signed(&names)?;
//! let server = server_config(&server_id, None, true)?;
//! assert_eq!(server.alpn_protocols, vec![b"h2".to_vec()]);
//!
//! let ca = nl6_tls::ca_bundle_from_pem(server_id.cert_pem().as_bytes())?;
//! let client = client_config(ServerVerification::CaBundle(ca), None)?;
//! assert_eq!(client.alpn_protocols, vec![b"h2".to_vec()]);
//! # Ok::<(), nl6_tls::TlsError>(())
//! ```

mod config;
mod error;
mod identity;
mod pem;

pub use config::{ALPN_H2, ServerVerification, client_config, provider, server_config};
pub use error::TlsError;
pub use identity::{DEFAULT_SANS, Identity};
pub use pem::{
    MAX_INLINE_CA_PEM, ca_bundle_from_file, ca_bundle_from_inline_pem, ca_bundle_from_pem,
};

/// Re-export of rustls, so callers use the exact version these configs come from.
pub use rustls;
