//! One timer table across all SAs: a min-heap of (deadline, SA).
//!
//! Entries are never removed when an SA's deadline moves; the SA is asked what is
//! due when an entry fires, so a stale entry is a harmless spurious wake-up.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::ike_sa::Spi;

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Spi)>>,
}

impl Timers {
    pub fn schedule(&mut self, at: Instant, sa: Spi) {
        self.heap.push(Reverse((at, sa)));
    }

    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the next entry due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Spi> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse((_, sa))| sa),
            _ => None,
        }
    }
}
