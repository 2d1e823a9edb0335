//! Finite-field Diffie-Hellman over the MODP groups of RFC 2409 §6.2
//! (group 2, 1024 bits) and RFC 3526 (groups 14, 15, 16).
//!
//! ring has no finite-field DH, so the arithmetic is crypto-bigint's
//! Montgomery exponentiation: constant-time in the secret exponent (unlike
//! num-bigint's `modpow`), fixed-size integers, no allocation.

use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::{Uint, Word};
use zeroize::Zeroize;

use crate::{CryptoError, Secret};

/// One MODP group: its prime (big-endian hex, as the RFCs print it) and
/// the octets of private exponent the caller supplies. The generator of
/// every group here is 2.
pub(super) struct Group {
    pub(super) name: &'static str,
    prime_hex: &'static str,
    /// The exponent's length: at least twice the group's security strength
    /// in bits (RFC 3526 §8 table, NIST SP 800-56A), rounded up.
    pub(super) private_len: usize,
}

pub(super) const GROUP_2: Group = Group {
    name: "MODP-1024",
    prime_hex: MODP_1024,
    private_len: 32,
};
pub(super) const GROUP_14: Group = Group {
    name: "MODP-2048",
    prime_hex: MODP_2048,
    private_len: 32,
};
pub(super) const GROUP_15: Group = Group {
    name: "MODP-3072",
    prime_hex: MODP_3072,
    private_len: 48,
};
pub(super) const GROUP_16: Group = Group {
    name: "MODP-4096",
    prime_hex: MODP_4096,
    private_len: 64,
};

impl Group {
    /// Octets of the modulus, and so of public values and the shared secret.
    pub(super) fn len(&self) -> usize {
        self.prime_hex.len() / 2
    }

    pub(super) fn prime(&self) -> Vec<u8> {
        decode_hex(self.prime_hex)
    }

    /// g^x mod p, big-endian, `len()` octets.
    pub(super) fn public(&self, private: &Secret) -> Result<Vec<u8>, CryptoError> {
        let mut g = vec![0u8; self.len()];
        g[self.len() - 1] = 2;
        self.pow(&g, private)
    }

    /// y^x mod p after checking 1 < y < p-1 (RFC 6989 §2.1).
    pub(super) fn shared(&self, private: &Secret, peer: &[u8]) -> Result<Secret, CryptoError> {
        if peer.len() != self.len() {
            return Err(CryptoError::PeerPublicLength {
                expected: self.len(),
                actual: peer.len(),
            });
        }
        self.check_peer(peer)?;
        let mut shared = self.pow(peer, private)?;
        let secret = Secret::from_slice(&shared);
        shared.zeroize();
        Ok(secret)
    }

    /// 1 < y < p-1. The value is public, so plain comparisons are fine.
    /// With a fresh exponent per exchange (which callers must use) this is
    /// all RFC 6989 §2.1 asks; the subgroup test y^q = 1 is only needed
    /// when exponents are reused.
    fn check_peer(&self, peer: &[u8]) -> Result<(), CryptoError> {
        let mut p_minus_1 = self.prime();
        // p is odd, so p-1 only changes the last octet.
        let last = p_minus_1.len() - 1;
        p_minus_1[last] -= 1;
        let mut one = vec![0u8; peer.len()];
        one[last] = 1;
        // Big-endian octet strings of equal length compare like numbers.
        if peer <= &one[..] || peer >= &p_minus_1[..] {
            return Err(CryptoError::InvalidPeerPublic {
                alg: self.name,
                reason: "the value must be greater than 1 and less than p-1",
            });
        }
        Ok(())
    }

    fn pow(&self, base: &[u8], private: &Secret) -> Result<Vec<u8>, CryptoError> {
        if private.len() != self.private_len {
            return Err(CryptoError::PrivateKeyLength {
                expected: self.private_len,
                actual: private.len(),
            });
        }
        if private.expose().iter().all(|&b| b == 0) {
            return Err(CryptoError::InvalidPrivateKey {
                alg: self.name,
                reason: "an all-zero exponent",
            });
        }
        let prime = self.prime();
        Ok(match self.len() {
            128 => pow_limbs::<{ 1024 / Word::BITS as usize }>(base, private.expose(), &prime),
            256 => pow_limbs::<{ 2048 / Word::BITS as usize }>(base, private.expose(), &prime),
            384 => pow_limbs::<{ 3072 / Word::BITS as usize }>(base, private.expose(), &prime),
            512 => pow_limbs::<{ 4096 / Word::BITS as usize }>(base, private.expose(), &prime),
            _ => unreachable!("the four groups above are all there is"),
        })
    }
}

/// base^exp mod prime with LIMBS-word integers. `base` and `prime` are
/// exactly LIMBS words long; `exp` is at most that.
fn pow_limbs<const LIMBS: usize>(base: &[u8], exp: &[u8], prime: &[u8]) -> Vec<u8> {
    let modulus = Uint::<LIMBS>::from_be_slice(prime);
    let params = DynResidueParams::new(&modulus);
    let base = DynResidue::new(&Uint::<LIMBS>::from_be_slice(base), params);
    let mut padded = vec![0u8; prime.len()];
    padded[prime.len() - exp.len()..].copy_from_slice(exp);
    let mut exponent = Uint::<LIMBS>::from_be_slice(&padded);
    padded.zeroize();
    // Constant time in the exponent's value for a fixed bit length.
    let result = base.pow_bounded_exp(&exponent, exp.len() * 8).retrieve();
    exponent.zeroize();
    let mut out = Vec::with_capacity(prime.len());
    for word in result.as_words().iter().rev() {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out
}

fn decode_hex(s: &str) -> Vec<u8> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'A'..=b'F' => c - b'A' + 10,
        _ => unreachable!("the primes are upper-case hex"),
    };
    s.as_bytes()
        .chunks_exact(2)
        .map(|pair| nibble(pair[0]) << 4 | nibble(pair[1]))
        .collect()
}

// The primes, checked against the RFCs' defining formula
// 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k) when they were written
// down, and against the RFC text in the tests.
pub(super) const MODP_1024: &str = "\
    FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74\
    020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437\
    4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED\
    EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF\
";

pub(super) const MODP_2048: &str = "\
    FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74\
    020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437\
    4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED\
    EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05\
    98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB\
    9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B\
    E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718\
    3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF\
";

pub(super) const MODP_3072: &str = "\
    FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74\
    020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437\
    4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED\
    EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05\
    98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB\
    9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B\
    E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718\
    3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33\
    A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7\
    ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864\
    D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2\
    08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF\
";

pub(super) const MODP_4096: &str = "\
    FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74\
    020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437\
    4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED\
    EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05\
    98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB\
    9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B\
    E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718\
    3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33\
    A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7\
    ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864\
    D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2\
    08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7\
    88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8\
    DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2\
    233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9\
    93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF\
";
