//! AUTH payload computation for pre-shared keys (RFC 7296 §2.15).

use zeroize::Zeroize;

use crate::{ct_eq, prf, PrfAlg, Secret};

/// The fixed pad of RFC 7296 §2.15 (17 ASCII octets, no terminator).
const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// <SignedOctets> = RealMessage | NonceData | prf(SK_p, RestOfIDPayload).
///
/// `real_message` is the whole first message we sent (or the peer sent),
/// `peer_nonce` the other side's nonce data, `sk_p` the signer's SK_pi or
/// SK_pr, and `id_body` the signer's ID payload without its generic header
/// (ID type, three reserved octets, identification data).
pub fn signed_octets(
    prf_alg: PrfAlg,
    real_message: &[u8],
    peer_nonce: &[u8],
    sk_p: &Secret,
    id_body: &[u8],
) -> Vec<u8> {
    let maced_id = prf(prf_alg, sk_p.expose(), id_body);
    [real_message, peer_nonce, &maced_id].concat()
}

/// AUTH for shared key message integrity code:
/// prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>).
pub fn psk_auth(prf_alg: PrfAlg, psk: &[u8], signed_octets: &[u8]) -> Vec<u8> {
    let mut padded_key = prf(prf_alg, psk, KEY_PAD);
    let auth = prf(prf_alg, &padded_key, signed_octets);
    padded_key.zeroize();
    auth
}

/// Checks a received PSK AUTH value in constant time.
pub fn verify_psk_auth(prf_alg: PrfAlg, psk: &[u8], signed_octets: &[u8], received: &[u8]) -> bool {
    ct_eq(&psk_auth(prf_alg, psk, signed_octets), received)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psk_auth_is_prf_of_padded_key_over_signed_octets() {
        let psk = b"correct horse battery staple";
        let octets = b"message | nonce | prf(SK_p, ID)";
        let inner = prf(PrfAlg::HmacSha256, psk, b"Key Pad for IKEv2");
        let by_hand = prf(PrfAlg::HmacSha256, &inner, octets);
        assert_eq!(psk_auth(PrfAlg::HmacSha256, psk, octets), by_hand);
        assert_eq!(by_hand.len(), 32);
        assert_eq!(psk_auth(PrfAlg::HmacSha512, psk, octets).len(), 64);
    }

    #[test]
    fn signed_octets_concatenate_message_nonce_and_maced_id() {
        let sk_p = Secret::new(vec![0x5c; 32]);
        // ID_FQDN (2), three reserved octets, "tern.example".
        let id_body = [&[2u8, 0, 0, 0][..], b"tern.example"].concat();
        let octets = signed_octets(
            PrfAlg::HmacSha256,
            b"IKE_SA_INIT bytes",
            b"peer nonce",
            &sk_p,
            &id_body,
        );
        let maced_id = prf(PrfAlg::HmacSha256, sk_p.expose(), &id_body);
        assert_eq!(
            octets,
            [&b"IKE_SA_INIT bytes"[..], b"peer nonce", &maced_id].concat()
        );
    }

    #[test]
    fn verify_accepts_only_the_right_value() {
        let auth = psk_auth(PrfAlg::HmacSha256, b"psk", b"octets");
        assert!(verify_psk_auth(
            PrfAlg::HmacSha256,
            b"psk",
            b"octets",
            &auth
        ));
        assert!(!verify_psk_auth(
            PrfAlg::HmacSha256,
            b"psk2",
            b"octets",
            &auth
        ));
        assert!(!verify_psk_auth(
            PrfAlg::HmacSha256,
            b"psk",
            b"octets!",
            &auth
        ));
        assert!(!verify_psk_auth(
            PrfAlg::HmacSha256,
            b"psk",
            b"octets",
            &auth[..31]
        ));
    }
}
