//! Key derivation for IKE SAs (RFC 7296 §2.14, §2.18) and CHILD SAs
//! (RFC 7296 §2.17).

use crate::prf::prf_concat;
use crate::{prf, prf_plus, CryptoError, PrfAlg, Secret};

/// The keys of an IKE SA (RFC 7296 §2.14). `sk_ai`/`sk_ar` are empty when
/// the encryption algorithm is an AEAD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IkeKeys {
    /// Derives CHILD SA keys and the next IKE SA's SKEYSEED.
    pub sk_d: Secret,
    pub sk_ai: Secret,
    pub sk_ar: Secret,
    /// Encryption key material initiator -> responder (key | salt for AEAD).
    pub sk_ei: Secret,
    pub sk_er: Secret,
    /// Keys for the initiator's / responder's AUTH payload.
    pub sk_pi: Secret,
    pub sk_pr: Secret,
}

/// The keys of a CHILD SA (RFC 7296 §2.17). Integrity keys are empty for
/// AEAD algorithms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildKeys {
    pub encr_i2r: Secret,
    pub integ_i2r: Secret,
    pub encr_r2i: Secret,
    pub integ_r2i: Secret,
}

/// SKEYSEED of an IKE SA made by IKE_SA_INIT: prf(Ni | Nr, g^ir).
///
/// (Only HMAC PRFs exist here, so the full nonces form the key; the
/// AES-XCBC/CMAC truncation of RFC 7296 §2.14 does not apply.)
pub fn skeyseed(prf_alg: PrfAlg, shared: &Secret, ni: &[u8], nr: &[u8]) -> Secret {
    let key = [ni, nr].concat();
    Secret::new(prf(prf_alg, &key, shared.expose()))
}

/// SKEYSEED of an IKE SA made by rekeying with CREATE_CHILD_SA
/// (RFC 7296 §2.18): prf(SK_d (old), g^ir (new) | Ni | Nr), using the old
/// IKE SA's PRF. Ni/Nr are the nonces of the rekeying exchange.
pub fn skeyseed_rekey(
    old_prf: PrfAlg,
    old_sk_d: &Secret,
    shared: &Secret,
    ni: &[u8],
    nr: &[u8],
) -> Secret {
    prf_concat(old_prf, old_sk_d.expose(), &[shared.expose(), ni, nr])
}

/// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} =
/// prf+(SKEYSEED, Ni | Nr | SPIi | SPIr), with the new IKE SA's PRF.
///
/// SK_d, SK_pi and SK_pr are `prf.key_len()` octets; `encr_key_len` is
/// `AeadAlg::key_material_len()`; `integ_key_len` is 0 for AEAD.
#[allow(clippy::too_many_arguments)] // the RFC's inputs, each distinct
pub fn ike_keys_from_skeyseed(
    prf_alg: PrfAlg,
    skeyseed: &Secret,
    ni: &[u8],
    nr: &[u8],
    spi_i: &[u8; 8],
    spi_r: &[u8; 8],
    encr_key_len: usize,
    integ_key_len: usize,
) -> Result<IkeKeys, CryptoError> {
    let prf_key_len = prf_alg.key_len();
    let total = 3 * prf_key_len + 2 * integ_key_len + 2 * encr_key_len;
    let seed = [ni, nr, spi_i, spi_r].concat();
    let keymat = prf_plus(prf_alg, skeyseed.expose(), &seed, total)?;
    let mut take = Splitter::new(&keymat);
    Ok(IkeKeys {
        sk_d: take.next(prf_key_len),
        sk_ai: take.next(integ_key_len),
        sk_ar: take.next(integ_key_len),
        sk_ei: take.next(encr_key_len),
        sk_er: take.next(encr_key_len),
        sk_pi: take.next(prf_key_len),
        sk_pr: take.next(prf_key_len),
    })
}

/// The keys of an IKE SA made by IKE_SA_INIT (RFC 7296 §2.14):
/// SKEYSEED = prf(Ni | Nr, g^ir), then prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
#[allow(clippy::too_many_arguments)] // the RFC's inputs, each distinct
pub fn derive_ike_keys(
    prf_alg: PrfAlg,
    shared: &Secret,
    ni: &[u8],
    nr: &[u8],
    spi_i: &[u8; 8],
    spi_r: &[u8; 8],
    encr_key_len: usize,
    integ_key_len: usize,
) -> Result<IkeKeys, CryptoError> {
    let seed = skeyseed(prf_alg, shared, ni, nr);
    ike_keys_from_skeyseed(
        prf_alg,
        &seed,
        ni,
        nr,
        spi_i,
        spi_r,
        encr_key_len,
        integ_key_len,
    )
}

/// CHILD SA keys (RFC 7296 §2.17): KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr),
/// taken in the order encryption i->r, integrity i->r, encryption r->i,
/// integrity r->i. `pfs_shared` is the CREATE_CHILD_SA key exchange's shared
/// secret when one was done. `encr_key_len` includes the salt for AEAD
/// (ESP AES-GCM-128: 20); `integ_key_len` is 0 for AEAD.
pub fn derive_child_keys(
    prf_alg: PrfAlg,
    sk_d: &Secret,
    pfs_shared: Option<&Secret>,
    ni: &[u8],
    nr: &[u8],
    encr_key_len: usize,
    integ_key_len: usize,
) -> Result<ChildKeys, CryptoError> {
    let shared: &[u8] = pfs_shared.map_or(&[], Secret::expose);
    // The seed holds g^ir, so it lives in a Secret.
    let seed = Secret::new([shared, ni, nr].concat());
    let total = 2 * (encr_key_len + integ_key_len);
    let keymat = prf_plus(prf_alg, sk_d.expose(), seed.expose(), total)?;
    let mut take = Splitter::new(&keymat);
    Ok(ChildKeys {
        encr_i2r: take.next(encr_key_len),
        integ_i2r: take.next(integ_key_len),
        encr_r2i: take.next(encr_key_len),
        integ_r2i: take.next(integ_key_len),
    })
}

/// Hands out consecutive pieces of key material. Callers ask for exactly
/// the total they derived, so a piece never runs past the end.
struct Splitter<'a> {
    rest: &'a [u8],
}

impl<'a> Splitter<'a> {
    fn new(keymat: &'a Secret) -> Self {
        Splitter {
            rest: keymat.expose(),
        }
    }

    fn next(&mut self, len: usize) -> Secret {
        let (piece, rest) = self.rest.split_at(len.min(self.rest.len()));
        self.rest = rest;
        Secret::from_slice(piece)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NI: &[u8] = &[0x11; 32];
    const NR: &[u8] = &[0x22; 32];
    const SPI_I: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
    const SPI_R: [u8; 8] = [9, 10, 11, 12, 13, 14, 15, 16];

    fn concat(keys: &[&Secret]) -> Vec<u8> {
        keys.iter()
            .flat_map(|k| k.expose().iter().copied())
            .collect()
    }

    #[test]
    fn ike_keys_split_prf_plus_output_in_order() {
        let shared = Secret::new(vec![0x33; 32]);
        for (prf_alg, encr, integ) in [
            (PrfAlg::HmacSha256, 20, 0), // aes128gcm16-prfsha256
            (PrfAlg::HmacSha384, 36, 0),
            (PrfAlg::HmacSha256, 16, 32), // a cipher plus HMAC integrity
        ] {
            let keys = derive_ike_keys(prf_alg, &shared, NI, NR, &SPI_I, &SPI_R, encr, integ)
                .expect("derive");
            let n = prf_alg.key_len();
            let lens = [
                keys.sk_d.len(),
                keys.sk_ai.len(),
                keys.sk_ar.len(),
                keys.sk_ei.len(),
                keys.sk_er.len(),
                keys.sk_pi.len(),
                keys.sk_pr.len(),
            ];
            assert_eq!(lens, [n, integ, integ, encr, encr, n, n]);

            // By hand: SKEYSEED = prf(Ni | Nr, g^ir), KEYMAT = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
            let seed = prf(prf_alg, &[NI, NR].concat(), shared.expose());
            let total = lens.iter().sum();
            let keymat =
                prf_plus(prf_alg, &seed, &[NI, NR, &SPI_I, &SPI_R].concat(), total).expect("prf+");
            let all = [
                &keys.sk_d,
                &keys.sk_ai,
                &keys.sk_ar,
                &keys.sk_ei,
                &keys.sk_er,
                &keys.sk_pi,
                &keys.sk_pr,
            ];
            assert_eq!(concat(&all), keymat.expose());
        }
    }

    /// Expected values from an independent implementation of §2.14/§2.17
    /// in Python (hmac + hashlib), for aes128gcm16-prfsha256.
    #[test]
    fn known_answer_from_an_independent_implementation() {
        let ni: Vec<u8> = (0..32).collect();
        let nr: Vec<u8> = (32..64).collect();
        let shared = Secret::new((64..96).collect());
        let spi_i = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77];
        let spi_r = [0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        let hexed = |s: &Secret| hex::encode(s.expose());

        assert_eq!(
            hexed(&skeyseed(PrfAlg::HmacSha256, &shared, &ni, &nr)),
            "fb7b0d6107cf71fb87cb4f19020bd81cc0f757a8f6a81a8a62c5b6f3a2660ac5"
        );
        let keys = derive_ike_keys(PrfAlg::HmacSha256, &shared, &ni, &nr, &spi_i, &spi_r, 20, 0)
            .expect("derive");
        assert_eq!(
            hexed(&keys.sk_d),
            "ed417dd11150c8c69d9fefe2d13db45c773738fd8aed63c1b7dc180c32c95979"
        );
        assert_eq!(
            hexed(&keys.sk_ei),
            "4daf4ec80dae5fd9f208a952420d890b4ea6ee9d"
        );
        assert_eq!(
            hexed(&keys.sk_er),
            "74ea4c3d9aaa1677c84c996388b23e4ac4042c0e"
        );
        assert_eq!(
            hexed(&keys.sk_pi),
            "900fd6c6271929a111a56e68b1e67377430a93b983101ad994b727eb86684a3a"
        );
        assert_eq!(
            hexed(&keys.sk_pr),
            "6baed35c4d61b1b341cfc228d9f9b6afba087df8d325e7c2d5838fb629a1a218"
        );

        let child = derive_child_keys(PrfAlg::HmacSha256, &keys.sk_d, None, &ni, &nr, 20, 0)
            .expect("derive");
        assert_eq!(
            hexed(&child.encr_i2r),
            "ea5cadca995f9f6834fcae49836008c04f322d42"
        );
        assert_eq!(
            hexed(&child.encr_r2i),
            "c491b08426e6bcbeae5fa507b1320d7bb0e85667"
        );
    }

    #[test]
    fn ike_keys_depend_on_every_input() {
        let shared = Secret::new(vec![0x33; 32]);
        let base = derive_ike_keys(PrfAlg::HmacSha256, &shared, NI, NR, &SPI_I, &SPI_R, 20, 0)
            .expect("derive");
        let variants = [
            derive_ike_keys(
                PrfAlg::HmacSha256,
                &Secret::new(vec![0x34; 32]),
                NI,
                NR,
                &SPI_I,
                &SPI_R,
                20,
                0,
            ),
            derive_ike_keys(PrfAlg::HmacSha256, &shared, NR, NI, &SPI_I, &SPI_R, 20, 0),
            derive_ike_keys(PrfAlg::HmacSha256, &shared, NI, NR, &SPI_R, &SPI_I, 20, 0),
        ];
        for v in variants {
            assert_ne!(v.expect("derive").sk_d, base.sk_d);
        }
    }

    #[test]
    fn rekeyed_ike_keys_use_old_sk_d_and_old_prf() {
        let old_sk_d = Secret::new(vec![0x44; 48]);
        let shared = Secret::new(vec![0x55; 32]);
        let seed = skeyseed_rekey(PrfAlg::HmacSha384, &old_sk_d, &shared, NI, NR);
        let by_hand = prf(
            PrfAlg::HmacSha384,
            old_sk_d.expose(),
            &[shared.expose(), NI, NR].concat(),
        );
        assert_eq!(seed.expose(), &by_hand[..]);

        // The new SA may use another PRF for prf+.
        let keys = ike_keys_from_skeyseed(PrfAlg::HmacSha256, &seed, NI, NR, &SPI_I, &SPI_R, 20, 0)
            .expect("derive");
        assert_eq!(keys.sk_d.len(), 32);
    }

    #[test]
    fn child_keys_split_keymat_in_rfc_order() {
        let sk_d = Secret::new(vec![0x66; 32]);
        let pfs = Secret::new(vec![0x77; 32]);
        for (pfs_shared, seed) in [
            (None, [NI, NR].concat()),
            (Some(&pfs), [pfs.expose(), NI, NR].concat()),
        ] {
            let keys = derive_child_keys(PrfAlg::HmacSha256, &sk_d, pfs_shared, NI, NR, 20, 0)
                .expect("derive");
            let keymat = prf_plus(PrfAlg::HmacSha256, sk_d.expose(), &seed, 40).expect("prf+");
            assert_eq!(keys.encr_i2r.expose(), &keymat.expose()[..20]);
            assert_eq!(keys.encr_r2i.expose(), &keymat.expose()[20..]);
            assert!(keys.integ_i2r.is_empty() && keys.integ_r2i.is_empty());

            let keys = derive_child_keys(PrfAlg::HmacSha256, &sk_d, pfs_shared, NI, NR, 16, 32)
                .expect("derive");
            let keymat = prf_plus(PrfAlg::HmacSha256, sk_d.expose(), &seed, 96).expect("prf+");
            let all = [
                &keys.encr_i2r,
                &keys.integ_i2r,
                &keys.encr_r2i,
                &keys.integ_r2i,
            ];
            assert_eq!(concat(&all), keymat.expose());
            assert_eq!(keys.integ_i2r.len(), 32);
        }
    }

    #[test]
    fn pfs_changes_child_keys() {
        let sk_d = Secret::new(vec![0x66; 32]);
        let pfs = Secret::new(vec![0x77; 32]);
        let without =
            derive_child_keys(PrfAlg::HmacSha256, &sk_d, None, NI, NR, 20, 0).expect("derive");
        let with = derive_child_keys(PrfAlg::HmacSha256, &sk_d, Some(&pfs), NI, NR, 20, 0)
            .expect("derive");
        assert_ne!(without.encr_i2r, with.encr_i2r);
    }

    #[test]
    fn too_much_key_material_is_an_error() {
        let sk_d = Secret::new(vec![0x66; 20]);
        assert!(matches!(
            derive_child_keys(PrfAlg::HmacSha1, &sk_d, None, NI, NR, 2000, 1000),
            Err(CryptoError::PrfPlusTooLong { .. })
        ));
    }

    #[test]
    fn debug_of_keys_shows_lengths_only() {
        let keys = derive_child_keys(
            PrfAlg::HmacSha256,
            &Secret::new(vec![1; 32]),
            None,
            NI,
            NR,
            20,
            0,
        )
        .expect("derive");
        let printed = format!("{keys:?}");
        assert!(printed.contains("20 octets"), "{printed}");
        let key_hex = hex::encode(keys.encr_i2r.expose());
        assert!(!printed.contains(&key_hex[..8]), "{printed}");
    }
}
