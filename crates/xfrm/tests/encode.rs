//! Our requests, byte for byte, against what `ip xfrm` sends for the same thing.
#![cfg(all(target_endian = "little", target_pointer_width = "64"))]

#[rustfmt::skip]
#[path = "captures/requests.rs"]
mod requests;

use std::net::IpAddr;

use requests::*;
use tern_xfrm::message::{self, Request};
use tern_xfrm::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Encodes `req` with the capture's sequence number and compares; on a
/// mismatch, names the first differing offset.
fn assert_matches_capture(req: &Request, capture: &[u8]) {
    let seq = u32::from_ne_bytes(capture[8..12].try_into().unwrap());
    let ours = req.to_bytes(seq);
    if ours.as_slice() != capture {
        let first = ours
            .iter()
            .zip(capture)
            .position(|(a, b)| a != b)
            .unwrap_or(ours.len().min(capture.len()));
        panic!(
            "{}: {} bytes vs capture's {}, first difference at offset {first}\n ours: {:02x?}\n  ip: {:02x?}",
            req.op(),
            ours.len(),
            capture.len(),
            &ours[first.min(ours.len())..(first + 16).min(ours.len())],
            &capture[first.min(capture.len())..(first + 16).min(capture.len())],
        );
    }
}

/// ip sends GET and ALLOCSPI without NLM_F_ACK; we always ask for the ack so
/// every request ends the same way. Everything else must be identical.
fn with_ack_flag(capture: &[u8]) -> Vec<u8> {
    let mut v = capture.to_vec();
    let flags = u16::from_ne_bytes([v[6], v[7]]) | 0x04;
    v[6..8].copy_from_slice(&flags.to_ne_bytes());
    v
}

fn sa_key() -> Vec<u8> {
    (1u8..=20).collect()
}

fn base_sa() -> SaParams {
    SaParams {
        src: ip("192.0.2.1"),
        dst: ip("192.0.2.2"),
        spi: 0xc1234567,
        reqid: 1,
        mode: Mode::Tunnel,
        aead: Some(AeadAlgo {
            name: "rfc4106(gcm(aes))",
            key: sa_key(),
            icv_bits: 128,
        }),
        encryption: None,
        integrity: None,
        encap: None,
        replay_window: 32,
        esn: false,
        lifetime: Lifetime::default(),
        selector: None,
        update: false,
        mark: None,
        if_id: None,
    }
}

#[test]
fn policy_out_ipv4_tunnel() {
    let p = PolicyParams {
        selector: Selector::subnets(ip("10.0.0.0"), 24, ip("10.0.1.0"), 24),
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
    };
    assert_matches_capture(&message::new_policy(&p).unwrap(), POLICY_ADD_OUT_V4_TUNNEL);
}

#[test]
fn policy_in_ipv6_tunnel() {
    let p = PolicyParams {
        selector: Selector::subnets(ip("2001:db8:1::"), 64, ip("2001:db8:2::"), 64),
        dir: PolicyDir::In,
        priority: 2000,
        templates: vec![Template {
            src: ip("2001:db8::2"),
            dst: ip("2001:db8::1"),
            reqid: 7,
            mode: Mode::Tunnel,
            spi: 0,
        }],
        update: false,
        mark: None,
        if_id: None,
    };
    assert_matches_capture(&message::new_policy(&p).unwrap(), POLICY_ADD_IN_V6_TUNNEL);
}

#[test]
fn policy_update_fwd_transport_with_ports() {
    let p = PolicyParams {
        selector: Selector {
            proto: 17,
            sport: 500,
            sport_mask: 0xffff,
            dport: 4500,
            dport_mask: 0xffff,
            ..Selector::hosts(ip("192.0.2.1"), ip("192.0.2.2"))
        },
        dir: PolicyDir::Fwd,
        priority: 100,
        // Transport templates' addresses are not sent.
        templates: vec![Template {
            src: ip("192.0.2.1"),
            dst: ip("192.0.2.2"),
            reqid: 3,
            mode: Mode::Transport,
            spi: 0,
        }],
        update: true,
        mark: None,
        if_id: None,
    };
    assert_matches_capture(
        &message::new_policy(&p).unwrap(),
        POLICY_UPDATE_FWD_TRANSPORT_UDP,
    );
}

#[test]
fn policy_delete() {
    let sel = Selector::subnets(ip("10.0.0.0"), 24, ip("10.0.1.0"), 24);
    assert_matches_capture(
        &message::delete_policy(
            message::PolicyKey::Selector(&sel),
            PolicyDir::Out,
            None,
            None,
        )
        .unwrap(),
        POLICY_DELETE_OUT,
    );
}

#[test]
fn policy_get_asks_by_the_same_id_as_delete() {
    let sel = Selector::subnets(ip("10.0.0.0"), 24, ip("10.0.1.0"), 24);
    let get = message::get_policy(&sel, PolicyDir::Out, None, None)
        .unwrap()
        .to_bytes(7);
    let delete = message::delete_policy(
        message::PolicyKey::Selector(&sel),
        PolicyDir::Out,
        None,
        None,
    )
    .unwrap()
    .to_bytes(7);
    // struct nlmsghdr: len, type, flags, seq, pid; the bodies are the same.
    assert_eq!(u16::from_ne_bytes([get[4], get[5]]), 0x15); // XFRM_MSG_GETPOLICY
    assert_eq!(u16::from_ne_bytes([delete[4], delete[5]]), 0x14); // XFRM_MSG_DELPOLICY
    assert_eq!(get[6..8], delete[6..8]);
    assert_eq!(get[16..], delete[16..]);
}

#[test]
fn parse_policy_reads_use_time_from_the_current_lifetime() {
    let p = PolicyParams {
        selector: Selector::subnets(ip("10.0.0.0"), 24, ip("10.0.1.0"), 24),
        dir: PolicyDir::In,
        priority: 1000,
        templates: Vec::new(),
        update: false,
        mark: None,
        if_id: None,
    };
    let mut bytes = message::new_policy(&p).unwrap().to_bytes(1);
    let body = &mut bytes[16..];
    assert_eq!(message::parse_policy(body).unwrap().unwrap().use_time, 0);
    // xfrm_userpolicy_info: sel (56), lft (64), curlft: bytes, packets, add_time, use_time.
    let at = 56 + 64 + 24;
    body[at..at + 8].copy_from_slice(&1_790_000_000u64.to_ne_bytes());
    let got = message::parse_policy(body).unwrap().unwrap();
    assert_eq!(got.use_time, 1_790_000_000);
    assert_eq!(got.selector, p.selector);
    assert_eq!(got.priority, 1000);
}

#[test]
fn sa_aead_tunnel() {
    assert_matches_capture(&message::new_sa(&base_sa()).unwrap(), SA_ADD_AEAD_TUNNEL);
}

#[test]
fn sa_cbc_hmac_with_udp_encap() {
    let ekey: Vec<u8> = (0..16u8).map(|i| i * 0x11).collect();
    let akey: Vec<u8> = ekey.iter().chain(ekey.iter()).copied().collect();
    let sa = SaParams {
        spi: 0x1001,
        reqid: 2,
        aead: None,
        encryption: Some(Algo {
            name: "cbc(aes)",
            key: ekey,
        }),
        integrity: Some(AuthAlgo {
            name: "hmac(sha256)",
            key: akey,
            trunc_bits: 128,
        }),
        encap: Some(UdpEncap {
            sport: 4500,
            dport: 4501,
        }),
        ..base_sa()
    };
    assert_matches_capture(&message::new_sa(&sa).unwrap(), SA_ADD_CBC_HMAC_ENCAP);
}

#[test]
fn sa_ipv6_transport_esn_with_limits_and_selector() {
    let sa = SaParams {
        src: ip("2001:db8::1"),
        dst: ip("2001:db8::2"),
        spi: 0x1002,
        reqid: 3,
        mode: Mode::Transport,
        replay_window: 128,
        esn: true,
        lifetime: Lifetime {
            soft_bytes: 1000,
            hard_bytes: 2000,
            soft_packets: 10,
            hard_packets: 20,
            soft_seconds: 3600,
            hard_seconds: 3960,
        },
        selector: Some(Selector::hosts(ip("2001:db8::1"), ip("2001:db8::2"))),
        ..base_sa()
    };
    assert_matches_capture(
        &message::new_sa(&sa).unwrap(),
        SA_ADD_V6_TRANSPORT_ESN_LIMITS,
    );
}

#[test]
fn sa_update_fills_allocated_spi() {
    let sa = SaParams {
        src: ip("192.0.2.2"),
        dst: ip("192.0.2.1"),
        spi: 0xff45,
        reqid: 5,
        update: true,
        ..base_sa()
    };
    assert_matches_capture(&message::new_sa(&sa).unwrap(), SA_UPDATE_AEAD);
}

#[test]
fn sa_delete_and_get() {
    let (src, dst) = (ip("192.0.2.1"), ip("192.0.2.2"));
    assert_matches_capture(
        &message::delete_sa(src, dst, 0xc1234567, None).unwrap(),
        SA_DELETE,
    );
    assert_matches_capture(
        &message::get_sa(src, dst, 0xc1234567, None).unwrap(),
        &with_ack_flag(SA_GET),
    );
}

#[test]
fn allocspi() {
    let req = message::alloc_spi(ip("192.0.2.2"), ip("192.0.2.1"), 5, 0x100, 0xffff).unwrap();
    assert_matches_capture(&req, &with_ack_flag(ALLOCSPI));
}

#[test]
fn dumps_and_flushes() {
    assert_matches_capture(&message::dump_policies(), POLICY_DUMP);
    assert_matches_capture(&message::flush_sas(), SA_FLUSH);
    assert_matches_capture(&message::flush_policies(), POLICY_FLUSH);
}

#[test]
fn invalid_requests_are_refused_before_sending() {
    let mixed = SaParams {
        dst: ip("2001:db8::2"),
        ..base_sa()
    };
    let e = message::new_sa(&mixed).err().unwrap();
    assert!(e.to_string().contains("mixes IPv4 and IPv6"), "{e}");

    let both = SaParams {
        encryption: Some(Algo {
            name: "cbc(aes)",
            key: vec![0; 16],
        }),
        ..base_sa()
    };
    assert!(matches!(
        message::new_sa(&both),
        Err(XfrmError::Invalid { .. })
    ));

    let long_name = SaParams {
        aead: Some(AeadAlgo {
            name: "a-name-that-is-far-too-long-to-fit-into-the-sixty-four-byte-field",
            key: vec![0; 20],
            icv_bits: 128,
        }),
        ..base_sa()
    };
    assert!(matches!(
        message::new_sa(&long_name),
        Err(XfrmError::Invalid { .. })
    ));

    assert!(message::alloc_spi(ip("10.0.0.1"), ip("10.0.0.2"), 1, 10, 9).is_err());
}

#[test]
fn large_replay_window_without_esn_uses_the_bitmap_attribute() {
    let sa = SaParams {
        replay_window: 1024,
        ..base_sa()
    };
    let bytes = message::new_sa(&sa).unwrap().to_bytes(1);
    // usersa_info.replay_window (16 + 215) stays 0; flags (16 + 216) has no ESN.
    assert_eq!(bytes[16 + 215], 0);
    assert_eq!(bytes[16 + 216], 0);
    // The last attribute is XFRMA_REPLAY_ESN_VAL: bmp_len 32 words, window 1024.
    let tail = &bytes[bytes.len() - 28..];
    assert_eq!(&tail[..4], &[28, 0, 23, 0]);
    assert_eq!(&tail[4..8], &32u32.to_ne_bytes());
    assert_eq!(&tail[24..28], &1024u32.to_ne_bytes());
}

#[test]
fn parse_reads_back_what_new_sa_wrote() {
    // A NEWSA body is what GETSA and dumps return, minus counters.
    let bytes = message::new_sa(&base_sa()).unwrap().to_bytes(1);
    let sa = message::parse_sa(&bytes[16..]).unwrap();
    assert_eq!(sa.src, ip("192.0.2.1"));
    assert_eq!(sa.dst, ip("192.0.2.2"));
    assert_eq!(sa.spi, 0xc1234567);
    assert_eq!(sa.reqid, 1);
    assert_eq!(sa.proto, 50);
    assert_eq!(sa.mode, Some(Mode::Tunnel));
    // Truncated bodies are errors, never panics.
    for n in 0..bytes.len() - 16 {
        let _ = message::parse_sa(&bytes[16..16 + n]);
        let _ = message::parse_policy(&bytes[16..16 + n]);
    }
}

#[test]
fn parse_policy_reads_back_templates() {
    let p = PolicyParams {
        selector: Selector::subnets(ip("10.0.0.0"), 24, ip("10.0.1.0"), 24),
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
    };
    let bytes = message::new_policy(&p).unwrap().to_bytes(1);
    let got = message::parse_policy(&bytes[16..]).unwrap().unwrap();
    assert_eq!(got.selector, p.selector);
    assert_eq!(got.dir, PolicyDir::Out);
    assert_eq!(got.priority, 1000);
    assert_eq!(got.templates, p.templates);
}

fn marked_policy() -> PolicyParams {
    PolicyParams {
        selector: Selector::subnets(ip("10.0.0.0"), 24, ip("10.0.1.0"), 24),
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
        mark: Some(Mark {
            value: 0x10,
            mask: 0xff,
        }),
        if_id: Some(7),
    }
}

#[test]
fn policy_with_mark_and_if_id() {
    assert_matches_capture(
        &message::new_policy(&marked_policy()).unwrap(),
        POLICY_ADD_OUT_V4_MARK_IF_ID,
    );
    // And they come back from a dump entry.
    let bytes = message::new_policy(&marked_policy()).unwrap().to_bytes(1);
    let got = message::parse_policy(&bytes[16..]).unwrap().unwrap();
    assert_eq!(got.mark, marked_policy().mark);
    assert_eq!(got.if_id, Some(7));
}

#[test]
fn policy_delete_with_mark_and_if_id_and_by_index() {
    let sel = Selector::subnets(ip("10.0.0.0"), 24, ip("10.0.1.0"), 24);
    let p = marked_policy();
    assert_matches_capture(
        &message::delete_policy(
            message::PolicyKey::Selector(&sel),
            PolicyDir::Out,
            p.mark,
            p.if_id,
        )
        .unwrap(),
        POLICY_DELETE_OUT_MARK_IF_ID,
    );
    assert_matches_capture(
        &message::delete_policy(message::PolicyKey::Index(0x102), PolicyDir::Fwd, None, None)
            .unwrap(),
        POLICY_DELETE_BY_INDEX,
    );
}

#[test]
fn policy_ipv6_inner_ipv4_outer() {
    let p = PolicyParams {
        selector: Selector::subnets(ip("2001:db8:1::"), 64, ip("2001:db8:2::"), 64),
        dir: PolicyDir::Out,
        priority: 1500,
        templates: vec![Template {
            src: ip("192.0.2.1"),
            dst: ip("192.0.2.2"),
            reqid: 9,
            mode: Mode::Tunnel,
            spi: 0,
        }],
        update: false,
        mark: None,
        if_id: None,
    };
    assert_matches_capture(
        &message::new_policy(&p).unwrap(),
        POLICY_ADD_V6_INNER_V4_OUTER,
    );
}

#[test]
fn sa_with_mark_and_if_id_and_its_delete() {
    let sa = SaParams {
        mark: Some(Mark {
            value: 0x10,
            mask: 0xff,
        }),
        if_id: Some(7),
        ..base_sa()
    };
    assert_matches_capture(&message::new_sa(&sa).unwrap(), SA_ADD_AEAD_MARK_IF_ID);
    let bytes = message::new_sa(&sa).unwrap().to_bytes(1);
    let got = message::parse_sa(&bytes[16..]).unwrap();
    assert_eq!((got.mark, got.if_id), (sa.mark, Some(7)));
    assert_matches_capture(
        &message::delete_sa(ip("192.0.2.1"), ip("192.0.2.2"), 0xc1234567, sa.mark).unwrap(),
        SA_DELETE_MARK,
    );
}

#[test]
fn every_esp_algorithm_builds_a_request_with_its_kernel_names() {
    for alg in EspAlgorithm::all() {
        let mut sa = base_sa();
        let keymat = vec![7u8; alg.keymat_len()];
        alg.apply_to(&mut sa, &keymat).unwrap();
        let bytes = message::new_sa(&sa).unwrap().to_bytes(1);
        let names: Vec<&str> = [
            sa.aead.as_ref().map(|a| a.name),
            sa.encryption.as_ref().map(|a| a.name),
            sa.integrity.as_ref().map(|a| a.name),
        ]
        .into_iter()
        .flatten()
        .collect();
        assert!(!names.is_empty(), "{alg}");
        for n in names {
            let found = bytes
                .windows(n.len() + 1)
                .any(|w| &w[..n.len()] == n.as_bytes() && w[n.len()] == 0);
            assert!(found, "{alg}: {n} not in the request");
        }
    }
}

/// A notification as the kernel multicasts it, built from our own request
/// bodies (the kernel's NEWSA/NEWPOLICY notifications have the same layout
/// as the requests, see xfrm_notify_sa / xfrm_notify_policy).
#[test]
fn sa_and_policy_notifications_parse_into_events() {
    let bytes = message::new_sa(&base_sa()).unwrap().to_bytes(1);
    match parse_event(0x10, &bytes[16..]) {
        XfrmEvent::SaChanged { change, sa } => {
            assert_eq!(change, Change::Added);
            assert_eq!(sa.spi, 0xc1234567);
        }
        other => panic!("{other:?}"),
    }
    let bytes = message::new_policy(&marked_policy()).unwrap().to_bytes(1);
    match parse_event(0x19, &bytes[16..]) {
        XfrmEvent::PolicyChanged { change, policy } => {
            assert_eq!(change, Change::Updated);
            assert_eq!(policy.templates, marked_policy().templates);
            assert_eq!(policy.if_id, Some(7));
        }
        other => panic!("{other:?}"),
    }
}

/// struct xfrm_user_expire: the SA then `hard`, padded to 232 bytes.
#[test]
fn expire_notification_carries_the_sa_and_hardness() {
    let bytes = message::new_sa(&base_sa()).unwrap().to_bytes(1);
    for hard in [false, true] {
        let mut body = bytes[16..16 + 224].to_vec();
        body.push(u8::from(hard));
        body.resize(232, 0);
        match parse_event(0x18, &body) {
            XfrmEvent::Expire { sa, hard: h } => {
                assert_eq!((sa.spi, sa.reqid, h), (0xc1234567, 1, hard));
            }
            other => panic!("{other:?}"),
        }
    }
}

/// The per-socket bypass policy: an xfrm_userpolicy_info that allows all, in the
/// direction asked, with no lifetime limits (XFRM_INF), for all of one family.
#[test]
fn socket_bypass_policy_layout() {
    for (dir, byte, v6, family) in [
        (PolicyDir::In, 0u8, false, 2u16),
        (PolicyDir::Out, 1, true, 10),
    ] {
        let p = message::socket_bypass_policy(dir, v6);
        assert_eq!(p.len(), 168, "sizeof(struct xfrm_userpolicy_info)");
        assert!(p[..40].iter().all(|&b| b == 0), "any address, any port");
        assert_eq!(
            u16::from_ne_bytes([p[40], p[41]]),
            family,
            "the socket's family"
        );
        assert!(
            p[42..56].iter().all(|&b| b == 0),
            "prefixes 0, any protocol"
        );
        assert!(
            p[56..88].iter().all(|&b| b == 0xff),
            "no byte or packet limits"
        );
        assert!(
            p[88..160].iter().all(|&b| b == 0),
            "no time limits, no current values"
        );
        assert_eq!(p[160], byte, "dir");
        assert_eq!(p[161], 0, "XFRM_POLICY_ALLOW");
    }
}

#[test]
fn a_relocated_sa_keeps_everything_but_its_addresses_and_ports() {
    let installed = SaParams {
        encap: Some(UdpEncap {
            sport: 4500,
            dport: 4500,
        }),
        esn: true,
        ..base_sa()
    };
    let body = message::new_sa(&installed).unwrap().to_bytes(1)[16..].to_vec();
    let to = |new_dst: &str, dport| SaMove {
        src: installed.src,
        dst: installed.dst,
        spi: installed.spi,
        new_src: installed.src,
        new_dst: ip(new_dst),
        encap: Some(UdpEncap { sport: 4500, dport }),
    };
    let contains =
        |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);

    // Only the port: UPDSA of the same SA.
    let req = message::relocated_sa(&body, &to("192.0.2.2", 31000)).unwrap();
    assert_eq!(req.msg_type, 0x1a, "XFRM_MSG_UPDSA");
    let moved = req.to_bytes(1)[16..].to_vec();
    let sa = message::parse_sa(&moved).unwrap();
    assert_eq!(
        (sa.src, sa.dst, sa.spi, sa.reqid),
        (installed.src, installed.dst, installed.spi, 1)
    );
    assert_eq!(
        sa.encap,
        Some(UdpEncap {
            sport: 4500,
            dport: 31000
        })
    );
    assert!(contains(&moved, &sa_key()), "the key goes back as it was");

    // A new address: NEWSA, with the key and the ESN replay state.
    let req = message::relocated_sa(&body, &to("192.0.2.77", 4500)).unwrap();
    assert_eq!(req.msg_type, 0x10, "XFRM_MSG_NEWSA");
    let moved = req.to_bytes(1)[16..].to_vec();
    let sa = message::parse_sa(&moved).unwrap();
    assert_eq!(sa.dst, ip("192.0.2.77"));
    assert!(contains(&moved, &sa_key()));
    assert_eq!(moved.len(), body.len(), "one ENCAP replaced, nothing lost");

    // Not across families, and not from a truncated reply.
    assert!(message::relocated_sa(&body, &to("2001:db8::2", 4500)).is_err());
    assert!(message::relocated_sa(&body[..100], &to("192.0.2.2", 4500)).is_err());
}
