//! AES-CBC with an HMAC integrity transform for the SK payload
//! (RFC 7296 §3.14, RFC 3602): encrypt, then MAC from the IKE header
//! through the end of the ciphertext.
//!
//! ring has no CBC mode, so the block cipher comes from RustCrypto's `aes`
//! (constant-time bitsliced or AES-NI) and the mode from `cbc`; the HMAC is
//! ring's.

use aes::cipher::{BlockDecryptMut, BlockEncrypt, BlockEncryptMut, InnerIvInit, KeyInit};
use aes::{Aes128, Aes192, Aes256};
use ring::hmac;

use crate::integ::hmac_parts;
use crate::{ct_eq, CryptoError, IntegAlg, Secret};

/// The AES block size, which is also the CBC IV length.
pub(crate) const BLOCK_LEN: usize = 16;

/// An expanded AES key of one of the three sizes. The `aes` crate wipes
/// its round keys on drop (its `zeroize` feature).
#[derive(Clone)]
pub(crate) enum AesKey {
    A128(Aes128),
    A192(Aes192),
    A256(Aes256),
}

impl AesKey {
    pub(crate) fn new(key: &[u8]) -> Result<AesKey, CryptoError> {
        let bad_len = || CryptoError::Unsupported {
            alg: "AES-CBC",
            reason: "the key must be 128, 192 or 256 bits",
        };
        Ok(match key.len() {
            16 => AesKey::A128(Aes128::new_from_slice(key).map_err(|_| bad_len())?),
            24 => AesKey::A192(Aes192::new_from_slice(key).map_err(|_| bad_len())?),
            32 => AesKey::A256(Aes256::new_from_slice(key).map_err(|_| bad_len())?),
            _ => return Err(bad_len()),
        })
    }

    /// Encrypts whole blocks in place; `buf.len()` must be a multiple of 16.
    pub(crate) fn cbc_encrypt(&self, iv: &[u8; BLOCK_LEN], buf: &mut [u8]) {
        macro_rules! run {
            ($c:expr) => {{
                let mut mode = cbc::Encryptor::inner_iv_init($c.clone(), iv.into());
                for block in buf.chunks_exact_mut(BLOCK_LEN) {
                    mode.encrypt_block_mut(block.into());
                }
            }};
        }
        match self {
            AesKey::A128(c) => run!(c),
            AesKey::A192(c) => run!(c),
            AesKey::A256(c) => run!(c),
        }
    }

    /// Decrypts whole blocks in place; `buf.len()` must be a multiple of 16.
    pub(crate) fn cbc_decrypt(&self, iv: &[u8; BLOCK_LEN], buf: &mut [u8]) {
        macro_rules! run {
            ($c:expr) => {{
                let mut mode = cbc::Decryptor::inner_iv_init($c.clone(), iv.into());
                for block in buf.chunks_exact_mut(BLOCK_LEN) {
                    mode.decrypt_block_mut(block.into());
                }
            }};
        }
        match self {
            AesKey::A128(c) => run!(c),
            AesKey::A192(c) => run!(c),
            AesKey::A256(c) => run!(c),
        }
    }

    /// One raw AES encryption of `block` (for IVs made from a counter).
    pub(crate) fn encrypt_block(&self, block: &mut [u8; BLOCK_LEN]) {
        match self {
            AesKey::A128(c) => c.encrypt_block(block.into()),
            AesKey::A192(c) => c.encrypt_block(block.into()),
            AesKey::A256(c) => c.encrypt_block(block.into()),
        }
    }
}

/// One direction's AES-CBC key and HMAC key (from SK_ei/SK_ai or
/// SK_er/SK_ar).
pub(crate) struct CbcHmac {
    pub(crate) key_bits: u16,
    pub(crate) integ: IntegAlg,
    aes: AesKey,
    mac: hmac::Key,
}

impl CbcHmac {
    pub(crate) fn new(
        key_bits: u16,
        integ: IntegAlg,
        encr_key: &Secret,
        integ_key: &Secret,
    ) -> Result<CbcHmac, CryptoError> {
        let key_len = usize::from(key_bits) / 8;
        if !matches!(key_bits, 128 | 192 | 256) {
            return Err(CryptoError::Unsupported {
                alg: "AES-CBC",
                reason: "the key must be 128, 192 or 256 bits",
            });
        }
        if encr_key.len() != key_len {
            return Err(CryptoError::KeyMaterialLength {
                expected: key_len,
                actual: encr_key.len(),
            });
        }
        if integ_key.len() != integ.key_len() {
            return Err(CryptoError::KeyMaterialLength {
                expected: integ.key_len(),
                actual: integ_key.len(),
            });
        }
        Ok(CbcHmac {
            key_bits,
            integ,
            aes: AesKey::new(encr_key.expose())?,
            mac: hmac::Key::new(integ.ring_alg(), integ_key.expose()),
        })
    }

    /// Octets of ciphertext for `plaintext_len` octets of inner payloads:
    /// the plaintext, padding and the pad length octet, a whole number of
    /// blocks.
    pub(crate) fn ciphertext_len(plaintext_len: usize) -> usize {
        (plaintext_len + 1).div_ceil(BLOCK_LEN) * BLOCK_LEN
    }

    /// A fresh, unpredictable IV: the AES encryption of the counter under
    /// this direction's key (NIST SP 800-38A appendix C, first method).
    pub(crate) fn iv_from_counter(&self, counter: u64) -> [u8; BLOCK_LEN] {
        let mut block = [0u8; BLOCK_LEN];
        block[BLOCK_LEN - 8..].copy_from_slice(&counter.to_be_bytes());
        self.aes.encrypt_block(&mut block);
        block
    }

    /// `out` is IV | ciphertext | ICV and exactly the sealed length.
    pub(crate) fn seal(&self, iv: &[u8; BLOCK_LEN], aad: &[u8], plaintext: &[u8], out: &mut [u8]) {
        let ct_len = Self::ciphertext_len(plaintext.len());
        let (iv_out, rest) = out.split_at_mut(BLOCK_LEN);
        let (ciphertext, icv_out) = rest.split_at_mut(ct_len);
        iv_out.copy_from_slice(iv);
        let pad_len = ct_len - plaintext.len() - 1;
        ciphertext[..plaintext.len()].copy_from_slice(plaintext);
        // Padding may hold anything (RFC 7296 §3.14); zeros it is.
        ciphertext[plaintext.len()..].fill(0);
        // At most 15 octets of padding, so the cast is exact.
        ciphertext[ct_len - 1] = pad_len as u8;
        self.aes.cbc_encrypt(iv, ciphertext);
        let tag = hmac_parts(&self.mac, &[aad, iv, ciphertext]);
        icv_out.copy_from_slice(&tag.as_ref()[..self.integ.icv_len()]);
    }

    /// Checks the ICV over aad | IV | ciphertext, then decrypts. Padding is
    /// stripped by the caller. Nothing is decrypted unless the ICV matched.
    pub(crate) fn open(&self, aad: &[u8], body: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let icv_len = self.integ.icv_len();
        let min = BLOCK_LEN + BLOCK_LEN + icv_len;
        if body.len() < min {
            return Err(CryptoError::BodyTooShort {
                min,
                actual: body.len(),
            });
        }
        let (iv, rest) = body.split_at(BLOCK_LEN);
        let (ciphertext, icv) = rest.split_at(rest.len() - icv_len);
        if ciphertext.len() % BLOCK_LEN != 0 {
            return Err(CryptoError::NotWholeBlocks {
                block: BLOCK_LEN,
                actual: ciphertext.len(),
            });
        }
        let tag = hmac_parts(&self.mac, &[aad, iv, ciphertext]);
        if !ct_eq(&tag.as_ref()[..icv_len], icv) {
            return Err(CryptoError::IcvMismatch);
        }
        let mut iv_arr = [0u8; BLOCK_LEN];
        iv_arr.copy_from_slice(iv);
        let mut plaintext = ciphertext.to_vec();
        self.aes.cbc_decrypt(&iv_arr, &mut plaintext);
        Ok(plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test vector is hex")
    }

    fn cbc_vector(key: &str, iv: &str, plaintext: &str, ciphertext: &str) {
        let aes = AesKey::new(&unhex(key)).expect("key");
        let iv: [u8; 16] = unhex(iv).try_into().expect("16 octets");
        let mut buf = unhex(plaintext);
        aes.cbc_encrypt(&iv, &mut buf);
        assert_eq!(hex::encode(&buf), ciphertext);
        aes.cbc_decrypt(&iv, &mut buf);
        assert_eq!(hex::encode(&buf), plaintext);
    }

    /// RFC 3602 §4, cases #1 to #4 (AES-128-CBC).
    #[test]
    fn rfc3602_vectors() {
        cbc_vector(
            "06a9214036b8a15b512e03d534120006",
            "3dafba429d9eb430b422da802c9fac41",
            &hex::encode(b"Single block msg"),
            "e353779c1079aeb82708942dbe77181a",
        );
        cbc_vector(
            "c286696d887c9aa0611bbb3e2025a45a",
            "562e17996d093d28ddb3ba695a2e6f58",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
        );
        cbc_vector(
            "6c3ea0477630ce21a2ce334aa746c2cd",
            "c782dc4c098c66cbd9cd27d825682c81",
            &hex::encode(b"This is a 48-byte message (exactly 3 AES blocks)"),
            "d0a02b3836451753d493665d33f0e886\
             2dea54cdb293abc7506939276772f8d5\
             021c19216bad525c8579695d83ba2684",
        );
    }

    /// NIST SP 800-38A F.2.3 / F.2.5 (CBC-AES192 and CBC-AES256), first block.
    #[test]
    fn sp800_38a_aes192_and_aes256() {
        cbc_vector(
            "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
            "000102030405060708090a0b0c0d0e0f",
            "6bc1bee22e409f96e93d7e117393172a",
            "4f021db243bc633d7178183a9fa071e8",
        );
        cbc_vector(
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            "000102030405060708090a0b0c0d0e0f",
            "6bc1bee22e409f96e93d7e117393172a",
            "f58c4c04d6e5f1ba779eabfb5f7bfbd6",
        );
    }

    #[test]
    fn ivs_from_counters_differ_and_are_not_the_counter() {
        let c = CbcHmac::new(
            128,
            IntegAlg::HmacSha256_128,
            &Secret::new(vec![1; 16]),
            &Secret::new(vec![2; 32]),
        )
        .expect("cipher");
        let (a, b) = (c.iv_from_counter(1), c.iv_from_counter(2));
        assert_ne!(a, b);
        let mut plain = [0u8; 16];
        plain[15] = 1;
        assert_ne!(a, plain);
    }
}
