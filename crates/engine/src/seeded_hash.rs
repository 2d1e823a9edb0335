//! Hash maps whose order is drawn from the engine's randomness.
//!
//! Handlers walk the SA table, and the order in which they meet the SAs decides
//! which acts first. With std's `RandomState` that order changed from one run to
//! the next, so a seeded simulation did not replay (a property-search draw failed
//! one run in two). Keys drawn from the engine's environment make the order
//! replay under the simulator's seeded randomness, and keep it unknown to peers
//! in ternd, where that randomness is the operating system's.

use std::collections::HashMap;
use std::hash::BuildHasher;

use siphasher::sip::SipHasher13;

/// SipHash-1-3, as std's maps use, with keys from the environment.
#[derive(Clone)]
pub(crate) struct SeededState {
    k0: u64,
    k1: u64,
}

impl SeededState {
    /// From 16 random bytes of the engine's environment.
    pub fn new(keys: [u8; 16]) -> SeededState {
        let (k0, k1) = keys.split_at(8);
        SeededState {
            k0: u64::from_le_bytes(k0.try_into().expect("8 bytes")),
            k1: u64::from_le_bytes(k1.try_into().expect("8 bytes")),
        }
    }
}

impl BuildHasher for SeededState {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

pub(crate) type SeededMap<K, V> = HashMap<K, V, SeededState>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn order(start: u8) -> Vec<u64> {
        let mut map = SeededMap::with_hasher(SeededState::new([start; 16]));
        for n in 0..64u64 {
            map.insert(n, ());
        }
        map.keys().copied().collect()
    }

    #[test]
    fn the_same_randomness_gives_the_same_order() {
        assert_eq!(order(1), order(1));
        assert_ne!(order(1), order(2), "the keys make the order");
        let state = SeededState::new([9; 16]);
        let hash = |s: &SeededState| {
            let mut h = s.build_hasher();
            "spi".hash(&mut h);
            std::hash::Hasher::finish(&h)
        };
        assert_eq!(hash(&state), hash(&state.clone()));
    }
}
