//! One timer table across all SAs: a min-heap of (deadline, SA).
//!
//! Entries are never removed when an SA's deadline moves. The SA remembers the
//! deadline of its live entry (`IkeSa::scheduled`); an entry due before that is
//! stale and the engine drops it unopened, so stale entries cost one pop each
//! and never multiply.

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

    /// The earliest entry, due or not.
    pub fn peek(&self) -> Option<(Instant, Spi)> {
        self.heap.peek().map(|Reverse(entry)| *entry)
    }

    /// Removes the earliest entry.
    pub fn pop(&mut self) {
        self.heap.pop();
    }

    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the next entry due at or before `now`: when it was due, and for whom.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, Spi)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(entry)| entry),
            _ => None,
        }
    }
}
