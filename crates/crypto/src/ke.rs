//! Key exchange methods (RFC 7296 §3.3.2 transform type 4).
//!
//! Everything here takes the private key as bytes from the caller: ring only
//! creates private keys from its own random source, and the engine must
//! supply them itself (determinism). So X25519 comes from x25519-dalek,
//! ECP from RustCrypto p256/p384, MODP from crypto-bigint.

use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroize;

use crate::{CryptoError, Secret};

mod ecp;
mod modp;

/// A negotiated key exchange method (transform type 4; IANA numbers in
/// parentheses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeAlg {
    /// Curve25519 (31), RFC 8031.
    X25519,
    /// 256-bit random ECP group (19), RFC 5903.
    Ecp256,
    /// 384-bit random ECP group (20), RFC 5903.
    Ecp384,
    /// 1024-bit MODP group (2), RFC 2409. **Legacy**: about 80 bits of
    /// strength. Kept only for peers that offer nothing better (the Windows
    /// built-in client's default); the configuration must enable it
    /// explicitly. See [`KeAlg::is_legacy`].
    Modp1024,
    /// 2048-bit MODP group (14), RFC 3526.
    Modp2048,
    /// 3072-bit MODP group (15), RFC 3526.
    Modp3072,
    /// 4096-bit MODP group (16), RFC 3526.
    Modp4096,
}

impl KeAlg {
    /// Every method, strongest-looking last. Includes the legacy one.
    pub const ALL: [KeAlg; 7] = [
        KeAlg::X25519,
        KeAlg::Ecp256,
        KeAlg::Ecp384,
        KeAlg::Modp1024,
        KeAlg::Modp2048,
        KeAlg::Modp3072,
        KeAlg::Modp4096,
    ];

    /// The IANA Transform ID (RFC 7296 §3.3.2, transform type 4).
    pub fn iana_id(self) -> u16 {
        match self {
            KeAlg::X25519 => 31,
            KeAlg::Ecp256 => 19,
            KeAlg::Ecp384 => 20,
            KeAlg::Modp1024 => 2,
            KeAlg::Modp2048 => 14,
            KeAlg::Modp3072 => 15,
            KeAlg::Modp4096 => 16,
        }
    }

    /// Too weak to use unless the administrator asked for it by name.
    pub fn is_legacy(self) -> bool {
        matches!(self, KeAlg::Modp1024)
    }

    /// A short name for logs and errors.
    pub fn name(self) -> &'static str {
        match self {
            KeAlg::X25519 => "X25519",
            KeAlg::Ecp256 => ecp::p256_ke::NAME,
            KeAlg::Ecp384 => ecp::p384_ke::NAME,
            KeAlg::Modp1024 => modp::GROUP_2.name,
            KeAlg::Modp2048 => modp::GROUP_14.name,
            KeAlg::Modp3072 => modp::GROUP_15.name,
            KeAlg::Modp4096 => modp::GROUP_16.name,
        }
    }

    fn modp_group(self) -> Option<&'static modp::Group> {
        match self {
            KeAlg::Modp1024 => Some(&modp::GROUP_2),
            KeAlg::Modp2048 => Some(&modp::GROUP_14),
            KeAlg::Modp3072 => Some(&modp::GROUP_15),
            KeAlg::Modp4096 => Some(&modp::GROUP_16),
            _ => None,
        }
    }

    /// Octets of private key the caller must supply (uniformly random).
    /// ECP: a scalar, refused if not below the group order (draw again).
    /// MODP: an exponent of twice the group's security strength.
    pub fn private_len(self) -> usize {
        match self {
            KeAlg::X25519 => 32,
            KeAlg::Ecp256 => ecp::p256_ke::SCALAR_LEN,
            KeAlg::Ecp384 => ecp::p384_ke::SCALAR_LEN,
            _ => self.modp_group().map_or(0, |g| g.private_len),
        }
    }

    /// Octets of the public value in the KE payload.
    pub fn public_len(self) -> usize {
        match self {
            KeAlg::X25519 => 32,
            KeAlg::Ecp256 => 2 * ecp::p256_ke::SCALAR_LEN,
            KeAlg::Ecp384 => 2 * ecp::p384_ke::SCALAR_LEN,
            _ => self.modp_group().map_or(0, modp::Group::len),
        }
    }

    /// Octets of the shared secret g^ir.
    pub fn shared_len(self) -> usize {
        match self {
            KeAlg::X25519 => 32,
            KeAlg::Ecp256 => ecp::p256_ke::SCALAR_LEN,
            KeAlg::Ecp384 => ecp::p384_ke::SCALAR_LEN,
            _ => self.modp_group().map_or(0, modp::Group::len),
        }
    }
}

/// The public value for `private`, as sent in the KE payload: X25519 the
/// 32-octet little-endian u-coordinate (RFC 8031 §2); ECP x | y (RFC 5903
/// §7); MODP g^x mod p, big-endian, the modulus's length (RFC 7296 §3.4).
pub fn ke_public(alg: KeAlg, private: &Secret) -> Result<Vec<u8>, CryptoError> {
    match alg {
        KeAlg::X25519 => {
            let secret = x25519_secret(private)?;
            Ok(PublicKey::from(&secret).as_bytes().to_vec())
        }
        KeAlg::Ecp256 => ecp::p256_ke::public(private),
        KeAlg::Ecp384 => ecp::p384_ke::public(private),
        KeAlg::Modp1024 | KeAlg::Modp2048 | KeAlg::Modp3072 | KeAlg::Modp4096 => alg
            .modp_group()
            .map_or(Err(unknown_group(alg)), |g| g.public(private)),
    }
}

/// The shared secret g^ir from our private key and the peer's public value.
///
/// The peer's value is validated first (RFC 6989), so a bad value is an
/// error, never a weak key: the wrong length; X25519 an all-zero result
/// (a low-order point, RFC 7748 §6.1); ECP a point not on the curve;
/// MODP a value outside 1 < y < p-1.
pub fn ke_shared(alg: KeAlg, private: &Secret, peer_public: &[u8]) -> Result<Secret, CryptoError> {
    match alg {
        KeAlg::X25519 => {
            let peer: [u8; 32] =
                peer_public
                    .try_into()
                    .map_err(|_| CryptoError::PeerPublicLength {
                        expected: alg.public_len(),
                        actual: peer_public.len(),
                    })?;
            let secret = x25519_secret(private)?;
            let shared = secret.diffie_hellman(&PublicKey::from(peer));
            // was_contributory() is the constant-time all-zero check.
            if !shared.was_contributory() {
                return Err(CryptoError::AllZeroSharedSecret);
            }
            Ok(Secret::from_slice(shared.as_bytes()))
        }
        KeAlg::Ecp256 => ecp::p256_ke::shared(private, peer_public),
        KeAlg::Ecp384 => ecp::p384_ke::shared(private, peer_public),
        KeAlg::Modp1024 | KeAlg::Modp2048 | KeAlg::Modp3072 | KeAlg::Modp4096 => alg
            .modp_group()
            .map_or(Err(unknown_group(alg)), |g| g.shared(private, peer_public)),
    }
}

fn unknown_group(alg: KeAlg) -> CryptoError {
    CryptoError::Unsupported {
        alg: alg.name(),
        reason: "no MODP group for this method",
    }
}

fn x25519_secret(private: &Secret) -> Result<StaticSecret, CryptoError> {
    let mut bytes: [u8; 32] =
        private
            .expose()
            .try_into()
            .map_err(|_| CryptoError::PrivateKeyLength {
                expected: KeAlg::X25519.private_len(),
                actual: private.len(),
            })?;
    let secret = StaticSecret::from(bytes);
    bytes.zeroize();
    Ok(secret)
}

#[cfg(test)]
mod group_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_hex(s: &str) -> Secret {
        Secret::new(hex::decode(s).expect("hex"))
    }

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("hex")
    }

    /// RFC 7748 §5.2: scalar multiplication with an arbitrary u-coordinate.
    #[test]
    fn rfc7748_section_5_2_vectors() {
        let shared = ke_shared(
            KeAlg::X25519,
            &secret_hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
            &unhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
        )
        .expect("valid point");
        assert_eq!(
            shared.expose(),
            &unhex("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")[..]
        );

        // This u-coordinate has its top bit set, which must be ignored.
        let shared = ke_shared(
            KeAlg::X25519,
            &secret_hex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
            &unhex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"),
        )
        .expect("valid point");
        assert_eq!(
            shared.expose(),
            &unhex("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957")[..]
        );
    }

    /// RFC 7748 §6.1: Alice and Bob.
    #[test]
    fn rfc7748_section_6_1_alice_and_bob() {
        let alice = secret_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let bob = secret_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        let alice_pub = ke_public(KeAlg::X25519, &alice).expect("32 octets");
        let bob_pub = ke_public(KeAlg::X25519, &bob).expect("32 octets");
        assert_eq!(
            alice_pub,
            unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        assert_eq!(
            bob_pub,
            unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        );
        let expected = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        let at_alice = ke_shared(KeAlg::X25519, &alice, &bob_pub).expect("valid");
        let at_bob = ke_shared(KeAlg::X25519, &bob, &alice_pub).expect("valid");
        assert_eq!(at_alice.expose(), &expected[..]);
        assert_eq!(at_alice, at_bob);
    }

    #[test]
    fn low_order_points_are_rejected() {
        let alice = secret_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let low_order = [
            // 0 and 1
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0100000000000000000000000000000000000000000000000000000000000000",
            // a point of order 8
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            // p, which reduces to 0
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ];
        for point in low_order {
            assert_eq!(
                ke_shared(KeAlg::X25519, &alice, &unhex(point)),
                Err(CryptoError::AllZeroSharedSecret),
                "{point}"
            );
        }
    }

    #[test]
    fn wrong_lengths_are_rejected() {
        let alice = Secret::new(vec![9; 32]);
        assert_eq!(
            ke_shared(KeAlg::X25519, &alice, &[9; 31]),
            Err(CryptoError::PeerPublicLength {
                expected: 32,
                actual: 31
            })
        );
        assert_eq!(
            ke_shared(KeAlg::X25519, &alice, &[9; 33]),
            Err(CryptoError::PeerPublicLength {
                expected: 32,
                actual: 33
            })
        );
        let short = Secret::new(vec![9; 16]);
        assert_eq!(
            ke_public(KeAlg::X25519, &short),
            Err(CryptoError::PrivateKeyLength {
                expected: 32,
                actual: 16
            })
        );
        assert_eq!(
            ke_shared(KeAlg::X25519, &short, &[9; 32]),
            Err(CryptoError::PrivateKeyLength {
                expected: 32,
                actual: 16
            })
        );
    }

    #[test]
    fn lengths() {
        assert_eq!(KeAlg::X25519.private_len(), 32);
        assert_eq!(KeAlg::X25519.public_len(), 32);
        assert_eq!(KeAlg::X25519.shared_len(), 32);
    }
}
