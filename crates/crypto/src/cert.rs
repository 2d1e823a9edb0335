//! X.509 certificates (RFC 5280 as profiled for IKE by RFC 4945): parsing
//! with x509-parser, a chain verified to configured CA certificates, and
//! the peer's IKE identity matched against the end-entity certificate.
//!
//! Every refusal is a [`CertError`] whose message names the certificate
//! and the check that failed, in words meant for the administrator.

use std::fmt;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::time::ASN1Time;

use crate::crl::{check_revocation, Crl};
use crate::PublicKey;

/// Longest chain walked from end entity to trust anchor (RFC 5280 leaves
/// it to policy; real PKIs rarely exceed four).
pub const MAX_CHAIN_LEN: usize = 8;

/// A certificate kept as DER; parsed again where needed, so the type is
/// plain data that can be stored and cloned.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
}

impl Certificate {
    /// One DER certificate. Fails if it does not parse or has trailing
    /// bytes.
    pub fn from_der(der: &[u8]) -> Result<Certificate, CertError> {
        match X509Certificate::from_der(der) {
            Ok(([], _)) => Ok(Certificate { der: der.to_vec() }),
            Ok(_) => Err(CertError::Malformed {
                reason: "trailing bytes after the certificate".into(),
            }),
            Err(e) => Err(CertError::Malformed {
                reason: e.to_string(),
            }),
        }
    }

    /// Every CERTIFICATE block of a PEM file, in order.
    pub fn from_pem(pem: &[u8]) -> Result<Vec<Certificate>, CertError> {
        let mut out = Vec::new();
        for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
            let block = block.map_err(|e| CertError::Malformed {
                reason: format!("PEM: {e}"),
            })?;
            if block.label == "CERTIFICATE" {
                out.push(Certificate::from_der(&block.contents)?);
            }
        }
        if out.is_empty() {
            return Err(CertError::Malformed {
                reason: "no CERTIFICATE block in the PEM text".into(),
            });
        }
        Ok(out)
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    fn parsed(&self) -> X509Certificate<'_> {
        // Checked in the constructors.
        X509Certificate::from_der(&self.der)
            .expect("parsed when constructed")
            .1
    }

    /// The subject DN as text, e.g. "CN=moon.strongswan.org, O=tern".
    pub fn subject(&self) -> String {
        self.parsed().subject().to_string()
    }

    /// The subject DN as DER, as an ID_DER_ASN1_DN payload carries it.
    pub fn subject_der(&self) -> Vec<u8> {
        self.parsed().subject().as_raw().to_vec()
    }

    /// SHA-1 of the DER SubjectPublicKeyInfo: how a CERTREQ names a CA
    /// (RFC 7296 §3.7).
    pub fn spki_sha1(&self) -> [u8; 20] {
        use sha1::Digest;
        sha1::Sha1::digest(self.parsed().public_key().raw).into()
    }

    /// Whether `issuer` issued this certificate: its subject is our issuer and
    /// its key verifies our signature.
    pub fn issued_by(&self, issuer: &Certificate) -> bool {
        let (child, parent) = (self.parsed(), issuer.parsed());
        parent.subject().as_raw() == child.issuer().as_raw()
            && child.verify_signature(Some(parent.public_key())).is_ok()
    }

    /// The subject's public key, for verifying its AUTH payload.
    pub fn public_key(&self) -> Result<PublicKey, CertError> {
        let cert = self.parsed();
        PublicKey::from_spki(cert.public_key()).map_err(|e| CertError::UnusableKey {
            subject: cert.subject().to_string(),
            reason: e.to_string(),
        })
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Certificate({})", self.subject())
    }
}

/// An IKE identity to match against a certificate (RFC 7296 §3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerId {
    /// ID_FQDN: matched against subjectAltName dNSName, case-insensitively.
    Fqdn(String),
    /// ID_RFC822_ADDR: matched against subjectAltName rfc822Name.
    Email(String),
    /// ID_IPV4_ADDR / ID_IPV6_ADDR: matched against subjectAltName
    /// iPAddress.
    Ip(IpAddr),
    /// ID_DER_ASN1_DN: the DER of a Name, matched against the subject.
    Dn(Vec<u8>),
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerId::Fqdn(s) => write!(f, "FQDN {s}"),
            PeerId::Email(s) => write!(f, "email {s}"),
            PeerId::Ip(ip) => write!(f, "IP address {ip}"),
            PeerId::Dn(der) => match x509_parser::x509::X509Name::from_der(der) {
                Ok((_, name)) => write!(f, "DN \"{name}\""),
                Err(_) => f.write_str("DN (unparsable)"),
            },
        }
    }
}

/// Why a certificate was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("certificate does not parse: {reason}")]
    Malformed { reason: String },

    #[error("certificate \"{subject}\" expired at {not_after} (checked at {now})")]
    Expired {
        subject: String,
        not_after: String,
        now: String,
    },

    #[error("certificate \"{subject}\" is not valid until {not_before} (checked at {now}); check the clocks")]
    NotYetValid {
        subject: String,
        not_before: String,
        now: String,
    },

    #[error("certificate \"{subject}\" was issued by \"{issuer}\", which is not a configured CA certificate (nor an intermediate the peer sent)")]
    UnknownIssuer { subject: String, issuer: String },

    #[error("the signature on certificate \"{subject}\" does not verify with the key of its issuer \"{issuer}\"")]
    BadSignature { subject: String, issuer: String },

    #[error("certificate \"{subject}\" signed other certificates but is not a CA (basicConstraints CA flag missing)")]
    NotACa { subject: String },

    #[error("CA certificate \"{subject}\" is not allowed to sign certificates (keyUsage lacks keyCertSign)")]
    NoKeyCertSign { subject: String },

    #[error("CA certificate \"{subject}\" allows at most {max} intermediate CAs below it, the chain has {actual}")]
    PathTooLong {
        subject: String,
        max: u32,
        actual: usize,
    },

    #[error("certificate \"{subject}\" may not be used for signatures (keyUsage lacks digitalSignature)")]
    NoDigitalSignature { subject: String },

    #[error(
        "no chain of at most {MAX_CHAIN_LEN} certificates from \"{subject}\" to a configured CA"
    )]
    ChainTooLong { subject: String },

    #[error("certificate \"{subject}\" has an unusable extension: {reason}")]
    BadExtension { subject: String, reason: String },

    #[error("certificate \"{subject}\" has an unusable public key: {reason}")]
    UnusableKey { subject: String, reason: String },

    #[error("certificate \"{subject}\" (serial {serial}) was revoked by \"{issuer}\" on {since}, says its CRL")]
    Revoked {
        subject: String,
        serial: String,
        issuer: String,
        since: String,
    },

    #[error("the peer's identity {id} matches neither the subject \"{subject}\" nor any subjectAltName of its certificate ({alt_names})")]
    IdMismatch {
        id: String,
        subject: String,
        alt_names: String,
    },
}

/// Verifies that `end_entity` chains to one of `trust_anchors` through
/// `intermediates` (certificates the peer sent), every certificate valid at
/// `now`: signatures, validity periods, basicConstraints CA flag and path
/// length of every issuer, keyUsage keyCertSign for issuers and
/// digitalSignature for the end entity (when keyUsage is present), and no
/// certificate below the trust anchor revoked by one of `crls`.
/// Returns the end entity's public key.
pub fn verify_chain(
    end_entity: &Certificate,
    intermediates: &[Certificate],
    trust_anchors: &[Certificate],
    crls: &[Crl],
    now: SystemTime,
) -> Result<PublicKey, CertError> {
    let now = asn1_time(now);
    let leaf = end_entity.parsed();
    check_validity(&leaf, now)?;
    if let Some(ku) = key_usage(&leaf)? {
        if !ku.digital_signature() {
            return Err(CertError::NoDigitalSignature {
                subject: leaf.subject().to_string(),
            });
        }
    }

    let mut current = end_entity.clone();
    for depth in 0..MAX_CHAIN_LEN {
        let child = current.parsed();
        let (issuer, is_anchor) = find_issuer(&child, intermediates, trust_anchors)?;
        let parent = issuer.parsed();
        check_issuer(&parent, depth, now)?;
        check_revocation(&child, &parent, crls)?;
        if is_anchor {
            return end_entity.public_key();
        }
        current = issuer.clone();
    }
    Err(CertError::ChainTooLong {
        subject: leaf.subject().to_string(),
    })
}

/// The issuer of `child`: a trust anchor if one matches (preferred, so a
/// peer cannot substitute its own copy of a CA), else an intermediate.
/// Among certificates with the right subject, the first whose key verifies
/// the signature.
fn find_issuer<'a>(
    child: &X509Certificate,
    intermediates: &'a [Certificate],
    trust_anchors: &'a [Certificate],
) -> Result<(&'a Certificate, bool), CertError> {
    let candidates = trust_anchors
        .iter()
        .map(|c| (c, true))
        .chain(intermediates.iter().map(|c| (c, false)));
    let mut bad_signature_from = None;
    for (candidate, is_anchor) in candidates {
        let parsed = candidate.parsed();
        if parsed.subject().as_raw() != child.issuer().as_raw() {
            continue;
        }
        if child.verify_signature(Some(parsed.public_key())).is_ok() {
            return Ok((candidate, is_anchor));
        }
        bad_signature_from.get_or_insert_with(|| parsed.subject().to_string());
    }
    let subject = child.subject().to_string();
    Err(match bad_signature_from {
        Some(issuer) => CertError::BadSignature { subject, issuer },
        None => CertError::UnknownIssuer {
            subject,
            issuer: child.issuer().to_string(),
        },
    })
}

/// An issuer `depth` intermediates above the end entity must be valid, a
/// CA, allowed to sign certificates, and allow that many CAs below it.
fn check_issuer(issuer: &X509Certificate, depth: usize, now: ASN1Time) -> Result<(), CertError> {
    let subject = || issuer.subject().to_string();
    check_validity(issuer, now)?;
    let constraints = issuer
        .basic_constraints()
        .map_err(|e| CertError::BadExtension {
            subject: subject(),
            reason: e.to_string(),
        })?;
    let Some(bc) = constraints.filter(|bc| bc.value.ca) else {
        return Err(CertError::NotACa { subject: subject() });
    };
    if let Some(max) = bc.value.path_len_constraint {
        if depth > max as usize {
            return Err(CertError::PathTooLong {
                subject: subject(),
                max,
                actual: depth,
            });
        }
    }
    if let Some(ku) = key_usage(issuer)? {
        if !ku.key_cert_sign() {
            return Err(CertError::NoKeyCertSign { subject: subject() });
        }
    }
    Ok(())
}

fn key_usage<'a>(
    cert: &'a X509Certificate,
) -> Result<Option<&'a x509_parser::extensions::KeyUsage>, CertError> {
    cert.key_usage()
        .map(|ku| ku.map(|ext| ext.value))
        .map_err(|e| CertError::BadExtension {
            subject: cert.subject().to_string(),
            reason: e.to_string(),
        })
}

fn check_validity(cert: &X509Certificate, now: ASN1Time) -> Result<(), CertError> {
    let validity = cert.validity();
    if now < validity.not_before {
        return Err(CertError::NotYetValid {
            subject: cert.subject().to_string(),
            not_before: validity.not_before.to_string(),
            now: now.to_string(),
        });
    }
    if now > validity.not_after {
        return Err(CertError::Expired {
            subject: cert.subject().to_string(),
            not_after: validity.not_after.to_string(),
            now: now.to_string(),
        });
    }
    Ok(())
}

fn asn1_time(t: SystemTime) -> ASN1Time {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    };
    ASN1Time::from_timestamp(secs).unwrap_or(ASN1Time::from_timestamp(0).expect("epoch"))
}

/// Checks that `id` names the subject of `cert`: a DN against the subject,
/// the other types against the subjectAltName entries of that type.
pub fn check_peer_id(cert: &Certificate, id: &PeerId) -> Result<(), CertError> {
    let parsed = cert.parsed();
    let sans: Vec<GeneralName> = parsed
        .subject_alternative_name()
        .map_err(|e| CertError::BadExtension {
            subject: parsed.subject().to_string(),
            reason: e.to_string(),
        })?
        .map(|ext| ext.value.general_names.clone())
        .unwrap_or_default();
    let matches = match id {
        PeerId::Dn(der) => crate::dn_equal(parsed.subject().as_raw(), der),
        PeerId::Fqdn(name) => sans
            .iter()
            .any(|gn| matches!(gn, GeneralName::DNSName(d) if d.eq_ignore_ascii_case(name))),
        PeerId::Email(addr) => sans
            .iter()
            .any(|gn| matches!(gn, GeneralName::RFC822Name(e) if e.eq_ignore_ascii_case(addr))),
        PeerId::Ip(ip) => {
            let want: Vec<u8> = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            sans.iter()
                .any(|gn| matches!(gn, GeneralName::IPAddress(b) if *b == want.as_slice()))
        }
    };
    if matches {
        return Ok(());
    }
    let alt_names = if sans.is_empty() {
        "none".to_string()
    } else {
        sans.iter()
            .map(describe_general_name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(CertError::IdMismatch {
        id: id.to_string(),
        subject: parsed.subject().to_string(),
        alt_names,
    })
}

fn describe_general_name(gn: &GeneralName) -> String {
    match gn {
        GeneralName::DNSName(d) => format!("DNS:{d}"),
        GeneralName::RFC822Name(e) => format!("email:{e}"),
        GeneralName::IPAddress(b) => match b.len() {
            4 => format!(
                "IP:{}",
                IpAddr::from(<[u8; 4]>::try_from(*b).unwrap_or_default())
            ),
            16 => format!(
                "IP:{}",
                IpAddr::from(<[u8; 16]>::try_from(*b).unwrap_or_default())
            ),
            _ => "IP:(malformed)".to_string(),
        },
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests;
