//! How tern recognises its own SAs and policies in the kernel.
//!
//! The marker is the reqid. Every SA and every policy template tern
//! installs carries a reqid from one band, [`TERN_REQIDS`], which no other
//! IKE daemon uses (strongSwan and Libreswan count theirs up from 1; `ip
//! xfrm` users pick small numbers). A reqid survives everything a crash can
//! leave behind — full SAs, larval SAs reserved by ALLOCSPI, policies — and
//! changes nothing about how packets match, unlike a mark or a priority.
//!
//! The engine numbers its CHILD SAs' reqids from 1; the kernel backend
//! maps them into the band with [`kernel_reqid`] and back with
//! [`engine_reqid`] (for ACQUIRE and MAPPING events).

use std::ops::RangeInclusive;

/// First reqid of tern's band: 0x7e000000 ("~" then zeros, easy to spot in
/// `ip xfrm state` as "reqid 2113929217 (0x7e000001)").
pub const TERN_REQID_BASE: u32 = 0x7e00_0000;
/// How many reqids the band holds (2^24).
pub const TERN_REQID_COUNT: u32 = 0x0100_0000;
/// The band itself.
pub const TERN_REQIDS: RangeInclusive<u32> =
    TERN_REQID_BASE..=TERN_REQID_BASE + (TERN_REQID_COUNT - 1);

/// The kernel reqid for the engine's reqid `n` (counted from 1). Numbers
/// beyond the band's size wrap around inside it.
pub fn kernel_reqid(n: u32) -> u32 {
    TERN_REQID_BASE + n % TERN_REQID_COUNT
}

/// The engine's reqid for a kernel reqid of tern's band; `None` if another
/// daemon (or an administrator) owns it.
pub fn engine_reqid(kernel: u32) -> Option<u32> {
    is_tern_reqid(kernel).then(|| kernel - TERN_REQID_BASE)
}

pub fn is_tern_reqid(reqid: u32) -> bool {
    TERN_REQIDS.contains(&reqid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_reqids_map_into_the_band_and_back() {
        for n in [1, 2, 1000, TERN_REQID_COUNT - 1] {
            let k = kernel_reqid(n);
            assert!(is_tern_reqid(k), "{k:#x}");
            assert_eq!(engine_reqid(k), Some(n));
        }
        assert_eq!(kernel_reqid(TERN_REQID_COUNT + 5), kernel_reqid(5));
    }

    #[test]
    fn other_daemons_reqids_are_not_ours() {
        for r in [
            0,
            1,
            2,
            16385,
            TERN_REQID_BASE - 1,
            TERN_REQID_BASE + TERN_REQID_COUNT,
            u32::MAX,
        ] {
            assert!(!is_tern_reqid(r), "{r:#x}");
            assert_eq!(engine_reqid(r), None);
        }
    }
}
