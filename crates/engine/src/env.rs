//! What the engine asks of the world around it, synchronously.
//!
//! The engine never reads the clock, draws OS randomness or talks to the kernel
//! itself. Time comes in as arguments; what it must have an answer to at once
//! (random bytes, a route's source address, the calendar date) comes through this
//! trait. None of it touches the kernel's IPsec state: the engine chooses inbound
//! SPIs from its randomness (`inbound_spis`) and asks for byte counters as an
//! output answered by a kernel event (`counters`). ternd backs it with the OS RNG
//! and clock; tests with a seeded RNG and a virtual clock, which keeps
//! simulations deterministic.

use std::net::IpAddr;
use std::time::{Instant, SystemTime};

pub trait Environment {
    /// Fill `buf` with cryptographically secure random bytes.
    fn random(&mut self, buf: &mut [u8]);

    /// The source address the system would use to reach `remote`, for connections
    /// that leave their local address open.
    fn local_address_for(&mut self, remote: IpAddr) -> Option<IpAddr>;

    /// The calendar time at the engine's `now`, against which certificates' validity
    /// periods are checked. ternd answers from the system clock; simulations from a
    /// fixed date plus the virtual time that has passed.
    fn wall_clock(&mut self, now: Instant) -> SystemTime;
}
