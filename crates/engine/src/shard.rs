//! Which slice of the daemon's work one engine owns.
//!
//! ternd may run several engines side by side (one per CPU). A datagram must reach
//! the engine holding its IKE SA, so every number the engine hands out carries its
//! shard: IKE SPIs (`spi % count == index`), reqids and unique ids (`(n - 1) %
//! count == index`). The dispatcher then routes by arithmetic, without a table
//! per SA. One shard of one (the default) hands out exactly what an unsharded
//! engine did.

use std::net::IpAddr;

/// Engine `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::ONLY
    }
}

impl Shard {
    /// FNV-1a's 32-bit offset basis and prime, as [`Shard::of_peer`] uses them.
    pub const PEER_HASH_BASIS: u32 = 0x811c_9dc5;
    pub const PEER_HASH_PRIME: u32 = 0x0100_0193;

    /// The only engine.
    pub const ONLY: Shard = Shard { index: 0, count: 1 };

    /// Engine `index` of `count`; `None` unless `index < count`.
    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }

    pub fn index(self) -> u32 {
        self.index
    }

    pub fn count(self) -> u32 {
        self.count
    }

    /// The shard of every IKE SA with the peer at `ip`. FNV-1a (32 bits) over the
    /// address octets, its high half folded into the low one (the multiplications
    /// carry only upwards, so the low bits alone would ignore most of the address):
    /// stable across runs and builds, unlike std's randomly keyed hasher, so the
    /// dispatcher, `initiate` and the traps always agree; and 32-bit arithmetic, so
    /// ternd's socket steering program (classic BPF) computes the same.
    pub fn of_peer(ip: IpAddr, count: u32) -> u32 {
        if count <= 1 {
            return 0;
        }
        let mut hash = Shard::PEER_HASH_BASIS;
        let mut feed = |octets: &[u8]| {
            for octet in octets {
                hash = (hash ^ u32::from(*octet)).wrapping_mul(Shard::PEER_HASH_PRIME);
            }
        };
        match ip.to_canonical() {
            IpAddr::V4(v4) => feed(&v4.octets()),
            IpAddr::V6(v6) => feed(&v6.octets()),
        }
        (hash ^ (hash >> 16)) % count
    }

    /// The shard that initiates a connection (and holds its traps): that of its
    /// first remote address, the peer's own shard; shard 0 for a connection that
    /// names none (it only responds).
    pub fn of_connection(remote_addrs: &[IpAddr], count: u32) -> u32 {
        remote_addrs
            .first()
            .map_or(0, |ip| Shard::of_peer(*ip, count))
    }

    /// Whether this engine initiates the connection to `remote_addrs`.
    pub fn owns_connection(self, remote_addrs: &[IpAddr]) -> bool {
        Shard::of_connection(remote_addrs, self.count) == self.index
    }

    /// The shard whose IKE SPI this is (our SPI: the one we chose).
    pub fn of_ike_spi(spi: [u8; 8], count: u32) -> u32 {
        (u64::from_be_bytes(spi) % u64::from(count.max(1))) as u32
    }

    /// The shard that handed out a reqid or unique id (both start at 1).
    pub fn of_serial(n: u64, count: u32) -> u32 {
        (n.saturating_sub(1) % u64::from(count.max(1))) as u32
    }

    /// `random` moved to the nearest value of this shard at or below it, or
    /// `None` if that is zero (not a valid SPI): draw again.
    pub fn ike_spi_from(self, random: [u8; 8]) -> Option<[u8; 8]> {
        let v = u64::from_be_bytes(random);
        let count = u64::from(self.count);
        let index = u64::from(self.index);
        let base = v - v % count;
        let spi = if v % count >= index {
            base + index
        } else {
            base.checked_sub(count)? + index
        };
        (spi != 0).then(|| spi.to_be_bytes())
    }

    /// The first serial number (reqid, unique id) of this shard.
    pub fn first_serial(self) -> u64 {
        1 + u64::from(self.index)
    }

    /// How far apart this shard's serial numbers are.
    pub fn serial_step(self) -> u64 {
        u64::from(self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    fn spis_carry_their_shard() {
        for count in 1..=5 {
            for index in 0..count {
                let shard = Shard::new(index, count).unwrap();
                for seed in [1u64, 2, 7, 0xdead_beef, u64::MAX, u64::MAX - 3, 1 << 63] {
                    let Some(spi) = shard.ike_spi_from(seed.to_be_bytes()) else {
                        assert!(seed < u64::from(count), "{seed} gave no SPI");
                        continue;
                    };
                    assert_ne!(spi, [0; 8]);
                    assert_eq!(Shard::of_ike_spi(spi, count), index);
                    // Close to the random value: randomness is kept but for log2(count) bits.
                    assert!(seed - u64::from_be_bytes(spi) < u64::from(count));
                }
            }
        }
    }

    #[test]
    fn one_shard_keeps_every_spi() {
        let spi = 0x0123_4567_89ab_cdefu64.to_be_bytes();
        assert_eq!(Shard::ONLY.ike_spi_from(spi), Some(spi));
        assert_eq!(Shard::ONLY.ike_spi_from([0; 8]), None);
    }

    #[test]
    fn serials_carry_their_shard() {
        let shard = Shard::new(2, 3).unwrap();
        let serials: Vec<u64> = (0..4)
            .map(|k| shard.first_serial() + k * shard.serial_step())
            .collect();
        assert_eq!(serials, [3, 6, 9, 12]);
        assert!(serials.iter().all(|n| Shard::of_serial(*n, 3) == 2));
        assert_eq!(Shard::ONLY.first_serial(), 1);
        assert_eq!(Shard::ONLY.serial_step(), 1);
        assert!(Shard::new(3, 3).is_none());
    }
}
