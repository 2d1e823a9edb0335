//! The kernel's byte counters, asked for and answered without the engine doing
//! I/O.
//!
//! Two timer decisions depend on whether an inbound ESP SA carried traffic: dead
//! peer detection (`dpd.rs`: ESP from the peer is a sign of life, so a busy tunnel
//! is never probed) and the end of a CHILD SA the peer rekeyed without deleting
//! it (`children.rs`: the peer sending on the new SA shows its rekey is done).
//! When either is due, the IKE SA's timer run waits: the engine asks for the
//! inbound counter of each of its CHILD SAs ([`Engine::poll_counter_read`]), and
//! runs the timers once every answer has come in
//! ([`KernelEvent::InboundBytes`](crate::KernelEvent::InboundBytes)), at the
//! answer's `now`. ternd answers as it applies kernel operations, before anything
//! else reaches the engine, so the decisions are taken on counters as fresh as
//! when the engine read them itself. A caller that never answers delays them by
//! [`COUNTER_WAIT`], after which they are taken as if the kernel knew no counter.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::child_sa::ChildState;
use crate::engine::Engine;
use crate::ike_sa::IkeSa;

/// How long a timer run waits for the counters it asked for.
pub(crate) const COUNTER_WAIT: Duration = Duration::from_secs(1);

/// A question for the kernel: how many bytes has the ESP SA (`src`, `dst`, `spi`)
/// received? Answer with [`KernelEvent::InboundBytes`](crate::KernelEvent::InboundBytes)
/// (`None` when the SA is not there or cannot be read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterRead {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub spi: u32,
}

impl Engine {
    /// The next counter the engine wants read (see [`CounterRead`]).
    pub fn poll_counter_read(&mut self) -> Option<CounterRead> {
        self.ctx.counter_reads.pop_front()
    }

    /// Whether the due timers of `sa` wait for counters: asks for them, and sets
    /// the timer after which the run goes ahead without them. A run that has
    /// waited already goes ahead.
    pub(crate) fn wait_for_counters(&mut self, now: Instant, sa: &mut IkeSa) -> bool {
        let spi = sa.our_spi();
        let (local, remote) = (sa.local.ip(), sa.remote.ip());
        if self.counter_waits.remove(&spi).is_some() {
            // Waited long enough. Reads nobody took are dropped, so a caller that
            // never answers does not make the queue grow.
            self.ctx
                .counter_reads
                .retain(|r| r.dst != local || sa.children.iter().all(|c| c.spi_in != r.spi));
            return false;
        }
        if !wants_counters(sa, now) {
            return false;
        }
        let reads = sa.children.iter().map(|c| CounterRead {
            src: remote,
            dst: local,
            spi: c.spi_in,
        });
        let before = self.ctx.counter_reads.len();
        self.ctx.counter_reads.extend(reads);
        let asked = self.ctx.counter_reads.len() - before;
        if asked == 0 {
            return false;
        }
        self.counter_waits.insert(spi, asked);
        let give_up = now + COUNTER_WAIT;
        self.timers.schedule(give_up, spi);
        sa.scheduled = Some(give_up);
        true
    }

    /// The kernel's answer to a [`CounterRead`]: once a waiting IKE SA has all of
    /// its answers, its timers run.
    pub(crate) fn on_inbound_bytes(
        &mut self,
        now: Instant,
        dst: IpAddr,
        spi: u32,
        bytes: Option<u64>,
    ) {
        // IKE SAs that ended while they waited wait no more.
        self.counter_waits
            .retain(|ike_spi, _| self.sas.contains_key(ike_spi));
        let waiting = self.counter_waits.keys().copied().find(|ike_spi| {
            self.sas.get(ike_spi).is_some_and(|sa| {
                sa.local.ip() == dst && sa.children.iter().any(|c| c.spi_in == spi)
            })
        });
        let Some(ike_spi) = waiting else {
            return;
        };
        let mut sa = self.sas.remove(&ike_spi).expect("found above");
        for child in sa.children.iter_mut().filter(|c| c.spi_in == spi) {
            child.inbound_bytes_read = bytes;
        }
        let left = self.counter_waits.get_mut(&ike_spi).expect("found above");
        *left = left.saturating_sub(1);
        if *left > 0 {
            self.sas.insert(ike_spi, sa);
            return;
        }
        self.counter_waits.remove(&ike_spi);
        sa.scheduled = None;
        let next = self.ctx.on_timeout(now, &mut sa);
        forget_counters(&mut sa);
        self.settle(now, sa, next);
    }
}

/// Whether a timer run of `sa` at `now` takes a decision that reads counters.
fn wants_counters(sa: &IkeSa, now: Instant) -> bool {
    if !sa.is_established() {
        return false;
    }
    let dpd_due = !sa.connection.dpd_delay.is_zero() && sa.dpd_at.is_some_and(|t| t <= now);
    let rekeyed_due = sa.children.iter().any(|c| {
        let replaced = c.state == ChildState::Rekeyed
            || (c.state == ChildState::Rekeying && c.successor.is_some());
        replaced && c.expire_at.is_some_and(|t| t <= now)
    });
    dpd_due || rekeyed_due
}

/// The answers served one timer run; the next asks again.
pub(crate) fn forget_counters(sa: &mut IkeSa) {
    for child in &mut sa.children {
        child.inbound_bytes_read = None;
    }
}
