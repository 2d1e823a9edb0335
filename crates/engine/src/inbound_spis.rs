//! The inbound ESP SPIs this engine holds, and the choice of new ones.
//!
//! The engine picks each inbound SPI itself, from its handed-in randomness
//! ([`Environment::random`]), instead of asking the kernel to reserve one
//! (XFRM_MSG_ALLOCSPI): asking would be I/O in the middle of handling a datagram.
//! A SPI is held from the moment it is chosen (offered in a CHILD SA exchange)
//! until the kernel operation that removes its SA leaves the engine, or the
//! exchange it was chosen for fails before anything was installed. A new choice
//! avoids every held SPI, the reserved range 0-255 (RFC 4303 §2.1), and the SPIs of
//! the other shards (`spi % count == index`, as IKE SPIs).
//!
//! The kernel operation that installs the inbound SA ([`KernelOp::AddSa`], a
//! NEWSA) is what reserves the SPI in the kernel: should another XFRM user hold it
//! already, the kernel refuses the SA and the refusal is handled as any other.
//!
//! [`Environment::random`]: crate::Environment::random

use std::collections::HashMap;
use std::net::IpAddr;

use crate::engine::Engine;
use crate::output::KernelOp;
use crate::shard::Shard;

impl Engine {
    /// The inbound SPIs this engine holds, with the address each SA is for,
    /// sorted: installed, lingering, or chosen for an exchange under way.
    pub fn inbound_spis(&self) -> Vec<(IpAddr, u32)> {
        let mut held: Vec<(IpAddr, u32)> = self
            .ctx
            .spis_in
            .held
            .iter()
            .map(|(spi, local)| (*local, *spi))
            .collect();
        held.sort_unstable();
        held
    }
}

/// SPIs 1-255 are reserved by IANA, 0 is never an SA's (RFC 4303 §2.1).
pub(crate) const FIRST_SPI: u32 = 256;

/// The held inbound SPIs, each with the address its SA is (or will be) for.
#[derive(Debug, Default)]
pub(crate) struct InboundSpis {
    held: HashMap<u32, IpAddr>,
}

impl InboundSpis {
    /// Picks a SPI for an inbound SA to `local` from the random words `draw`
    /// yields, and holds it.
    pub(crate) fn choose(
        &mut self,
        shard: Shard,
        local: IpAddr,
        mut draw: impl FnMut() -> u32,
    ) -> u32 {
        loop {
            let Some(spi) = in_shard(draw(), shard) else {
                continue;
            };
            if spi >= FIRST_SPI && !self.held.contains_key(&spi) {
                self.held.insert(spi, local);
                return spi;
            }
        }
    }

    /// The SPI an exchange chose goes unused: nothing was installed with it.
    pub(crate) fn release(&mut self, spi: u32) {
        self.held.remove(&spi);
    }

    /// Follows a kernel operation leaving the engine: the removal of an inbound
    /// SA frees its SPI, a move takes it to its new address.
    pub(crate) fn note(&mut self, op: &KernelOp) {
        match op {
            KernelOp::DeleteSa { dst, spi, .. } if self.held.get(spi) == Some(dst) => {
                self.held.remove(spi);
            }
            KernelOp::MoveSa(m) => {
                if let Some(local) = self.held.get_mut(&m.spi).filter(|l| **l == m.dst) {
                    *local = m.new_dst;
                }
            }
            _ => {}
        }
    }

    #[cfg(test)]
    fn is_held(&self, spi: u32) -> bool {
        self.held.contains_key(&spi)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.held.len()
    }
}

/// `random` moved to the nearest value of `shard` at or below it, if any.
fn in_shard(random: u32, shard: Shard) -> Option<u32> {
    let (count, index) = (shard.count(), shard.index());
    let base = random - random % count;
    if random % count >= index {
        Some(base + index)
    } else {
        base.checked_sub(count).map(|b| b + index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::SaMove;

    fn local() -> IpAddr {
        "192.0.2.1".parse().unwrap()
    }

    #[test]
    fn never_a_reserved_or_held_spi() {
        let mut spis = InboundSpis::default();
        // The draws repeat themselves and dip into the reserved range: each must
        // be passed over until a free one comes.
        let mut draws = [0u32, 7, 255, 0xc000_0001, 0xc000_0001, 256, 0xc000_0001].into_iter();
        let mut draw = || draws.next().expect("enough draws");
        assert_eq!(spis.choose(Shard::ONLY, local(), &mut draw), 0xc000_0001);
        assert_eq!(spis.choose(Shard::ONLY, local(), &mut draw), 256);
        assert!(draws.next().is_some(), "took no more draws than needed");
        assert!(spis.is_held(0xc000_0001) && spis.is_held(256));
    }

    #[test]
    fn spis_carry_their_shard() {
        let mut x = 0x9e37_79b9u32;
        for count in 1..=5 {
            for index in 0..count {
                let shard = Shard::new(index, count).unwrap();
                let mut spis = InboundSpis::default();
                for _ in 0..50 {
                    let spi = spis.choose(shard, local(), || {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        x
                    });
                    assert_eq!(spi % count, index);
                    assert!(spi >= FIRST_SPI);
                }
                assert_eq!(spis.len(), 50);
            }
        }
        assert_eq!(
            in_shard(u32::MAX, Shard::new(3, 4).unwrap()),
            Some(u32::MAX)
        );
        assert_eq!(in_shard(1, Shard::new(3, 4).unwrap()), None);
        assert_eq!(in_shard(9, Shard::new(2, 4).unwrap()), Some(6));
    }

    #[test]
    fn removal_of_the_inbound_sa_frees_its_spi_and_nothing_else_does() {
        let mut spis = InboundSpis::default();
        let peer: IpAddr = "192.0.2.2".parse().unwrap();
        let moved: IpAddr = "198.51.100.1".parse().unwrap();
        let spi = spis.choose(Shard::ONLY, local(), || 0xc000_0042);
        // The outbound SA with the same number (the peer's SPI) is another SA.
        spis.note(&KernelOp::DeleteSa {
            src: local(),
            dst: peer,
            spi,
        });
        assert!(spis.is_held(spi));
        spis.note(&KernelOp::MoveSa(SaMove {
            src: peer,
            dst: local(),
            spi,
            new_src: peer,
            new_dst: moved,
            encap: None,
        }));
        spis.note(&KernelOp::DeleteSa {
            src: peer,
            dst: local(),
            spi,
        });
        assert!(spis.is_held(spi), "the SA moved to {moved}");
        spis.note(&KernelOp::DeleteSa {
            src: peer,
            dst: moved,
            spi,
        });
        assert!(!spis.is_held(spi));
        let again = spis.choose(Shard::ONLY, local(), || 0xc000_0043);
        spis.release(again);
        assert_eq!(spis.len(), 0);
    }
}
