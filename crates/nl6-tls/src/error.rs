//! The error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading or building TLS material.
///
/// Every message names the file or field involved (`origin` is a file path or
/// a label such as `inline ca_pem`) and the reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {what} file {}", path.display())]
    Read {
        /// What the file was supposed to hold ("certificate", "private key", "CA bundle").
        what: &'static str,
        /// The file that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A PEM file could not be written.
    #[error("cannot write {what} file {}", path.display())]
    Write {
        /// What the file was supposed to hold.
        what: &'static str,
        /// The file that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The PEM text is malformed (bad framing, bad base64, not UTF-8).
    #[error("invalid PEM in {origin}: {reason}")]
    Pem {
        /// The file or field that held the PEM.
        origin: String,
        /// Why it was rejected.
        reason: String,
    },
    /// No `CERTIFICATE` block was found.
    #[error("no CERTIFICATE block in {origin}")]
    NoCertificate {
        /// The file or field that was searched.
        origin: String,
    },
    /// No private key block (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`) was found.
    #[error("no PRIVATE KEY block in {origin}")]
    NoPrivateKey {
        /// The file or field that was searched.
        origin: String,
    },
    /// A certificate block decoded but is not a usable X.509 certificate.
    #[error("certificate #{index} in {origin} is not a valid X.509 certificate: {reason}")]
    InvalidCertificate {
        /// The file or field that held it.
        origin: String,
        /// 1-based position of the certificate among the CERTIFICATE blocks.
        index: usize,
        /// Why it was rejected.
        reason: String,
    },
    /// The private key is unsupported or does not match the certificate.
    #[error("private key in {origin} is unusable: {reason}")]
    InvalidKey {
        /// The file or field that held it.
        origin: String,
        /// Why it was rejected.
        reason: String,
    },
    /// An inline CA PEM exceeds [`crate::MAX_INLINE_CA_PEM`].
    #[error("inline CA PEM is {len} bytes, larger than the {max}-byte (64 KiB) limit")]
    InlineCaTooLarge {
        /// Size of the rejected PEM text.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// rcgen failed to generate a self-signed certificate.
    #[error("cannot generate a self-signed certificate for names {names:?}: {reason}")]
    SelfSigned {
        /// The subject alternative names requested.
        names: Vec<String>,
        /// Why generation failed.
        reason: String,
    },
    /// The platform's root certificate store yielded no usable certificate.
    #[error("no usable system root certificate: {reason}")]
    SystemRoots {
        /// Why (errors from the platform store, or "store is empty").
        reason: String,
    },
    /// rustls refused to build a configuration.
    #[error("cannot build the TLS {side} configuration: {reason}")]
    Config {
        /// `server` or `client`.
        side: &'static str,
        /// The rustls error.
        reason: String,
    },
}

/// Renders a PEM parsing error without the raw byte dumps rustls-pki-types prints.
pub(crate) fn pem_reason(err: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match err {
        Error::MissingSectionEnd { end_marker } => {
            format!("missing \"{}\" line", String::from_utf8_lossy(end_marker))
        }
        Error::IllegalSectionStart { line } => {
            format!("malformed BEGIN line \"{}\"", String::from_utf8_lossy(line))
        }
        Error::Base64Decode(e) => format!("bad base64: {e}"),
        other => other.to_string(),
    }
}
