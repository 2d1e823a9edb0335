//! Half-open IKE SAs (we answered IKE_SA_INIT as responder; no IKE_AUTH yet),
//! counted in all and per peer address, so that a flood of IKE_SA_INITs cannot
//! make the engine hold state without bound.
//!
//! Cookies come first (`cookie_threshold`, RFC 7296 §2.6): past it, a request
//! counts only once its address proved it receives there. Then two limits, as
//! strongSwan's `block_threshold` and `init_limit_half_open`: at most
//! `half_open_per_address` from one address, at most `half_open_limit` in all
//! (each of several engines holding its share). A request over either is
//! dropped without an answer; the initiator retransmits and gets in once
//! half-open SAs have completed or timed out.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::chosen_keys::ChosenKeys;
use crate::config::EngineConfig;
use crate::ike_sa::Spi;
use crate::shard::Shard;

/// The half-open IKE SAs: our SPI -> the peer's address when it became half-open.
#[derive(Default)]
pub(crate) struct HalfOpen {
    spis: HashMap<Spi, IpAddr, ChosenKeys>,
    /// How many of them each address has; addresses with none are not kept.
    by_address: HashMap<IpAddr, u32>,
}

/// Why a new IKE_SA_INIT may not make another half-open IKE SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its address has `half_open_per_address` already.
    PerAddress,
    /// This engine holds its share of `half_open_limit` already.
    Limit,
}

impl HalfOpen {
    /// Notes `spi` as half-open with `address` (again: nothing changes).
    pub fn insert(&mut self, spi: Spi, address: IpAddr) {
        if self.spis.insert(spi, address).is_none() {
            *self.by_address.entry(address).or_default() += 1;
        }
    }

    /// `spi` is half-open no longer (or never was).
    pub fn remove(&mut self, spi: &Spi) {
        let Some(address) = self.spis.remove(spi) else {
            return;
        };
        if let Some(count) = self.by_address.get_mut(&address) {
            *count -= 1;
            if *count == 0 {
                self.by_address.remove(&address);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.spis.len()
    }

    /// How many are half-open with `address`.
    pub fn from(&self, address: IpAddr) -> u32 {
        self.by_address.get(&address).copied().unwrap_or(0)
    }

    /// Whether a new half-open IKE SA with `address` is within the limits.
    pub fn admits(
        &self,
        config: &EngineConfig,
        shard: Shard,
        address: IpAddr,
    ) -> Result<(), Refusal> {
        if self.from(address) >= config.half_open_per_address {
            return Err(Refusal::PerAddress);
        }
        let share = config.half_open_limit.div_ceil(shard.count());
        if u32::try_from(self.len()).unwrap_or(u32::MAX) >= share {
            return Err(Refusal::Limit);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(per_address: u32, limit: u32) -> EngineConfig {
        EngineConfig {
            half_open_per_address: per_address,
            half_open_limit: limit,
            ..EngineConfig::default()
        }
    }

    fn addr(n: u8) -> IpAddr {
        IpAddr::from([198, 51, 100, n])
    }

    #[test]
    fn counts_follow_inserts_and_removes_once_each() {
        let mut half_open = HalfOpen::default();
        half_open.insert([1; 8], addr(1));
        half_open.insert([1; 8], addr(1));
        half_open.insert([2; 8], addr(1));
        half_open.insert([3; 8], addr(2));
        assert_eq!((half_open.len(), half_open.from(addr(1))), (3, 2));
        half_open.remove(&[1; 8]);
        half_open.remove(&[1; 8]);
        half_open.remove(&[9; 8]);
        assert_eq!((half_open.len(), half_open.from(addr(1))), (2, 1));
        half_open.remove(&[2; 8]);
        assert_eq!(half_open.from(addr(1)), 0);
        assert!(
            !half_open.by_address.contains_key(&addr(1)),
            "memory returned"
        );
    }

    #[test]
    fn the_per_address_limit_then_the_overall_one() {
        let mut half_open = HalfOpen::default();
        let config = config(2, 3);
        for (n, spi) in [(1, 1), (1, 2)] {
            assert_eq!(half_open.admits(&config, Shard::ONLY, addr(n)), Ok(()));
            half_open.insert([spi; 8], addr(n));
        }
        assert_eq!(
            half_open.admits(&config, Shard::ONLY, addr(1)),
            Err(Refusal::PerAddress)
        );
        assert_eq!(half_open.admits(&config, Shard::ONLY, addr(2)), Ok(()));
        half_open.insert([3; 8], addr(2));
        assert_eq!(
            half_open.admits(&config, Shard::ONLY, addr(3)),
            Err(Refusal::Limit)
        );
    }

    #[test]
    fn each_engine_holds_its_share_of_the_overall_limit() {
        let mut half_open = HalfOpen::default();
        let config = config(100, 5);
        let one_of_two = Shard::new(0, 2).unwrap();
        for spi in 0..3 {
            assert_eq!(half_open.admits(&config, one_of_two, addr(spi)), Ok(()));
            half_open.insert([spi; 8], addr(spi));
        }
        assert_eq!(
            half_open.admits(&config, one_of_two, addr(9)),
            Err(Refusal::Limit)
        );
    }
}
