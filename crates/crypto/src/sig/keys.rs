//! Private keys from PEM or DER (PKCS#8 "PRIVATE KEY", PKCS#1
//! "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY") and public keys from a
//! certificate's SubjectPublicKeyInfo.

use std::fmt;

use p256::pkcs8::DecodePrivateKey;
use ring::signature::{self as rsig, KeyPair};
use rsa::pkcs1::DecodeRsaPrivateKey;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::CryptoError;

/// A private key for signing AUTH payloads. `Debug` names only the kind.
pub struct PrivateKey {
    pub(super) inner: PrivateInner,
}

pub(super) enum PrivateInner {
    Rsa(Box<RsaKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(Box<p521::ecdsa::SigningKey>),
    Ed25519(rsig::Ed25519KeyPair),
}

/// One RSA key, parsed twice from the same DER: by ring, which signs
/// everything but SHA-1, and by RustCrypto `rsa`, which signs PKCS#1 v1.5
/// with SHA-1 for AUTH method 1 (ring refuses SHA-1 signatures).
pub(super) struct RsaKey {
    pub(super) ring: rsig::RsaKeyPair,
    pub(super) sha1_signer: rsa::RsaPrivateKey,
}

impl RsaKey {
    fn new<E: fmt::Display>(
        ring: Result<rsig::RsaKeyPair, ring::error::KeyRejected>,
        sha1_signer: Result<rsa::RsaPrivateKey, E>,
    ) -> Result<RsaKey, CryptoError> {
        let ring = ring.map_err(|e| CryptoError::BadKey {
            reason: format!("RSA private key rejected: {e}"),
        })?;
        let sha1_signer = sha1_signer.map_err(|e| CryptoError::BadKey {
            reason: format!("RSA private key rejected for SHA-1 signing: {e}"),
        })?;
        Ok(RsaKey { ring, sha1_signer })
    }
}

/// A public key for verifying AUTH payloads and certificates.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub(super) inner: PublicInner,
}

#[derive(Clone, PartialEq, Eq)]
pub(super) enum PublicInner {
    /// RSAPublicKey DER (PKCS#1), as ring takes it.
    Rsa(Vec<u8>),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    /// SEC1 uncompressed point (p521's key type is neither `Eq` nor `Copy`).
    P521(Vec<u8>),
    Ed25519(Vec<u8>),
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_ED25519: &str = "1.3.101.112";

impl PrivateKey {
    /// The first private key in a PEM file (other blocks, such as
    /// certificates, are skipped).
    pub fn from_pem(pem: &[u8]) -> Result<PrivateKey, CryptoError> {
        for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
            let block = block.map_err(|_| CryptoError::BadKey {
                reason: "the PEM text does not parse".into(),
            })?;
            match block.label.as_str() {
                "PRIVATE KEY" => return PrivateKey::from_pkcs8_der(&block.contents),
                "RSA PRIVATE KEY" => return PrivateKey::from_pkcs1_der(&block.contents),
                "EC PRIVATE KEY" => return PrivateKey::from_sec1_der(&block.contents),
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(CryptoError::BadKey {
                        reason: "encrypted private keys are not supported; decrypt it first".into(),
                    })
                }
                _ => continue,
            }
        }
        Err(CryptoError::BadKey {
            reason: "no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block found".into(),
        })
    }

    /// A DER key in any of the three forms.
    pub fn from_der(der: &[u8]) -> Result<PrivateKey, CryptoError> {
        PrivateKey::from_pkcs8_der(der)
            .or_else(|_| PrivateKey::from_pkcs1_der(der))
            .or_else(|_| PrivateKey::from_sec1_der(der))
            .map_err(|_| CryptoError::BadKey {
                reason: "not a PKCS#8, PKCS#1 RSA or SEC1 EC private key of a supported type"
                    .into(),
            })
    }

    /// PKCS#8: RSA, EC on P-256 or P-384, or Ed25519.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, CryptoError> {
        let inner = if let Ok(pair) = rsig::RsaKeyPair::from_pkcs8(der) {
            let key = RsaKey::new(Ok(pair), rsa::RsaPrivateKey::from_pkcs8_der(der))?;
            PrivateInner::Rsa(Box::new(key))
        } else if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            PrivateInner::P256(k)
        } else if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_der(der) {
            PrivateInner::P384(k)
        } else if let Ok(k) = p521::SecretKey::from_pkcs8_der(der) {
            PrivateInner::P521(Box::new(p521_signer(&k)?))
        } else if let Ok(pair) = rsig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            PrivateInner::Ed25519(pair)
        } else {
            return Err(CryptoError::BadKey {
                reason:
                    "PKCS#8 key is not RSA (2048 bits or more), EC P-256/P-384/P-521 or Ed25519"
                        .into(),
            });
        };
        Ok(PrivateKey { inner })
    }

    /// PKCS#1 RSAPrivateKey ("RSA PRIVATE KEY").
    pub fn from_pkcs1_der(der: &[u8]) -> Result<PrivateKey, CryptoError> {
        let key = RsaKey::new(
            rsig::RsaKeyPair::from_der(der),
            rsa::RsaPrivateKey::from_pkcs1_der(der),
        )?;
        Ok(PrivateKey {
            inner: PrivateInner::Rsa(Box::new(key)),
        })
    }

    /// SEC1 ECPrivateKey ("EC PRIVATE KEY") on P-256 or P-384.
    pub fn from_sec1_der(der: &[u8]) -> Result<PrivateKey, CryptoError> {
        let inner = if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
            PrivateInner::P256(k.into())
        } else if let Ok(k) = p384::SecretKey::from_sec1_der(der) {
            PrivateInner::P384(k.into())
        } else if let Ok(k) = p521::SecretKey::from_sec1_der(der) {
            PrivateInner::P521(Box::new(p521_signer(&k)?))
        } else {
            return Err(CryptoError::BadKey {
                reason: "EC private key is not on P-256, P-384 or P-521".into(),
            });
        };
        Ok(PrivateKey { inner })
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        let inner = match &self.inner {
            PrivateInner::Rsa(key) => PublicInner::Rsa(key.ring.public_key().as_ref().to_vec()),
            PrivateInner::P256(k) => PublicInner::P256(*k.verifying_key()),
            PrivateInner::P384(k) => PublicInner::P384(*k.verifying_key()),
            PrivateInner::P521(k) => PublicInner::P521(
                p521::ecdsa::VerifyingKey::from(k.as_ref())
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec(),
            ),
            PrivateInner::Ed25519(pair) => {
                PublicInner::Ed25519(pair.public_key().as_ref().to_vec())
            }
        };
        PublicKey { inner }
    }

    /// "RSA", "ECDSA P-256", "ECDSA P-384", "ECDSA P-521" or "Ed25519".
    pub fn kind(&self) -> &'static str {
        match &self.inner {
            PrivateInner::Rsa(_) => "RSA",
            PrivateInner::P256(_) => "ECDSA P-256",
            PrivateInner::P384(_) => "ECDSA P-384",
            PrivateInner::P521(_) => "ECDSA P-521",
            PrivateInner::Ed25519(_) => "Ed25519",
        }
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.kind())
    }
}

impl PublicKey {
    /// From a DER SubjectPublicKeyInfo (as in a certificate, or a
    /// "PUBLIC KEY" PEM block).
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, CryptoError> {
        let (_, spki) = SubjectPublicKeyInfo::from_der(der).map_err(|_| CryptoError::BadKey {
            reason: "SubjectPublicKeyInfo does not parse".into(),
        })?;
        PublicKey::from_spki(&spki)
    }

    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfo) -> Result<PublicKey, CryptoError> {
        let key = spki.subject_public_key.data.as_ref();
        let bad = |what: &str| CryptoError::BadKey {
            reason: format!("{what} public key does not parse"),
        };
        let alg = spki.algorithm.algorithm.to_id_string();
        let inner = match alg.as_str() {
            OID_RSA => PublicInner::Rsa(key.to_vec()),
            OID_ED25519 if key.len() == 32 => PublicInner::Ed25519(key.to_vec()),
            OID_EC => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|oid| oid.to_id_string());
                match curve.as_deref() {
                    Some(OID_P256) => PublicInner::P256(
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(key)
                            .map_err(|_| bad("P-256"))?,
                    ),
                    Some(OID_P384) => PublicInner::P384(
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(key)
                            .map_err(|_| bad("P-384"))?,
                    ),
                    Some(OID_P521) => {
                        p521::ecdsa::VerifyingKey::from_sec1_bytes(key)
                            .map_err(|_| bad("P-521"))?;
                        PublicInner::P521(key.to_vec())
                    }
                    _ => {
                        return Err(CryptoError::BadKey {
                            reason: "EC public key on a curve other than P-256, P-384 or P-521"
                                .into(),
                        })
                    }
                }
            }
            other => {
                return Err(CryptoError::BadKey {
                    reason: format!("public key algorithm {other} is not supported"),
                })
            }
        };
        Ok(PublicKey { inner })
    }

    pub fn kind(&self) -> &'static str {
        match &self.inner {
            PublicInner::Rsa(_) => "RSA",
            PublicInner::P256(_) => "ECDSA P-256",
            PublicInner::P384(_) => "ECDSA P-384",
            PublicInner::P521(_) => "ECDSA P-521",
            PublicInner::Ed25519(_) => "Ed25519",
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.kind())
    }
}

/// p521's signing key is a newtype without the PKCS#8/SEC1 decoders of the other
/// curves: made from the secret scalar.
fn p521_signer(key: &p521::SecretKey) -> Result<p521::ecdsa::SigningKey, CryptoError> {
    p521::ecdsa::SigningKey::from_slice(&key.to_bytes()).map_err(|_| CryptoError::BadKey {
        reason: "P-521 private key rejected".into(),
    })
}
