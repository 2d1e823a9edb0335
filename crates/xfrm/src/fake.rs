//! [`FakeXfrm`]: the kernel's SA and policy tables kept in memory, for
//! tests and for ternd's IKE-only mode.
//!
//! Every request is first built with the same code as for the kernel (so
//! what [`crate::Xfrm`] rejects before sending, this rejects too), and a
//! refusal is turned into an error by the same errno mapping. The rules
//! follow what the kernel does (net/xfrm/xfrm_state.c, xfrm_policy.c):
//! ESP SAs are found by (dst, spi) and mark, the source is not part of the
//! key; policies by selector, direction, mark and if_id. Unlike the kernel,
//! every algorithm is available, counters stay at zero and larval SAs do
//! not expire.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::abi::IPPROTO_ESP;
use crate::error::{from_errno, Op, OpKind};
use crate::message::{self, PolicyKey, Request};
use crate::ops::XfrmOps;
use crate::types::*;
use crate::XfrmError;

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

/// The kernel's refusal of `req` with `errno`, as [`crate::Xfrm`] reports it.
fn refused(req: &Request, errno: i32) -> XfrmError {
    from_errno(&req.op, errno, None, &req.ctx)
}

/// A refusal that the kernel explains in an extended ack.
fn refused_saying(req: &Request, errno: i32, kernel_says: &str) -> XfrmError {
    from_errno(&req.op, errno, Some(kernel_says.to_string()), &req.ctx)
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

/// What a dump shows: a mark of 0/0 and an if_id of 0 are not sent.
fn shown_mark(mark: Option<Mark>) -> Option<Mark> {
    mark.filter(|m| m.value != 0 || m.mask != 0)
}

fn shown_if_id(if_id: Option<u32>) -> Option<u32> {
    if_id.filter(|&id| id != 0)
}

fn unspecified_like(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn full_sa(sa: &SaParams) -> FakeSa {
    let summary = SaSummary {
        src: sa.src,
        dst: sa.dst,
        spi: sa.spi,
        reqid: sa.reqid,
        proto: IPPROTO_ESP,
        mode: Some(sa.mode),
        counters: SaCounters {
            add_time: now_unix(),
            ..SaCounters::default()
        },
        hard_seconds: sa.lifetime.hard_seconds,
        mark: shown_mark(sa.mark),
        if_id: shown_if_id(sa.if_id),
        encap: sa.encap,
    };
    FakeSa {
        summary,
        larval: false,
    }
}

impl XfrmOps for FakeXfrm {
    fn alloc_spi(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        reqid: u32,
        min: u32,
        max: u32,
    ) -> Result<u32, XfrmError> {
        let req = message::alloc_spi(src, dst, reqid, min, max)?;
        // The kernel reuses a larval SA that has no SPI yet, or makes one;
        // it stays even when no SPI is free.
        let larval = match self
            .sas
            .find_spiless(|e| e.is_spiless_larval(src, dst, reqid, Mode::Tunnel))
        {
            Some(i) => i,
            None => {
                let summary = SaSummary {
                    src,
                    dst,
                    spi: 0,
                    reqid,
                    proto: IPPROTO_ESP,
                    mode: Some(Mode::Tunnel),
                    counters: SaCounters {
                        add_time: now_unix(),
                        ..SaCounters::default()
                    },
                    hard_seconds: self.acq_expires,
                    mark: None,
                    if_id: None,
                    encap: None,
                };
                self.sas.push(FakeSa {
                    summary,
                    larval: true,
                })
            }
        };
        let spi = self.pick_spi(dst, min, max).ok_or_else(|| {
            refused_saying(
                &req,
                libc::ENOENT,
                "No SPI available in the requested range",
            )
        })?;
        self.sas.set_spi(larval, spi);
        Ok(spi)
    }

    fn add_sa(&mut self, sa: &SaParams) -> Result<(), XfrmError> {
        let req = message::new_sa(sa)?;
        let m = normal_mark(sa.mark);
        let existing = self.find_sa(sa.dst, sa.spi, m.value & m.mask);
        match (existing, sa.update) {
            (Some(_), false) => Err(refused(&req, libc::EEXIST)),
            (None, true) => Err(refused(&req, libc::ESRCH)),
            (Some(i), true) => {
                // UPDSA fills a larval SA, or changes a full one's limits.
                let entry = self.sas.get_mut(i);
                if entry.larval {
                    *entry = full_sa(sa);
                } else {
                    entry.summary.hard_seconds = sa.lifetime.hard_seconds;
                }
                Ok(())
            }
            (None, false) => {
                // NEWSA also retires an SPI-less larval SA of the same
                // addresses, reqid and mode.
                self.sas
                    .remove_spiless(|e| e.is_spiless_larval(sa.src, sa.dst, sa.reqid, sa.mode));
                self.sas.push(full_sa(sa));
                Ok(())
            }
        }
    }

    fn delete_sa(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Result<(), XfrmError> {
        let req = message::delete_sa(src, dst, spi, None)?;
        let i = self
            .find_sa(dst, spi, 0)
            .ok_or_else(|| refused(&req, libc::ESRCH))?;
        self.sas.remove(i);
        Ok(())
    }

    fn move_sa(&mut self, to: &SaMove) -> Result<(), XfrmError> {
        let req = message::get_sa(to.src, to.dst, to.spi, None)?;
        let i = self
            .find_sa(to.dst, to.spi, 0)
            .ok_or_else(|| refused(&req, libc::ESRCH))?;
        let op = Op::sa(OpKind::UpdateSa, to.new_src, to.new_dst, to.spi);
        if to.new_dst.is_ipv4() != to.dst.is_ipv4() || to.new_src.is_ipv4() != to.new_dst.is_ipv4()
        {
            return Err(XfrmError::invalid(
                &op,
                "an SA cannot move between IPv4 and IPv6",
            ));
        }
        // The kernel changes encapsulation in place only from one encap to another.
        if self.sas.get(i).summary.encap.is_some() != to.encap.is_some() {
            return Err(refused(&req, libc::EINVAL));
        }
        let mut moved = self.sas.remove(i).expect("an SA the table handed out");
        if to.new_dst != to.dst && self.find_sa(to.new_dst, to.spi, 0).is_some() {
            self.sas.push(moved);
            return Err(refused(&req, libc::EEXIST));
        }
        moved.summary.src = to.new_src;
        moved.summary.dst = to.new_dst;
        moved.summary.encap = to.encap;
        self.sas.push(moved);
        Ok(())
    }

    fn get_sa(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Result<SaSummary, XfrmError> {
        let req = message::get_sa(src, dst, spi, None)?;
        self.find_sa(dst, spi, 0)
            .map(|i| self.sas.get(i).summary.clone())
            .ok_or_else(|| refused(&req, libc::ESRCH))
    }

    fn add_policy(&mut self, p: &PolicyParams) -> Result<(), XfrmError> {
        let req = message::new_policy(p)?;
        let mark = normal_mark(p.mark);
        let existing = self.policy_position(&p.selector, p.dir, mark, p.if_id.unwrap_or(0));
        let index = match (existing, p.update) {
            (Some(_), false) => return Err(refused(&req, libc::EEXIST)),
            // A replaced policy keeps its index.
            (Some(i), true) => self.policies.remove(i).index,
            (None, _) => {
                let index = self.next_index | u32::from(p.dir.to_u8());
                self.next_index = self.next_index.wrapping_add(8).max(8);
                index
            }
        };
        let templates = p
            .templates
            .iter()
            .map(|t| match t.mode {
                Mode::Tunnel => *t,
                // Transport templates go to the kernel without addresses.
                Mode::Transport => Template {
                    src: unspecified_like(p.selector.src),
                    dst: unspecified_like(p.selector.dst),
                    ..*t
                },
            })
            .collect();
        self.policies.push(PolicySummary {
            selector: p.selector,
            dir: p.dir,
            priority: p.priority,
            index,
            action: 0,
            templates,
            mark: shown_mark(p.mark),
            if_id: shown_if_id(p.if_id),
            // Nothing flows through an in-memory XFRM.
            use_time: 0,
        });
        Ok(())
    }

    fn delete_policy(&mut self, selector: &Selector, dir: PolicyDir) -> Result<(), XfrmError> {
        let req = message::delete_policy(PolicyKey::Selector(selector), dir, None, None)?;
        let i = self
            .policy_position(selector, dir, normal_mark(None), 0)
            .ok_or_else(|| refused(&req, libc::ENOENT))?;
        self.policies.remove(i);
        Ok(())
    }

    fn get_policy(
        &mut self,
        selector: &Selector,
        dir: PolicyDir,
    ) -> Result<PolicySummary, XfrmError> {
        let req = message::get_policy(selector, dir, None, None)?;
        let seq = self
            .policy_position(selector, dir, normal_mark(None), 0)
            .ok_or_else(|| refused(&req, libc::ENOENT))?;
        Ok((*self.policies.by_seq[&seq]).clone())
    }

    fn list_sas(&mut self) -> Result<Vec<SaSummary>, XfrmError> {
        Ok(self
            .sas
            .by_seq
            .values()
            .map(|e| e.summary.clone())
            .collect())
    }

    fn list_policies(&mut self) -> Result<Vec<PolicySummary>, XfrmError> {
        Ok(self
            .policies
            .by_seq
            .values()
            .map(|p| (**p).clone())
            .collect())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const RANGE: (u32, u32) = (0xc000_0000, 0xcfff_ffff);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn peer_us() -> (IpAddr, IpAddr) {
        (ip("192.0.2.2"), ip("192.0.2.1"))
    }

    fn gcm_sa(src: IpAddr, dst: IpAddr, spi: u32, reqid: u32) -> SaParams {
        SaParams {
            src,
            dst,
            spi,
            reqid,
            mode: Mode::Tunnel,
            aead: Some(AeadAlgo {
                name: "rfc4106(gcm(aes))",
                key: vec![1; 20],
                icv_bits: 128,
            }),
            encryption: None,
            integrity: None,
            encap: None,
            replay_window: 32,
            esn: false,
            lifetime: Lifetime {
                hard_seconds: 3600,
                ..Lifetime::default()
            },
            selector: None,
            update: false,
            mark: None,
            if_id: None,
        }
    }

    fn out_policy() -> PolicyParams {
        PolicyParams {
            selector: Selector::subnets(ip("10.1.0.0"), 16, ip("10.2.0.0"), 16),
            dir: PolicyDir::Out,
            priority: 1000,
            templates: vec![Template {
                src: ip("192.0.2.1"),
                dst: ip("192.0.2.2"),
                reqid: 1,
                mode: Mode::Tunnel,
                spi: 0,
            }],
            update: false,
            mark: None,
            if_id: None,
        }
    }

    #[test]
    fn alloc_spi_reserves_a_larval_sa_with_its_reqid() {
        let mut x = FakeXfrm::new();
        let (peer, us) = peer_us();
        let spi = x.alloc_spi(peer, us, 5, RANGE.0, RANGE.1).unwrap();
        assert!((RANGE.0..=RANGE.1).contains(&spi), "{spi:#x}");
        let sas = x.list_sas().unwrap();
        assert_eq!(sas.len(), 1);
        let larval = &sas[0];
        assert_eq!((larval.src, larval.dst), (peer, us));
        assert_eq!((larval.spi, larval.reqid, larval.proto), (spi, 5, 50));
        assert_eq!(larval.mode, Some(Mode::Tunnel));
        assert_eq!(larval.hard_seconds, DEFAULT_ACQ_EXPIRES);
        assert_eq!(x.get_sa(peer, us, spi).unwrap(), *larval);
        let c = x.sa_counters(peer, us, spi).unwrap();
        assert_eq!((c.bytes, c.packets), (0, 0));
    }

    #[test]
    fn each_alloc_spi_gets_a_fresh_spi_and_seeds_differ() {
        let (peer, us) = peer_us();
        let mut x = FakeXfrm::new();
        let a = x.alloc_spi(peer, us, 9, RANGE.0, RANGE.1).unwrap();
        let b = x.alloc_spi(peer, us, 9, RANGE.0, RANGE.1).unwrap();
        assert_ne!(a, b);
        assert_eq!(x.list_sas().unwrap().len(), 2);
        let mut other = FakeXfrm::with_seed(1);
        assert_ne!(other.alloc_spi(peer, us, 9, RANGE.0, RANGE.1).unwrap(), a);
    }

    #[test]
    fn a_taken_range_gives_no_free_spi_and_leaves_an_spi_less_larval_sa() {
        let mut x = FakeXfrm::new();
        let (peer, us) = peer_us();
        let spi = x.alloc_spi(peer, us, 5, 0x100, 0x101).unwrap();
        let other = x.alloc_spi(peer, us, 5, 0x100, 0x101).unwrap();
        assert_eq!([spi.min(other), spi.max(other)], [0x100, 0x101]);
        let e = x.alloc_spi(peer, us, 6, spi, spi).unwrap_err();
        assert!(matches!(e, XfrmError::NoSpiAvailable { .. }), "{e}");
        assert!(e.to_string().contains("no free SPI in 0x"), "{e}");
        let left: Vec<(u32, u32)> = x
            .list_sas()
            .unwrap()
            .iter()
            .map(|s| (s.spi, s.reqid))
            .collect();
        assert!(left.contains(&(0, 6)), "{left:x?}");
        // The next ALLOCSPI for reqid 6 reuses that larval SA.
        let third = x.alloc_spi(peer, us, 6, 0x200, 0x200).unwrap();
        assert_eq!(third, 0x200);
        assert_eq!(x.list_sas().unwrap().len(), 3);
    }

    #[test]
    fn update_fills_the_larval_sa() {
        let mut x = FakeXfrm::new();
        let (peer, us) = peer_us();
        let spi = x.alloc_spi(peer, us, 5, RANGE.0, RANGE.1).unwrap();
        let mut sa = gcm_sa(peer, us, spi, 5);
        sa.update = true;
        x.add_sa(&sa).unwrap();
        let sas = x.list_sas().unwrap();
        assert_eq!(sas.len(), 1, "the larval SA was replaced: {sas:#?}");
        assert_eq!((sas[0].spi, sas[0].hard_seconds), (spi, 3600));
    }

    #[test]
    fn update_without_a_reserved_spi_is_not_found() {
        let mut x = FakeXfrm::new();
        let (peer, us) = peer_us();
        let mut sa = gcm_sa(peer, us, 0x4242, 1);
        sa.update = true;
        let e = x.add_sa(&sa).unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert_eq!(
            e.to_string(),
            "updating ESP SA 192.0.2.2->192.0.2.1 spi 0x00004242: no such SA in the kernel"
        );
        assert!(x.list_sas().unwrap().is_empty());
    }

    #[test]
    fn new_sa_on_a_taken_dst_and_spi_already_exists() {
        let mut x = FakeXfrm::new();
        let (peer, us) = peer_us();
        let spi = x.alloc_spi(peer, us, 5, RANGE.0, RANGE.1).unwrap();
        // The larval SA holds the SPI too; the source is not part of the key.
        for src in [peer, ip("192.0.2.9")] {
            let e = x.add_sa(&gcm_sa(src, us, spi, 5)).unwrap_err();
            assert!(e.is_already_exists(), "{e}");
        }
        x.add_sa(&gcm_sa(us, peer, spi, 5)).unwrap();
        let e = x.add_sa(&gcm_sa(us, peer, spi, 5)).unwrap_err();
        assert!(e.is_already_exists(), "{e}");
        assert!(
            e.to_string()
                .starts_with("adding ESP SA 192.0.2.1->192.0.2.2"),
            "{e}"
        );
        assert_eq!(x.list_sas().unwrap().len(), 2);
    }

    #[test]
    fn delete_and_get_of_a_missing_sa_are_not_found() {
        let mut x = FakeXfrm::new();
        let (peer, us) = peer_us();
        x.add_sa(&gcm_sa(us, peer, 0x1234, 1)).unwrap();
        x.delete_sa(us, peer, 0x1234).unwrap();
        let e = x.delete_sa(us, peer, 0x1234).unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert_eq!(
            e.to_string(),
            "deleting ESP SA 192.0.2.1->192.0.2.2 spi 0x00001234: no such SA in the kernel"
        );
        assert!(x.sa_counters(us, peer, 0x1234).unwrap_err().is_not_found());
    }

    #[test]
    fn requests_the_kernel_would_never_see_are_rejected_alike() {
        let mut x = FakeXfrm::new();
        let e = x
            .alloc_spi(ip("192.0.2.2"), ip("2001:db8::1"), 1, 1, 2)
            .unwrap_err();
        assert!(matches!(e, XfrmError::Invalid { .. }), "{e}");
        let e = x
            .alloc_spi(ip("192.0.2.2"), ip("192.0.2.1"), 1, 9, 2)
            .unwrap_err();
        assert!(matches!(e, XfrmError::Invalid { .. }), "{e}");
        let mut sa = gcm_sa(ip("192.0.2.2"), ip("192.0.2.1"), 1, 1);
        sa.aead = None;
        assert!(matches!(x.add_sa(&sa), Err(XfrmError::Invalid { .. })));
        assert!(x.list_sas().unwrap().is_empty());
    }

    #[test]
    fn policies_exist_once_update_replaces_and_delete_of_a_missing_one_is_not_found() {
        let mut x = FakeXfrm::new();
        let p = out_policy();
        x.add_policy(&p).unwrap();
        let e = x.add_policy(&p).unwrap_err();
        assert!(e.is_already_exists(), "{e}");
        assert!(
            e.to_string()
                .starts_with("adding policy 10.1.0.0/16 -> 10.2.0.0/16 dir out:"),
            "{e}"
        );
        let index = x.list_policies().unwrap()[0].index;
        assert_eq!(index & 7, 1, "the direction is in the low bits");

        // The same selector in another direction is another policy.
        x.add_policy(&PolicyParams {
            dir: PolicyDir::Fwd,
            ..p.clone()
        })
        .unwrap();
        let changed = PolicyParams {
            update: true,
            priority: 7,
            ..p.clone()
        };
        x.add_policy(&changed).unwrap();
        let listed = x.list_policies().unwrap();
        assert_eq!(listed.len(), 2);
        let out = listed.iter().find(|l| l.dir == PolicyDir::Out).unwrap();
        assert_eq!((out.priority, out.index, out.action), (7, index, 0));
        assert_eq!(out.templates, p.templates);

        x.delete_policy(&p.selector, PolicyDir::Out).unwrap();
        let e = x.delete_policy(&p.selector, PolicyDir::Out).unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert_eq!(
            e.to_string(),
            "deleting policy 10.1.0.0/16 -> 10.2.0.0/16 dir out: no such policy in the kernel"
        );
        assert_eq!(x.list_policies().unwrap().len(), 1);
    }

    #[test]
    fn update_policy_adds_when_absent_and_transport_templates_lose_their_addresses() {
        let mut x = FakeXfrm::new();
        let mut p = out_policy();
        p.update = true;
        p.templates[0].mode = Mode::Transport;
        x.add_policy(&p).unwrap();
        let listed = x.list_policies().unwrap();
        assert_eq!(listed.len(), 1);
        let t = listed[0].templates[0];
        assert_eq!(
            (t.src, t.dst, t.mode),
            (ip("0.0.0.0"), ip("0.0.0.0"), Mode::Transport)
        );
    }

    #[test]
    fn a_marked_policy_is_not_the_unmarked_one() {
        let mut x = FakeXfrm::new();
        let p = out_policy();
        x.add_policy(&PolicyParams {
            mark: Some(Mark::exact(3)),
            ..p.clone()
        })
        .unwrap();
        x.add_policy(&p).unwrap();
        x.delete_policy(&p.selector, p.dir).unwrap();
        assert!(x
            .delete_policy(&p.selector, p.dir)
            .unwrap_err()
            .is_not_found());
        assert_eq!(x.list_policies().unwrap()[0].mark, Some(Mark::exact(3)));
    }

    #[test]
    fn flush_empties_both_tables() {
        let mut x = FakeXfrm::new();
        let (peer, us) = peer_us();
        x.alloc_spi(peer, us, 1, RANGE.0, RANGE.1).unwrap();
        x.add_policy(&out_policy()).unwrap();
        x.flush_sas();
        x.flush_policies();
        assert!(x.list_sas().unwrap().is_empty());
        assert!(x.list_policies().unwrap().is_empty());
    }
}
