//! Certificate revocation lists (RFC 5280 §5), loaded from files: a certificate
//! its CA has revoked is refused even though its chain verifies.
//!
//! A CRL counts only for the CA that signed it: it is matched to an issuer in
//! the chain by name and then by signature, so a list signed by anyone else
//! revokes nothing. A CRL past its nextUpdate still counts: a certificate once
//! revoked stays revoked.

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::cert::CertError;

/// A CRL kept as DER and parsed again where needed, like
/// [`Certificate`](crate::Certificate).
#[derive(Clone, PartialEq, Eq)]
pub struct Crl {
    der: Vec<u8>,
}

impl Crl {
    /// One DER CRL. Fails if it does not parse or has trailing bytes.
    pub fn from_der(der: &[u8]) -> Result<Crl, CertError> {
        match CertificateRevocationList::from_der(der) {
            Ok(([], _)) => Ok(Crl { der: der.to_vec() }),
            Ok(_) => Err(CertError::Malformed {
                reason: "trailing bytes after the CRL".into(),
            }),
            Err(e) => Err(CertError::Malformed {
                reason: format!("CRL: {e}"),
            }),
        }
    }

    /// Every X509 CRL block of a PEM file, in order.
    pub fn from_pem(pem: &[u8]) -> Result<Vec<Crl>, CertError> {
        let mut out = Vec::new();
        for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
            let block = block.map_err(|e| CertError::Malformed {
                reason: format!("PEM: {e}"),
            })?;
            if block.label == "X509 CRL" {
                out.push(Crl::from_der(&block.contents)?);
            }
        }
        if out.is_empty() {
            return Err(CertError::Malformed {
                reason: "no X509 CRL block in the PEM text".into(),
            });
        }
        Ok(out)
    }

    fn parsed(&self) -> CertificateRevocationList<'_> {
        // Checked in the constructors.
        CertificateRevocationList::from_der(&self.der)
            .expect("parsed when constructed")
            .1
    }

    /// The issuer DN as text.
    pub fn issuer(&self) -> String {
        self.parsed().issuer().to_string()
    }

    /// How many certificates it revokes.
    pub fn revoked_count(&self) -> usize {
        self.parsed().iter_revoked_certificates().count()
    }
}

impl std::fmt::Debug for Crl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Crl({}, {} revoked)",
            self.issuer(),
            self.revoked_count()
        )
    }
}

/// Refuses `cert` if a CRL signed by `issuer` lists its serial number.
pub(crate) fn check_revocation(
    cert: &X509Certificate,
    issuer: &X509Certificate,
    crls: &[Crl],
) -> Result<(), CertError> {
    for crl in crls {
        let list = crl.parsed();
        if list.issuer().as_raw() != issuer.subject().as_raw()
            || list.verify_signature(issuer.public_key()).is_err()
        {
            continue;
        }
        let since = list
            .iter_revoked_certificates()
            .find(|r| r.raw_serial() == cert.raw_serial())
            .map(|r| r.revocation_date.to_string());
        if let Some(since) = since {
            return Err(CertError::Revoked {
                subject: cert.subject().to_string(),
                serial: cert.raw_serial_as_string(),
                issuer: issuer.subject().to_string(),
                since,
            });
        }
    }
    Ok(())
}
