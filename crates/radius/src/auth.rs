//! The MD5-based checks of RADIUS: Response Authenticator (RFC 2865 §3),
//! Message-Authenticator (RFC 2869 §5.14, RFC 3579 §3.2), and the salted
//! encryption of MS-MPPE keys (RFC 2548 §2.4.2).

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use zeroize::Zeroizing;

use tern_crypto::{ct_eq, Secret};

use crate::attr;
use crate::packet::{Packet, HEADER_LEN};
use crate::Error;

/// MD5 of the parts, in order.
fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HMAC-MD5 over `bytes` keyed with the shared secret.
fn hmac_md5(secret: &Secret, bytes: &[u8]) -> [u8; 16] {
    let mut mac = Hmac::<Md5>::new_from_slice(secret.expose()).expect("HMAC takes any key length");
    mac.update(bytes);
    mac.finalize().into_bytes().into()
}

/// Where the Message-Authenticator's 16 octets sit in a packet's bytes.
fn message_authenticator_at(bytes: &[u8]) -> Option<usize> {
    let mut at = HEADER_LEN;
    while at + 2 <= bytes.len() {
        let len = usize::from(bytes[at + 1]);
        if bytes[at] == attr::MESSAGE_AUTHENTICATOR && len == 18 {
            return Some(at + 2);
        }
        if len < 2 {
            return None;
        }
        at += len;
    }
    None
}

/// Seals an Access-Request: `packet` must carry one Message-Authenticator
/// attribute (any 16 octets); it is set to HMAC-MD5 over the packet with the
/// attribute zeroed (RFC 3579 §3.2). Returns the bytes to send.
pub fn seal_request(packet: &Packet, secret: &Secret) -> Vec<u8> {
    let mut bytes = packet.to_bytes();
    let at = message_authenticator_at(&bytes).expect("the request carries a Message-Authenticator");
    bytes[at..at + 16].fill(0);
    let mac = hmac_md5(secret, &bytes);
    bytes[at..at + 16].copy_from_slice(&mac);
    bytes
}

/// The Response Authenticator a server computes for the reply `bytes` (its
/// own authenticator field replaced by the request's): MD5(Code, Identifier,
/// Length, Request Authenticator, Attributes, Secret).
pub fn response_authenticator(
    bytes: &[u8],
    request_authenticator: &[u8; 16],
    secret: &Secret,
) -> [u8; 16] {
    md5(&[
        &bytes[..4],
        request_authenticator,
        &bytes[HEADER_LEN..],
        secret.expose(),
    ])
}

/// Signs a reply as a server would (for tests and scripted servers): sets the
/// Message-Authenticator if the packet has one, then the Response Authenticator.
pub fn seal_response(
    packet: &Packet,
    request_authenticator: &[u8; 16],
    secret: &Secret,
) -> Vec<u8> {
    let mut bytes = packet.to_bytes();
    bytes[4..HEADER_LEN].copy_from_slice(request_authenticator);
    if let Some(at) = message_authenticator_at(&bytes) {
        bytes[at..at + 16].fill(0);
        let mac = hmac_md5(secret, &bytes);
        bytes[at..at + 16].copy_from_slice(&mac);
    }
    let auth = response_authenticator(&bytes, request_authenticator, secret);
    bytes[4..HEADER_LEN].copy_from_slice(&auth);
    bytes
}

/// Reads a reply to the request with `identifier` and `request_authenticator`:
/// its Response Authenticator must verify, and its Message-Authenticator too;
/// a reply with EAP-Message must have one (RFC 3579 §3.2).
pub fn open_response(
    bytes: &[u8],
    identifier: u8,
    request_authenticator: &[u8; 16],
    secret: &Secret,
) -> Result<Packet, Error> {
    let packet = Packet::parse(bytes)?;
    if packet.identifier != identifier {
        return Err(Error::WrongIdentifier {
            got: packet.identifier,
            want: identifier,
        });
    }
    let bytes = &bytes[..bytes
        .len()
        .min(usize::from(u16::from_be_bytes([bytes[2], bytes[3]])))];
    let expected = response_authenticator(bytes, request_authenticator, secret);
    if !ct_eq(&expected, &packet.authenticator) {
        return Err(Error::BadResponseAuthenticator);
    }
    match message_authenticator_at(bytes) {
        Some(at) => {
            let mut copy = bytes.to_vec();
            copy[4..HEADER_LEN].copy_from_slice(request_authenticator);
            copy[at..at + 16].fill(0);
            if !ct_eq(&hmac_md5(secret, &copy), &bytes[at..at + 16]) {
                return Err(Error::BadMessageAuthenticator);
            }
        }
        None if packet.first(attr::EAP_MESSAGE).is_some() => {
            return Err(Error::MissingMessageAuthenticator)
        }
        None => {}
    }
    Ok(packet)
}

/// Decrypts an MS-MPPE-Send-Key or -Recv-Key value (RFC 2548 §2.4.2): a
/// 2-octet salt with its high bit set, then the key length, the key and
/// padding, encrypted 16 octets at a time with MD5(secret, request
/// authenticator, salt) then MD5(secret, previous cipher block).
pub fn decrypt_mppe_key(
    value: &[u8],
    request_authenticator: &[u8; 16],
    secret: &Secret,
) -> Result<Secret, Error> {
    if value.len() < 2 + 16 || (value.len() - 2) % 16 != 0 {
        return Err(Error::BadMppeKey(
            "its length is not a salt and whole 16-octet blocks",
        ));
    }
    let (salt, cipher) = value.split_at(2);
    if salt[0] & 0x80 == 0 {
        return Err(Error::BadMppeKey("the salt's high bit is clear"));
    }
    let mut plain = Zeroizing::new(Vec::with_capacity(cipher.len()));
    let mut b = Zeroizing::new(md5(&[secret.expose(), request_authenticator, salt]));
    for block in cipher.chunks(16) {
        plain.extend(block.iter().zip(b.iter()).map(|(c, k)| c ^ k));
        *b = md5(&[secret.expose(), block]);
    }
    let len = usize::from(plain[0]);
    if len == 0 || 1 + len > plain.len() {
        return Err(Error::BadMppeKey(
            "its key length is zero or beyond the value",
        ));
    }
    Ok(Secret::from_slice(&plain[1..1 + len]))
}

/// Encrypts an MPPE key as a server would (for tests and scripted servers).
pub fn encrypt_mppe_key(
    key: &[u8],
    salt: [u8; 2],
    request_authenticator: &[u8; 16],
    secret: &Secret,
) -> Vec<u8> {
    let mut plain = Zeroizing::new(vec![key.len() as u8]);
    plain.extend_from_slice(key);
    let padded = plain.len().div_ceil(16) * 16;
    plain.resize(padded, 0);
    let mut out = salt.to_vec();
    let mut b = md5(&[secret.expose(), request_authenticator, &salt]);
    for block in plain.chunks(16) {
        let c: Vec<u8> = block.iter().zip(b.iter()).map(|(p, k)| p ^ k).collect();
        b = md5(&[secret.expose(), &c]);
        out.extend_from_slice(&c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::ACCESS_ACCEPT;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 2865 §7.1: the Access-Accept to the request whose authenticator is
    /// 0f403f94..., shared secret "xyzzy5461".
    #[test]
    fn rfc2865_example_accept_verifies() {
        let secret = Secret::from_slice(b"xyzzy5461");
        let mut request_auth = [0; 16];
        request_auth.copy_from_slice(&hex("0f403f9473978057bd83d5cb98f4227a"));
        let accept = hex("02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2
             06 06 00 00 00 01 0f 06 00 00 00 00 0e 06 c0 a8 01 03");
        let p = open_response(&accept, 0, &request_auth, &secret).unwrap();
        assert_eq!(p.code, ACCESS_ACCEPT);
        assert_eq!(p.attributes.len(), 3);
        // One flipped bit anywhere, or another secret, and it does not.
        let mut bad = accept.clone();
        bad[30] ^= 1;
        assert_eq!(
            open_response(&bad, 0, &request_auth, &secret),
            Err(Error::BadResponseAuthenticator)
        );
        let other = Secret::from_slice(b"xyzzy5462");
        assert_eq!(
            open_response(&accept, 0, &request_auth, &other),
            Err(Error::BadResponseAuthenticator)
        );
        assert_eq!(
            open_response(&accept, 1, &request_auth, &secret),
            Err(Error::WrongIdentifier { got: 0, want: 1 })
        );
    }

    fn challenge_with_eap(with_mac: bool) -> Packet {
        let mut p = Packet {
            code: crate::packet::ACCESS_CHALLENGE,
            identifier: 9,
            authenticator: [0; 16],
            attributes: vec![],
        };
        p.push_split(attr::EAP_MESSAGE, &[1, 2, 0, 6, 1, 0x41]);
        if with_mac {
            p.push_split(attr::MESSAGE_AUTHENTICATOR, &[0; 16]);
        }
        p
    }

    #[test]
    fn message_authenticator_is_checked_and_required_with_eap() {
        let secret = Secret::from_slice(b"s3cr3t");
        let ra = [0x5a; 16];
        let good = seal_response(&challenge_with_eap(true), &ra, &secret);
        assert!(open_response(&good, 9, &ra, &secret).is_ok());
        // A wrong Message-Authenticator under a correct Response Authenticator.
        let mut p = Packet::parse(&good).unwrap();
        let mac = p
            .attributes
            .iter_mut()
            .find(|a| a.kind == attr::MESSAGE_AUTHENTICATOR)
            .unwrap();
        mac.value[0] ^= 0xff;
        let mut forged = p.to_bytes();
        let auth = response_authenticator(&forged, &ra, &secret);
        forged[4..20].copy_from_slice(&auth);
        assert_eq!(
            open_response(&forged, 9, &ra, &secret),
            Err(Error::BadMessageAuthenticator)
        );
        let bare = seal_response(&challenge_with_eap(false), &ra, &secret);
        assert_eq!(
            open_response(&bare, 9, &ra, &secret),
            Err(Error::MissingMessageAuthenticator)
        );
    }

    #[test]
    fn request_mac_covers_the_whole_packet() {
        let secret = Secret::from_slice(b"s3cr3t");
        let mut p = challenge_with_eap(true);
        p.code = crate::packet::ACCESS_REQUEST;
        p.authenticator = [7; 16];
        let sealed = seal_request(&p, &secret);
        let at = message_authenticator_at(&sealed).unwrap();
        let mut zeroed = sealed.clone();
        zeroed[at..at + 16].fill(0);
        assert_eq!(&sealed[at..at + 16], &hmac_md5(&secret, &zeroed));
        assert_ne!(&sealed[at..at + 16], &[0; 16]);
    }

    #[test]
    fn mppe_keys_decrypt_and_bad_ones_are_refused() {
        let secret = Secret::from_slice(b"s3cr3t");
        let ra = [0x33; 16];
        let key: Vec<u8> = (0..32).collect();
        let value = encrypt_mppe_key(&key, [0x81, 0x02], &ra, &secret);
        assert_eq!(value.len(), 2 + 48);
        assert_eq!(
            decrypt_mppe_key(&value, &ra, &secret).unwrap().expose(),
            &key[..]
        );
        let wrong = decrypt_mppe_key(&value, &[0x34; 16], &secret);
        assert!(
            wrong.map_or(true, |k| k.expose() != key),
            "decrypted under another authenticator"
        );
        let mut clear_salt = value.clone();
        clear_salt[0] = 0x01;
        assert!(decrypt_mppe_key(&clear_salt, &ra, &secret).is_err());
        assert!(decrypt_mppe_key(&value[..20], &ra, &secret).is_err());
    }
}
