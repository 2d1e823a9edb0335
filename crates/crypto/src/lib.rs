//! tern-crypto: the cryptography of IKEv2.
//!
//! PRFs and prf+, key exchange (X25519, ECP-256/384, MODP-1024..4096), key
//! derivation for IKE and CHILD SAs, protection of the SK payload (AEAD or
//! AES-CBC + HMAC), AUTH with a shared key or a signature, certificates,
//! and NAT detection hashes.
//!
//! Nothing here draws randomness that reaches an output, with one exception:
//! private keys, IVs and nonces are handed in by the caller, so the engine
//! stays deterministic under test. The exception is RSA-PSS signing, whose
//! salt ring draws from its own `SystemRandom` (ring's RNG trait is sealed);
//! ECDSA signs with RFC 6979 deterministic nonces. RSA PKCS#1 v1.5 with
//! SHA-1 (AUTH method 1) reads the OS random source only to blind the
//! private-key operation; its signatures are deterministic.
//!
//! ring first. Elsewhere, and why:
//! - x25519-dalek, p256, p384: key exchange from caller-supplied private
//!   bytes (ring only makes ephemeral keys from its own RNG); p256/p384
//!   also for RFC 6979 ECDSA.
//! - aes + cbc: ring has no CBC mode.
//! - crypto-bigint: ring has no finite-field DH; its Montgomery
//!   exponentiation is constant-time in the exponent.
//! - x509-parser: certificates (its signature checks run on ring).
//! - rsa: PKCS#1 v1.5 signing with SHA-1 (AUTH method 1); ring refuses
//!   SHA-1 signatures.
//! - p521: ECDSA on P-521 (AUTH method 11), which ring does not do.
//! - md4 + des: MS-CHAPv2 (EAP-MSCHAPv2) is built on them; `mschapv2` only.

mod aead;
mod auth;
mod cert;
mod crl;
mod dn;
mod error;
mod integ;
mod ke;
mod keys;
pub mod mschapv2;
mod nat;
mod prf;
mod random;
mod secret;
mod sig;
mod sk;

pub use aead::{AeadAlg, SALT_LEN};
pub use auth::{psk_auth, signed_octets, verify_psk_auth};
pub use cert::{check_peer_id, verify_chain, CertError, Certificate, PeerId, MAX_CHAIN_LEN};
pub use crl::Crl;
pub use dn::{dn_equal, dn_from_text, dn_to_text};
pub use error::CryptoError;
pub use integ::IntegAlg;
pub use ke::{ke_public, ke_shared, KeAlg};
pub use keys::{
    derive_child_keys, derive_ike_keys, ike_keys_from_skeyseed, skeyseed, skeyseed_rekey,
    ChildKeys, IkeKeys,
};
pub use nat::nat_detection_hash;
pub use prf::{prf, prf_plus, PrfAlg, PRF_PLUS_MAX_BLOCKS};
pub use random::BufferedRandom;
pub use secret::{ct_eq, Secret};
pub use sig::{
    sign_auth, verify_auth, AuthSignature, PrivateKey, PublicKey, SigHash, SignatureScheme,
};
pub use sk::{SkCipher, SkTransform};
