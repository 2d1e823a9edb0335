//! What the engine asks of the world around it, synchronously.
//!
//! The engine never reads the clock, draws OS randomness or talks to the kernel
//! itself. Time comes in as arguments; the two things it must have an answer to
//! before it can build a message (random bytes and an inbound SPI) come through
//! this trait. ternd backs it with the OS RNG and XFRM; tests back it with a seeded
//! RNG and a counter, which keeps simulations deterministic.

use std::net::IpAddr;
use std::time::{Instant, SystemTime};

pub trait Environment {
    /// Fill `buf` with cryptographically secure random bytes.
    fn random(&mut self, buf: &mut [u8]);

    /// Reserve an inbound ESP SPI for packets from `remote` to `local`
    /// (XFRM_MSG_ALLOCSPI). The reservation is filled by a later
    /// [`KernelOp::AddSa`](crate::KernelOp::AddSa) with `update` set, or released
    /// by [`KernelOp::DeleteSa`](crate::KernelOp::DeleteSa).
    fn allocate_spi(&mut self, local: IpAddr, remote: IpAddr, reqid: u32) -> Result<u32, String>;

    /// The source address the system would use to reach `remote`, for connections
    /// that leave their local address open.
    fn local_address_for(&mut self, remote: IpAddr) -> Option<IpAddr>;

    /// The calendar time at the engine's `now`, against which certificates' validity
    /// periods are checked. ternd answers from the system clock; simulations from a
    /// fixed date plus the virtual time that has passed.
    fn wall_clock(&mut self, now: Instant) -> SystemTime;

    /// How many bytes the inbound ESP SA `(src, dst, spi)` has received so far, if
    /// the kernel can tell. Dead peer detection treats growth as a sign of life, so
    /// a tunnel carrying traffic needs no liveness checks. `None` (the default)
    /// leaves DPD to judge by IKE messages alone.
    fn inbound_bytes(&mut self, _src: IpAddr, _dst: IpAddr, _spi: u32) -> Option<u64> {
        None
    }
}
