//! The ESP transforms tern negotiates, as the kernel's crypto API names them.
//!
//! Key material comes as one slice, encryption key first and integrity key
//! after it (RFC 7296 §2.17). For the AEADs the encryption key ends with
//! the 4-octet salt (RFC 4106 §8.1, RFC 7634 §2).

use std::fmt;

use crate::types::{AeadAlgo, Algo, AuthAlgo, SaParams};

/// One ESP transform: an AEAD, or AES-CBC with an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EspAlgorithm {
    /// AES-GCM (RFC 4106); key 128, 192 or 256 bits; ICV 8, 12 or 16 octets.
    AesGcm { key_bits: u16, icv_octets: u8 },
    /// ChaCha20-Poly1305 (RFC 7634); 256-bit key, 16-octet ICV.
    ChaCha20Poly1305,
    /// AES-CBC (RFC 3602) with an HMAC; key 128, 192 or 256 bits.
    AesCbc { key_bits: u16, integrity: Integrity },
}

/// HMAC integrity for AES-CBC, truncated as IKEv2 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Integrity {
    /// AUTH_HMAC_SHA1_96 (RFC 2404).
    HmacSha1_96,
    /// AUTH_HMAC_SHA2_256_128 (RFC 4868).
    HmacSha256_128,
    /// AUTH_HMAC_SHA2_384_192 (RFC 4868).
    HmacSha384_192,
    /// AUTH_HMAC_SHA2_512_256 (RFC 4868).
    HmacSha512_256,
}

impl Integrity {
    pub const ALL: [Integrity; 4] = [
        Integrity::HmacSha1_96,
        Integrity::HmacSha256_128,
        Integrity::HmacSha384_192,
        Integrity::HmacSha512_256,
    ];

    /// The kernel's name for it.
    pub fn kernel_name(self) -> &'static str {
        match self {
            Integrity::HmacSha1_96 => "hmac(sha1)",
            Integrity::HmacSha256_128 => "hmac(sha256)",
            Integrity::HmacSha384_192 => "hmac(sha384)",
            Integrity::HmacSha512_256 => "hmac(sha512)",
        }
    }

    /// Key length in octets: the hash's output length (RFC 2404, RFC 4868).
    pub fn key_len(self) -> usize {
        match self {
            Integrity::HmacSha1_96 => 20,
            Integrity::HmacSha256_128 => 32,
            Integrity::HmacSha384_192 => 48,
            Integrity::HmacSha512_256 => 64,
        }
    }

    pub fn truncation_bits(self) -> u32 {
        match self {
            Integrity::HmacSha1_96 => 96,
            Integrity::HmacSha256_128 => 128,
            Integrity::HmacSha384_192 => 192,
            Integrity::HmacSha512_256 => 256,
        }
    }

    /// strongSwan's proposal keyword ("sha256").
    fn keyword(self) -> &'static str {
        match self {
            Integrity::HmacSha1_96 => "sha1",
            Integrity::HmacSha256_128 => "sha256",
            Integrity::HmacSha384_192 => "sha384",
            Integrity::HmacSha512_256 => "sha512",
        }
    }
}

/// The kernel SA's transforms, ready to put into [`SaParams`].
#[derive(Debug, Clone)]
pub struct EspTransforms {
    pub aead: Option<AeadAlgo>,
    pub encryption: Option<Algo>,
    pub integrity: Option<AuthAlgo>,
}

/// The key material handed over does not have the transform's length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{algorithm} needs {expected} octets of key material, got {got}")]
pub struct KeyLengthError {
    pub algorithm: EspAlgorithm,
    pub expected: usize,
    pub got: usize,
}

const SALT_LEN: usize = 4;

impl EspAlgorithm {
    /// Every transform tern negotiates, in the order a probe tries them.
    pub fn all() -> Vec<EspAlgorithm> {
        let mut v = Vec::new();
        for key_bits in [128, 192, 256] {
            for icv_octets in [16, 12, 8] {
                v.push(EspAlgorithm::AesGcm {
                    key_bits,
                    icv_octets,
                });
            }
        }
        v.push(EspAlgorithm::ChaCha20Poly1305);
        for key_bits in [128, 192, 256] {
            for integrity in Integrity::ALL {
                v.push(EspAlgorithm::AesCbc {
                    key_bits,
                    integrity,
                });
            }
        }
        v
    }

    /// Parses strongSwan-style names: "aes128gcm16", "chacha20poly1305",
    /// "aes256-sha384" (also "aes128gcm128" for the ICV in bits).
    pub fn from_name(name: &str) -> Option<EspAlgorithm> {
        let name = name.to_ascii_lowercase();
        if name == "chacha20poly1305" {
            return Some(EspAlgorithm::ChaCha20Poly1305);
        }
        let rest = name.strip_prefix("aes")?;
        let (bits, tail) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit())?);
        let key_bits: u16 = bits.parse().ok().filter(|b| [128, 192, 256].contains(b))?;
        if let Some(icv) = tail.strip_prefix("gcm") {
            let icv_octets = match icv {
                "8" | "64" => 8,
                "12" | "96" => 12,
                "16" | "128" | "" => 16,
                _ => return None,
            };
            return Some(EspAlgorithm::AesGcm {
                key_bits,
                icv_octets,
            });
        }
        let integ = tail.strip_prefix('-')?;
        let integrity = Integrity::ALL.into_iter().find(|i| {
            i.keyword() == integ || (*i == Integrity::HmacSha256_128 && integ == "sha2_256")
        })?;
        Some(EspAlgorithm::AesCbc {
            key_bits,
            integrity,
        })
    }

    /// Octets of key material: encryption key (with salt), then integrity key.
    pub fn keymat_len(self) -> usize {
        match self {
            EspAlgorithm::AesGcm { key_bits, .. } => usize::from(key_bits / 8) + SALT_LEN,
            EspAlgorithm::ChaCha20Poly1305 => 32 + SALT_LEN,
            EspAlgorithm::AesCbc {
                key_bits,
                integrity,
            } => usize::from(key_bits / 8) + integrity.key_len(),
        }
    }

    /// The kernel transforms for this algorithm with `keymat` (exactly
    /// [`EspAlgorithm::keymat_len`] octets).
    pub fn transforms(self, keymat: &[u8]) -> Result<EspTransforms, KeyLengthError> {
        if keymat.len() != self.keymat_len() {
            return Err(KeyLengthError {
                algorithm: self,
                expected: self.keymat_len(),
                got: keymat.len(),
            });
        }
        let aead = |name, icv_octets: u8| EspTransforms {
            aead: Some(AeadAlgo {
                name,
                key: keymat.to_vec(),
                icv_bits: u32::from(icv_octets) * 8,
            }),
            encryption: None,
            integrity: None,
        };
        Ok(match self {
            EspAlgorithm::AesGcm { icv_octets, .. } => aead("rfc4106(gcm(aes))", icv_octets),
            EspAlgorithm::ChaCha20Poly1305 => aead("rfc7539esp(chacha20,poly1305)", 16),
            EspAlgorithm::AesCbc {
                key_bits,
                integrity,
            } => {
                let (enc, integ) = keymat.split_at(usize::from(key_bits / 8));
                EspTransforms {
                    aead: None,
                    encryption: Some(Algo {
                        name: "cbc(aes)",
                        key: enc.to_vec(),
                    }),
                    integrity: Some(AuthAlgo {
                        name: integrity.kernel_name(),
                        key: integ.to_vec(),
                        trunc_bits: integrity.truncation_bits(),
                    }),
                }
            }
        })
    }

    /// Sets `sa`'s aead, encryption and integrity fields.
    pub fn apply_to(self, sa: &mut SaParams, keymat: &[u8]) -> Result<(), KeyLengthError> {
        let t = self.transforms(keymat)?;
        sa.aead = t.aead;
        sa.encryption = t.encryption;
        sa.integrity = t.integrity;
        Ok(())
    }
}

impl fmt::Display for EspAlgorithm {
    /// strongSwan's proposal keywords: "aes128gcm16", "aes256-sha512".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EspAlgorithm::AesGcm {
                key_bits,
                icv_octets,
            } => write!(f, "aes{key_bits}gcm{icv_octets}"),
            EspAlgorithm::ChaCha20Poly1305 => f.write_str("chacha20poly1305"),
            EspAlgorithm::AesCbc {
                key_bits,
                integrity,
            } => write!(f, "aes{key_bits}-{}", integrity.keyword()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keymat(alg: EspAlgorithm) -> Vec<u8> {
        (0..alg.keymat_len()).map(|i| i as u8).collect()
    }

    #[test]
    fn gcm_variants_keep_the_salt_in_the_key_and_name_the_icv() {
        for (key_bits, icv_octets, key_len, icv_bits) in [
            (128, 8, 20, 64),
            (128, 12, 20, 96),
            (128, 16, 20, 128),
            (256, 8, 36, 64),
            (256, 12, 36, 96),
            (256, 16, 36, 128),
            (192, 16, 28, 128),
        ] {
            let alg = EspAlgorithm::AesGcm {
                key_bits,
                icv_octets,
            };
            let t = alg.transforms(&keymat(alg)).unwrap();
            let a = t.aead.unwrap();
            assert_eq!(a.name, "rfc4106(gcm(aes))");
            assert_eq!((a.key.len(), a.icv_bits), (key_len, icv_bits), "{alg}");
            assert!(t.encryption.is_none() && t.integrity.is_none());
        }
    }

    #[test]
    fn chacha20_poly1305_is_rfc7539esp_with_a_36_octet_key() {
        let alg = EspAlgorithm::ChaCha20Poly1305;
        let a = alg.transforms(&keymat(alg)).unwrap().aead.unwrap();
        assert_eq!(a.name, "rfc7539esp(chacha20,poly1305)");
        assert_eq!((a.key.len(), a.icv_bits), (36, 128));
    }

    #[test]
    fn cbc_splits_keymat_encryption_first() {
        for (integrity, name, key_len, trunc) in [
            (Integrity::HmacSha1_96, "hmac(sha1)", 20, 96),
            (Integrity::HmacSha256_128, "hmac(sha256)", 32, 128),
            (Integrity::HmacSha384_192, "hmac(sha384)", 48, 192),
            (Integrity::HmacSha512_256, "hmac(sha512)", 64, 256),
        ] {
            for key_bits in [128u16, 192, 256] {
                let alg = EspAlgorithm::AesCbc {
                    key_bits,
                    integrity,
                };
                let km = keymat(alg);
                let t = alg.transforms(&km).unwrap();
                let (e, i) = (t.encryption.unwrap(), t.integrity.unwrap());
                assert_eq!(e.name, "cbc(aes)");
                assert_eq!(e.key, km[..usize::from(key_bits / 8)]);
                assert_eq!(i.name, name);
                assert_eq!(i.key, km[usize::from(key_bits / 8)..]);
                assert_eq!((i.key.len(), i.trunc_bits), (key_len, trunc));
                assert!(t.aead.is_none());
            }
        }
    }

    #[test]
    fn wrong_keymat_length_is_refused() {
        let alg = EspAlgorithm::AesGcm {
            key_bits: 128,
            icv_octets: 16,
        };
        let e = alg.transforms(&[0; 16]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "aes128gcm16 needs 20 octets of key material, got 16"
        );
    }

    #[test]
    fn names_round_trip_for_every_algorithm() {
        let all = EspAlgorithm::all();
        assert_eq!(all.len(), 9 + 1 + 12);
        for alg in all {
            assert_eq!(EspAlgorithm::from_name(&alg.to_string()), Some(alg));
        }
        assert_eq!(
            EspAlgorithm::from_name("aes128gcm128"),
            EspAlgorithm::from_name("aes128gcm16")
        );
        for bad in ["aes100gcm16", "aes128gcm7", "aes128-md5", "des", "aes", ""] {
            assert_eq!(EspAlgorithm::from_name(bad), None, "{bad}");
        }
    }
}
