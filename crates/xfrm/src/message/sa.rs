//! SA requests: NEWSA/UPDSA, ALLOCSPI, DELSA, GETSA, and an installed SA rewritten
//! for new addresses.

use super::*;

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
