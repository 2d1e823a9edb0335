//! Policy requests: NEWPOLICY/UPDPOLICY, DELPOLICY, GETPOLICY, and the per-socket
//! bypass policy.

use super::*;

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
