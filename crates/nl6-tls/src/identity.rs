//! A certificate chain plus its private key, kept both as DER and as PEM text.

use std::fmt;
use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::TlsError;
use crate::pem::{ca_bundle_named, certificate_blocks, private_key, read_file};
use crate::provider;

/// Subject alternative names callers usually add to a self-signed identity.
pub const DEFAULT_SANS: [&str; 2] = ["localhost", "127.0.0.1"];

/// A TLS identity: certificate chain (leaf first) and the matching private key.
///
/// The PEM text is kept so callers can hand it to APIs that want PEM (for
/// example `tonic::transport::Identity::from_pem`) or write it to disk.
pub struct Identity {
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_pem: String,
    key_pem: String,
}

impl Identity {
    /// Generates a self-signed certificate (ECDSA P-256) for `names`.
    ///
    /// Each name becomes a SAN: an IP address SAN when it parses as one, a DNS
    /// SAN otherwise. An empty slice means [`DEFAULT_SANS`]. The certificate is
    /// not a CA certificate, so it can be used directly as the trust anchor
    /// ("CA") by peers.
    pub fn self_signed(names: &[String]) -> Result<Identity, TlsError> {
        let names: Vec<String> = if names.is_empty() {
            DEFAULT_SANS.iter().map(|s| s.to_string()).collect()
        } else {
            names.to_vec()
        };
        let fail = |e: rcgen::Error| TlsError::SelfSigned {
            names: names.clone(),
            reason: e.to_string(),
        };
        let key_pair = rcgen::KeyPair::generate().map_err(fail)?;
        let mut params = rcgen::CertificateParams::new(names.clone()).map_err(fail)?;
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, names[0].clone());
        dn.push(rcgen::DnType::OrganizationName, "nl6 self-signed");
        params.distinguished_name = dn;
        let cert = params.self_signed(&key_pair).map_err(fail)?;
        let cert_pem = cert.pem();
        let key_pem = key_pair.serialize_pem();
        Identity::from_pem_named(
            cert_pem.as_bytes(),
            key_pem.as_bytes(),
            "generated certificate",
            "generated key",
        )
    }

    /// Loads a certificate chain file and a private key file (PEM).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Identity, TlsError> {
        let cert_pem = read_file(cert, "certificate")?;
        let key_pem = read_file(key, "private key")?;
        Identity::from_pem_named(
            &cert_pem,
            &key_pem,
            &cert.display().to_string(),
            &key.display().to_string(),
        )
    }

    /// Parses a certificate chain (leaf first) and a private key from PEM text.
    ///
    /// Fails if there is no certificate, no key, the key type is unsupported or
    /// the key does not belong to the leaf certificate.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Identity, TlsError> {
        Identity::from_pem_named(cert_pem, key_pem, "certificate PEM", "private key PEM")
    }

    fn from_pem_named(
        cert_pem: &[u8],
        key_pem: &[u8],
        cert_origin: &str,
        key_origin: &str,
    ) -> Result<Identity, TlsError> {
        let cert_chain = certificate_blocks(cert_pem, cert_origin)?;
        let key = private_key(key_pem, key_origin)?;
        let invalid_key = |reason: String| TlsError::InvalidKey {
            origin: key_origin.to_string(),
            reason,
        };
        rustls::sign::CertifiedKey::from_der(cert_chain.clone(), key.clone_key(), &provider())
            .map_err(|e| invalid_key(format!("{e} (certificate from {cert_origin})")))?;
        let key_pem = String::from_utf8(key_pem.to_vec())
            .map_err(|_| invalid_key("PEM text is not UTF-8".to_string()))?;
        // certificate_blocks already proved the certificate text is UTF-8.
        let cert_pem = String::from_utf8_lossy(cert_pem).into_owned();
        Ok(Identity {
            cert_chain,
            key,
            cert_pem,
            key_pem,
        })
    }

    /// The certificate chain as PEM text (as loaded or generated).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key as PEM text (as loaded or generated).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The certificate chain in DER, leaf first.
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.cert_chain
    }

    /// The private key in DER.
    pub fn key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }

    /// A root store trusting this identity's certificates (use a self-signed
    /// identity as the CA of its peers).
    pub fn root_store(&self) -> Result<RootCertStore, TlsError> {
        ca_bundle_named(self.cert_pem.as_bytes(), "identity certificate")
    }

    /// Writes the certificate and key PEM to two files; the key file is created
    /// with mode 0600 on Unix.
    pub fn write_pem_files(&self, cert: &Path, key: &Path) -> Result<(), TlsError> {
        std::fs::write(cert, &self.cert_pem).map_err(|source| TlsError::Write {
            what: "certificate",
            path: cert.to_path_buf(),
            source,
        })?;
        write_private(key, self.key_pem.as_bytes()).map_err(|source| TlsError::Write {
            what: "private key",
            path: key.to_path_buf(),
            source,
        })
    }
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(data)
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, data)
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            cert_chain: self.cert_chain.clone(),
            key: self.key.clone_key(),
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.cert_chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_round_trips_through_pem() {
        let id =
            Identity::self_signed(&["dev.example".to_string(), "10.0.0.5".to_string()]).unwrap();
        assert!(id.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(id.key_pem().contains("PRIVATE KEY-----"));
        let again = Identity::from_pem(id.cert_pem().as_bytes(), id.key_pem().as_bytes()).unwrap();
        assert_eq!(again.cert_chain(), id.cert_chain());
        assert_eq!(again.key().secret_der(), id.key().secret_der());
        assert_eq!(id.root_store().unwrap().len(), 1);
        assert!(format!("{id:?}").contains("<redacted>"));
    }

    #[test]
    fn empty_names_use_defaults_and_bad_names_fail() {
        assert!(Identity::self_signed(&[]).is_ok());
        let err = Identity::self_signed(&["bad\u{e9}name".to_string()]).unwrap_err();
        assert!(err.to_string().contains("bad\u{e9}name"), "{err}");
    }

    #[test]
    fn mismatched_key_is_rejected() {
        let a = Identity::self_signed(&[]).unwrap();
        let b = Identity::self_signed(&[]).unwrap();
        let err = Identity::from_pem(a.cert_pem().as_bytes(), b.key_pem().as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("private key in private key PEM is unusable"),
            "{err}"
        );
    }

    #[test]
    fn missing_parts_are_named() {
        let a = Identity::self_signed(&[]).unwrap();
        let err = Identity::from_pem(a.key_pem().as_bytes(), a.key_pem().as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "no CERTIFICATE block in certificate PEM");
        let err = Identity::from_pem(a.cert_pem().as_bytes(), a.cert_pem().as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "no PRIVATE KEY block in private key PEM");
    }

    #[test]
    fn pem_files_round_trip() {
        let dir = std::env::temp_dir().join(format!("nl6-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let id = Identity::self_signed(&[]).unwrap();
        id.write_pem_files(&cert, &key).unwrap();
        let loaded = Identity::from_pem_files(&cert, &key).unwrap();
        assert_eq!(loaded.cert_chain(), id.cert_chain());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = Identity::from_pem_files(&dir.join("nope.pem"), &key).unwrap_err();
        assert!(
            err.to_string().contains("cannot read certificate file"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
