//! XFRM requests as bytes, and the kernel's replies read back into values.
//!
//! Each builder lays out the C structs of linux/xfrm.h field by field, with
//! the offset of each field in a comment. Builders validate what the kernel
//! would reject for reasons the caller can fix, so those never reach it.

use std::net::IpAddr;

use zeroize::Zeroizing;

use crate::abi::*;
use crate::codec::{addr_from, attributes, DecodeError, DecodeResult, Reader, Writer};
use crate::error::{ErrorContext, Op, OpKind, XfrmError};
use crate::types::*;

mod policy;
mod reply;
mod sa;

pub use policy::{delete_policy, get_policy, new_policy, socket_bypass_policy, PolicyKey};
pub(crate) use reply::{
    bad, parse_userpolicy_info, parse_usersa_info, read_policy_attributes, read_selector, read_tags,
};
pub use reply::{parse_policy, parse_sa};
pub use sa::{alloc_spi, delete_sa, get_sa, new_sa, relocated_sa};

/// A request ready to be numbered and sent.
pub struct Request {
    pub msg_type: u16,
    pub flags: u16,
    /// Holds key material for SA requests: wiped on drop.
    body: Zeroizing<Vec<u8>>,
    pub(crate) op: Op,
    pub(crate) ctx: ErrorContext,
}

impl Request {
    fn new(msg_type: u16, flags: u16, body: Vec<u8>, op: Op) -> Request {
        Request {
            msg_type,
            flags,
            body: Zeroizing::new(body),
            op,
            ctx: ErrorContext::default(),
        }
    }

    /// The whole netlink message: struct nlmsghdr, then the body.
    /// nlmsg_pid is 0; the kernel fills in the sender's port.
    pub fn to_bytes(&self, seq: u32) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new();
        w.u32((NLMSG_HDRLEN + self.body.len()) as u32); // nlmsg_len
        w.u16(self.msg_type); // nlmsg_type
        w.u16(self.flags); // nlmsg_flags
        w.u32(seq); // nlmsg_seq
        w.u32(0); // nlmsg_pid
        w.bytes(&self.body);
        Zeroizing::new(w.into_bytes())
    }

    pub fn op(&self) -> &Op {
        &self.op
    }

    pub fn is_dump(&self) -> bool {
        self.flags & NLM_F_DUMP == NLM_F_DUMP
    }
}

const ACKED: u16 = NLM_F_REQUEST | NLM_F_ACK;
const DUMP: u16 = NLM_F_REQUEST | NLM_F_DUMP;

fn family_of(a: IpAddr) -> u16 {
    match a {
        IpAddr::V4(_) => libc::AF_INET as u16,
        IpAddr::V6(_) => libc::AF_INET6 as u16,
    }
}

fn same_family(op: &Op, what: &str, a: IpAddr, b: IpAddr) -> Result<u16, XfrmError> {
    if a.is_ipv4() != b.is_ipv4() {
        return Err(XfrmError::invalid(
            op,
            format!("{what} mixes IPv4 and IPv6 ({a} and {b})"),
        ));
    }
    Ok(family_of(a))
}

fn check_selector(op: &Op, sel: &Selector) -> Result<u16, XfrmError> {
    let family = same_family(op, "the selector", sel.src, sel.dst)?;
    let max = full_prefix(sel.src);
    if sel.src_prefix > max || sel.dst_prefix > max {
        return Err(XfrmError::invalid(
            op,
            format!("selector prefix longer than {max} bits"),
        ));
    }
    Ok(family)
}

/// struct xfrm_selector (56 bytes). `None` writes the all-zero selector.
fn write_selector(w: &mut Writer, sel: Option<(&Selector, u16)>) {
    let Some((s, family)) = sel else {
        w.zeros(SELECTOR_LEN);
        return;
    };
    w.addr(Some(s.dst)); // 0 daddr
    w.addr(Some(s.src)); // 16 saddr
    w.u16_be(s.dport); // 32 dport
    w.u16_be(s.dport_mask); // 34 dport_mask
    w.u16_be(s.sport); // 36 sport
    w.u16_be(s.sport_mask); // 38 sport_mask
    w.u16(family); // 40 family
    w.u8(s.dst_prefix); // 42 prefixlen_d
    w.u8(s.src_prefix); // 43 prefixlen_s
    w.u8(s.proto); // 44 proto
    w.zeros(3); // 45 padding
    w.i32(0); // 48 ifindex
    w.u32(0); // 52 user
}

/// XFRMA_MARK (struct xfrm_mark) and XFRMA_IF_ID, in the order `ip xfrm`
/// sends them: after everything else.
fn write_mark_and_if_id(w: &mut Writer, mark: Option<Mark>, if_id: Option<u32>) {
    if let Some(m) = mark {
        w.attr(XFRMA_MARK, |w| {
            w.u32(m.value); // 0 v
            w.u32(m.mask); // 4 m
        });
    }
    if let Some(id) = if_id {
        w.attr(XFRMA_IF_ID, |w| w.u32(id));
    }
}

fn limit(v: u64) -> u64 {
    if v == 0 {
        XFRM_INF
    } else {
        v
    }
}

/// struct xfrm_lifetime_cfg (64 bytes). Byte and packet limits of 0 become
/// XFRM_INF; 0 seconds already means "never" to the kernel.
fn write_lifetime_cfg(w: &mut Writer, l: &Lifetime) {
    w.u64(limit(l.soft_bytes)); // 0 soft_byte_limit
    w.u64(limit(l.hard_bytes)); // 8 hard_byte_limit
    w.u64(limit(l.soft_packets)); // 16 soft_packet_limit
    w.u64(limit(l.hard_packets)); // 24 hard_packet_limit
    w.u64(l.soft_seconds); // 32 soft_add_expires_seconds
    w.u64(l.hard_seconds); // 40 hard_add_expires_seconds
    w.u64(0); // 48 soft_use_expires_seconds
    w.u64(0); // 56 hard_use_expires_seconds
}

/// Dump of all SAs (no filter).
pub fn dump_sas() -> Request {
    Request::new(
        XFRM_MSG_GETSA,
        DUMP,
        Vec::new(),
        Op::plain(OpKind::Dump, "listing SAs"),
    )
}

/// Dump of all policies.
pub fn dump_policies() -> Request {
    Request::new(
        XFRM_MSG_GETPOLICY,
        DUMP,
        Vec::new(),
        Op::plain(OpKind::Dump, "listing policies"),
    )
}

/// FLUSHSA of every protocol (struct xfrm_usersa_flush { proto = 0 }).
pub fn flush_sas() -> Request {
    Request::new(
        XFRM_MSG_FLUSHSA,
        ACKED,
        vec![0],
        Op::plain(OpKind::Flush, "flushing all SAs"),
    )
}

/// FLUSHPOLICY of the main policy table.
pub fn flush_policies() -> Request {
    Request::new(
        XFRM_MSG_FLUSHPOLICY,
        ACKED,
        Vec::new(),
        Op::plain(OpKind::Flush, "flushing all policies"),
    )
}
