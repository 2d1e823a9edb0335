//! Pseudorandom functions (RFC 7296 §3.3.2 transform type 2) and prf+
//! (RFC 7296 §2.13).

use ring::hmac;
use zeroize::Zeroize;

use crate::{CryptoError, Secret};

/// A negotiated PRF. Only HMAC-based PRFs (RFC 2104, RFC 4868).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrfAlg {
    /// PRF_HMAC_SHA1 (IANA 2). Legacy, kept for interoperability.
    HmacSha1,
    /// PRF_HMAC_SHA2_256 (IANA 5).
    HmacSha256,
    /// PRF_HMAC_SHA2_384 (IANA 6).
    HmacSha384,
    /// PRF_HMAC_SHA2_512 (IANA 7).
    HmacSha512,
}

impl PrfAlg {
    /// Octets of one PRF output block.
    pub fn output_len(self) -> usize {
        match self {
            PrfAlg::HmacSha1 => 20,
            PrfAlg::HmacSha256 => 32,
            PrfAlg::HmacSha384 => 48,
            PrfAlg::HmacSha512 => 64,
        }
    }

    /// The PRF's preferred key length: the length of SK_d, SK_pi and SK_pr
    /// (RFC 7296 §2.14). For HMAC PRFs it equals the output length
    /// (RFC 4868 §2.1.2).
    pub fn key_len(self) -> usize {
        self.output_len()
    }

    fn ring_alg(self) -> hmac::Algorithm {
        match self {
            PrfAlg::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            PrfAlg::HmacSha256 => hmac::HMAC_SHA256,
            PrfAlg::HmacSha384 => hmac::HMAC_SHA384,
            PrfAlg::HmacSha512 => hmac::HMAC_SHA512,
        }
    }
}

/// prf+ stops at this many blocks: the counter is one octet (RFC 7296 §2.13).
pub const PRF_PLUS_MAX_BLOCKS: usize = 255;

/// prf(key, data): one output block of `alg.output_len()` octets.
pub fn prf(alg: PrfAlg, key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(alg.ring_alg(), key);
    hmac::sign(&key, data).as_ref().to_vec()
}

/// prf(key, data) over the concatenation of `parts`, without building it.
pub(crate) fn prf_concat(alg: PrfAlg, key: &[u8], parts: &[&[u8]]) -> Secret {
    let key = hmac::Key::new(alg.ring_alg(), key);
    let mut ctx = hmac::Context::with_key(&key);
    for part in parts {
        ctx.update(part);
    }
    Secret::from_slice(ctx.sign().as_ref())
}

/// prf+ (RFC 7296 §2.13): `len` octets of T1 | T2 | T3 | ... where
/// T1 = prf(K, S | 0x01) and Tn = prf(K, Tn-1 | S | n).
///
/// Fails if more than 255 blocks would be needed.
pub fn prf_plus(alg: PrfAlg, key: &[u8], seed: &[u8], len: usize) -> Result<Secret, CryptoError> {
    let block_len = alg.output_len();
    let max = PRF_PLUS_MAX_BLOCKS * block_len;
    if len > max {
        return Err(CryptoError::PrfPlusTooLong {
            requested: len,
            max,
        });
    }
    let blocks = len.div_ceil(block_len);
    let key = hmac::Key::new(alg.ring_alg(), key);
    // Allocated once at full size so no reallocation leaves key material
    // behind; Secret wipes the whole buffer on drop.
    let mut out = Vec::with_capacity(blocks * block_len);
    for counter in 1..=blocks {
        let mut ctx = hmac::Context::with_key(&key);
        if counter > 1 {
            ctx.update(&out[(counter - 2) * block_len..]);
        }
        ctx.update(seed);
        // `counter` is at most 255, checked above.
        ctx.update(&[counter as u8]);
        let tag = ctx.sign();
        out.extend_from_slice(tag.as_ref());
    }
    // Wipe the tail we drop so it does not linger in spare capacity.
    out[len..].zeroize();
    out.truncate(len);
    Ok(Secret::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test vector is hex")
    }

    /// RFC 4231 test case 1 / RFC 4868 §2.7.1 (PRF-HMAC-SHA-*) test case 1.
    #[test]
    fn hmac_sha2_test_case_1() {
        let key = [0x0b; 20];
        let data = b"Hi There";
        assert_eq!(
            prf(PrfAlg::HmacSha256, &key, data),
            unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        );
        assert_eq!(
            prf(PrfAlg::HmacSha384, &key, data),
            unhex(
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c\
                 faea9ea9076ede7f4af152e8b2fa9cb6"
            )
        );
        assert_eq!(
            prf(PrfAlg::HmacSha512, &key, data),
            unhex(
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
                 daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
            )
        );
    }

    /// RFC 4231 test case 2: a key shorter than the block.
    #[test]
    fn hmac_sha2_test_case_2() {
        let key = b"Jefe";
        let data = b"what do ya want for nothing?";
        assert_eq!(
            prf(PrfAlg::HmacSha256, key, data),
            unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        assert_eq!(
            prf(PrfAlg::HmacSha384, key, data),
            unhex(
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
                 8e2240ca5e69e2c78b3239ecfab21649"
            )
        );
        assert_eq!(
            prf(PrfAlg::HmacSha512, key, data),
            unhex(
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
            )
        );
    }

    /// RFC 4231 test case 6: a key longer than the hash block is hashed first.
    #[test]
    fn hmac_sha256_long_key() {
        let key = [0xaa; 131];
        let data = b"Test Using Larger Than Block-Size Key - Hash Key First";
        assert_eq!(
            prf(PrfAlg::HmacSha256, &key, data),
            unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        );
    }

    /// RFC 2202 test case 2 (HMAC-SHA-1).
    #[test]
    fn hmac_sha1() {
        assert_eq!(
            prf(PrfAlg::HmacSha1, b"Jefe", b"what do ya want for nothing?"),
            unhex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
    }

    #[test]
    fn output_lengths_match_prf() {
        for alg in [
            PrfAlg::HmacSha1,
            PrfAlg::HmacSha256,
            PrfAlg::HmacSha384,
            PrfAlg::HmacSha512,
        ] {
            assert_eq!(prf(alg, b"k", b"d").len(), alg.output_len(), "{alg:?}");
            assert_eq!(alg.key_len(), alg.output_len());
        }
    }

    #[test]
    fn prf_plus_matches_manual_t1_t2_t3() {
        let alg = PrfAlg::HmacSha256;
        let key = b"prf+ key";
        let seed = b"seed octets";
        let t1 = prf(alg, key, &[&seed[..], &[1]].concat());
        let t2 = prf(alg, key, &[&t1[..], seed, &[2]].concat());
        let t3 = prf(alg, key, &[&t2[..], seed, &[3]].concat());
        let expected = [t1, t2, t3].concat();

        // Exactly three blocks, and a length that cuts into the third.
        let full = prf_plus(alg, key, seed, 96).expect("96 octets");
        assert_eq!(full.expose(), &expected[..]);
        let partial = prf_plus(alg, key, seed, 70).expect("70 octets");
        assert_eq!(partial.expose(), &expected[..70]);
        assert!(prf_plus(alg, key, seed, 0).expect("empty").is_empty());
    }

    #[test]
    fn prf_plus_stops_at_255_blocks() {
        for alg in [PrfAlg::HmacSha1, PrfAlg::HmacSha256, PrfAlg::HmacSha512] {
            let max = 255 * alg.output_len();
            let longest = prf_plus(alg, b"k", b"s", max).expect("255 blocks are allowed");
            assert_eq!(longest.len(), max);
            // The last block uses counter 0xff: check it against a manual step.
            let n = alg.output_len();
            let t254 = &longest.expose()[max - 2 * n..max - n];
            let t255 = prf(alg, b"k", &[t254, b"s", &[0xff]].concat());
            assert_eq!(&longest.expose()[max - n..], &t255[..]);

            assert_eq!(
                prf_plus(alg, b"k", b"s", max + 1),
                Err(CryptoError::PrfPlusTooLong {
                    requested: max + 1,
                    max
                })
            );
        }
    }

    #[test]
    fn prf_concat_equals_prf_of_concatenation() {
        let parts: [&[u8]; 3] = [b"one", b"", b"three"];
        assert_eq!(
            prf_concat(PrfAlg::HmacSha384, b"key", &parts).expose(),
            &prf(PrfAlg::HmacSha384, b"key", b"onethree")[..]
        );
    }
}
