//! MS-CHAPv2 (RFC 2759) as EAP-MSCHAPv2 uses it, the authenticator's side, and
//! the keys it yields (RFC 3079, used as the EAP MSK).
//!
//! MD4 and single DES appear here and nowhere else: MS-CHAPv2 is built on them.

use des::cipher::{BlockEncrypt, KeyInit};
use md4::{Digest as _, Md4};
use sha1::Sha1;
use zeroize::{Zeroize, Zeroizing};

use crate::secret::{ct_eq, Secret};

/// RFC 2759 §8.7.
const MAGIC_SERVER_SIGNING: &[u8] = b"Magic server to client signing constant";
const MAGIC_PAD: &[u8] = b"Pad to make it do more than one iteration";
/// RFC 3079 §3.4.
const MAGIC_MASTER_KEY: &[u8] = b"This is the MPPE Master Key";
const MAGIC_CLIENT_SEND: &[u8] =
    b"On the client side, this is the send key; on the server side, it is the receive key.";
const MAGIC_CLIENT_RECEIVE: &[u8] =
    b"On the client side, this is the receive key; on the server side, it is the send key.";

/// A user's password as MS-CHAPv2 needs it: its NT hash, MD4 of the UTF-16LE
/// password (RFC 2759 §8.3). The password itself need not be kept.
#[derive(Clone, PartialEq, Eq)]
pub struct NtHash(Secret);

impl NtHash {
    pub fn of_password(password: &str) -> NtHash {
        let mut utf16: Zeroizing<Vec<u8>> =
            Zeroizing::new(password.encode_utf16().flat_map(u16::to_le_bytes).collect());
        let hash = Md4::digest(&utf16[..]);
        utf16.zeroize();
        NtHash(Secret::from_slice(&hash))
    }

    fn bytes(&self) -> &[u8] {
        self.0.expose()
    }
}

impl std::fmt::Debug for NtHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NtHash(<secret>)")
    }
}

/// What the authenticator learns from a peer's correct response.
pub struct Verified {
    /// The Success message's authenticator response, "S=" and 40 hex digits
    /// (RFC 2759 §8.7): proves to the peer that we know its password too.
    pub authenticator_response: String,
    /// The EAP MSK: MasterReceiveKey | MasterSendKey of the authenticator
    /// (RFC 3079 §3.3, 16 octets each), then 32 zero octets (64 in all).
    pub msk: Secret,
}

/// Checks the peer's NT-Response to our `auth_challenge`, given the peer's
/// challenge and the user name it sent (RFC 2759 §8.1). `None` when it was not
/// computed from `password`.
pub fn verify_response(
    password: &NtHash,
    auth_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    user_name: &[u8],
    nt_response: &[u8; 24],
) -> Option<Verified> {
    let challenge = challenge_hash(peer_challenge, auth_challenge, user_name);
    let expected = challenge_response(&challenge, password.bytes());
    if !ct_eq(&expected[..], nt_response) {
        return None;
    }
    let hash_hash = Zeroizing::new(Md4::digest(password.bytes()));
    let digest = sha1(&[&hash_hash[..], nt_response, MAGIC_SERVER_SIGNING]);
    let digest = sha1(&[&digest, &challenge, MAGIC_PAD]);
    let authenticator_response = format!("S={}", upper_hex(&digest));

    let master = Zeroizing::new(sha1(&[&hash_hash[..], nt_response, MAGIC_MASTER_KEY]));
    let mut msk = Vec::with_capacity(64);
    // The authenticator receives with the key the client sends with.
    msk.extend_from_slice(&start_key(&master[..16], MAGIC_CLIENT_SEND)[..]);
    msk.extend_from_slice(&start_key(&master[..16], MAGIC_CLIENT_RECEIVE)[..]);
    msk.resize(64, 0);
    Some(Verified {
        authenticator_response,
        msk: Secret::new(msk),
    })
}

/// The peer's side of RFC 2759 §8.1 (GenerateNTResponse), for tests and
/// emulated clients.
pub fn nt_response(
    password: &NtHash,
    auth_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    user_name: &[u8],
) -> [u8; 24] {
    let challenge = challenge_hash(peer_challenge, auth_challenge, user_name);
    *challenge_response(&challenge, password.bytes())
}

/// RFC 2759 §8.2.
fn challenge_hash(peer_challenge: &[u8], auth_challenge: &[u8], user_name: &[u8]) -> [u8; 8] {
    let digest = sha1(&[peer_challenge, auth_challenge, user_name]);
    let mut out = [0; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// RFC 2759 §8.5: the challenge encrypted under three DES keys cut from the hash.
fn challenge_response(challenge: &[u8; 8], password_hash: &[u8]) -> Zeroizing<[u8; 24]> {
    let mut padded = Zeroizing::new([0u8; 21]);
    padded[..16].copy_from_slice(password_hash);
    let mut out = Zeroizing::new([0u8; 24]);
    for (i, key7) in padded.chunks(7).enumerate() {
        let key = Zeroizing::new(des_key(key7));
        let cipher = des::Des::new_from_slice(&key[..]).expect("a DES key is 8 octets");
        let mut block = (*challenge).into();
        cipher.encrypt_block(&mut block);
        out[i * 8..i * 8 + 8].copy_from_slice(&block);
    }
    out
}

/// RFC 2759 §8.6: 56 key bits spread over 8 octets (the parity bits are ignored).
fn des_key(k: &[u8]) -> [u8; 8] {
    [
        k[0],
        (k[0] << 7) | (k[1] >> 1),
        (k[1] << 6) | (k[2] >> 2),
        (k[2] << 5) | (k[3] >> 3),
        (k[3] << 4) | (k[4] >> 4),
        (k[4] << 3) | (k[5] >> 5),
        (k[5] << 2) | (k[6] >> 6),
        k[6] << 1,
    ]
}

/// RFC 3079 §3.4 GetAsymmetricStartKey for a 128-bit key.
fn start_key(master: &[u8], magic: &[u8]) -> Zeroizing<[u8; 16]> {
    let digest = Zeroizing::new(sha1(&[master, &[0u8; 40], magic, &[0xf2u8; 40]]));
    let mut key = Zeroizing::new([0u8; 16]);
    key.copy_from_slice(&digest[..16]);
    key
}

fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn arr<const N: usize>(s: &str) -> [u8; N] {
        h(s).try_into().unwrap()
    }

    // RFC 2759 §9.2.
    const AUTH_CHALLENGE: &str = "5B5D7C7D7B3F2F3E3C2C602132262628";
    const PEER_CHALLENGE: &str = "21402324255E262A28295F2B3A337C7E";
    const NT_RESPONSE: &str = "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF";

    #[test]
    fn rfc2759_test_vectors() {
        let password = NtHash::of_password("clientPass");
        assert_eq!(password.bytes(), h("44EBBA8D5312B8D611474411F56989AE"));
        assert_eq!(
            Md4::digest(password.bytes())[..],
            h("41C00C584BD2D91C4017A2A12FA59F3F")
        );
        let (auth, peer) = (arr(AUTH_CHALLENGE), arr(PEER_CHALLENGE));
        assert_eq!(
            challenge_hash(&peer, &auth, b"User")[..],
            h("D02E4386BCE91226")
        );
        assert_eq!(
            nt_response(&password, &auth, &peer, b"User")[..],
            h(NT_RESPONSE)
        );
        let verified = verify_response(&password, &auth, &peer, b"User", &arr(NT_RESPONSE))
            .expect("the RFC's response verifies");
        assert_eq!(
            verified.authenticator_response,
            "S=407A5589115FD0D6209F510FE9C04566932CDA56"
        );
    }

    #[test]
    fn rfc3079_master_and_session_keys() {
        // RFC 3079 §3.5.3 (128-bit keys) uses the same password and NT-Response;
        // its SendStartKey is the server's (IsSend, IsServer: the second magic).
        let password = NtHash::of_password("clientPass");
        let hash_hash = Md4::digest(password.bytes());
        let master = sha1(&[&hash_hash[..], &h(NT_RESPONSE), MAGIC_MASTER_KEY]);
        assert_eq!(master[..16], h("FDECE3717A8C838CB388E527AE3CDD31"));
        assert_eq!(
            start_key(&master[..16], MAGIC_CLIENT_RECEIVE)[..],
            h("8B7CDC149B993A1BA118CB153F56DCCB")
        );
    }

    #[test]
    fn msk_is_receive_then_send_key_then_zeros() {
        let password = NtHash::of_password("clientPass");
        let verified = verify_response(
            &password,
            &arr(AUTH_CHALLENGE),
            &arr(PEER_CHALLENGE),
            b"User",
            &arr(NT_RESPONSE),
        )
        .unwrap();
        let msk = verified.msk.expose();
        assert_eq!(msk.len(), 64);
        // The server's receive key (the client's send key), then its send key.
        let master = h("FDECE3717A8C838CB388E527AE3CDD31");
        assert_eq!(msk[..16], start_key(&master, MAGIC_CLIENT_SEND)[..]);
        assert_ne!(msk[..16], [0u8; 16]);
        assert_eq!(msk[16..32], h("8B7CDC149B993A1BA118CB153F56DCCB"));
        assert_eq!(msk[32..], [0u8; 32]);
    }

    #[test]
    fn a_wrong_password_or_user_name_does_not_verify() {
        let (auth, peer, resp) = (arr(AUTH_CHALLENGE), arr(PEER_CHALLENGE), arr(NT_RESPONSE));
        let wrong = NtHash::of_password("clientPasS");
        assert!(verify_response(&wrong, &auth, &peer, b"User", &resp).is_none());
        let right = NtHash::of_password("clientPass");
        assert!(verify_response(&right, &auth, &peer, b"user", &resp).is_none());
        let mut other_challenge = auth;
        other_challenge[0] ^= 1;
        assert!(verify_response(&right, &other_challenge, &peer, b"User", &resp).is_none());
    }

    #[test]
    fn debug_does_not_show_the_hash() {
        let shown = format!("{:?}", NtHash::of_password("clientPass"));
        assert!(!shown.to_lowercase().contains("44ebba"), "{shown}");
    }
}
