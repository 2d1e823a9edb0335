//! The algorithm tables: for each algorithm tern negotiates, its IANA transform,
//! its name in logs and `ternctl list-sas`, and the crypto crate's counterpart.

use tern_crypto::{AeadAlg, IntegAlg, KeAlg, PrfAlg, SkTransform};
use tern_wire::{EncrId, IntegId, KeMethod, PrfId, Transform, TransformType};

use crate::config::{Encryption, Integrity, KeyExchange, Prf};

pub fn encryption_name(e: Encryption) -> String {
    match e {
        Encryption::AesGcm16 { key_bits } => format!("AES_GCM_16_{key_bits}"),
        Encryption::AesGcm12 { key_bits } => format!("AES_GCM_12_{key_bits}"),
        Encryption::AesGcm8 { key_bits } => format!("AES_GCM_8_{key_bits}"),
        Encryption::ChaCha20Poly1305 => "CHACHA20_POLY1305".into(),
        Encryption::AesCbc { key_bits } => format!("AES_CBC_{key_bits}"),
    }
}

pub fn integrity_name(i: Integrity) -> &'static str {
    match i {
        Integrity::HmacSha1_96 => "HMAC_SHA1_96",
        Integrity::HmacSha256_128 => "HMAC_SHA2_256_128",
        Integrity::HmacSha384_192 => "HMAC_SHA2_384_192",
        Integrity::HmacSha512_256 => "HMAC_SHA2_512_256",
    }
}

pub fn prf_name(p: Prf) -> &'static str {
    match p {
        Prf::HmacSha1 => "PRF_HMAC_SHA1",
        Prf::HmacSha256 => "PRF_HMAC_SHA2_256",
        Prf::HmacSha384 => "PRF_HMAC_SHA2_384",
        Prf::HmacSha512 => "PRF_HMAC_SHA2_512",
    }
}

/// A key exchange group in the configuration's words (tern-config reads them).
pub fn ke_word(k: KeyExchange) -> &'static str {
    match k {
        KeyExchange::X25519 => "x25519",
        KeyExchange::Ecp256 => "ecp256",
        KeyExchange::Ecp384 => "ecp384",
        KeyExchange::Modp1024 => "modp1024",
        KeyExchange::Modp2048 => "modp2048",
        KeyExchange::Modp3072 => "modp3072",
        KeyExchange::Modp4096 => "modp4096",
    }
}

pub fn ke_name(k: KeyExchange) -> &'static str {
    match k {
        KeyExchange::X25519 => "CURVE25519",
        KeyExchange::Ecp256 => "ECP_256",
        KeyExchange::Ecp384 => "ECP_384",
        KeyExchange::Modp1024 => "MODP_1024",
        KeyExchange::Modp2048 => "MODP_2048",
        KeyExchange::Modp3072 => "MODP_3072",
        KeyExchange::Modp4096 => "MODP_4096",
    }
}

fn integ_alg(i: Integrity) -> IntegAlg {
    match i {
        Integrity::HmacSha1_96 => IntegAlg::HmacSha1_96,
        Integrity::HmacSha256_128 => IntegAlg::HmacSha256_128,
        Integrity::HmacSha384_192 => IntegAlg::HmacSha384_192,
        Integrity::HmacSha512_256 => IntegAlg::HmacSha512_256,
    }
}

/// The SK payload protection (and ESP key layout) of an encryption and, for
/// AES-CBC, an integrity algorithm.
pub fn sk_transform(e: Encryption, i: Option<Integrity>) -> Option<SkTransform> {
    Some(match e {
        Encryption::AesGcm16 { key_bits } => SkTransform::Aead(AeadAlg::AesGcm16 { key_bits }),
        Encryption::AesGcm12 { key_bits } => SkTransform::Aead(AeadAlg::AesGcm12 { key_bits }),
        Encryption::AesGcm8 { key_bits } => SkTransform::Aead(AeadAlg::AesGcm8 { key_bits }),
        Encryption::ChaCha20Poly1305 => SkTransform::Aead(AeadAlg::ChaCha20Poly1305),
        Encryption::AesCbc { key_bits } => SkTransform::AesCbc {
            key_bits,
            integ: integ_alg(i?),
        },
    })
}

/// Octets of key material to derive for (encryption, integrity) of a suite.
pub fn key_lengths(e: Encryption, i: Option<Integrity>) -> (usize, usize) {
    let t = sk_transform(e, i).expect("negotiated suites pair AES-CBC with an integrity algorithm");
    (t.encr_key_len(), t.integ_key_len())
}

pub fn prf_alg(p: Prf) -> PrfAlg {
    match p {
        Prf::HmacSha1 => PrfAlg::HmacSha1,
        Prf::HmacSha256 => PrfAlg::HmacSha256,
        Prf::HmacSha384 => PrfAlg::HmacSha384,
        Prf::HmacSha512 => PrfAlg::HmacSha512,
    }
}

pub fn ke_alg(k: KeyExchange) -> KeAlg {
    match k {
        KeyExchange::X25519 => KeAlg::X25519,
        KeyExchange::Ecp256 => KeAlg::Ecp256,
        KeyExchange::Ecp384 => KeAlg::Ecp384,
        KeyExchange::Modp1024 => KeAlg::Modp1024,
        KeyExchange::Modp2048 => KeAlg::Modp2048,
        KeyExchange::Modp3072 => KeAlg::Modp3072,
        KeyExchange::Modp4096 => KeAlg::Modp4096,
    }
}

const KE_METHODS: [(KeyExchange, KeMethod); 7] = [
    (KeyExchange::X25519, KeMethod::CURVE25519),
    (KeyExchange::Ecp256, KeMethod::ECP_256),
    (KeyExchange::Ecp384, KeMethod::ECP_384),
    (KeyExchange::Modp1024, KeMethod::MODP_1024),
    (KeyExchange::Modp2048, KeMethod::MODP_2048),
    (KeyExchange::Modp3072, KeMethod::MODP_3072),
    (KeyExchange::Modp4096, KeMethod::MODP_4096),
];

pub fn ke_method(k: KeyExchange) -> KeMethod {
    KE_METHODS
        .iter()
        .find(|(x, _)| *x == k)
        .map(|(_, m)| *m)
        .expect("every method is in the table")
}

pub fn ke_from_method(m: KeMethod) -> Option<KeyExchange> {
    KE_METHODS.iter().find(|(_, x)| *x == m).map(|(k, _)| *k)
}

const INTEG_IDS: [(Integrity, IntegId); 4] = [
    (Integrity::HmacSha1_96, IntegId::HMAC_SHA1_96),
    (Integrity::HmacSha256_128, IntegId::HMAC_SHA2_256_128),
    (Integrity::HmacSha384_192, IntegId::HMAC_SHA2_384_192),
    (Integrity::HmacSha512_256, IntegId::HMAC_SHA2_512_256),
];

const PRF_IDS: [(Prf, PrfId); 4] = [
    (Prf::HmacSha1, PrfId::HMAC_SHA1),
    (Prf::HmacSha256, PrfId::HMAC_SHA2_256),
    (Prf::HmacSha384, PrfId::HMAC_SHA2_384),
    (Prf::HmacSha512, PrfId::HMAC_SHA2_512),
];

pub fn encryption_transform(e: Encryption) -> Transform {
    let (id, bits) = match e {
        Encryption::AesGcm16 { key_bits } => (EncrId::AES_GCM_16, Some(key_bits)),
        Encryption::AesGcm12 { key_bits } => (EncrId::AES_GCM_12, Some(key_bits)),
        Encryption::AesGcm8 { key_bits } => (EncrId::AES_GCM_8, Some(key_bits)),
        Encryption::ChaCha20Poly1305 => (EncrId::CHACHA20_POLY1305, None),
        Encryption::AesCbc { key_bits } => (EncrId::AES_CBC, Some(key_bits)),
    };
    let t = Transform::new(TransformType::ENCR, id.0);
    match bits {
        Some(bits) => t.with_key_length(bits),
        None => t,
    }
}

pub fn integrity_transform(i: Integrity) -> Transform {
    let id = INTEG_IDS
        .iter()
        .find(|(x, _)| *x == i)
        .map(|(_, id)| *id)
        .expect("in the table");
    Transform::new(TransformType::INTEG, id.0)
}

pub fn prf_transform(p: Prf) -> Transform {
    let id = PRF_IDS
        .iter()
        .find(|(x, _)| *x == p)
        .map(|(_, id)| *id)
        .expect("in the table");
    Transform::new(TransformType::PRF, id.0)
}

pub fn ke_transform(k: KeyExchange) -> Transform {
    Transform::new(TransformType::KE, ke_method(k).0)
}

pub fn encryption_from(t: &Transform) -> Option<Encryption> {
    let aes_bits = || t.key_length().filter(|b| [128, 192, 256].contains(b));
    match EncrId(t.id) {
        EncrId::AES_GCM_16 => Some(Encryption::AesGcm16 {
            key_bits: aes_bits()?,
        }),
        EncrId::AES_GCM_12 => Some(Encryption::AesGcm12 {
            key_bits: aes_bits()?,
        }),
        EncrId::AES_GCM_8 => Some(Encryption::AesGcm8 {
            key_bits: aes_bits()?,
        }),
        EncrId::AES_CBC => Some(Encryption::AesCbc {
            key_bits: aes_bits()?,
        }),
        EncrId::CHACHA20_POLY1305 if t.key_length().is_none() => Some(Encryption::ChaCha20Poly1305),
        _ => None,
    }
}

pub fn integrity_from(t: &Transform) -> Option<Integrity> {
    INTEG_IDS
        .iter()
        .find(|(_, id)| id.0 == t.id)
        .map(|(i, _)| *i)
}

pub fn prf_from(t: &Transform) -> Option<Prf> {
    PRF_IDS.iter().find(|(_, id)| id.0 == t.id).map(|(p, _)| *p)
}
