//! [`FakeXfrm`]: the kernel's SA and policy tables kept in memory, for
//! tests and for ternd's IKE-only mode.
//!
//! Every request is first built with the same code as for the kernel (so
//! what [`crate::Xfrm`] rejects before sending, this rejects too), and a
//! refusal is turned into an error by the same errno mapping. The rules
//! follow what the kernel does (net/xfrm/xfrm_state.c, xfrm_policy.c):
//! ESP SAs are found by (dst, spi) and mark, the source is not part of the
//! key; policies by selector, direction, mark and if_id. Unlike the kernel,
//! every algorithm is available, counters only move when a test says traffic
//! went through ([`FakeXfrm::carry`]) and larval SAs do not expire.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::abi::IPPROTO_ESP;
use crate::error::{from_errno, Op, OpKind};
use crate::message::{self, PolicyKey, Request};
use crate::ops::XfrmOps;
use crate::types::*;
use crate::XfrmError;

mod ops;
#[cfg(test)]
mod tests;

/// The kernel's default net.core.xfrm_acq_expires: a larval SA's hard
/// lifetime in seconds.
const DEFAULT_ACQ_EXPIRES: u64 = 30;

/// An in-memory XFRM: SAs (full and larval) and policies, each found by its
/// key through an index (ternd's IKE-only mode holds 100,000s of them).
#[derive(Debug, Clone)]
pub struct FakeXfrm {
    sas: SaTable,
    policies: PolicyTable,
    /// State of the generator that picks SPIs in an ALLOCSPI range.
    rng: u64,
    /// Policy indexes are numbered as the kernel does: steps of 8, plus the
    /// direction in the low bits.
    next_index: u32,
    acq_expires: u64,
}

impl Default for FakeXfrm {
    fn default() -> FakeXfrm {
        FakeXfrm::with_seed(0)
    }
}

impl FakeXfrm {
    pub fn new() -> FakeXfrm {
        FakeXfrm::default()
    }

    /// A fake whose ALLOCSPI picks follow `seed`: two fakes standing in for
    /// two daemons on one host should get different seeds, as one kernel
    /// would not hand both the same SPIs.
    pub fn with_seed(seed: u64) -> FakeXfrm {
        FakeXfrm {
            sas: SaTable::default(),
            policies: PolicyTable::default(),
            rng: seed ^ 0x9e37_79b9_7f4a_7c15,
            next_index: 8,
            acq_expires: DEFAULT_ACQ_EXPIRES,
        }
    }

    /// `packets` packets of `bytes` bytes in all went through the SA
    /// (`dst`, `spi`): its counters show them, as GETSA's would. Returns
    /// whether the SA is there.
    pub fn carry(&mut self, dst: IpAddr, spi: u32, bytes: u64, packets: u64) -> bool {
        let Some(seq) = self.find_sa(dst, spi, 0) else {
            return false;
        };
        let counters = &mut self.sas.get_mut(seq).summary.counters;
        counters.bytes += bytes;
        counters.packets += packets;
        true
    }

    /// Deletes every SA.
    pub fn flush_sas(&mut self) {
        self.sas.clear();
    }

    /// Deletes every policy.
    pub fn flush_policies(&mut self) {
        self.policies.clear();
    }

    /// splitmix64: enough to spread SPIs over a range, like the kernel's
    /// random pick.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The SA the kernel's lookup by (dst, spi) and packet mark finds.
    /// SPI-less larval SAs are not in the kernel's SPI table.
    fn find_sa(&self, dst: IpAddr, spi: u32, mark: u32) -> Option<u64> {
        self.sas.find(dst, spi, mark)
    }

    /// A free SPI in `min..=max`: a random start, then the next ones. At
    /// most `sas.len()` SPIs are taken, so that many + 1 tries find one if
    /// any is free.
    fn pick_spi(&mut self, dst: IpAddr, min: u32, max: u32) -> Option<u32> {
        let span = u64::from(max - min) + 1;
        let start = self.next_random() % span;
        let tries = span.min(self.sas.len() as u64 + 1);
        (0..tries)
            .map(|i| min + ((start + i) % span) as u32)
            .find(|&spi| spi != 0 && self.find_sa(dst, spi, 0).is_none())
    }

    fn policy_position(
        &self,
        sel: &Selector,
        dir: PolicyDir,
        mark: Mark,
        if_id: u32,
    ) -> Option<u64> {
        self.policies.by_key.get(&(*sel, dir, mark, if_id)).copied()
    }
}

#[derive(Debug, Clone)]
struct FakeSa {
    summary: SaSummary,
    /// Reserved by ALLOCSPI and not yet filled (the kernel's ACQ state).
    larval: bool,
}

impl FakeSa {
    /// An SPI-less larval SA of these addresses, reqid and mode.
    fn is_spiless_larval(&self, src: IpAddr, dst: IpAddr, reqid: u32, mode: Mode) -> bool {
        let s = &self.summary;
        self.larval
            && s.spi == 0
            && (s.src, s.dst, s.reqid, s.mode) == (src, dst, reqid, Some(mode))
    }
}

/// An absent mark is the mark 0/0.
fn normal_mark(mark: Option<Mark>) -> Mark {
    mark.unwrap_or(Mark { value: 0, mask: 0 })
}

/// The kernel's mark match: (packet mark & SA mask) == SA value.
fn mark_matches(packet: u32, sa: Option<Mark>) -> bool {
    let m = normal_mark(sa);
    packet & m.mask == m.value
}

/// SAs in the order they were added, found by (dst, SPI) without a scan.
#[derive(Debug, Clone, Default)]
struct SaTable {
    /// Boxed, here and in `PolicyTable`: seqs only grow, and a B-tree filled
    /// in order leaves its nodes about half full; half-empty slots of a
    /// pointer cost less than half-empty slots of a 100-byte summary.
    by_seq: BTreeMap<u64, Box<FakeSa>>,
    /// (dst, SPI, seq) of every SA with an SPI: the SAs with one (dst, SPI)
    /// (differing in mark) are a range, oldest first. A set rather than a map
    /// to a vector of seqs: about 50 bytes per SA instead of 110 (the vector's
    /// allocation, the map's slack), and ternd --no-kernel holds 100,000s.
    by_spi: BTreeSet<(IpAddr, u32, u64)>,
    /// Larval SAs without an SPI (ALLOCSPI found none free): rare.
    spiless: Vec<u64>,
    next_seq: u64,
}

impl SaTable {
    fn len(&self) -> usize {
        self.by_seq.len()
    }

    fn clear(&mut self) {
        *self = SaTable {
            next_seq: self.next_seq,
            ..SaTable::default()
        };
    }

    /// The oldest SA with this (dst, SPI) whose mark matches the packet's.
    fn find(&self, dst: IpAddr, spi: u32, mark: u32) -> Option<u64> {
        self.with_spi(dst, spi)
            .find(|seq| mark_matches(mark, self.by_seq[seq].summary.mark))
    }

    /// The SAs with this (dst, SPI), oldest first.
    fn with_spi(&self, dst: IpAddr, spi: u32) -> impl Iterator<Item = u64> + '_ {
        self.by_spi
            .range((dst, spi, 0)..=(dst, spi, u64::MAX))
            .map(|&(_, _, seq)| seq)
    }

    fn get(&self, seq: u64) -> &FakeSa {
        &self.by_seq[&seq]
    }

    fn get_mut(&mut self, seq: u64) -> &mut FakeSa {
        self.by_seq
            .get_mut(&seq)
            .expect("an SA the table handed out")
    }

    fn push(&mut self, sa: FakeSa) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.index(seq, sa.summary.dst, sa.summary.spi);
        self.by_seq.insert(seq, Box::new(sa));
        seq
    }

    fn index(&mut self, seq: u64, dst: IpAddr, spi: u32) {
        if spi == 0 {
            self.spiless.push(seq);
        } else {
            self.by_spi.insert((dst, spi, seq));
        }
    }

    fn remove(&mut self, seq: u64) -> Option<FakeSa> {
        let sa = *self.by_seq.remove(&seq)?;
        if sa.summary.spi == 0 {
            self.spiless.retain(|&s| s != seq);
        } else {
            self.by_spi.remove(&(sa.summary.dst, sa.summary.spi, seq));
        }
        Some(sa)
    }

    /// Gives an SPI-less larval SA its SPI.
    fn set_spi(&mut self, seq: u64, spi: u32) {
        if let Some(mut sa) = self.remove(seq) {
            sa.summary.spi = spi;
            self.index(seq, sa.summary.dst, spi);
            self.by_seq.insert(seq, Box::new(sa));
        }
    }

    fn find_spiless(&self, matches: impl Fn(&FakeSa) -> bool) -> Option<u64> {
        self.spiless
            .iter()
            .copied()
            .find(|seq| matches(&self.by_seq[seq]))
    }

    fn remove_spiless(&mut self, matches: impl Fn(&FakeSa) -> bool) {
        let gone: Vec<u64> = self
            .spiless
            .iter()
            .copied()
            .filter(|seq| matches(&self.by_seq[seq]))
            .collect();
        for seq in gone {
            self.remove(seq);
        }
    }
}

/// (selector, direction, mark, if_id): what makes a policy unique.
type PolicyKeyFields = (Selector, PolicyDir, Mark, u32);

/// Policies in the order they were added, found by their key without a scan.
#[derive(Debug, Clone, Default)]
struct PolicyTable {
    by_seq: BTreeMap<u64, Box<PolicySummary>>,
    by_key: HashMap<PolicyKeyFields, u64>,
    next_seq: u64,
}

impl PolicyTable {
    fn key(p: &PolicySummary) -> PolicyKeyFields {
        (p.selector, p.dir, normal_mark(p.mark), p.if_id.unwrap_or(0))
    }

    fn clear(&mut self) {
        self.by_seq.clear();
        self.by_key.clear();
    }

    fn push(&mut self, p: PolicySummary) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_key.insert(Self::key(&p), seq);
        self.by_seq.insert(seq, Box::new(p));
    }

    fn remove(&mut self, seq: u64) -> PolicySummary {
        let p = *self
            .by_seq
            .remove(&seq)
            .expect("a policy the table handed out");
        self.by_key.remove(&Self::key(&p));
        p
    }
}
