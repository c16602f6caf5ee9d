//! PEM parsing: certificate chains, private keys and CA bundles.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{TlsError, pem_reason};

/// Largest inline CA bundle (`ca_pem` in the REST API) accepted, in bytes.
pub const MAX_INLINE_CA_PEM: usize = 64 * 1024;

const BEGIN_CERT: &str = "-----BEGIN CERTIFICATE-----";
const END_CERT: &str = "-----END CERTIFICATE-----";

/// Parses every `CERTIFICATE` block of `pem` into a root store.
///
/// Blocks of other kinds (a private key pasted by mistake, CRLs, ...) are
/// stripped before parsing. Fails if there is no certificate at all or if any
/// certificate does not parse.
pub fn ca_bundle_from_pem(pem: &[u8]) -> Result<RootCertStore, TlsError> {
    ca_bundle_named(pem, "CA bundle")
}

/// Like [`ca_bundle_from_pem`] for PEM text supplied inline (e.g. a REST field),
/// rejecting text larger than [`MAX_INLINE_CA_PEM`].
pub fn ca_bundle_from_inline_pem(pem: &str) -> Result<RootCertStore, TlsError> {
    if pem.len() > MAX_INLINE_CA_PEM {
        return Err(TlsError::InlineCaTooLarge {
            len: pem.len(),
            max: MAX_INLINE_CA_PEM,
        });
    }
    ca_bundle_named(pem.as_bytes(), "inline ca_pem")
}

/// Reads a CA bundle file and parses it like [`ca_bundle_from_pem`].
pub fn ca_bundle_from_file(path: &Path) -> Result<RootCertStore, TlsError> {
    let pem = read_file(path, "CA bundle")?;
    ca_bundle_named(&pem, &path.display().to_string())
}

/// Parses a CA bundle, naming `origin` in errors.
pub(crate) fn ca_bundle_named(pem: &[u8], origin: &str) -> Result<RootCertStore, TlsError> {
    let certs = certificate_blocks(pem, origin)?;
    let mut store = RootCertStore::empty();
    for (i, cert) in certs.into_iter().enumerate() {
        store.add(cert).map_err(|e| TlsError::InvalidCertificate {
            origin: origin.to_string(),
            index: i + 1,
            reason: e.to_string(),
        })?;
    }
    Ok(store)
}

/// Extracts and decodes the `CERTIFICATE` blocks of `pem`, ignoring every other block.
///
/// Working on the text first means a malformed non-certificate block (say a
/// truncated private key) cannot make an otherwise good bundle fail.
pub(crate) fn certificate_blocks(
    pem: &[u8],
    origin: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let text = std::str::from_utf8(pem).map_err(|e| TlsError::Pem {
        origin: origin.to_string(),
        reason: format!("not UTF-8 text ({e})"),
    })?;
    let mut certs = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        match block.as_mut() {
            None if trimmed == BEGIN_CERT => {
                block = Some(format!("{BEGIN_CERT}\n"));
            }
            None => {}
            Some(current) => {
                if trimmed.starts_with("-----BEGIN ") {
                    return Err(unterminated(origin, certs.len() + 1));
                }
                current.push_str(trimmed);
                current.push('\n');
                if trimmed == END_CERT {
                    let der = CertificateDer::from_pem_slice(current.as_bytes()).map_err(|e| {
                        TlsError::InvalidCertificate {
                            origin: origin.to_string(),
                            index: certs.len() + 1,
                            reason: pem_reason(&e),
                        }
                    })?;
                    certs.push(der);
                    block = None;
                }
            }
        }
    }
    if block.is_some() {
        return Err(unterminated(origin, certs.len() + 1));
    }
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            origin: origin.to_string(),
        });
    }
    Ok(certs)
}

fn unterminated(origin: &str, index: usize) -> TlsError {
    TlsError::Pem {
        origin: origin.to_string(),
        reason: format!("CERTIFICATE block #{index} has no \"{END_CERT}\" line"),
    }
}

/// Decodes the first private key block (PKCS#8, PKCS#1 or SEC1) of `pem`.
pub(crate) fn private_key(pem: &[u8], origin: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            origin: origin.to_string(),
        },
        other => TlsError::Pem {
            origin: origin.to_string(),
            reason: pem_reason(&other),
        },
    })
}

/// Reads a whole file, naming it and its role on error.
pub(crate) fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Identity;

    fn cert_pem() -> String {
        Identity::self_signed(&["ca.test".to_string()])
            .unwrap()
            .cert_pem()
            .to_string()
    }

    #[test]
    fn bundle_with_two_certs_has_two_roots() {
        let pem = format!("{}{}", cert_pem(), cert_pem());
        assert_eq!(ca_bundle_from_pem(pem.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn pasted_private_key_is_stripped() {
        let id = Identity::self_signed(&["ca.test".to_string()]).unwrap();
        let pem = format!("{}\n{}", id.key_pem(), id.cert_pem());
        assert_eq!(ca_bundle_from_pem(pem.as_bytes()).unwrap().len(), 1);
        // A broken non-certificate block is ignored as well.
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n!!notbase64\n-----END PRIVATE KEY-----\n{}",
            id.cert_pem()
        );
        assert_eq!(ca_bundle_from_pem(pem.as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn text_around_blocks_and_crlf_are_accepted() {
        let pem = format!(
            "subject=CN ca\r\n{}\r\ntrailing words",
            cert_pem().replace('\n', "\r\n")
        );
        assert_eq!(ca_bundle_from_pem(pem.as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn key_only_is_rejected() {
        let id = Identity::self_signed(&["ca.test".to_string()]).unwrap();
        let err = ca_bundle_from_pem(id.key_pem().as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "no CERTIFICATE block in CA bundle");
        let err = ca_bundle_from_inline_pem("").unwrap_err();
        assert_eq!(err.to_string(), "no CERTIFICATE block in inline ca_pem");
    }

    #[test]
    fn garbage_certificate_is_rejected_with_its_index() {
        let pem = format!("{}{BEGIN_CERT}\naGVsbG8=\n{END_CERT}\n", cert_pem());
        let err = ca_bundle_from_pem(pem.as_bytes()).unwrap_err();
        assert!(
            matches!(err, TlsError::InvalidCertificate { index: 2, .. }),
            "{err}"
        );
        let pem = format!("{BEGIN_CERT}\n!!!!\n{END_CERT}\n");
        let err = ca_bundle_from_pem(pem.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("certificate #1 in CA bundle"),
            "{err}"
        );
    }

    #[test]
    fn unterminated_block_is_rejected() {
        let pem = cert_pem();
        let cut = &pem[..pem.len() - END_CERT.len() - 2];
        let err = ca_bundle_from_pem(cut.as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .contains("has no \"-----END CERTIFICATE-----\" line"),
            "{err}"
        );
    }

    #[test]
    fn non_utf8_is_rejected() {
        let err = ca_bundle_from_pem(&[0xff, 0xfe, 0x00]).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }

    #[test]
    fn inline_limit_is_enforced() {
        let big = format!("{}{}", cert_pem(), " ".repeat(MAX_INLINE_CA_PEM));
        let err = ca_bundle_from_inline_pem(&big).unwrap_err();
        assert!(err.to_string().contains("64 KiB"), "{err}");
        assert!(ca_bundle_from_inline_pem(&cert_pem()).is_ok());
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = ca_bundle_from_file(Path::new("/nonexistent/ca.pem")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("CA bundle file /nonexistent/ca.pem"), "{msg}");
    }
}
