//! Protection of the Encrypted (SK) payload for one direction
//! (RFC 7296 §3.14): AEAD per RFC 5282 and RFC 7634, or AES-CBC with an
//! HMAC integrity transform (encrypt-then-MAC, RFC 7296 §3.14, RFC 3602).
//!
//! Body layout: IV | ciphertext of (plaintext | padding | pad length) | ICV.
//! AEAD ciphers need no padding, so we send pad length 0; CBC pads to a
//! whole number of blocks. On receipt any padding content is accepted, but
//! the pad length must fit.

use std::fmt;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use zeroize::Zeroize;

use crate::aead::SALT_LEN;
use crate::{ct_eq, AeadAlg, CryptoError, IntegAlg, Secret};

mod cbc;

/// What protects an SK payload: an AEAD, or AES-CBC plus an integrity
/// transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkTransform {
    Aead(AeadAlg),
    /// ENCR_AES_CBC (IANA 12) with `key_bits` of 128, 192 or 256.
    AesCbc {
        key_bits: u16,
        integ: IntegAlg,
    },
}

impl SkTransform {
    /// Octets of SK_e* to derive: key (| salt for AEAD).
    pub fn encr_key_len(self) -> usize {
        match self {
            SkTransform::Aead(alg) => alg.key_material_len(),
            SkTransform::AesCbc { key_bits, .. } => usize::from(key_bits) / 8,
        }
    }

    /// Octets of SK_a* to derive: 0 for AEAD.
    pub fn integ_key_len(self) -> usize {
        match self {
            SkTransform::Aead(_) => 0,
            SkTransform::AesCbc { integ, .. } => integ.key_len(),
        }
    }

    pub fn iv_len(self) -> usize {
        match self {
            SkTransform::Aead(alg) => alg.iv_len(),
            SkTransform::AesCbc { .. } => cbc::BLOCK_LEN,
        }
    }

    pub fn icv_len(self) -> usize {
        match self {
            SkTransform::Aead(alg) => alg.icv_len(),
            SkTransform::AesCbc { integ, .. } => integ.icv_len(),
        }
    }
}

/// The SK payload cipher for one direction (built from SK_ei/SK_ai or
/// SK_er/SK_ar).
pub struct SkCipher {
    inner: Inner,
}

enum Inner {
    // Boxed: expanded keys are large, and of very different sizes.
    Aead(Box<AeadSk>),
    Cbc(Box<cbc::CbcHmac>),
}

impl SkCipher {
    /// An AEAD cipher. `key_material` is the key followed by the 4-octet
    /// salt, exactly `alg.key_material_len()` octets.
    pub fn new(alg: AeadAlg, key_material: &Secret) -> Result<SkCipher, CryptoError> {
        Ok(SkCipher {
            inner: Inner::Aead(Box::new(AeadSk::new(alg, key_material)?)),
        })
    }

    /// AES-CBC with `key_bits` of 128/192/256 and an HMAC integrity
    /// transform: `encr_key` is SK_ei or SK_er, `integ_key` SK_ai or SK_ar.
    pub fn new_cbc(
        key_bits: u16,
        integ: IntegAlg,
        encr_key: &Secret,
        integ_key: &Secret,
    ) -> Result<SkCipher, CryptoError> {
        Ok(SkCipher {
            inner: Inner::Cbc(Box::new(cbc::CbcHmac::new(
                key_bits, integ, encr_key, integ_key,
            )?)),
        })
    }

    /// Either kind, from the transform and the derived keys (`integ_key`
    /// is ignored for AEAD; pass an empty secret).
    pub fn with_transform(
        transform: SkTransform,
        encr_key: &Secret,
        integ_key: &Secret,
    ) -> Result<SkCipher, CryptoError> {
        match transform {
            SkTransform::Aead(alg) => SkCipher::new(alg, encr_key),
            SkTransform::AesCbc { key_bits, integ } => {
                SkCipher::new_cbc(key_bits, integ, encr_key, integ_key)
            }
        }
    }

    pub fn transform(&self) -> SkTransform {
        match &self.inner {
            Inner::Aead(a) => SkTransform::Aead(a.alg),
            Inner::Cbc(c) => SkTransform::AesCbc {
                key_bits: c.key_bits,
                integ: c.integ,
            },
        }
    }

    /// The AEAD algorithm, or `None` for AES-CBC.
    pub fn alg(&self) -> Option<AeadAlg> {
        match self.transform() {
            SkTransform::Aead(alg) => Some(alg),
            SkTransform::AesCbc { .. } => None,
        }
    }

    /// Octets of IV the caller passes to `seal`: 8 for AEAD, 16 for CBC.
    pub fn iv_len(&self) -> usize {
        self.transform().iv_len()
    }

    pub fn icv_len(&self) -> usize {
        self.transform().icv_len()
    }

    /// Length of the SK payload body for `plaintext_len` octets of inner
    /// payloads: IV | ciphertext (plaintext, padding, pad length) | ICV.
    pub fn sealed_len(&self, plaintext_len: usize) -> usize {
        let ciphertext_len = match &self.inner {
            Inner::Aead(_) => plaintext_len + 1,
            Inner::Cbc(_) => cbc::CbcHmac::ciphertext_len(plaintext_len),
        };
        self.iv_len() + ciphertext_len + self.icv_len()
    }

    /// An IV for the `counter`-th message under this key, `iv_len()`
    /// octets. AEAD IVs need only be unique, so the counter itself serves;
    /// CBC IVs must also be unpredictable (RFC 7296 §3.14), so the counter
    /// is encrypted under the cipher key (NIST SP 800-38A appendix C).
    /// Never pass the same counter twice.
    pub fn iv_from_counter(&self, counter: u64) -> Vec<u8> {
        match &self.inner {
            Inner::Aead(_) => counter.to_be_bytes().to_vec(),
            Inner::Cbc(c) => c.iv_from_counter(counter).to_vec(),
        }
    }

    /// Encrypts `plaintext` into `out`, which must be exactly
    /// `sealed_len(plaintext.len())` octets: IV, ciphertext, ICV.
    ///
    /// `aad` is the IKE header through the end of the SK generic payload
    /// header, with its lengths already final. AEAD: the nonce is salt | iv
    /// (RFC 5282 §4) and an IV must never repeat under one key. CBC: the IV
    /// must be unpredictable (see `iv_from_counter`), and the ICV covers
    /// aad | IV | ciphertext.
    pub fn seal(
        &self,
        iv: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(), CryptoError> {
        let iv_len = self.iv_len();
        if iv.len() != iv_len {
            return Err(CryptoError::IvLength {
                expected: iv_len,
                actual: iv.len(),
            });
        }
        let expected = self.sealed_len(plaintext.len());
        if out.len() != expected {
            return Err(CryptoError::OutputLength {
                expected,
                actual: out.len(),
            });
        }
        match &self.inner {
            Inner::Aead(a) => a.seal(iv, aad, plaintext, out),
            Inner::Cbc(c) => {
                let mut iv_arr = [0u8; cbc::BLOCK_LEN];
                iv_arr.copy_from_slice(iv);
                c.seal(&iv_arr, aad, plaintext, out);
                Ok(())
            }
        }
    }

    /// Verifies and decrypts an SK payload body, then strips the padding and
    /// the pad length octet, returning the inner payloads.
    pub fn open(&self, aad: &[u8], body: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut decrypted = match &self.inner {
            Inner::Aead(a) => a.open(aad, body)?,
            Inner::Cbc(c) => c.open(aad, body)?,
        };
        strip_padding(&mut decrypted)?;
        Ok(decrypted)
    }
}

/// An AEAD key for one direction.
/// The raw key is kept and ring's expanded key (AES round keys and GHASH
/// table, about 0.5 KiB) is made for each message: an IKE SA sends few
/// messages once up, and a responder may hold 100,000s of them.
struct AeadSk {
    alg: AeadAlg,
    key: Secret,
    salt: [u8; SALT_LEN],
}

impl AeadSk {
    fn new(alg: AeadAlg, key_material: &Secret) -> Result<AeadSk, CryptoError> {
        let ring_alg = alg.ring_alg()?;
        if key_material.len() != alg.key_material_len() {
            return Err(CryptoError::KeyMaterialLength {
                expected: alg.key_material_len(),
                actual: key_material.len(),
            });
        }
        let (key, salt) = key_material.expose().split_at(alg.key_len());
        let mut salt_arr = [0u8; SALT_LEN];
        salt_arr.copy_from_slice(salt);
        let sk = AeadSk {
            alg,
            key: Secret::new(key.to_vec()),
            salt: salt_arr,
        };
        sk.ring_key(ring_alg)?;
        Ok(sk)
    }

    fn ring_key(
        &self,
        ring_alg: &'static ring::aead::Algorithm,
    ) -> Result<LessSafeKey, CryptoError> {
        let unbound = UnboundKey::new(ring_alg, self.key.expose()).map_err(|_| {
            CryptoError::KeyMaterialLength {
                expected: self.alg.key_material_len(),
                actual: self.key.len() + SALT_LEN,
            }
        })?;
        Ok(LessSafeKey::new(unbound))
    }

    fn key(&self) -> Result<LessSafeKey, CryptoError> {
        self.ring_key(self.alg.ring_alg()?)
    }

    /// `iv` and `out` have the lengths `SkCipher::seal` checked.
    fn seal(
        &self,
        iv: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(), CryptoError> {
        let iv_len = self.alg.iv_len();
        let (iv_out, rest) = out.split_at_mut(iv_len);
        let (ciphertext, icv_out) = rest.split_at_mut(plaintext.len() + 1);
        iv_out.copy_from_slice(iv);
        ciphertext[..plaintext.len()].copy_from_slice(plaintext);
        ciphertext[plaintext.len()] = 0; // pad length: no padding
        let tag = self
            .key()?
            .seal_in_place_separate_tag(self.nonce(iv), Aad::from(aad), ciphertext)
            .map_err(|_| CryptoError::PlaintextTooLong {
                len: plaintext.len(),
            })?;
        // Truncated ICVs (AES-GCM-8/12) are a prefix of the full tag.
        icv_out.copy_from_slice(&tag.as_ref()[..self.alg.icv_len()]);
        Ok(())
    }

    /// Verifies and decrypts; the result still ends in padding.
    fn open(&self, aad: &[u8], body: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (iv_len, icv_len) = (self.alg.iv_len(), self.alg.icv_len());
        let min = iv_len + 1 + icv_len;
        if body.len() < min {
            return Err(CryptoError::BodyTooShort {
                min,
                actual: body.len(),
            });
        }
        let (iv, rest) = body.split_at(iv_len);
        let (ciphertext, icv) = rest.split_at(rest.len() - icv_len);
        let nonce = self.nonce(iv);

        let decrypted = if icv_len == ring::aead::MAX_TAG_LEN {
            let mut buf = rest.to_vec();
            let len = self
                .key()?
                .open_in_place(nonce, Aad::from(aad), &mut buf)
                .map_err(|_| CryptoError::IcvMismatch)?
                .len();
            buf.truncate(len);
            buf
        } else {
            self.open_truncated_icv(nonce, aad, ciphertext, icv)?
        };
        Ok(decrypted)
    }

    /// AES-GCM with an 8- or 12-octet ICV. ring only verifies full tags, so
    /// decrypt with the CTR keystream (sealing the ciphertext with the same
    /// nonce XORs it off), recompute the full tag over the ciphertext by
    /// sealing the plaintext again, and compare its prefix in constant time.
    /// No plaintext leaves here unless the ICV matched.
    fn open_truncated_icv(
        &self,
        nonce: Nonce,
        aad: &[u8],
        ciphertext: &[u8],
        icv: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes = *nonce.as_ref();
        let mut plaintext = ciphertext.to_vec();
        let key = self.key()?;
        // The tag of this first pass is meaningless; only the keystream counts.
        let _ = key
            .seal_in_place_separate_tag(nonce, Aad::empty(), &mut plaintext)
            .map_err(|_| CryptoError::IcvMismatch)?;
        let mut recomputed = plaintext.clone();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad),
                &mut recomputed,
            )
            .map_err(|_| CryptoError::IcvMismatch)?;
        // `recomputed` equals `ciphertext`, so `tag` is the full tag the peer computed.
        if !ct_eq(&tag.as_ref()[..icv.len()], icv) {
            plaintext.zeroize();
            return Err(CryptoError::IcvMismatch);
        }
        Ok(plaintext)
    }

    fn nonce(&self, iv: &[u8]) -> Nonce {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..SALT_LEN].copy_from_slice(&self.salt);
        nonce[SALT_LEN..].copy_from_slice(iv);
        Nonce::assume_unique_for_key(nonce)
    }
}

/// Removes the trailing pad length octet and that many padding octets.
/// The padding's contents are not checked (RFC 7296 §3.14 lets them be
/// anything).
fn strip_padding(decrypted: &mut Vec<u8>) -> Result<(), CryptoError> {
    let Some(&pad_len) = decrypted.last() else {
        return Err(CryptoError::BadPadding {
            pad_len: 0,
            available: 0,
        });
    };
    let pad_len = usize::from(pad_len);
    let available = decrypted.len() - 1;
    if pad_len > available {
        decrypted.zeroize();
        return Err(CryptoError::BadPadding { pad_len, available });
    }
    decrypted.truncate(available - pad_len);
    Ok(())
}

impl Drop for AeadSk {
    fn drop(&mut self) {
        self.salt.zeroize();
    }
}

impl fmt::Debug for SkCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkCipher")
            .field("transform", &self.transform())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
