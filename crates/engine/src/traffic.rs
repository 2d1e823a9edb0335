//! The traffic of a RADIUS session, for its Interim-Update and Stop (RFC 2866
//! §5.3-5.4, §5.10; RFC 2869 §5.1-5.2), without the engine doing I/O.
//!
//! Every ESP SA installed for an IKE SA with a RADIUS session is *accounted*:
//! its counters belong to that session (by Acct-Session-Id, so an IKE rekey,
//! which hands the session on, changes nothing). The kernel's counters of an
//! SA die with it, so when a `DeleteSa` of an accounted SA leaves
//! [`Engine::poll_kernel_op`], the engine asks for its final counters
//! ([`Engine::poll_traffic_read`]); the caller answers every read queued
//! before it applies the operation it just took
//! ([`KernelEvent::Traffic`](crate::KernelEvent::Traffic)), and those final
//! figures add up in the session's ledger. An Interim-Update reads the
//! session's live SAs the same way. A report (Interim-Update or Stop) leaves
//! [`Engine::poll_accounting`] once every read it waits for is answered, or
//! after [`COUNTER_WAIT`] with what came: a kernel that never answers delays
//! the Stop, it never loses it.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

use crate::child_sa::ChildSa;
use crate::counters::COUNTER_WAIT;
use crate::engine::Engine;
use crate::output::KernelOp;
use crate::radius_session::{AccountingRecord, AccountingStatus};

/// A question for the kernel: how much has the ESP SA (`src`, `dst`, `spi`)
/// carried? Answer with [`KernelEvent::Traffic`](crate::KernelEvent::Traffic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrafficRead {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub spi: u32,
}

/// What one ESP SA has carried, as the kernel counts it (GETSA's lifetime
/// counters: bytes of the inner packets, and packets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaTraffic {
    pub bytes: u64,
    pub packets: u64,
}

/// A session's traffic, as the NAS sees it: input is what the client sent us
/// (our inbound SAs), output what we sent it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_octets: u64,
    pub input_packets: u64,
    pub output_octets: u64,
    pub output_packets: u64,
}

impl Usage {
    fn add(&mut self, inbound: bool, t: SaTraffic) {
        let (octets, packets) = if inbound {
            (&mut self.input_octets, &mut self.input_packets)
        } else {
            (&mut self.output_octets, &mut self.output_packets)
        };
        *octets = octets.saturating_add(t.bytes);
        *packets = packets.saturating_add(t.packets);
    }
}

/// An ESP SA by its kernel key's (dst, spi).
type SaKey = (IpAddr, u32);

/// Whose an accounted SA is, and which way it carries.
#[derive(Clone, Debug)]
struct Owner {
    session: String,
    src: IpAddr,
    inbound: bool,
}

/// A read asked and not answered yet.
#[derive(Debug)]
struct Awaited {
    owner: Owner,
    /// The SA is going: its figures are final.
    last: bool,
}

/// One session's running totals.
#[derive(Debug, Default)]
struct Ledger {
    /// Final figures of the SAs gone.
    gone: Usage,
    /// The live SAs' figures, as read for the report under way (per SA: one
    /// that goes meanwhile counts once, in `gone`).
    live: Vec<(SaKey, bool, SaTraffic)>,
    /// Accounted SAs still in the kernel.
    accounted: u32,
    /// Reads not answered yet.
    awaiting: u32,
    /// The report waiting for them.
    report: Option<AccountingRecord>,
}

impl Ledger {
    /// Whether the report has every figure it waits for: an Interim-Update
    /// the reads it asked, a Stop the final figures of every SA.
    fn complete(&self) -> bool {
        let stopping = self
            .report
            .as_ref()
            .is_some_and(|r| matches!(r.status, AccountingStatus::Stop { .. }));
        self.awaiting == 0 && (!stopping || self.accounted == 0)
    }
}

/// The engine's traffic bookkeeping for RADIUS sessions.
#[derive(Debug, Default)]
pub(crate) struct TrafficBook {
    accounted: HashMap<SaKey, Owner>,
    awaiting: HashMap<SaKey, Awaited>,
    reads: VecDeque<TrafficRead>,
    ledgers: HashMap<String, Ledger>,
    /// Sessions whose report waits, by when it goes regardless.
    waiting: Vec<(Instant, String)>,
    /// Reports complete, for the accounting queue.
    done: VecDeque<AccountingRecord>,
}

impl TrafficBook {
    /// The ESP SAs of `child` (between `local` and `remote`) count for `session`.
    pub fn account(&mut self, session: &str, local: IpAddr, remote: IpAddr, child: &ChildSa) {
        let ledger = self.ledgers.entry(session.to_string()).or_default();
        let sas = [
            ((local, child.spi_in), remote, true),
            ((remote, child.spi_out), local, false),
        ];
        for (key, src, inbound) in sas {
            let owner = Owner {
                session: session.to_string(),
                src,
                inbound,
            };
            if self.accounted.insert(key, owner).is_none() {
                ledger.accounted += 1;
            }
        }
    }

    /// An accounted SA that will never be deleted (never installed) counts no more.
    pub fn forget(&mut self, dst: IpAddr, spi: u32) {
        if let Some(owner) = self.accounted.remove(&(dst, spi)) {
            if let Some(ledger) = self.ledgers.get_mut(&owner.session) {
                ledger.accounted = ledger.accounted.saturating_sub(1);
            }
        }
    }

    /// A session that never started (no Start, so no Stop) accounts nothing more.
    pub fn drop_session(&mut self, session: &str) {
        if self.ledgers.remove(session).is_some() {
            self.accounted.retain(|_, o| o.session != session);
            self.awaiting.retain(|_, a| a.owner.session != session);
            let awaiting = &self.awaiting;
            self.reads
                .retain(|r| awaiting.contains_key(&(r.dst, r.spi)));
            self.waiting.retain(|(_, s)| s != session);
        }
    }

    /// `op` leaves for the kernel: an accounted SA it deletes is read first;
    /// one it moves (MOBIKE, a NAT) is known by its new addresses.
    fn note(&mut self, op: &KernelOp) {
        if let KernelOp::MoveSa(m) = op {
            if let Some(mut owner) = self.accounted.remove(&(m.dst, m.spi)) {
                owner.src = m.new_src;
                self.accounted.insert((m.new_dst, m.spi), owner);
            }
            return;
        }
        let KernelOp::DeleteSa { dst, spi, .. } = op else {
            return;
        };
        let Some(owner) = self.accounted.remove(&(*dst, *spi)) else {
            return;
        };
        if let Some(ledger) = self.ledgers.get_mut(&owner.session) {
            ledger.accounted = ledger.accounted.saturating_sub(1);
        }
        self.ask((*dst, *spi), owner, true);
    }

    fn ask(&mut self, key: SaKey, owner: Owner, last: bool) {
        match self.awaiting.entry(key) {
            // Read for an Interim-Update already: that answer is now final.
            Entry::Occupied(mut e) => e.get_mut().last |= last,
            Entry::Vacant(e) => {
                self.reads.push_back(TrafficRead {
                    src: owner.src,
                    dst: key.0,
                    spi: key.1,
                });
                if let Some(ledger) = self.ledgers.get_mut(&owner.session) {
                    ledger.awaiting += 1;
                }
                e.insert(Awaited { owner, last });
            }
        }
    }

    /// Queues `record` (an Interim-Update or Stop, its usage to be filled in)
    /// for `session`: an Interim-Update reads the live SAs `live` first.
    pub fn report(
        &mut self,
        now: Instant,
        session: &str,
        record: AccountingRecord,
        live: &[SaKey],
    ) {
        let stop = matches!(record.status, AccountingStatus::Stop { .. });
        let ledger = self.ledgers.entry(session.to_string()).or_default();
        match &mut ledger.report {
            // A Stop says all an Interim-Update under way would: it takes its
            // place, and waits its own full while.
            Some(pending) if stop => {
                *pending = record;
                self.waiting.retain(|(_, s)| s != session);
            }
            // The one under way reports soon enough.
            Some(_) => return,
            None => {
                ledger.live.clear();
                ledger.report = Some(record);
            }
        }
        for key in live {
            if let Some(owner) = self.accounted.get(key).cloned() {
                self.ask(*key, owner, false);
            }
        }
        self.waiting.push((now + COUNTER_WAIT, session.to_string()));
        self.settle(session, false);
    }

    /// The kernel's answer to a [`TrafficRead`].
    fn answer(&mut self, dst: IpAddr, spi: u32, traffic: Option<SaTraffic>) {
        let Some(awaited) = self.awaiting.remove(&(dst, spi)) else {
            return;
        };
        let session = awaited.owner.session;
        let Some(ledger) = self.ledgers.get_mut(&session) else {
            return;
        };
        ledger.awaiting = ledger.awaiting.saturating_sub(1);
        let t = traffic.unwrap_or_default();
        if awaited.last {
            ledger.live.retain(|(key, _, _)| *key != (dst, spi));
            ledger.gone.add(awaited.owner.inbound, t);
        } else {
            ledger.live.push(((dst, spi), awaited.owner.inbound, t));
        }
        self.settle(&session, false);
    }

    /// Sends the session's report if it is complete (or `overdue`).
    fn settle(&mut self, session: &str, overdue: bool) {
        let Some(ledger) = self.ledgers.get_mut(session) else {
            return;
        };
        if ledger.report.is_none() || !(overdue || ledger.complete()) {
            return;
        }
        let mut record = ledger.report.take().expect("checked above");
        let mut total = ledger.gone;
        for (_, inbound, t) in &ledger.live {
            total.add(*inbound, *t);
        }
        let stop = match &mut record.status {
            AccountingStatus::Start => false,
            AccountingStatus::Interim { usage, .. } => {
                *usage = total;
                false
            }
            AccountingStatus::Stop { usage, .. } => {
                *usage = total;
                true
            }
        };
        if overdue {
            tracing::debug!(
                session,
                "RADIUS accounting: the kernel's counters did not all come; reporting what did"
            );
        }
        self.done.push_back(record);
        self.waiting.retain(|(_, s)| s != session);
        if overdue {
            // Reads nobody took are dropped, so the queue does not grow.
            self.awaiting.retain(|_, a| a.owner.session != session);
            if let Some(ledger) = self.ledgers.get_mut(session) {
                ledger.awaiting = 0;
            }
            let awaiting = &self.awaiting;
            self.reads
                .retain(|r| awaiting.contains_key(&(r.dst, r.spi)));
        }
        if stop {
            self.ledgers.remove(session);
            // SAs the kernel refused (never deleted): nothing more to wait for.
            self.accounted.retain(|_, o| o.session != session);
        }
    }

    /// When a report goes without the counters it waits for.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiting.iter().map(|(t, _)| *t).min()
    }

    /// Sends the reports whose wait is over.
    pub fn run_deadlines(&mut self, now: Instant) {
        let due: Vec<String> = self
            .waiting
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, s)| s.clone())
            .collect();
        for session in due {
            self.settle(&session, true);
        }
    }

    /// Complete reports, in order.
    pub fn take_done(&mut self) -> Option<AccountingRecord> {
        self.done.pop_front()
    }
}

impl Engine {
    /// The next SA whose traffic the engine wants read (see [`TrafficRead`]).
    /// Answer every one before applying the kernel operation last taken: it
    /// may delete the SA.
    pub fn poll_traffic_read(&mut self) -> Option<TrafficRead> {
        self.ctx.traffic.reads.pop_front()
    }

    pub(crate) fn note_traffic(&mut self, op: &KernelOp) {
        self.ctx.traffic.note(op);
    }

    pub(crate) fn on_traffic(&mut self, dst: IpAddr, spi: u32, traffic: Option<SaTraffic>) {
        self.ctx.traffic.answer(dst, spi, traffic);
    }
}

impl crate::engine::Ctx {
    /// Complete reports join the accounting queue.
    pub(crate) fn move_done_reports(&mut self) {
        while let Some(record) = self.traffic.take_done() {
            self.radius.accounting.push_back(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_adds_each_direction_apart() {
        let mut u = Usage::default();
        u.add(
            true,
            SaTraffic {
                bytes: 100,
                packets: 2,
            },
        );
        u.add(
            false,
            SaTraffic {
                bytes: 7,
                packets: 1,
            },
        );
        u.add(
            true,
            SaTraffic {
                bytes: u64::MAX,
                packets: 1,
            },
        );
        assert_eq!(
            u.input_octets,
            u64::MAX,
            "saturates, never wraps to a small figure"
        );
        assert_eq!(
            (u.input_packets, u.output_octets, u.output_packets),
            (3, 7, 1)
        );
    }
}
