//! tern-xfrm: Linux XFRM (IPsec SAs and policies) over NETLINK_XFRM.
//!
//! Requests are laid out by hand, field by field, as in linux/xfrm.h
//! ([`message`]); [`Xfrm`] sends them one at a time, each with its own
//! sequence number and NLM_F_ACK, and turns the kernel's answer into an
//! [`XfrmError`] that names the operation, the SA or policy, and — where the
//! kernel lacks something — which feature to enable.
//!
//! A socket belongs to the network namespace of the thread that opened it.
//!
//! ## Why not netlink-packet-xfrm
//!
//! The codec is tern's own, checked against bytes captured from `ip xfrm`. The
//! rust-netlink project's netlink-packet-xfrm (0.5.0, looked at in December 2026)
//! covers the attributes tern uses, but since 0.3 (2023) its releases have only
//! followed its dependencies, two of them breaking its API (0.4, and 0.5's move
//! to zerocopy), with no new feature or fix; and its tests of the monitor
//! messages tern depends on for NAT traversal and expiry (MAPPING, REPORT) decode
//! bytes the crate emitted itself, not the kernel (its own TODOs say so). Moving
//! would trade a codec proven against the kernel in the UML suite for one that
//! is not, and gain nothing tern lacks. Worth another look when it gains
//! kernel-captured tests.

mod abi;
mod algorithm;
mod codec;
mod error;
mod event;
mod fake;
pub mod message;
mod monitor;
mod netlink;
mod ops;
mod owner;
mod probe;
mod stale;
mod types;

use std::net::IpAddr;

pub use algorithm::{EspAlgorithm, EspTransforms, Integrity, KeyLengthError};
pub use codec::DecodeError;
pub use error::{KernelSays, Op, OpKind, XfrmError};
pub use event::{parse_event, Change, XfrmEvent};
pub use fake::FakeXfrm;
pub use monitor::{parse_datagram, set_socket_bypass, set_udp_encap, Group, Monitor};
pub use ops::XfrmOps;
pub use owner::{
    engine_reqid, is_tern_reqid, kernel_reqid, TERN_REQIDS, TERN_REQID_BASE, TERN_REQID_COUNT,
};
pub use probe::{probe, AlgorithmSupport, ProbeReport};
pub use stale::StaleRemoved;
pub use types::*;

use message::{PolicyKey, Request};
use netlink::{Reply, Socket};

/// A NETLINK_XFRM socket and its request counter.
pub struct Xfrm {
    socket: Socket,
    seq: u32,
}

impl std::fmt::Debug for Xfrm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Xfrm").field("seq", &self.seq).finish()
    }
}

impl Xfrm {
    /// Opens a NETLINK_XFRM socket in the calling thread's network namespace.
    pub fn open() -> Result<Xfrm, XfrmError> {
        let socket = Socket::open().map_err(|source| match source.raw_os_error() {
            Some(libc::EPROTONOSUPPORT) | Some(libc::EAFNOSUPPORT) => XfrmError::NoXfrm { source },
            _ => XfrmError::Io {
                op: Op::plain(OpKind::Open, "opening the XFRM netlink socket"),
                source,
            },
        })?;
        Ok(Xfrm {
            socket,
            // Start from the clock so two runs don't reuse numbers.
            seq: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as u32)
                .unwrap_or(1)
                .max(1),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn transact(&mut self, req: &Request) -> Result<Vec<Reply>, XfrmError> {
        let seq = self.next_seq();
        self.socket.transact(req, seq)
    }

    /// The one NEWSA reply of GETSA/ALLOCSPI.
    fn single_newsa(&mut self, req: &Request) -> Result<Reply, XfrmError> {
        self.transact(req)?
            .into_iter()
            .find(|r| r.msg_type == abi::XFRM_MSG_NEWSA)
            .ok_or_else(|| XfrmError::Malformed {
                op: req.op().clone(),
                error: DecodeError {
                    offset: 0,
                    what: "no NEWSA message in the reply",
                },
            })
    }

    /// The one NEWSA reply of GETSA/ALLOCSPI, read into a summary.
    fn single_sa(&mut self, req: &Request) -> Result<SaSummary, XfrmError> {
        let reply = self.single_newsa(req)?;
        message::parse_sa(&reply.body).map_err(|error| XfrmError::Malformed {
            op: req.op().clone(),
            error,
        })
    }

    /// XFRM_MSG_ALLOCSPI for an inbound ESP SA src->dst (src = peer, dst =
    /// us), tunnel mode; range inclusive. Returns the SPI (host order).
    ///
    /// Leaves a larval SA that [`Xfrm::add_sa`] with `update = true` fills.
    /// The kernel deletes the larval SA after net.core.xfrm_acq_expires
    /// seconds (30 by default), so fill it before then.
    pub fn alloc_spi(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        reqid: u32,
        min: u32,
        max: u32,
    ) -> Result<u32, XfrmError> {
        let req = message::alloc_spi(src, dst, reqid, min, max)?;
        Ok(self.single_sa(&req)?.spi)
    }

    /// NEWSA, or UPDSA when `sa.update` (to fill a SPI reserved by alloc_spi).
    pub fn add_sa(&mut self, sa: &SaParams) -> Result<(), XfrmError> {
        let req = message::new_sa(sa)?;
        self.transact(&req).map(|_| ())
    }

    /// Deletes the ESP SA (dst, spi). [`XfrmError::NotFound`] if absent.
    pub fn delete_sa(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Result<(), XfrmError> {
        self.delete_sa_marked(src, dst, spi, None)
    }

    /// Deletes the ESP SA (dst, spi) installed with `mark` (the kernel does
    /// not find a marked SA without it).
    pub fn delete_sa_marked(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        spi: u32,
        mark: Option<Mark>,
    ) -> Result<(), XfrmError> {
        let req = message::delete_sa(src, dst, spi, mark)?;
        self.transact(&req).map(|_| ())
    }

    /// Moves an installed ESP SA to new outer addresses or NAT-T ports (a NAT
    /// changed its mapping), keeping its keys, sequence numbers and replay
    /// window: the kernel's copy is read (GETSA) and written back rewritten.
    /// Ports alone change in place. A new address makes a new SA: one with a
    /// new destination goes in before the old one goes; one with only a new
    /// source has the same (destination, SPI), so the old one goes first.
    pub fn move_sa(&mut self, to: &SaMove) -> Result<(), XfrmError> {
        let installed = self.single_newsa(&message::get_sa(to.src, to.dst, to.spi, None)?)?;
        let moved = message::relocated_sa(&installed.body, to)?;
        if moved.msg_type == abi::XFRM_MSG_UPDSA {
            return self.transact(&moved).map(|_| ());
        }
        if to.dst == to.new_dst {
            self.delete_sa(to.src, to.dst, to.spi)?;
            self.transact(&moved).map(|_| ())
        } else {
            self.transact(&moved)?;
            self.delete_sa(to.src, to.dst, to.spi)
        }
    }

    /// GETSA: the SA's current-lifetime counters.
    pub fn sa_counters(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        spi: u32,
    ) -> Result<SaCounters, XfrmError> {
        Ok(self.get_sa(src, dst, spi)?.counters)
    }

    /// GETSA: the SA as the kernel has it.
    pub fn get_sa(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Result<SaSummary, XfrmError> {
        self.get_sa_marked(src, dst, spi, None)
    }

    /// GETSA of an SA installed with `mark`.
    pub fn get_sa_marked(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        spi: u32,
        mark: Option<Mark>,
    ) -> Result<SaSummary, XfrmError> {
        let req = message::get_sa(src, dst, spi, mark)?;
        self.single_sa(&req)
    }

    /// NEWPOLICY (UPDPOLICY if `p.update`).
    pub fn add_policy(&mut self, p: &PolicyParams) -> Result<(), XfrmError> {
        let req = message::new_policy(p)?;
        self.transact(&req).map(|_| ())
    }

    /// DELPOLICY by selector and direction. [`XfrmError::NotFound`] if absent.
    pub fn delete_policy(&mut self, selector: &Selector, dir: PolicyDir) -> Result<(), XfrmError> {
        self.delete_policy_marked(selector, dir, None, None)
    }

    /// DELPOLICY of a policy installed with a mark and/or if_id (both are
    /// part of its identity).
    pub fn delete_policy_marked(
        &mut self,
        selector: &Selector,
        dir: PolicyDir,
        mark: Option<Mark>,
        if_id: Option<u32>,
    ) -> Result<(), XfrmError> {
        let req = message::delete_policy(PolicyKey::Selector(selector), dir, mark, if_id)?;
        self.transact(&req).map(|_| ())
    }

    /// DELPOLICY by the index the kernel gave the policy (see
    /// [`PolicySummary::index`]), with its mark and if_id.
    pub fn delete_policy_by_index(
        &mut self,
        index: u32,
        dir: PolicyDir,
        mark: Option<Mark>,
        if_id: Option<u32>,
    ) -> Result<(), XfrmError> {
        let req = message::delete_policy(PolicyKey::Index(index), dir, mark, if_id)?;
        self.transact(&req).map(|_| ())
    }

    /// GETPOLICY by selector and direction: the policy with its `use_time`
    /// (when a packet last matched it). [`XfrmError::NotFound`] if absent.
    pub fn get_policy(
        &mut self,
        selector: &Selector,
        dir: PolicyDir,
    ) -> Result<PolicySummary, XfrmError> {
        let req = message::get_policy(selector, dir, None, None)?;
        let replies = self.transact(&req)?;
        let reply = replies
            .iter()
            .find(|r| r.msg_type == abi::XFRM_MSG_NEWPOLICY)
            .ok_or_else(|| XfrmError::Malformed {
                op: req.op().clone(),
                error: DecodeError {
                    offset: 0,
                    what: "no NEWPOLICY message in the reply",
                },
            })?;
        message::parse_policy(&reply.body)
            .map_err(|error| XfrmError::Malformed {
                op: req.op().clone(),
                error,
            })?
            .ok_or_else(|| XfrmError::Malformed {
                op: req.op().clone(),
                error: DecodeError {
                    offset: 0,
                    what: "the reply is not an in/out/fwd policy",
                },
            })
    }

    /// Every SA in this namespace (all protocols).
    pub fn list_sas(&mut self) -> Result<Vec<SaSummary>, XfrmError> {
        let req = message::dump_sas();
        let replies = self.transact(&req)?;
        replies
            .iter()
            .filter(|r| r.msg_type == abi::XFRM_MSG_NEWSA)
            .map(|r| {
                message::parse_sa(&r.body).map_err(|error| XfrmError::Malformed {
                    op: req.op().clone(),
                    error,
                })
            })
            .collect()
    }

    /// Every in/out/fwd policy in this namespace (socket policies are skipped).
    pub fn list_policies(&mut self) -> Result<Vec<PolicySummary>, XfrmError> {
        let req = message::dump_policies();
        let replies = self.transact(&req)?;
        let mut out = Vec::new();
        for r in replies
            .iter()
            .filter(|r| r.msg_type == abi::XFRM_MSG_NEWPOLICY)
        {
            let parsed = message::parse_policy(&r.body).map_err(|error| XfrmError::Malformed {
                op: req.op().clone(),
                error,
            })?;
            out.extend(parsed);
        }
        Ok(out)
    }

    /// Deletes every SA in this namespace. For tests and cleanup only: it
    /// also removes SAs that other daemons installed.
    pub fn flush_sas(&mut self) -> Result<(), XfrmError> {
        self.transact(&message::flush_sas()).map(|_| ())
    }

    /// Deletes every policy in this namespace. For tests and cleanup only.
    pub fn flush_policies(&mut self) -> Result<(), XfrmError> {
        self.transact(&message::flush_policies()).map(|_| ())
    }
}
