//! Elliptic-curve Diffie-Hellman over NIST P-256 and P-384 in the form of
//! RFC 5903: the KE payload holds x | y (no point-format octet) and the
//! shared secret is the x-coordinate of the shared point.
//!
//! RustCrypto's p256/p384, not ring: ring's ECDH only makes private keys
//! from its own random source, and the engine must supply them.

use p256::elliptic_curve::sec1::ToEncodedPoint;
use zeroize::Zeroize;

use crate::{CryptoError, Secret};

/// Generates the public-value and shared-secret functions for one curve.
macro_rules! curve {
    ($module:ident, $crate_:ident, $name:literal, $scalar_len:literal) => {
        pub(super) mod $module {
            use super::*;
            use $crate_::{PublicKey, SecretKey};

            pub(in crate::ke) const NAME: &str = $name;
            /// Octets of a scalar; a public value is twice this.
            pub(in crate::ke) const SCALAR_LEN: usize = $scalar_len;

            /// The caller's bytes as a scalar in [1, n-1]. Out-of-range
            /// values are refused, not reduced, so every key is uniform
            /// when the bytes are; the caller draws again (the chance is
            /// below 2^-32 for both curves).
            fn secret_key(private: &Secret) -> Result<SecretKey, CryptoError> {
                if private.len() != SCALAR_LEN {
                    return Err(CryptoError::PrivateKeyLength {
                        expected: SCALAR_LEN,
                        actual: private.len(),
                    });
                }
                SecretKey::from_slice(private.expose()).map_err(|_| {
                    CryptoError::InvalidPrivateKey {
                        alg: NAME,
                        reason: "the scalar is zero or not less than the group order; draw again",
                    }
                })
            }

            pub(in crate::ke) fn public(private: &Secret) -> Result<Vec<u8>, CryptoError> {
                let point = secret_key(private)?.public_key().to_encoded_point(false);
                // Drop the 0x04 uncompressed-point octet (RFC 5903 §7).
                Ok(point.as_bytes()[1..].to_vec())
            }

            pub(in crate::ke) fn shared(
                private: &Secret,
                peer: &[u8],
            ) -> Result<Secret, CryptoError> {
                if peer.len() != 2 * SCALAR_LEN {
                    return Err(CryptoError::PeerPublicLength {
                        expected: 2 * SCALAR_LEN,
                        actual: peer.len(),
                    });
                }
                let secret = secret_key(private)?;
                let mut sec1 = Vec::with_capacity(1 + peer.len());
                sec1.push(0x04);
                sec1.extend_from_slice(peer);
                // Decoding checks the point is on the curve; an uncompressed
                // encoding cannot name the identity (RFC 6989 §2.3).
                let peer_key = PublicKey::from_sec1_bytes(&sec1).map_err(|_| {
                    CryptoError::InvalidPeerPublic {
                        alg: NAME,
                        reason: "the point is not on the curve",
                    }
                })?;
                let shared =
                    $crate_::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer_key.as_affine());
                let mut x = shared.raw_secret_bytes().to_vec();
                let out = Secret::from_slice(&x);
                x.zeroize();
                Ok(out)
            }
        }
    };
}

curve!(p256_ke, p256, "ECP-256", 32);
curve!(p384_ke, p384, "ECP-384", 48);
