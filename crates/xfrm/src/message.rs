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

/// Fields of xfrm_usersa_info that differ between NEWSA and ALLOCSPI.
struct SaInfo<'a> {
    selector: Option<(&'a Selector, u16)>,
    src: IpAddr,
    dst: IpAddr,
    spi: u32,
    family: u16,
    lifetime: Option<&'a Lifetime>,
    reqid: u32,
    mode: Mode,
    replay_window: u8,
    flags: u8,
}

/// struct xfrm_usersa_info (224 bytes on 64-bit targets).
fn write_usersa_info(w: &mut Writer, i: &SaInfo) {
    let start = w.len();
    write_selector(w, i.selector); // 0 sel
    w.addr(Some(i.dst)); // 56 id.daddr
    w.u32_be(i.spi); // 72 id.spi
    w.u8(IPPROTO_ESP); // 76 id.proto
    w.zeros(3); // 77 padding
    w.addr(Some(i.src)); // 80 saddr
    match i.lifetime {
        Some(l) => write_lifetime_cfg(w, l), // 96 lft
        None => w.zeros(LIFETIME_CFG_LEN),
    }
    w.zeros(LIFETIME_CUR_LEN); // 160 curlft
    w.zeros(STATS_LEN); // 192 stats
    w.u32(0); // 204 seq
    w.u32(i.reqid); // 208 reqid
    w.u16(i.family); // 212 family
    w.u8(i.mode.to_u8()); // 214 mode
    w.u8(i.replay_window); // 215 replay_window
    w.u8(i.flags); // 216 flags
    w.pad_to(start, USERSA_INFO_LEN); // tail padding
}

fn check_alg_name(op: &Op, name: &str) -> Result<(), XfrmError> {
    if name.len() >= ALG_NAME_LEN || name.contains('\0') {
        return Err(XfrmError::invalid(
            op,
            format!("algorithm name {name:?} does not fit alg_name[64]"),
        ));
    }
    Ok(())
}

fn key_bits(op: &Op, key: &[u8]) -> Result<u32, XfrmError> {
    u32::try_from(key.len())
        .ok()
        .and_then(|n| n.checked_mul(8))
        .ok_or_else(|| XfrmError::invalid(op, "key too long"))
}

/// NEWSA (or UPDSA when `sa.update`) for one ESP SA.
pub fn new_sa(sa: &SaParams) -> Result<Request, XfrmError> {
    let kind = if sa.update {
        OpKind::UpdateSa
    } else {
        OpKind::AddSa
    };
    let op = Op::sa(kind, sa.src, sa.dst, sa.spi);
    let family = same_family(&op, "the SA", sa.src, sa.dst)?;
    let selector = match &sa.selector {
        Some(s) => Some((s, check_selector(&op, s)?)),
        None => None,
    };
    match (&sa.aead, &sa.encryption, &sa.integrity) {
        (Some(_), None, None) | (None, Some(_), _) => {}
        (Some(_), _, _) => {
            return Err(XfrmError::invalid(
                &op,
                "an AEAD cannot be combined with separate encryption or integrity",
            ))
        }
        (None, None, _) => {
            return Err(XfrmError::invalid(
                &op,
                "ESP needs an AEAD or an encryption algorithm",
            ))
        }
    }
    if sa.replay_window > XFRMA_REPLAY_ESN_MAX {
        return Err(XfrmError::invalid(
            &op,
            format!(
                "replay window {} above {XFRMA_REPLAY_ESN_MAX}",
                sa.replay_window
            ),
        ));
    }
    // The legacy u8 field holds at most 32 packets (the kernel clamps it);
    // larger windows and ESN use the bitmap attribute instead.
    let esn_attr = sa.esn || sa.replay_window > 32;

    let mut w = Writer::new();
    write_usersa_info(
        &mut w,
        &SaInfo {
            selector,
            src: sa.src,
            dst: sa.dst,
            spi: sa.spi,
            family,
            lifetime: Some(&sa.lifetime),
            reqid: sa.reqid,
            mode: sa.mode,
            replay_window: if esn_attr { 0 } else { sa.replay_window as u8 },
            flags: if sa.esn { XFRM_STATE_ESN } else { 0 },
        },
    );
    let mut ctx = ErrorContext::default();
    if let Some(a) = &sa.aead {
        check_alg_name(&op, a.name)?;
        let bits = key_bits(&op, &a.key)?;
        // struct xfrm_algo_aead
        w.attr(XFRMA_ALG_AEAD, |w| {
            w.c_string(a.name, ALG_NAME_LEN); // 0 alg_name
            w.u32(bits); // 64 alg_key_len
            w.u32(a.icv_bits); // 68 alg_icv_len
            w.bytes(&a.key); // 72 alg_key
        });
        ctx.aead = Some(a.name.to_string());
    }
    if let Some(e) = &sa.encryption {
        check_alg_name(&op, e.name)?;
        let bits = key_bits(&op, &e.key)?;
        // struct xfrm_algo
        w.attr(XFRMA_ALG_CRYPT, |w| {
            w.c_string(e.name, ALG_NAME_LEN); // 0 alg_name
            w.u32(bits); // 64 alg_key_len
            w.bytes(&e.key); // 68 alg_key
        });
        ctx.crypt = Some(e.name.to_string());
    }
    if let Some(i) = &sa.integrity {
        check_alg_name(&op, i.name)?;
        let bits = key_bits(&op, &i.key)?;
        // struct xfrm_algo_auth
        w.attr(XFRMA_ALG_AUTH_TRUNC, |w| {
            w.c_string(i.name, ALG_NAME_LEN); // 0 alg_name
            w.u32(bits); // 64 alg_key_len
            w.u32(i.trunc_bits); // 68 alg_trunc_len
            w.bytes(&i.key); // 72 alg_key
        });
        ctx.auth = Some(i.name.to_string());
    }
    if let Some(e) = &sa.encap {
        write_encap(&mut w, e);
    }
    if esn_attr {
        // struct xfrm_replay_state_esn without its bitmap: the kernel accepts
        // the bare header and allocates a zeroed bitmap of bmp_len words.
        w.attr(XFRMA_REPLAY_ESN_VAL, |w| {
            w.u32(sa.replay_window.div_ceil(32)); // 0 bmp_len
            w.u32(0); // 4 oseq
            w.u32(0); // 8 seq
            w.u32(0); // 12 oseq_hi
            w.u32(0); // 16 seq_hi
            w.u32(sa.replay_window); // 20 replay_window
        });
    }
    write_mark_and_if_id(&mut w, sa.mark, sa.if_id);
    let msg_type = if sa.update {
        XFRM_MSG_UPDSA
    } else {
        XFRM_MSG_NEWSA
    };
    let mut req = Request::new(msg_type, ACKED, w.into_bytes(), op);
    req.ctx = ctx;
    Ok(req)
}

/// ALLOCSPI: reserve an SPI for an inbound SA src->dst (tunnel mode).
pub fn alloc_spi(
    src: IpAddr,
    dst: IpAddr,
    reqid: u32,
    min: u32,
    max: u32,
) -> Result<Request, XfrmError> {
    let op = Op::alloc_spi(src, dst, reqid);
    let family = same_family(&op, "the SA", src, dst)?;
    if min > max {
        return Err(XfrmError::invalid(
            &op,
            format!("empty SPI range 0x{min:x}..=0x{max:x}"),
        ));
    }
    let mut w = Writer::new();
    // struct xfrm_userspi_info
    write_usersa_info(
        &mut w,
        &SaInfo {
            selector: None,
            src,
            dst,
            spi: 0,
            family,
            lifetime: None,
            reqid,
            mode: Mode::Tunnel,
            replay_window: 0,
            flags: 0,
        },
    ); // 0 info
    w.u32(min); // 224 min
    w.u32(max); // 228 max
    w.pad_to(0, USERSPI_INFO_LEN);
    let mut req = Request::new(XFRM_MSG_ALLOCSPI, ACKED, w.into_bytes(), op);
    req.ctx.spi_range = Some((min, max));
    Ok(req)
}

/// struct xfrm_usersa_id + XFRMA_SRCADDR, the key of DELSA and GETSA.
fn sa_id_request(
    msg_type: u16,
    kind: OpKind,
    src: IpAddr,
    dst: IpAddr,
    spi: u32,
    mark: Option<Mark>,
) -> Result<Request, XfrmError> {
    let op = Op::sa(kind, src, dst, spi);
    let family = same_family(&op, "the SA", src, dst)?;
    let mut w = Writer::new();
    w.addr(Some(dst)); // 0 daddr
    w.u32_be(spi); // 16 spi
    w.u16(family); // 20 family
    w.u8(IPPROTO_ESP); // 22 proto
    w.zeros(1); // 23 padding
    debug_assert_eq!(w.len(), USERSA_ID_LEN);
    w.attr(XFRMA_SRCADDR, |w| w.addr(Some(src)));
    // The kernel only finds a marked SA when asked with its mark.
    write_mark_and_if_id(&mut w, mark, None);
    Ok(Request::new(msg_type, ACKED, w.into_bytes(), op))
}

/// XFRMA_ENCAP: struct xfrm_encap_tmpl for ESP in UDP.
fn write_encap(w: &mut Writer, e: &UdpEncap) {
    w.attr(XFRMA_ENCAP, |w| {
        w.u16(UDP_ENCAP_ESPINUDP); // 0 encap_type
        w.u16_be(e.sport); // 2 encap_sport
        w.u16_be(e.dport); // 4 encap_dport
        w.zeros(2); // 6 padding
        w.addr(None); // 8 encap_oa
    });
}

/// The kernel's own copy of an SA (a GETSA reply: struct xfrm_usersa_info and
/// its attributes) rewritten for `to`: new outer addresses and NAT-T ports, the
/// same keys, sequence numbers and replay window, so the peer's anti-replay
/// check accepts what follows. UPDSA when the addresses stay (the kernel then
/// changes the ports of the SA in place); NEWSA when they change, for an SA
/// that replaces the old one (which the caller deletes). A new SA starts its
/// byte and packet counters from zero.
pub fn relocated_sa(installed: &[u8], to: &SaMove) -> Result<Request, XfrmError> {
    let in_place = to.src == to.new_src && to.dst == to.new_dst;
    let (msg_type, kind) = if in_place {
        (XFRM_MSG_UPDSA, OpKind::UpdateSa)
    } else {
        (XFRM_MSG_NEWSA, OpKind::AddSa)
    };
    let op = Op::sa(kind, to.new_src, to.new_dst, to.spi);
    let family = same_family(&op, "the SA", to.new_src, to.new_dst)?;
    if family != family_of(to.dst) {
        return Err(XfrmError::invalid(
            &op,
            format!(
                "an SA cannot move between IPv4 and IPv6 ({} to {})",
                to.dst, to.new_dst
            ),
        ));
    }
    let malformed = |error| XfrmError::Malformed {
        op: op.clone(),
        error,
    };
    let Some(info) = installed.get(..USERSA_INFO_LEN) else {
        return Err(malformed(bad(installed.len(), "short xfrm_usersa_info")));
    };
    let mut w = Writer::new();
    w.bytes(&info[..usersa::ID_DADDR]); // 0 sel
    w.addr(Some(to.new_dst)); // 56 id.daddr
    w.bytes(&info[usersa::ID_DADDR + 16..usersa::SADDR]); // 72 id.spi, id.proto
    w.addr(Some(to.new_src)); // 80 saddr
    w.bytes(&info[usersa::SADDR + 16..]); // 96 lft, curlft, stats, seq, reqid...
    for attr in attributes(&installed[USERSA_INFO_LEN..]) {
        let (kind, payload) = attr.map_err(malformed)?;
        // Everything else (algorithms and keys, replay state, flags, mark)
        // goes back as the kernel gave it.
        if kind != XFRMA_ENCAP {
            w.attr(kind, |w| w.bytes(payload));
        }
    }
    if let Some(e) = &to.encap {
        write_encap(&mut w, e);
    }
    Ok(Request::new(msg_type, ACKED, w.into_bytes(), op))
}

/// DELSA for the ESP SA (dst, spi). The kernel finds ESP SAs by dst and SPI
/// (and mark, when the SA has one).
pub fn delete_sa(
    src: IpAddr,
    dst: IpAddr,
    spi: u32,
    mark: Option<Mark>,
) -> Result<Request, XfrmError> {
    sa_id_request(XFRM_MSG_DELSA, OpKind::DeleteSa, src, dst, spi, mark)
}

/// GETSA for the ESP SA (dst, spi); the reply is a NEWSA message.
pub fn get_sa(
    src: IpAddr,
    dst: IpAddr,
    spi: u32,
    mark: Option<Mark>,
) -> Result<Request, XfrmError> {
    sa_id_request(XFRM_MSG_GETSA, OpKind::GetSa, src, dst, spi, mark)
}

/// struct xfrm_user_tmpl (64 bytes), ESP, any algorithm.
fn write_template(w: &mut Writer, t: &Template, policy_family: u16) {
    // Tunnel templates carry the outer addresses; transport ones take the
    // packet's, so they go out as zero in the policy's family.
    let (src, dst, family) = match t.mode {
        Mode::Tunnel => (Some(t.src), Some(t.dst), family_of(t.dst)),
        Mode::Transport => (None, None, policy_family),
    };
    w.addr(dst); // 0 id.daddr
    w.u32_be(t.spi); // 16 id.spi
    w.u8(IPPROTO_ESP); // 20 id.proto
    w.zeros(3); // 21 padding
    w.u16(family); // 24 family
    w.zeros(2); // 26 padding
    w.addr(src); // 28 saddr
    w.u32(t.reqid); // 44 reqid
    w.u8(t.mode.to_u8()); // 48 mode
    w.u8(0); // 49 share
    w.u8(0); // 50 optional
    w.zeros(1); // 51 padding
    w.u32(!0); // 52 aalgos
    w.u32(!0); // 56 ealgos
    w.u32(!0); // 60 calgos
}

/// A per-socket policy (IP_XFRM_POLICY / IPV6_XFRM_POLICY): a struct
/// xfrm_userpolicy_info that lets everything through in direction `dir`, without
/// templates, whatever the global policies say. An IKE socket needs one per
/// direction, or a tunnel whose selectors cover the peer's address swallows IKE.
/// The kernel wants the selector's family to be the socket's.
pub fn socket_bypass_policy(dir: PolicyDir, v6: bool) -> Vec<u8> {
    let any = Selector::any(v6);
    let mut w = Writer::new();
    write_selector(&mut w, Some((&any, family_of(any.src)))); // 0 sel: all of the family
    write_lifetime_cfg(&mut w, &Lifetime::default()); // 56 lft: no limits
    w.zeros(LIFETIME_CUR_LEN); // 120 curlft
    w.u32(0); // 152 priority
    w.u32(0); // 156 index
    w.u8(dir.to_u8()); // 160 dir
    w.u8(XFRM_POLICY_ALLOW); // 161 action
    w.u8(0); // 162 flags
    w.u8(0); // 163 share
    w.pad_to(0, USERPOLICY_INFO_LEN);
    w.into_bytes()
}

/// NEWPOLICY (UPDPOLICY when `p.update`): allow, with ESP templates.
pub fn new_policy(p: &PolicyParams) -> Result<Request, XfrmError> {
    let kind = if p.update {
        OpKind::UpdatePolicy
    } else {
        OpKind::AddPolicy
    };
    let op = Op::policy(kind, &p.selector, p.dir);
    let family = check_selector(&op, &p.selector)?;
    for t in &p.templates {
        if t.mode == Mode::Tunnel {
            same_family(&op, "a tunnel template", t.src, t.dst)?;
        }
    }
    let mut w = Writer::new();
    // struct xfrm_userpolicy_info
    write_selector(&mut w, Some((&p.selector, family))); // 0 sel
    write_lifetime_cfg(&mut w, &Lifetime::default()); // 56 lft
    w.zeros(LIFETIME_CUR_LEN); // 120 curlft
    w.u32(p.priority); // 152 priority
    w.u32(0); // 156 index: the kernel picks one
    w.u8(p.dir.to_u8()); // 160 dir
    w.u8(XFRM_POLICY_ALLOW); // 161 action
    w.u8(0); // 162 flags
    w.u8(0); // 163 share
    w.pad_to(0, USERPOLICY_INFO_LEN);
    if !p.templates.is_empty() {
        w.attr(XFRMA_TMPL, |w| {
            for t in &p.templates {
                write_template(w, t, family);
            }
        });
    }
    write_mark_and_if_id(&mut w, p.mark, p.if_id);
    let msg_type = if p.update {
        XFRM_MSG_UPDPOLICY
    } else {
        XFRM_MSG_NEWPOLICY
    };
    Ok(Request::new(msg_type, ACKED, w.into_bytes(), op))
}

/// Which policy a DELPOLICY names: by selector, or by the kernel's index.
/// Mark and if_id are part of a policy's identity and must match too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKey<'a> {
    Selector(&'a Selector),
    Index(u32),
}

/// DELPOLICY by selector (or index) and direction.
pub fn delete_policy(
    key: PolicyKey,
    dir: PolicyDir,
    mark: Option<Mark>,
    if_id: Option<u32>,
) -> Result<Request, XfrmError> {
    let mut w = Writer::new();
    // struct xfrm_userpolicy_id
    let op = match key {
        PolicyKey::Selector(sel) => {
            let op = Op::policy(OpKind::DeletePolicy, sel, dir);
            let family = check_selector(&op, sel)?;
            write_selector(&mut w, Some((sel, family))); // 0 sel
            w.u32(0); // 56 index: look up by selector
            op
        }
        PolicyKey::Index(index) => {
            // The kernel ignores the selector; `ip xfrm` sends AF_INET in it.
            w.zeros(40); // 0 sel: addresses and ports
            w.u16(libc::AF_INET as u16); // 40 sel.family
            w.zeros(SELECTOR_LEN - 42); // 42 rest of sel
            w.u32(index); // 56 index
            Op::policy_index(index, dir)
        }
    };
    w.u8(dir.to_u8()); // 60 dir
    w.pad_to(0, USERPOLICY_ID_LEN); // 61 padding
    write_mark_and_if_id(&mut w, mark, if_id);
    Ok(Request::new(XFRM_MSG_DELPOLICY, ACKED, w.into_bytes(), op))
}

/// GETPOLICY by selector and direction: the kernel answers with the policy
/// (NEWPOLICY), its current lifetime (and so its last use) included.
pub fn get_policy(
    sel: &Selector,
    dir: PolicyDir,
    mark: Option<Mark>,
    if_id: Option<u32>,
) -> Result<Request, XfrmError> {
    let op = Op::policy(OpKind::GetPolicy, sel, dir);
    let family = check_selector(&op, sel)?;
    let mut w = Writer::new();
    // struct xfrm_userpolicy_id
    write_selector(&mut w, Some((sel, family))); // 0 sel
    w.u32(0); // 56 index: look up by selector
    w.u8(dir.to_u8()); // 60 dir
    w.pad_to(0, USERPOLICY_ID_LEN); // 61 padding
    write_mark_and_if_id(&mut w, mark, if_id);
    Ok(Request::new(XFRM_MSG_GETPOLICY, ACKED, w.into_bytes(), op))
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

// ---- replies ----

pub(crate) fn bad(offset: usize, what: &'static str) -> DecodeError {
    DecodeError { offset, what }
}

pub(crate) fn read_selector(r: &mut Reader) -> DecodeResult<Option<Selector>> {
    let daddr = r.addr("selector daddr")?;
    let saddr = r.addr("selector saddr")?;
    let dport = r.u16_be("selector dport")?;
    let dport_mask = r.u16_be("selector dport_mask")?;
    let sport = r.u16_be("selector sport")?;
    let sport_mask = r.u16_be("selector sport_mask")?;
    let family = r.u16("selector family")?;
    let dst_prefix = r.u8("selector prefixlen_d")?;
    let src_prefix = r.u8("selector prefixlen_s")?;
    let proto = r.u8("selector proto")?;
    r.skip(11, "selector tail")?;
    let (Some(src), Some(dst)) = (addr_from(family, saddr), addr_from(family, daddr)) else {
        return Ok(None); // family 0: the empty selector of a tunnel SA
    };
    Ok(Some(Selector {
        src,
        src_prefix,
        dst,
        dst_prefix,
        proto,
        sport,
        sport_mask,
        dport,
        dport_mask,
    }))
}

fn read_counters(r: &mut Reader) -> DecodeResult<SaCounters> {
    Ok(SaCounters {
        bytes: r.u64("curlft bytes")?,
        packets: r.u64("curlft packets")?,
        add_time: r.u64("curlft add_time")?,
        use_time: r.u64("curlft use_time")?,
    })
}

/// Mark and if_id from a run of attributes; other attributes are skipped.
pub(crate) fn read_tags(attrs: &[u8]) -> DecodeResult<(Option<Mark>, Option<u32>)> {
    let (mut mark, mut if_id) = (None, None);
    for attr in attributes(attrs) {
        let (kind, payload) = attr?;
        let mut r = Reader::new(payload);
        match kind {
            XFRMA_MARK => {
                let value = r.u32("mark value")?;
                let mask = r.u32("mark mask")?;
                mark = Some(Mark { value, mask });
            }
            XFRMA_IF_ID => if_id = Some(r.u32("if_id")?),
            _ => {}
        }
    }
    Ok((mark, if_id))
}

/// Reads the xfrm_usersa_info at the start of a NEWSA body (GETSA, ALLOCSPI
/// and dump replies), and the mark and if_id attributes after it.
pub fn parse_sa(body: &[u8]) -> DecodeResult<SaSummary> {
    let mut sa = parse_usersa_info(body)?;
    let attrs = &body[USERSA_INFO_LEN..];
    let (mark, if_id) = read_tags(attrs)?;
    sa.mark = mark;
    sa.if_id = if_id;
    sa.encap = read_encap(attrs)?;
    Ok(sa)
}

/// The ports of an XFRMA_ENCAP (struct xfrm_encap_tmpl) among SA attributes.
fn read_encap(attrs: &[u8]) -> DecodeResult<Option<UdpEncap>> {
    for attr in attributes(attrs) {
        let (kind, payload) = attr?;
        if kind == XFRMA_ENCAP {
            let mut r = Reader::new(payload);
            r.skip(2, "encap_type")?;
            let sport = r.u16_be("encap_sport")?;
            let dport = r.u16_be("encap_dport")?;
            return Ok(Some(UdpEncap { sport, dport }));
        }
    }
    Ok(None)
}

/// Reads a struct xfrm_usersa_info (without the attributes that follow).
pub(crate) fn parse_usersa_info(body: &[u8]) -> DecodeResult<SaSummary> {
    if body.len() < USERSA_INFO_LEN {
        return Err(bad(body.len(), "short xfrm_usersa_info"));
    }
    let mut r = Reader::new(body);
    r.skip(usersa::ID_DADDR, "sel")?;
    let daddr = r.addr("id.daddr")?;
    let spi = r.u32_be("id.spi")?;
    debug_assert_eq!(r.pos(), usersa::ID_PROTO);
    let proto = r.u8("id.proto")?;
    r.skip(usersa::SADDR - usersa::ID_PROTO - 1, "id padding")?;
    let saddr = r.addr("saddr")?;
    r.skip(40, "lft limits and soft seconds")?;
    let hard_seconds = r.u64("lft hard_add_expires_seconds")?;
    r.skip(usersa::CURLFT - usersa::LFT - 48, "lft use seconds")?;
    let counters = read_counters(&mut r)?;
    r.skip(usersa::REQID - r.pos(), "stats and seq")?;
    let reqid = r.u32("reqid")?;
    let family = r.u16("family")?;
    let mode = r.u8("mode")?;
    let (Some(src), Some(dst)) = (addr_from(family, saddr), addr_from(family, daddr)) else {
        return Err(bad(usersa::FAMILY, "unknown address family"));
    };
    Ok(SaSummary {
        src,
        dst,
        spi,
        reqid,
        proto,
        mode: Mode::from_u8(mode),
        counters,
        hard_seconds,
        mark: None,
        if_id: None,
        encap: None,
    })
}

pub(crate) fn read_template(r: &mut Reader) -> DecodeResult<Template> {
    let daddr = r.addr("tmpl daddr")?;
    let spi = r.u32_be("tmpl spi")?;
    r.skip(4, "tmpl proto")?;
    let family = r.u16("tmpl family")?;
    r.skip(2, "tmpl padding")?;
    let saddr = r.addr("tmpl saddr")?;
    let reqid = r.u32("tmpl reqid")?;
    let mode = r.u8("tmpl mode")?;
    r.skip(15, "tmpl tail")?;
    let unspecified = std::net::Ipv4Addr::UNSPECIFIED.into();
    Ok(Template {
        src: addr_from(family, saddr).unwrap_or(unspecified),
        dst: addr_from(family, daddr).unwrap_or(unspecified),
        reqid,
        // Other modes are shown as transport: they carry no outer addresses.
        mode: Mode::from_u8(mode).unwrap_or(Mode::Transport),
        spi,
    })
}

/// Reads a NEWPOLICY body (a policy dump entry). `Ok(None)` for entries
/// tern does not manage: socket policies or ones without a usable selector.
pub fn parse_policy(body: &[u8]) -> DecodeResult<Option<PolicySummary>> {
    let Some(mut p) = parse_userpolicy_info(body)? else {
        return Ok(None);
    };
    read_policy_attributes(&mut p, &body[USERPOLICY_INFO_LEN..])?;
    Ok(Some(p))
}

/// Templates, mark and if_id from the attributes after a policy.
pub(crate) fn read_policy_attributes(p: &mut PolicySummary, attrs: &[u8]) -> DecodeResult<()> {
    for attr in attributes(attrs) {
        let (kind, payload) = attr?;
        if kind == XFRMA_TMPL {
            let mut tr = Reader::new(payload);
            while tr.remaining() >= USER_TMPL_LEN {
                p.templates.push(read_template(&mut tr)?);
            }
        }
    }
    let (mark, if_id) = read_tags(attrs)?;
    p.mark = mark;
    p.if_id = if_id;
    Ok(())
}

/// Reads a struct xfrm_userpolicy_info (without attributes). `Ok(None)`
/// for socket policies and ones without a usable selector.
pub(crate) fn parse_userpolicy_info(body: &[u8]) -> DecodeResult<Option<PolicySummary>> {
    if body.len() < USERPOLICY_INFO_LEN {
        return Err(bad(body.len(), "short xfrm_userpolicy_info"));
    }
    let mut r = Reader::new(body);
    let selector = read_selector(&mut r)?;
    r.skip(LIFETIME_CFG_LEN, "lifetime_cfg")?;
    let use_time = read_counters(&mut r)?.use_time;
    let priority = r.u32("priority")?;
    let index = r.u32("index")?;
    let dir = r.u8("dir")?;
    let action = r.u8("action")?;
    let (Some(selector), Some(dir)) = (selector, PolicyDir::from_u8(dir)) else {
        return Ok(None);
    };
    Ok(Some(PolicySummary {
        selector,
        dir,
        priority,
        index,
        action,
        templates: Vec::new(),
        mark: None,
        if_id: None,
        use_time,
    }))
}
