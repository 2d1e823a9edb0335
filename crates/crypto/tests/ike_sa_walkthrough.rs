//! The walking skeleton's crypto, end to end through the public API:
//! aes128gcm16-prfsha256-x25519 for IKE, aes128gcm16 for ESP, PSK AUTH.
//! Both sides compute independently and must agree.

use tern_crypto::*;

const PRF: PrfAlg = PrfAlg::HmacSha256;
const KE: KeAlg = KeAlg::X25519;
const ENCR: AeadAlg = AeadAlg::AesGcm16 { key_bits: 128 };

struct Side {
    keys: IkeKeys,
}

fn establish() -> (Side, Side, Vec<u8>, Vec<u8>) {
    // Randomness is the caller's job: fixed bytes stand in for it here.
    let priv_i = Secret::new(vec![0x41; KE.private_len()]);
    let priv_r = Secret::new(vec![0x52; KE.private_len()]);
    let (ni, nr) = (vec![0xa1; 32], vec![0xb2; 32]);
    let (spi_i, spi_r) = ([1u8; 8], [2u8; 8]);

    let pub_i = ke_public(KE, &priv_i).expect("public");
    let pub_r = ke_public(KE, &priv_r).expect("public");
    let shared_i = ke_shared(KE, &priv_i, &pub_r).expect("shared");
    let shared_r = ke_shared(KE, &priv_r, &pub_i).expect("shared");
    assert_eq!(shared_i, shared_r);

    let derive = |shared: &Secret| {
        derive_ike_keys(
            PRF,
            shared,
            &ni,
            &nr,
            &spi_i,
            &spi_r,
            ENCR.key_material_len(),
            0,
        )
        .expect("keys")
    };
    let initiator = Side {
        keys: derive(&shared_i),
    };
    let responder = Side {
        keys: derive(&shared_r),
    };
    (initiator, responder, ni, nr)
}

#[test]
fn both_sides_derive_the_same_keys_and_talk() {
    let (initiator, responder, _, _) = establish();
    assert_eq!(initiator.keys, responder.keys);
    assert!(
        initiator.keys.sk_ai.is_empty(),
        "AEAD has no integrity keys"
    );

    // Initiator -> responder under SK_ei; the reverse under SK_er.
    let i_out = SkCipher::new(ENCR, &initiator.keys.sk_ei).expect("cipher");
    let r_in = SkCipher::new(ENCR, &responder.keys.sk_ei).expect("cipher");
    let aad = b"IKE header + SK generic payload header";
    let inner = b"IDi | AUTH | SAi2 | TSi | TSr";
    let mut body = vec![0; i_out.sealed_len(inner.len())];
    i_out
        .seal(&[0, 0, 0, 0, 0, 0, 0, 1], aad, inner, &mut body)
        .expect("seal");
    assert_eq!(r_in.open(aad, &body).expect("open"), inner.to_vec());

    // The other direction's key does not open it.
    let wrong = SkCipher::new(ENCR, &responder.keys.sk_er).expect("cipher");
    assert_eq!(wrong.open(aad, &body), Err(CryptoError::IcvMismatch));
}

#[test]
fn psk_auth_verifies_across_sides() {
    let (initiator, responder, _, nr) = establish();
    let psk = b"walking skeleton";
    let id_i = [&[2u8, 0, 0, 0][..], b"initiator.example"].concat();
    let first_message = b"initiator's IKE_SA_INIT request";

    let sent = psk_auth(
        PRF,
        psk,
        &signed_octets(PRF, first_message, &nr, &initiator.keys.sk_pi, &id_i),
    );
    let expected = signed_octets(PRF, first_message, &nr, &responder.keys.sk_pi, &id_i);
    assert!(verify_psk_auth(PRF, psk, &expected, &sent));
    assert!(!verify_psk_auth(PRF, b"wrong psk", &expected, &sent));
}

#[test]
fn child_sa_keys_agree_and_fit_esp() {
    let (initiator, responder, ni, nr) = establish();
    let derive = |sk_d: &Secret| {
        derive_child_keys(PRF, sk_d, None, &ni, &nr, ENCR.key_material_len(), 0).expect("keys")
    };
    let at_i = derive(&initiator.keys.sk_d);
    let at_r = derive(&responder.keys.sk_d);
    assert_eq!(at_i, at_r);
    assert_eq!(
        at_i.encr_i2r.len(),
        20,
        "rfc4106(gcm(aes)) takes key + salt"
    );
    assert_ne!(at_i.encr_i2r, at_i.encr_r2i);
}
