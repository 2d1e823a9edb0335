//! Numbers and struct sizes from linux/netlink.h and linux/xfrm.h.

use crate::codec::{align4, align_u64};

pub const NETLINK_XFRM: i32 = 6;

// Netlink header flags and control message types.
pub const NLM_F_REQUEST: u16 = 0x01;
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_ACK: u16 = 0x04;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_DUMP: u16 = 0x300;
/// In an NLMSG_ERROR: the echoed request was cut to its header.
pub const NLM_F_CAPPED: u16 = 0x100;
/// In an NLMSG_ERROR: extended-ack attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_HDRLEN: usize = 16;
pub const NLMSGERR_ATTR_MSG: u16 = 1;

pub const SOL_NETLINK: i32 = 270;
pub const NETLINK_CAP_ACK: i32 = 10;
pub const NETLINK_EXT_ACK: i32 = 11;

// XFRM message types.
pub const XFRM_MSG_NEWSA: u16 = 0x10;
pub const XFRM_MSG_DELSA: u16 = 0x11;
pub const XFRM_MSG_GETSA: u16 = 0x12;
pub const XFRM_MSG_NEWPOLICY: u16 = 0x13;
pub const XFRM_MSG_DELPOLICY: u16 = 0x14;
pub const XFRM_MSG_GETPOLICY: u16 = 0x15;
pub const XFRM_MSG_ALLOCSPI: u16 = 0x16;
pub const XFRM_MSG_ACQUIRE: u16 = 0x17;
pub const XFRM_MSG_EXPIRE: u16 = 0x18;
pub const XFRM_MSG_UPDPOLICY: u16 = 0x19;
pub const XFRM_MSG_UPDSA: u16 = 0x1a;
pub const XFRM_MSG_POLEXPIRE: u16 = 0x1b;
pub const XFRM_MSG_FLUSHSA: u16 = 0x1c;
pub const XFRM_MSG_FLUSHPOLICY: u16 = 0x1d;
pub const XFRM_MSG_MAPPING: u16 = 0x26;

// Multicast groups (enum xfrm_nlgroups).
pub const XFRMNLGRP_ACQUIRE: u32 = 1;
pub const XFRMNLGRP_EXPIRE: u32 = 2;
pub const XFRMNLGRP_SA: u32 = 3;
pub const XFRMNLGRP_POLICY: u32 = 4;
pub const XFRMNLGRP_MAPPING: u32 = 8;
pub const NETLINK_ADD_MEMBERSHIP: i32 = 1;

// XFRM attributes (enum xfrm_attr_type_t).
pub const XFRMA_ALG_CRYPT: u16 = 2;
pub const XFRMA_ENCAP: u16 = 4;
pub const XFRMA_TMPL: u16 = 5;
pub const XFRMA_SA: u16 = 6;
pub const XFRMA_POLICY: u16 = 7;
pub const XFRMA_SRCADDR: u16 = 13;
pub const XFRMA_ALG_AEAD: u16 = 18;
pub const XFRMA_ALG_AUTH_TRUNC: u16 = 20;
pub const XFRMA_MARK: u16 = 21;
pub const XFRMA_REPLAY_ESN_VAL: u16 = 23;
pub const XFRMA_IF_ID: u16 = 31;

pub const IPPROTO_ESP: u8 = 50;
pub const UDP_ENCAP_ESPINUDP: u16 = 2;
pub const XFRM_STATE_ESN: u8 = 128;
pub const XFRM_POLICY_ALLOW: u8 = 0;
pub const XFRM_INF: u64 = u64::MAX;
/// Largest replay window the kernel accepts, in packets.
pub const XFRMA_REPLAY_ESN_MAX: u32 = 4096;
pub const ALG_NAME_LEN: usize = 64;

// Struct sizes; the offsets are spelled out where each struct is written.
pub const SELECTOR_LEN: usize = 56;
pub const LIFETIME_CFG_LEN: usize = 64;
pub const LIFETIME_CUR_LEN: usize = 32;
pub const STATS_LEN: usize = 12;
/// xfrm_usersa_info: 217 bytes of fields, 224 with tail padding on 64-bit.
pub const USERSA_INFO_LEN: usize = align_u64(217);
pub const USERSA_ID_LEN: usize = 24;
pub const USERSPI_INFO_LEN: usize = align_u64(USERSA_INFO_LEN + 8);
/// xfrm_userpolicy_info: 164 bytes of fields, 168 with tail padding on 64-bit.
pub const USERPOLICY_INFO_LEN: usize = align_u64(164);
pub const USERPOLICY_ID_LEN: usize = align4(61);
pub const USER_TMPL_LEN: usize = 64;
/// xfrm_user_acquire: id, saddr, sel, policy, then four u32s.
pub const USER_ACQUIRE_LEN: usize = align_u64(24 + 16 + SELECTOR_LEN + USERPOLICY_INFO_LEN + 16);
/// xfrm_user_expire: the SA and a `hard` byte.
pub const USER_EXPIRE_LEN: usize = align_u64(USERSA_INFO_LEN + 1);
/// xfrm_user_polexpire: the policy and a `hard` byte.
pub const USER_POLEXPIRE_LEN: usize = align_u64(USERPOLICY_INFO_LEN + 1);
/// xfrm_user_mapping: id, reqid, old/new source address and port.
pub const USER_MAPPING_LEN: usize = USERSA_ID_LEN + 4 + 16 + 16 + 2 + 2;

/// Offsets inside xfrm_usersa_info that replies are read at.
pub mod usersa {
    pub const ID_DADDR: usize = 56;
    pub const ID_PROTO: usize = 76;
    pub const SADDR: usize = 80;
    pub const LFT: usize = 96;
    pub const CURLFT: usize = 160;
    pub const REQID: usize = 208;
    pub const FAMILY: usize = 212;
}
