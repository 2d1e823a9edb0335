//! The ASN.1 AlgorithmIdentifier prefixes of RFC 7427 §3 and appendix A,
//! as fixed DER octet strings: the only variation peers use in practice
//! is whether hash parameters are an explicit NULL, and both are accepted.

use super::SignatureScheme;

const RSA_PKCS1_SHA1: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
];
const RSA_PKCS1_SHA256: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
];
const RSA_PKCS1_SHA384: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00,
];
const RSA_PKCS1_SHA512: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00,
];
const ECDSA_SHA256: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
];
const ECDSA_SHA384: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
];
const ECDSA_SHA512: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04,
];
/// id-Ed25519 (RFC 8410, RFC 8420).
const ED25519: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

/// RSASSA-PSS (RFC 4055): hash `h`, MGF1 with `h`, salt as long as the
/// hash, trailer field 1 (the default, so omitted in DER).
const fn rsa_pss(hash_oid_last: u8, salt_len: u8) -> [u8; 67] {
    [
        0x30,
        0x41, // AlgorithmIdentifier
        0x06,
        0x09,
        0x2a,
        0x86,
        0x48,
        0x86,
        0xf7,
        0x0d,
        0x01,
        0x01,
        0x0a, // id-RSASSA-PSS
        0x30,
        0x34, // RSASSA-PSS-params
        0xa0,
        0x0f,
        0x30,
        0x0d,
        0x06,
        0x09,
        0x60,
        0x86,
        0x48,
        0x01,
        0x65,
        0x03,
        0x04,
        0x02,
        hash_oid_last,
        0x05,
        0x00, // [0] hashAlgorithm
        0xa1,
        0x1c,
        0x30,
        0x1a,
        0x06,
        0x09,
        0x2a,
        0x86,
        0x48,
        0x86,
        0xf7,
        0x0d,
        0x01,
        0x01,
        0x08, // [1] maskGenAlgorithm: id-mgf1
        0x30,
        0x0d,
        0x06,
        0x09,
        0x60,
        0x86,
        0x48,
        0x01,
        0x65,
        0x03,
        0x04,
        0x02,
        hash_oid_last,
        0x05,
        0x00, // ... with the same hash
        0xa2,
        0x03,
        0x02,
        0x01,
        salt_len, // [2] saltLength
    ]
}

const RSA_PSS_SHA256: [u8; 67] = rsa_pss(0x01, 32);
const RSA_PSS_SHA384: [u8; 67] = rsa_pss(0x02, 48);
const RSA_PSS_SHA512: [u8; 67] = rsa_pss(0x03, 64);

/// The AlgorithmIdentifier we send for `scheme`.
pub(super) fn encode(scheme: SignatureScheme) -> &'static [u8] {
    match scheme {
        SignatureScheme::RsaPkcs1Sha1 => RSA_PKCS1_SHA1,
        SignatureScheme::RsaPkcs1Sha256 => RSA_PKCS1_SHA256,
        SignatureScheme::RsaPkcs1Sha384 => RSA_PKCS1_SHA384,
        SignatureScheme::RsaPkcs1Sha512 => RSA_PKCS1_SHA512,
        SignatureScheme::RsaPssSha256 => &RSA_PSS_SHA256,
        SignatureScheme::RsaPssSha384 => &RSA_PSS_SHA384,
        SignatureScheme::RsaPssSha512 => &RSA_PSS_SHA512,
        SignatureScheme::EcdsaP256Sha256 => ECDSA_SHA256,
        SignatureScheme::EcdsaP384Sha384 => ECDSA_SHA384,
        SignatureScheme::EcdsaP521Sha512 => ECDSA_SHA512,
        SignatureScheme::Ed25519 => ED25519,
    }
}

/// The scheme a received AlgorithmIdentifier names. ECDSA identifiers do
/// not name the curve; `decode` picks the curve's usual hash pairing and
/// the caller checks it against the key.
pub(super) fn decode(der: &[u8]) -> Option<SignatureScheme> {
    use SignatureScheme::*;
    let all = [
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
    ];
    if let Some(found) = all.into_iter().find(|s| encode(*s) == der) {
        return Some(found);
    }
    // sha*WithRSAEncryption with the NULL parameters left out.
    if der.len() == 13 && der[..2] == [0x30, 0x0b] {
        let with_null = [&[0x30u8, 0x0d][..], &der[2..], &[0x05, 0x00][..]].concat();
        return [RsaPkcs1Sha1, RsaPkcs1Sha256, RsaPkcs1Sha384, RsaPkcs1Sha512]
            .into_iter()
            .find(|s| encode(*s) == with_null);
    }
    None
}
