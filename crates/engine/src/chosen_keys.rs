//! A fast hasher for maps keyed by values the engine chose itself.
//!
//! The standard library's SipHash with random keys defends a map against
//! keys an attacker picks to collide (HashDoS). The IKE SA table is keyed by
//! our own SPIs (drawn from the environment's random source), the policy
//! users by fingerprints that are SipHash outputs already: nobody outside
//! picks those keys, and SipHash was 1.7 % of a simulated CHILD rekey.
//! Maps keyed by what a peer sends (its address and SPI) keep SipHash.

use std::hash::{BuildHasherDefault, Hasher};

/// Multiplies by a large odd constant and folds the 128-bit product's halves
/// together, so every input bit reaches the low bits hashbrown indexes by
/// and the high bits it keeps as tags.
#[derive(Clone, Copy, Default)]
pub struct ChosenKeyHasher(u64);

const MULTIPLIER: u128 = 0x9e37_79b9_7f4a_7c15;

impl ChosenKeyHasher {
    fn mix(&mut self, word: u64) {
        let product = u128::from(self.0 ^ word) * MULTIPLIER;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Hasher for ChosenKeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The `BuildHasher` of maps keyed by values we chose (see the module).
pub type ChosenKeys = BuildHasherDefault<ChosenKeyHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::hash::BuildHasher;

    #[test]
    fn spis_that_differ_in_one_byte_hash_apart_in_the_low_bits() {
        let hash = |spi: [u8; 8]| ChosenKeys::default().hash_one(spi);
        let base = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0];
        for byte in 0..8 {
            let mut other = base;
            other[byte] ^= 1;
            assert_ne!(hash(base) & 0xffff, hash(other) & 0xffff, "byte {byte}");
        }
    }

    #[test]
    fn a_map_with_chosen_keys_finds_what_it_holds() {
        let mut map: HashMap<[u8; 8], u32, ChosenKeys> = HashMap::default();
        for i in 0..1000u32 {
            map.insert(u64::from(i).to_be_bytes(), i);
        }
        assert!((0..1000u32).all(|i| map[&u64::from(i).to_be_bytes()] == i));
    }
}
