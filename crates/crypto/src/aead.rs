//! AEAD encryption algorithms for the SK payload (RFC 7296 §3.3.2
//! transform type 1): AES-GCM (RFC 5282) and ChaCha20-Poly1305 (RFC 7634).

use ring::aead;

use crate::CryptoError;

/// Octets of salt at the end of the key material: the implicit first part
/// of the nonce (RFC 5282 §7.1, RFC 7634 §2).
pub const SALT_LEN: usize = 4;

/// A negotiated AEAD encryption transform. `key_bits` is the Key Length
/// attribute: 128 or 256 (ring has no AES-192).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AeadAlg {
    /// ENCR_AES_GCM_16 (IANA 20): 16-octet ICV.
    AesGcm16 { key_bits: u16 },
    /// ENCR_AES_GCM_12 (IANA 19): ICV truncated to 12 octets.
    AesGcm12 { key_bits: u16 },
    /// ENCR_AES_GCM_8 (IANA 18): ICV truncated to 8 octets.
    AesGcm8 { key_bits: u16 },
    /// ENCR_CHACHA20_POLY1305 (IANA 28), RFC 7634: 256-bit key, 16-octet ICV.
    ChaCha20Poly1305,
}

impl AeadAlg {
    /// Octets of cipher key, without the salt.
    pub fn key_len(self) -> usize {
        match self {
            AeadAlg::AesGcm16 { key_bits }
            | AeadAlg::AesGcm12 { key_bits }
            | AeadAlg::AesGcm8 { key_bits } => usize::from(key_bits) / 8,
            AeadAlg::ChaCha20Poly1305 => 32,
        }
    }

    /// Octets of keying material to take from prf+ for one direction: the
    /// key followed by the 4-octet salt (RFC 5282 §7.1, RFC 4106 §8.1,
    /// RFC 7634 §2). 20 for AES-GCM-128, 36 for AES-GCM-256 and ChaCha20.
    pub fn key_material_len(self) -> usize {
        self.key_len() + SALT_LEN
    }

    /// Octets of explicit IV carried in each SK payload.
    pub fn iv_len(self) -> usize {
        8
    }

    /// Octets of the integrity check value at the end of the SK payload.
    pub fn icv_len(self) -> usize {
        match self {
            AeadAlg::AesGcm16 { .. } | AeadAlg::ChaCha20Poly1305 => 16,
            AeadAlg::AesGcm12 { .. } => 12,
            AeadAlg::AesGcm8 { .. } => 8,
        }
    }

    /// The ring algorithm, or why there is none.
    pub(crate) fn ring_alg(self) -> Result<&'static aead::Algorithm, CryptoError> {
        match self {
            AeadAlg::AesGcm16 { key_bits }
            | AeadAlg::AesGcm12 { key_bits }
            | AeadAlg::AesGcm8 { key_bits } => match key_bits {
                128 => Ok(&aead::AES_128_GCM),
                256 => Ok(&aead::AES_256_GCM),
                _ => Err(CryptoError::Unsupported {
                    alg: "AES-GCM",
                    reason: "only 128- and 256-bit keys are supported",
                }),
            },
            AeadAlg::ChaCha20Poly1305 => Ok(&aead::CHACHA20_POLY1305),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        let gcm128 = AeadAlg::AesGcm16 { key_bits: 128 };
        let gcm256 = AeadAlg::AesGcm16 { key_bits: 256 };
        assert_eq!(gcm128.key_material_len(), 20);
        assert_eq!(gcm256.key_material_len(), 36);
        assert_eq!(AeadAlg::ChaCha20Poly1305.key_material_len(), 36);
        assert_eq!(gcm128.iv_len(), 8);
        assert_eq!(gcm128.icv_len(), 16);
        assert_eq!(AeadAlg::AesGcm12 { key_bits: 128 }.icv_len(), 12);
        assert_eq!(AeadAlg::AesGcm8 { key_bits: 256 }.icv_len(), 8);
        assert_eq!(AeadAlg::ChaCha20Poly1305.icv_len(), 16);
    }

    #[test]
    fn aes_192_is_reported_unsupported() {
        assert!(matches!(
            AeadAlg::AesGcm16 { key_bits: 192 }.ring_alg(),
            Err(CryptoError::Unsupported { .. })
        ));
    }
}
