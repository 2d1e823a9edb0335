//! Integrity algorithms for the SK payload with non-AEAD ciphers
//! (RFC 7296 §3.3.2 transform type 3): HMAC-SHA1-96 (RFC 2404) and
//! HMAC-SHA2-256-128/-384-192/-512-256 (RFC 4868), all on ring's HMAC.

use ring::hmac;

/// A negotiated integrity transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntegAlg {
    /// AUTH_HMAC_SHA1_96 (IANA 2). Legacy, kept for interoperability.
    HmacSha1_96,
    /// AUTH_HMAC_SHA2_256_128 (IANA 12).
    HmacSha256_128,
    /// AUTH_HMAC_SHA2_384_192 (IANA 13).
    HmacSha384_192,
    /// AUTH_HMAC_SHA2_512_256 (IANA 14).
    HmacSha512_256,
}

impl IntegAlg {
    /// Octets of SK_ai / SK_ar (and ESP integrity keys): the hash's output
    /// length (RFC 2404 §3, RFC 4868 §2.1.1).
    pub fn key_len(self) -> usize {
        match self {
            IntegAlg::HmacSha1_96 => 20,
            IntegAlg::HmacSha256_128 => 32,
            IntegAlg::HmacSha384_192 => 48,
            IntegAlg::HmacSha512_256 => 64,
        }
    }

    /// Octets of the truncated ICV: half the hash output (SHA-1: 96 bits).
    pub fn icv_len(self) -> usize {
        match self {
            IntegAlg::HmacSha1_96 => 12,
            IntegAlg::HmacSha256_128 => 16,
            IntegAlg::HmacSha384_192 => 24,
            IntegAlg::HmacSha512_256 => 32,
        }
    }

    pub(crate) fn ring_alg(self) -> hmac::Algorithm {
        match self {
            IntegAlg::HmacSha1_96 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            IntegAlg::HmacSha256_128 => hmac::HMAC_SHA256,
            IntegAlg::HmacSha384_192 => hmac::HMAC_SHA384,
            IntegAlg::HmacSha512_256 => hmac::HMAC_SHA512,
        }
    }
}

/// The full HMAC over the concatenation of `parts`; callers truncate it.
pub(crate) fn hmac_parts(key: &hmac::Key, parts: &[&[u8]]) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(key);
    for part in parts {
        ctx.update(part);
    }
    ctx.sign()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test vector is hex")
    }

    /// RFC 4868 §2.7.2.1-3, test case 1 (AUTH256-1, AUTH384-1, AUTH512-1):
    /// keys of 32/48/64 octets of 0x0b over "Hi There"; the ICV is the
    /// first half of the HMAC.
    #[test]
    fn rfc4868_auth_test_case_1() {
        let cases = [
            (
                IntegAlg::HmacSha256_128,
                "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7",
            ),
            (
                IntegAlg::HmacSha384_192,
                "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc\
                 4c5df61d5b3297b4fb68dab9f1b582c2",
            ),
            (
                IntegAlg::HmacSha512_256,
                "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8\
                 ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b",
            ),
        ];
        for (alg, expected) in cases {
            let key = hmac::Key::new(alg.ring_alg(), &vec![0x0b; alg.key_len()]);
            let tag = hmac_parts(&key, &[b"Hi ", b"There"]);
            assert_eq!(tag.as_ref(), &unhex(expected)[..], "{alg:?}");
            assert_eq!(alg.icv_len() * 2, tag.as_ref().len());
        }
    }

    /// RFC 2202 §3 test case 1 for HMAC-SHA-1 (RFC 2404 §4 uses the same).
    #[test]
    fn rfc2202_hmac_sha1_test_case_1() {
        let alg = IntegAlg::HmacSha1_96;
        let key = hmac::Key::new(alg.ring_alg(), &[0x0b; 20]);
        let tag = hmac_parts(&key, &[b"Hi There"]);
        assert_eq!(
            tag.as_ref(),
            &unhex("b617318655057264e28bc0b6fb378c8ef146be00")[..]
        );
        assert_eq!(alg.icv_len(), 12);
    }
}
