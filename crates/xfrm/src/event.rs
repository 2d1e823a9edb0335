//! The kernel's XFRM notifications, read into typed events.
//!
//! Layouts (linux/xfrm.h): ACQUIRE is struct xfrm_user_acquire, EXPIRE
//! struct xfrm_user_expire, POLEXPIRE struct xfrm_user_polexpire, MAPPING
//! struct xfrm_user_mapping; SA and policy changes carry the same structs
//! as dump replies, except deletions, which carry the id struct and the
//! full SA or policy in an XFRMA_SA / XFRMA_POLICY attribute.

use std::net::{IpAddr, SocketAddr};

use crate::abi::*;
use crate::codec::{addr_from, attributes, DecodeError, DecodeResult, Reader};
use crate::message::{
    bad, parse_sa, parse_userpolicy_info, parse_usersa_info, read_policy_attributes, read_selector,
    read_tags,
};
use crate::types::*;

/// What happened to an SA or a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Updated,
    Deleted,
}

/// One notification from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XfrmEvent {
    /// An outbound packet matched a policy whose template has no SA yet:
    /// the kernel asks for one (a trap policy doing its job).
    Acquire {
        /// The policy that matched.
        policy: PolicySummary,
        /// The packet's own addresses, protocol and ports (full prefixes).
        packet: Option<Selector>,
        /// The template that needs an SA (from the policy's templates: the
        /// one whose reqid the kernel reserved); `None` if none was sent.
        template: Option<Template>,
        /// Outer addresses of the wanted SA (for transport mode, the packet's).
        src: IpAddr,
        dst: IpAddr,
        /// The kernel's sequence number for this acquire, to be echoed in
        /// the SA that answers it.
        seq: u32,
    },
    /// An SA reached its soft limit (time to rekey) or its hard limit (the
    /// kernel has deleted it).
    Expire {
        sa: SaSummary,
        hard: bool,
    },
    /// A policy with lifetimes reached a limit (tern sets none; listed so
    /// others' are recognised).
    PolicyExpire {
        policy: PolicySummary,
        hard: bool,
    },
    /// ESP-in-UDP arrived from another address or port than the SA's: a
    /// NAT between the peers changed its mapping (RFC 3948).
    Mapping {
        /// The inbound SA: its destination (us) and SPI.
        dst: IpAddr,
        spi: u32,
        reqid: u32,
        /// Where the peer was, and where its packets now come from.
        old: SocketAddr,
        new: SocketAddr,
    },
    /// An SA was added, updated or deleted (by anyone, tern included).
    SaChanged {
        change: Change,
        sa: SaSummary,
    },
    /// Every SA of `proto` (0 = all) was flushed.
    SasFlushed {
        proto: u8,
    },
    /// A policy was added, updated or deleted (by anyone, tern included).
    PolicyChanged {
        change: Change,
        policy: PolicySummary,
    },
    PoliciesFlushed,
    /// The socket's buffer overflowed and notifications were lost: the
    /// kernel's state must be re-read (dumps) to know where things stand.
    Overrun,
    /// A notification tern does not read (socket policies, migrations...).
    Other {
        msg_type: u16,
    },
    /// A notification that could not be read; the stream goes on.
    Unreadable {
        msg_type: u16,
        error: DecodeError,
    },
}

/// Reads one notification's body. Never panics; unknown types are `Other`.
pub fn parse_event(msg_type: u16, body: &[u8]) -> XfrmEvent {
    let parsed = match msg_type {
        XFRM_MSG_ACQUIRE => parse_acquire(body),
        XFRM_MSG_EXPIRE => parse_expire(body),
        XFRM_MSG_POLEXPIRE => parse_polexpire(body),
        XFRM_MSG_MAPPING => parse_mapping(body),
        XFRM_MSG_NEWSA | XFRM_MSG_UPDSA => parse_sa(body).map(|sa| XfrmEvent::SaChanged {
            change: if msg_type == XFRM_MSG_NEWSA {
                Change::Added
            } else {
                Change::Updated
            },
            sa,
        }),
        XFRM_MSG_DELSA => parse_deleted_sa(body),
        XFRM_MSG_FLUSHSA => Reader::new(body)
            .u8("xfrm_usersa_flush.proto")
            .map(|proto| XfrmEvent::SasFlushed { proto }),
        XFRM_MSG_NEWPOLICY | XFRM_MSG_UPDPOLICY => {
            let change = if msg_type == XFRM_MSG_NEWPOLICY {
                Change::Added
            } else {
                Change::Updated
            };
            crate::message::parse_policy(body).map(|p| match p {
                Some(policy) => XfrmEvent::PolicyChanged { change, policy },
                None => XfrmEvent::Other { msg_type },
            })
        }
        XFRM_MSG_DELPOLICY => parse_deleted_policy(body),
        XFRM_MSG_FLUSHPOLICY => Ok(XfrmEvent::PoliciesFlushed),
        _ => Ok(XfrmEvent::Other { msg_type }),
    };
    parsed.unwrap_or_else(|error| XfrmEvent::Unreadable { msg_type, error })
}

fn parse_acquire(body: &[u8]) -> DecodeResult<XfrmEvent> {
    if body.len() < USER_ACQUIRE_LEN {
        return Err(bad(body.len(), "short xfrm_user_acquire"));
    }
    let mut r = Reader::new(body);
    let daddr = r.addr("id.daddr")?; // 0 id
    r.skip(4, "id.spi")?;
    r.skip(4, "id.proto and padding")?;
    let saddr = r.addr("saddr")?; // 24
    let packet = read_selector(&mut r)?; // 40 sel
    let policy_at = r.pos(); // 96 policy
    r.skip(USERPOLICY_INFO_LEN, "policy")?;
    r.skip(12, "aalgos, ealgos, calgos")?;
    let seq = r.u32("seq")?;
    let Some(mut policy) = parse_userpolicy_info(&body[policy_at..])? else {
        return Err(bad(policy_at, "acquire for a policy without a selector"));
    };
    read_policy_attributes(&mut policy, &body[USER_ACQUIRE_LEN..])?;
    // The addresses are in the family of the policy's template (outer),
    // which may differ from the packet's.
    let family = policy
        .templates
        .iter()
        .find(|t| t.mode == Mode::Tunnel)
        .map(|t| family_of(t.dst))
        .or(packet.map(|p| family_of(p.dst)))
        .unwrap_or(policy_family(&policy));
    let (Some(src), Some(dst)) = (addr_from(family, saddr), addr_from(family, daddr)) else {
        return Err(bad(0, "acquire without addresses"));
    };
    let template = policy
        .templates
        .iter()
        .find(|t| t.mode == Mode::Transport || t.dst == dst)
        .or(policy.templates.first())
        .copied();
    Ok(XfrmEvent::Acquire {
        policy,
        packet,
        template,
        src,
        dst,
        seq,
    })
}

fn family_of(a: IpAddr) -> u16 {
    if a.is_ipv4() {
        libc::AF_INET as u16
    } else {
        libc::AF_INET6 as u16
    }
}

fn policy_family(p: &PolicySummary) -> u16 {
    family_of(p.selector.dst)
}

fn parse_expire(body: &[u8]) -> DecodeResult<XfrmEvent> {
    if body.len() < USER_EXPIRE_LEN {
        return Err(bad(body.len(), "short xfrm_user_expire"));
    }
    let mut sa = parse_usersa_info(body)?;
    let hard = body[USERSA_INFO_LEN] != 0;
    let (mark, if_id) = read_tags(&body[USER_EXPIRE_LEN..])?;
    sa.mark = mark;
    sa.if_id = if_id;
    Ok(XfrmEvent::Expire { sa, hard })
}

fn parse_polexpire(body: &[u8]) -> DecodeResult<XfrmEvent> {
    if body.len() < USER_POLEXPIRE_LEN {
        return Err(bad(body.len(), "short xfrm_user_polexpire"));
    }
    let Some(mut policy) = parse_userpolicy_info(body)? else {
        return Ok(XfrmEvent::Other {
            msg_type: XFRM_MSG_POLEXPIRE,
        });
    };
    let hard = body[USERPOLICY_INFO_LEN] != 0;
    read_policy_attributes(&mut policy, &body[USER_POLEXPIRE_LEN..])?;
    Ok(XfrmEvent::PolicyExpire { policy, hard })
}

fn parse_mapping(body: &[u8]) -> DecodeResult<XfrmEvent> {
    if body.len() < USER_MAPPING_LEN {
        return Err(bad(body.len(), "short xfrm_user_mapping"));
    }
    let mut r = Reader::new(body);
    let daddr = r.addr("id.daddr")?; // 0
    let spi = r.u32_be("id.spi")?; // 16
    let family = r.u16("id.family")?; // 20
    r.skip(2, "id.proto and padding")?; // 22
    let reqid = r.u32("reqid")?; // 24
    let old_saddr = r.addr("old_saddr")?; // 28
    let new_saddr = r.addr("new_saddr")?; // 44
    let old_sport = r.u16_be("old_sport")?; // 60
    let new_sport = r.u16_be("new_sport")?; // 62
    let (Some(dst), Some(old), Some(new)) = (
        addr_from(family, daddr),
        addr_from(family, old_saddr),
        addr_from(family, new_saddr),
    ) else {
        return Err(bad(20, "unknown address family"));
    };
    Ok(XfrmEvent::Mapping {
        dst,
        spi,
        reqid,
        old: SocketAddr::new(old, old_sport),
        new: SocketAddr::new(new, new_sport),
    })
}

/// The attribute `kind` among those after the first `skip` bytes.
fn find_attr(body: &[u8], skip: usize, kind: u16) -> DecodeResult<Option<&[u8]>> {
    let Some(attrs) = body.get(skip..) else {
        return Err(bad(body.len(), "short id structure"));
    };
    for attr in attributes(attrs) {
        let (k, payload) = attr?;
        if k == kind {
            return Ok(Some(payload));
        }
    }
    Ok(None)
}

fn parse_deleted_sa(body: &[u8]) -> DecodeResult<XfrmEvent> {
    let Some(info) = find_attr(body, USERSA_ID_LEN, XFRMA_SA)? else {
        return Err(bad(USERSA_ID_LEN, "DELSA without XFRMA_SA"));
    };
    let mut sa = parse_usersa_info(info)?;
    let (mark, if_id) = read_tags(&body[USERSA_ID_LEN..])?;
    sa.mark = mark;
    sa.if_id = if_id;
    Ok(XfrmEvent::SaChanged {
        change: Change::Deleted,
        sa,
    })
}

fn parse_deleted_policy(body: &[u8]) -> DecodeResult<XfrmEvent> {
    let Some(info) = find_attr(body, USERPOLICY_ID_LEN, XFRMA_POLICY)? else {
        return Err(bad(USERPOLICY_ID_LEN, "DELPOLICY without XFRMA_POLICY"));
    };
    let Some(mut policy) = parse_userpolicy_info(info)? else {
        return Ok(XfrmEvent::Other {
            msg_type: XFRM_MSG_DELPOLICY,
        });
    };
    read_policy_attributes(&mut policy, &body[USERPOLICY_ID_LEN..])?;
    Ok(XfrmEvent::PolicyChanged {
        change: Change::Deleted,
        policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_garbage_bodies_are_unreadable_not_panics() {
        for t in [
            XFRM_MSG_ACQUIRE,
            XFRM_MSG_EXPIRE,
            XFRM_MSG_POLEXPIRE,
            XFRM_MSG_MAPPING,
            XFRM_MSG_NEWSA,
            XFRM_MSG_DELSA,
            XFRM_MSG_NEWPOLICY,
            XFRM_MSG_DELPOLICY,
        ] {
            // Too short for any of these structures: unreadable.
            for len in [0, 1, 23] {
                let body = vec![0xffu8; len];
                assert!(
                    matches!(parse_event(t, &body), XfrmEvent::Unreadable { .. }),
                    "type {t:#x} len {len}"
                );
            }
            // Garbage of every length up to past the largest: no panic.
            for len in 0..400 {
                let _ = parse_event(t, &vec![0xffu8; len]);
                let _ = parse_event(t, &vec![0x00u8; len]);
            }
        }
        assert_eq!(parse_event(0x7f, &[]), XfrmEvent::Other { msg_type: 0x7f });
    }

    #[test]
    fn mapping_reads_old_and_new_source() {
        let mut b = Vec::new();
        b.extend_from_slice(&[198, 51, 100, 2]); // id.daddr
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&0xc0000001u32.to_be_bytes()); // id.spi
        b.extend_from_slice(&(libc::AF_INET as u16).to_ne_bytes()); // id.family
        b.extend_from_slice(&[50, 0]); // proto, padding
        b.extend_from_slice(&7u32.to_ne_bytes()); // reqid
        b.extend_from_slice(&[198, 51, 100, 254]); // old_saddr
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&[198, 51, 100, 254]); // new_saddr
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&4500u16.to_be_bytes());
        b.extend_from_slice(&40000u16.to_be_bytes());
        assert_eq!(
            parse_event(XFRM_MSG_MAPPING, &b),
            XfrmEvent::Mapping {
                dst: "198.51.100.2".parse().unwrap(),
                spi: 0xc0000001,
                reqid: 7,
                old: "198.51.100.254:4500".parse().unwrap(),
                new: "198.51.100.254:40000".parse().unwrap(),
            }
        );
    }
}
