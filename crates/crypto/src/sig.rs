//! Signature AUTH (RFC 7296 §2.15, §3.8): RSA PKCS#1 v1.5 (method 1),
//! ECDSA with SHA-256/P-256, SHA-384/P-384 and SHA-512/P-521 (methods 9, 10,
//! 11, RFC 4754),
//! and Digital Signature (method 14, RFC 7427) with RSA PKCS#1 v1.5,
//! RSA-PSS, ECDSA and Ed25519.
//!
//! RSA and Ed25519 use ring. ECDSA uses RustCrypto p256/p384 because they
//! sign with RFC 6979 deterministic nonces, so signing needs no random
//! source. RSA-PSS signing draws its salt from ring's `SystemRandom`
//! (ring's RNG trait is sealed, so the caller cannot supply one).
//!
//! ring refuses to sign with SHA-1, but method 1 is SHA-1 by definition
//! (RFC 7427 §1) and is what older peers use, so method 1 signs with
//! RustCrypto `rsa` (see `sign_rsa_sha1`). Method 14 with SHA-1 stays
//! verify-only: RFC 8247 §3.2 says MUST NOT for SHA-1 there.

use std::fmt;

use p256::ecdsa::signature::Signer;
use ring::rand::SystemRandom;
use ring::signature as rsig;

use crate::CryptoError;

mod algid;
mod keys;

use keys::{PrivateInner, PublicInner};
pub use keys::{PrivateKey, PublicKey};

/// SIGNATURE_HASH_ALGORITHMS values (RFC 7427 §4, IANA "IKEv2 Hash
/// Algorithms"): announced in the notify of that name in IKE_SA_INIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigHash {
    Sha1 = 1,
    Sha256 = 2,
    Sha384 = 3,
    Sha512 = 4,
    /// RFC 8420: the "hash" of signature schemes that hash internally
    /// (Ed25519).
    Identity = 5,
}

impl SigHash {
    pub fn from_u16(v: u16) -> Option<SigHash> {
        Some(match v {
            1 => SigHash::Sha1,
            2 => SigHash::Sha256,
            3 => SigHash::Sha384,
            4 => SigHash::Sha512,
            5 => SigHash::Identity,
            _ => return None,
        })
    }

    pub fn to_u16(self) -> u16 {
        self as u16
    }
}

/// A signature algorithm as method 14 names it in its AlgorithmIdentifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// Verify only (RFC 8247 §3.2: SHA-1 MUST NOT be used with method 14).
    RsaPkcs1Sha1,
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
    RsaPssSha256,
    RsaPssSha384,
    RsaPssSha512,
    EcdsaP256Sha256,
    EcdsaP384Sha384,
    EcdsaP521Sha512,
    Ed25519,
}

impl SignatureScheme {
    /// The hash, as announced in SIGNATURE_HASH_ALGORITHMS.
    pub fn hash(self) -> SigHash {
        use SignatureScheme::*;
        match self {
            RsaPkcs1Sha1 => SigHash::Sha1,
            RsaPkcs1Sha256 | RsaPssSha256 | EcdsaP256Sha256 => SigHash::Sha256,
            RsaPkcs1Sha384 | RsaPssSha384 | EcdsaP384Sha384 => SigHash::Sha384,
            RsaPkcs1Sha512 | RsaPssSha512 | EcdsaP521Sha512 => SigHash::Sha512,
            Ed25519 => SigHash::Identity,
        }
    }

    /// How logs name it. A received ECDSA identifier names the hash only (the
    /// key names the curve), so ECDSA is named by its hash.
    pub fn name(self) -> &'static str {
        use SignatureScheme::*;
        match self {
            RsaPkcs1Sha1 => "RSA PKCS#1 SHA-1",
            RsaPkcs1Sha256 => "RSA PKCS#1 SHA-256",
            RsaPkcs1Sha384 => "RSA PKCS#1 SHA-384",
            RsaPkcs1Sha512 => "RSA PKCS#1 SHA-512",
            RsaPssSha256 => "RSA-PSS SHA-256",
            RsaPssSha384 => "RSA-PSS SHA-384",
            RsaPssSha512 => "RSA-PSS SHA-512",
            EcdsaP256Sha256 => "ECDSA with SHA-256",
            EcdsaP384Sha384 => "ECDSA with SHA-384",
            EcdsaP521Sha512 => "ECDSA with SHA-512",
            Ed25519 => "Ed25519",
        }
    }

    /// The DER AlgorithmIdentifier sent before the signature in method 14.
    pub fn algorithm_identifier(self) -> &'static [u8] {
        algid::encode(self)
    }
}

/// How an AUTH payload is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthSignature {
    /// Method 1: RSASSA-PKCS1-v1_5 with SHA-1.
    Rsa,
    /// Method 9: ECDSA with SHA-256 on P-256, r | s (RFC 4754).
    EcdsaSha256P256,
    /// Method 10: ECDSA with SHA-384 on P-384, r | s.
    EcdsaSha384P384,
    /// Method 11: ECDSA with SHA-512 on P-521, r | s.
    EcdsaSha512P521,
    /// Method 14 (RFC 7427) with this scheme.
    DigitalSignature(SignatureScheme),
}

impl AuthSignature {
    /// The Auth Method octet of the AUTH payload.
    pub fn method(self) -> u8 {
        match self {
            AuthSignature::Rsa => 1,
            AuthSignature::EcdsaSha256P256 => 9,
            AuthSignature::EcdsaSha384P384 => 10,
            AuthSignature::EcdsaSha512P521 => 11,
            AuthSignature::DigitalSignature(_) => 14,
        }
    }
}

impl fmt::Display for AuthSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthSignature::Rsa => f.write_str("RSA signature (method 1, SHA-1)"),
            AuthSignature::EcdsaSha256P256 => f.write_str("ECDSA P-256 SHA-256 (method 9)"),
            AuthSignature::EcdsaSha384P384 => f.write_str("ECDSA P-384 SHA-384 (method 10)"),
            AuthSignature::EcdsaSha512P521 => f.write_str("ECDSA P-521 SHA-512 (method 11)"),
            AuthSignature::DigitalSignature(s) => {
                write!(f, "digital signature {} (method 14)", s.name())
            }
        }
    }
}

impl PrivateKey {
    /// The digital signature (method 14) schemes this key signs with, best first.
    /// RSA keys sign PKCS#1 v1.5, which every peer verifies (RSA-PSS is verified
    /// but not chosen).
    pub fn digital_signature_schemes(&self) -> &'static [SignatureScheme] {
        use SignatureScheme::*;
        match &self.inner {
            PrivateInner::Rsa(_) => &[RsaPkcs1Sha256, RsaPkcs1Sha384, RsaPkcs1Sha512],
            PrivateInner::P256(_) => &[EcdsaP256Sha256],
            PrivateInner::P384(_) => &[EcdsaP384Sha384],
            PrivateInner::P521(_) => &[EcdsaP521Sha512],
            PrivateInner::Ed25519(_) => &[Ed25519],
        }
    }

    /// The key type's own AUTH method (RFC 7296 §3.8), for peers that do not
    /// speak RFC 7427; Ed25519 has none.
    pub fn legacy_signature(&self) -> Option<AuthSignature> {
        match &self.inner {
            PrivateInner::Rsa(_) => Some(AuthSignature::Rsa),
            PrivateInner::P256(_) => Some(AuthSignature::EcdsaSha256P256),
            PrivateInner::P384(_) => Some(AuthSignature::EcdsaSha384P384),
            PrivateInner::P521(_) => Some(AuthSignature::EcdsaSha512P521),
            PrivateInner::Ed25519(_) => None,
        }
    }
}

/// ECDSA over `message` with `hash`, on whatever curve the key has. Methods 9-11
/// pair each curve with its own hash and send r|s; method 14's AlgorithmIdentifier
/// names the hash alone and the signature is DER, and RFC 7427 lets hash and curve
/// pair freely (Libreswan signs with SHA-512 on a P-256 key). A digest shorter than
/// half the curve's order (SHA-256 on P-521) fails.
fn verify_ecdsa(
    key: &PublicInner,
    hash: SigHash,
    message: &[u8],
    signature: &[u8],
    der: bool,
) -> Result<bool, CryptoError> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use sha2::Digest;
    let digest = match hash {
        SigHash::Sha256 => sha2::Sha256::digest(message).to_vec(),
        SigHash::Sha384 => sha2::Sha384::digest(message).to_vec(),
        SigHash::Sha512 => sha2::Sha512::digest(message).to_vec(),
        SigHash::Sha1 | SigHash::Identity => return Ok(false),
    };
    macro_rules! check {
        ($curve:ident, $key:expr) => {{
            let sig = if der {
                $curve::ecdsa::Signature::from_der(signature)
            } else {
                $curve::ecdsa::Signature::from_slice(signature)
            };
            sig.is_ok_and(|sig| $key.verify_prehash(&digest, &sig).is_ok())
        }};
    }
    Ok(match key {
        PublicInner::P256(k) => check!(p256, k),
        PublicInner::P384(k) => check!(p384, k),
        PublicInner::P521(point) => {
            let k = p521::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map_err(|_| CryptoError::BadSignatureEncoding)?;
            check!(p521, k)
        }
        PublicInner::Rsa(_) | PublicInner::Ed25519(_) => false,
    })
}

fn key_mismatch(how: AuthSignature) -> CryptoError {
    CryptoError::SignatureKeyMismatch {
        method: how.to_string(),
    }
}

/// The AUTH payload's Authentication Data for `signed_octets` (see
/// `signed_octets()`): the bare signature, or for method 14 the
/// AlgorithmIdentifier's length octet, the AlgorithmIdentifier and the
/// signature.
pub fn sign_auth(
    key: &PrivateKey,
    how: AuthSignature,
    signed_octets: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    use SignatureScheme::*;
    let (scheme, raw_ecdsa) = match how {
        AuthSignature::Rsa => {
            return match &key.inner {
                PrivateInner::Rsa(rsa) => sign_rsa_sha1(&rsa.sha1_signer, signed_octets),
                _ => Err(key_mismatch(how)),
            }
        }
        AuthSignature::EcdsaSha256P256 => (EcdsaP256Sha256, true),
        AuthSignature::EcdsaSha384P384 => (EcdsaP384Sha384, true),
        AuthSignature::EcdsaSha512P521 => (EcdsaP521Sha512, true),
        AuthSignature::DigitalSignature(scheme) => (scheme, false),
    };
    let signature = match (&key.inner, scheme) {
        (PrivateInner::Rsa(rsa), RsaPkcs1Sha256 | RsaPkcs1Sha384 | RsaPkcs1Sha512)
        | (PrivateInner::Rsa(rsa), RsaPssSha256 | RsaPssSha384 | RsaPssSha512) => {
            let pair = &rsa.ring;
            let encoding: &'static dyn rsig::RsaEncoding = match scheme {
                RsaPkcs1Sha256 => &rsig::RSA_PKCS1_SHA256,
                RsaPkcs1Sha384 => &rsig::RSA_PKCS1_SHA384,
                RsaPkcs1Sha512 => &rsig::RSA_PKCS1_SHA512,
                RsaPssSha256 => &rsig::RSA_PSS_SHA256,
                RsaPssSha384 => &rsig::RSA_PSS_SHA384,
                _ => &rsig::RSA_PSS_SHA512,
            };
            let mut sig = vec![0; pair.public().modulus_len()];
            pair.sign(encoding, &SystemRandom::new(), signed_octets, &mut sig)
                .map_err(|_| CryptoError::SigningFailed)?;
            sig
        }
        (PrivateInner::Rsa(_), RsaPkcs1Sha1) => {
            return Err(CryptoError::Unsupported {
                alg: "RSA PKCS#1 v1.5 with SHA-1 in a digital signature (method 14)",
                reason: "RFC 8247 forbids SHA-1 there; use method 1 or a SHA-2 scheme",
            })
        }
        (PrivateInner::P256(k), EcdsaP256Sha256) => {
            let sig: p256::ecdsa::Signature = k.sign(signed_octets);
            if raw_ecdsa {
                sig.to_bytes().to_vec()
            } else {
                sig.to_der().as_bytes().to_vec()
            }
        }
        (PrivateInner::P384(k), EcdsaP384Sha384) => {
            let sig: p384::ecdsa::Signature = k.sign(signed_octets);
            if raw_ecdsa {
                sig.to_bytes().to_vec()
            } else {
                sig.to_der().as_bytes().to_vec()
            }
        }
        (PrivateInner::P521(k), EcdsaP521Sha512) => {
            let sig: p521::ecdsa::Signature = k.sign(signed_octets);
            if raw_ecdsa {
                sig.to_bytes().to_vec()
            } else {
                sig.to_der().as_bytes().to_vec()
            }
        }
        (PrivateInner::Ed25519(pair), Ed25519) => pair.sign(signed_octets).as_ref().to_vec(),
        _ => return Err(key_mismatch(how)),
    };
    Ok(match how {
        AuthSignature::DigitalSignature(scheme) => {
            let algid = algid::encode(scheme);
            // Every identifier above is shorter than 256 octets.
            [&[algid.len() as u8][..], algid, &signature].concat()
        }
        _ => signature,
    })
}

/// AUTH method 1 (RFC 7296 §3.8): RSASSA-PKCS1-v1_5 with SHA-1 over the
/// signed octets, which ring will not make. The output is deterministic;
/// the RNG only blinds the private-key operation against timing attacks
/// (the `rsa` crate does no blinding without one).
fn sign_rsa_sha1(key: &rsa::RsaPrivateKey, signed_octets: &[u8]) -> Result<Vec<u8>, CryptoError> {
    use sha1::Digest;
    let digest = sha1::Sha1::digest(signed_octets);
    key.sign_with_rng(
        &mut rsa::rand_core::OsRng,
        rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
        &digest,
    )
    .map_err(|_| CryptoError::SigningFailed)
}

/// Verifies an AUTH payload's Authentication Data made with `method` (the
/// Auth Method octet) by the holder of `key` over `signed_octets`.
/// Returns how it was signed; the caller checks that against policy (for
/// method 14, e.g., that the hash is one it announced).
pub fn verify_auth(
    key: &PublicKey,
    method: u8,
    auth_data: &[u8],
    signed_octets: &[u8],
) -> Result<AuthSignature, CryptoError> {
    use SignatureScheme::*;
    let (how, scheme, signature) = match method {
        1 => (AuthSignature::Rsa, RsaPkcs1Sha1, auth_data),
        9 => (AuthSignature::EcdsaSha256P256, EcdsaP256Sha256, auth_data),
        10 => (AuthSignature::EcdsaSha384P384, EcdsaP384Sha384, auth_data),
        11 => (AuthSignature::EcdsaSha512P521, EcdsaP521Sha512, auth_data),
        14 => {
            let (&len, rest) = auth_data
                .split_first()
                .ok_or(CryptoError::BadSignatureEncoding)?;
            let len = usize::from(len);
            if rest.len() < len {
                return Err(CryptoError::BadSignatureEncoding);
            }
            let (der, signature) = rest.split_at(len);
            let scheme = algid::decode(der).ok_or(CryptoError::UnknownSignatureAlgorithm)?;
            (AuthSignature::DigitalSignature(scheme), scheme, signature)
        }
        other => return Err(CryptoError::UnknownAuthMethod { method: other }),
    };
    let ok = match (&key.inner, scheme) {
        // Methods 9-11: the curve's own hash; method 14: any of the three.
        (PublicInner::P256(_), EcdsaP256Sha256)
        | (PublicInner::P384(_), EcdsaP384Sha384)
        | (PublicInner::P521(_), EcdsaP521Sha512) => verify_ecdsa(
            &key.inner,
            scheme.hash(),
            signed_octets,
            signature,
            method == 14,
        )?,
        (
            PublicInner::P256(_) | PublicInner::P384(_) | PublicInner::P521(_),
            EcdsaP256Sha256 | EcdsaP384Sha384 | EcdsaP521Sha512,
        ) if method == 14 => {
            verify_ecdsa(&key.inner, scheme.hash(), signed_octets, signature, true)?
        }
        (PublicInner::Rsa(der), _) => {
            let alg: &'static rsig::RsaParameters = match scheme {
                RsaPkcs1Sha1 => &rsig::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                RsaPkcs1Sha256 => &rsig::RSA_PKCS1_2048_8192_SHA256,
                RsaPkcs1Sha384 => &rsig::RSA_PKCS1_2048_8192_SHA384,
                RsaPkcs1Sha512 => &rsig::RSA_PKCS1_2048_8192_SHA512,
                RsaPssSha256 => &rsig::RSA_PSS_2048_8192_SHA256,
                RsaPssSha384 => &rsig::RSA_PSS_2048_8192_SHA384,
                RsaPssSha512 => &rsig::RSA_PSS_2048_8192_SHA512,
                _ => return Err(key_mismatch(how)),
            };
            rsig::UnparsedPublicKey::new(alg, der)
                .verify(signed_octets, signature)
                .is_ok()
        }
        (PublicInner::Ed25519(raw), Ed25519) => rsig::UnparsedPublicKey::new(&rsig::ED25519, raw)
            .verify(signed_octets, signature)
            .is_ok(),
        _ => return Err(key_mismatch(how)),
    };
    if ok {
        Ok(how)
    } else {
        Err(CryptoError::BadSignature)
    }
}

#[cfg(test)]
mod tests;
