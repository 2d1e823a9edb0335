//! The kernel's replies (SA and policy dumps, GETSA and GETPOLICY answers) read
//! back into values.

use super::*;

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
