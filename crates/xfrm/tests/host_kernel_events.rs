//! Against the running kernel, each test in a network namespace of its own:
//! marks and if_id, UPDPOLICY, the monitor's events, and the start-up
//! cleanup of a crashed ternd's state. Needs root, like host_kernel.rs.
//! Policies work on any kernel with XFRM; the SA parts run where ESP does
//! (User-Mode Linux, via tests/uml/run-host-kernel-tests.sh).

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::*;
use tern_xfrm::*;

fn esp_available() -> bool {
    probe().esp_supported == Some(true)
}

fn policy(sel: Selector, dir: PolicyDir, reqid: u32) -> PolicyParams {
    PolicyParams {
        selector: sel,
        dir,
        priority: 1000,
        templates: vec![Template {
            src: ip("192.0.2.1"),
            dst: ip("192.0.2.2"),
            reqid,
            mode: Mode::Tunnel,
            spi: 0,
        }],
        update: false,
        mark: None,
        if_id: None,
    }
}

fn gcm_sa(src: &str, dst: &str, spi: u32, reqid: u32) -> SaParams {
    let mut sa = SaParams {
        src: ip(src),
        dst: ip(dst),
        spi,
        reqid,
        mode: Mode::Tunnel,
        aead: None,
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
    };
    let alg = EspAlgorithm::AesGcm {
        key_bits: 128,
        icv_octets: 16,
    };
    alg.apply_to(&mut sa, &vec![1; alg.keymat_len()]).unwrap();
    sa
}

#[test]
fn marked_policies_with_if_id_are_separate_policies() {
    in_fresh_netns(|| {
        let mut x = open();
        let sel = Selector::subnets(ip("10.1.0.0"), 16, ip("10.2.0.0"), 16);
        let plain = policy(sel, PolicyDir::Out, 1);
        let marked = PolicyParams {
            mark: Some(Mark {
                value: 0x2a,
                mask: 0xff,
            }),
            if_id: Some(5),
            ..plain.clone()
        };
        x.add_policy(&plain).unwrap();
        // The same selector with a mark is another policy, not a duplicate.
        x.add_policy(&marked).unwrap_or_else(|e| panic!("{e}"));
        let listed = x.list_policies().unwrap();
        assert_eq!(listed.len(), 2, "{listed:#?}");
        assert!(listed
            .iter()
            .any(|p| p.mark == marked.mark && p.if_id == Some(5)));
        let shown = ip_xfrm_here(&["policy"]);
        assert!(shown.contains("mark 0x2a/0xff"), "{shown}");
        assert!(shown.contains("if_id 0x5"), "{shown}");

        // Without its mark and if_id the marked one cannot be named...
        x.delete_policy(&sel, PolicyDir::Out).unwrap();
        let e = x.delete_policy(&sel, PolicyDir::Out).unwrap_err();
        assert!(e.is_not_found(), "{e}");
        // ...with them it can.
        x.delete_policy_marked(&sel, PolicyDir::Out, marked.mark, marked.if_id)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(x.list_policies().unwrap().is_empty());
    });
}

#[test]
fn update_policy_replaces_or_creates() {
    in_fresh_netns(|| {
        let mut x = open();
        let sel = Selector::subnets(ip("2001:db8:1::"), 64, ip("10.2.0.0"), 16);
        // Mixed families in one selector are refused before the kernel sees them.
        assert!(matches!(
            x.add_policy(&policy(sel, PolicyDir::Out, 1)),
            Err(XfrmError::Invalid { .. })
        ));
        // IPv6 inside, IPv4 outside.
        let sel = Selector::subnets(ip("2001:db8:1::"), 64, ip("2001:db8:2::"), 64);
        let upd = PolicyParams {
            update: true,
            ..policy(sel, PolicyDir::Out, 1)
        };
        x.add_policy(&upd)
            .unwrap_or_else(|e| panic!("UPDPOLICY creates: {e}"));
        let again = PolicyParams {
            priority: 77,
            templates: vec![Template {
                reqid: 2,
                ..upd.templates[0]
            }],
            ..upd.clone()
        };
        x.add_policy(&again)
            .unwrap_or_else(|e| panic!("UPDPOLICY replaces: {e}"));
        let listed = x.list_policies().unwrap();
        assert_eq!(listed.len(), 1, "{listed:#?}");
        assert_eq!(listed[0].priority, 77);
        assert_eq!(listed[0].templates[0].reqid, 2);
        assert_eq!(listed[0].templates[0].dst, ip("192.0.2.2"));
        // NEWPOLICY of an existing one is AlreadyExists.
        let e = x
            .add_policy(&PolicyParams {
                update: false,
                ..again
            })
            .unwrap_err();
        assert!(e.is_already_exists(), "{e}");
    });
}

#[test]
fn monitor_sees_policy_changes_made_by_others() {
    in_fresh_netns(|| {
        let mut m = Monitor::open().unwrap_or_else(|e| panic!("{e}"));
        assert!(m.recv_events().unwrap().is_empty(), "nothing yet");
        // Someone else (ip) adds and deletes a policy.
        ip_xfrm_here(&[
            "policy",
            "add",
            "src",
            "10.1.0.0/16",
            "dst",
            "10.2.0.0/16",
            "dir",
            "out",
            "tmpl",
            "src",
            "192.0.2.1",
            "dst",
            "192.0.2.2",
            "proto",
            "esp",
            "reqid",
            "9",
            "mode",
            "tunnel",
        ]);
        ip_xfrm_here(&[
            "policy",
            "delete",
            "src",
            "10.1.0.0/16",
            "dst",
            "10.2.0.0/16",
            "dir",
            "out",
        ]);
        let mut events = Vec::new();
        while events.len() < 2 {
            let got = m.wait_events(Duration::from_secs(2)).unwrap();
            assert!(!got.is_empty(), "timed out; so far {events:#?}");
            events.extend(got);
        }
        let want_sel = Selector::subnets(ip("10.1.0.0"), 16, ip("10.2.0.0"), 16);
        match &events[0] {
            XfrmEvent::PolicyChanged {
                change: Change::Added,
                policy,
            } => {
                assert_eq!(policy.selector, want_sel);
                assert_eq!(policy.templates[0].reqid, 9);
            }
            other => panic!("{other:?}"),
        }
        match &events[1] {
            XfrmEvent::PolicyChanged {
                change: Change::Deleted,
                policy,
            } => {
                assert_eq!(policy.selector, want_sel);
                assert_eq!(policy.dir, PolicyDir::Out);
            }
            other => panic!("{other:?}"),
        }
        // A flush of an empty table says nothing: give it something.
        x_add_any_policy();
        let _ = m.wait_events(Duration::from_secs(2)).unwrap();
        ip_xfrm_here(&["policy", "flush"]);
        let got = m.wait_events(Duration::from_secs(2)).unwrap();
        assert_eq!(got, vec![XfrmEvent::PoliciesFlushed]);
    });
}

fn x_add_any_policy() {
    let sel = Selector::subnets(ip("10.5.0.0"), 16, ip("10.6.0.0"), 16);
    open().add_policy(&policy(sel, PolicyDir::In, 1)).unwrap();
}

/// A trap policy (a template, no SA) and a packet: the kernel asks for an SA.
#[test]
fn acquire_for_a_trap_policy() {
    in_fresh_netns(|| {
        ip_here(&["link", "set", "lo", "up"]);
        ip_here(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
        ip_here(&["addr", "add", "10.9.0.1/24", "dev", "v0"]);
        ip_here(&["link", "set", "v0", "up"]);
        ip_here(&["link", "set", "v1", "up"]);
        let mut x = open();
        let reqid = kernel_reqid(3);
        let sel = Selector::subnets(ip("10.9.0.0"), 24, ip("10.8.0.0"), 24);
        let trap = PolicyParams {
            templates: vec![Template {
                src: ip("10.9.0.1"),
                dst: ip("10.9.0.2"),
                reqid,
                mode: Mode::Tunnel,
                spi: 0,
            }],
            ..policy(sel, PolicyDir::Out, reqid)
        };
        x.add_policy(&trap).unwrap();
        ip_here(&[
            "route",
            "add",
            "10.8.0.0/24",
            "via",
            "10.9.0.2",
            "src",
            "10.9.0.1",
        ]);
        let mut m = Monitor::open_groups(&[Group::Acquire]).unwrap();
        let s = UdpSocket::bind("10.9.0.1:0").unwrap();
        // Dropped while the SA is negotiated (xfrm_larval_drop): an error or not.
        let _ = s.send_to(b"hello", "10.8.0.7:9");
        let events = m.wait_events(Duration::from_secs(3)).unwrap();
        let Some(XfrmEvent::Acquire {
            policy,
            packet,
            template,
            src,
            dst,
            ..
        }) = events.first()
        else {
            panic!("no ACQUIRE: {events:#?}");
        };
        assert_eq!(policy.selector, sel);
        assert_eq!(policy.dir, PolicyDir::Out);
        let t = template.expect("template");
        assert_eq!((t.reqid, t.mode), (reqid, Mode::Tunnel));
        assert_eq!(engine_reqid(t.reqid), Some(3));
        assert_eq!((*src, *dst), (ip("10.9.0.1"), ip("10.9.0.2")));
        let p = packet.expect("packet selector");
        assert_eq!(
            (p.src, p.dst, p.proto, p.dport),
            (ip("10.9.0.1"), ip("10.8.0.7"), 17, 9)
        );
    });
}

/// The SA that answers an ACQUIRE (same reqid and ends as the trap's template)
/// takes over: the kernel drops its acquire state, sends further packets of the
/// trap's policy through the SA, and asks for nothing more. ternd relies on this:
/// a trap's policies are the CHILD SA's policies.
#[test]
fn an_sa_of_the_traps_reqid_answers_its_acquire() {
    if !esp_available() {
        eprintln!("skipped here: this kernel has no ESP (runs in UML)");
        return;
    }
    in_fresh_netns(|| {
        ip_here(&["link", "set", "lo", "up"]);
        ip_here(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
        ip_here(&["addr", "add", "10.9.0.1/24", "dev", "v0"]);
        ip_here(&["link", "set", "v0", "up"]);
        ip_here(&["link", "set", "v1", "up"]);
        ip_here(&[
            "route",
            "add",
            "10.8.0.0/24",
            "via",
            "10.9.0.2",
            "src",
            "10.9.0.1",
        ]);
        let mut x = open();
        let reqid = kernel_reqid(4);
        let sel = Selector::subnets(ip("10.9.0.0"), 24, ip("10.8.0.0"), 24);
        let mut trap = policy(sel, PolicyDir::Out, reqid);
        trap.templates[0].src = ip("10.9.0.1");
        trap.templates[0].dst = ip("10.9.0.2");
        x.add_policy(&trap).unwrap();
        let mut m = Monitor::open_groups(&[Group::Acquire]).unwrap();
        let s = UdpSocket::bind("10.9.0.1:0").unwrap();
        let _ = s.send_to(b"hello", "10.8.0.7:9");
        let events = m.wait_events(Duration::from_secs(3)).unwrap();
        assert!(
            matches!(events.first(), Some(XfrmEvent::Acquire { .. })),
            "{events:#?}"
        );
        x.add_sa(&gcm_sa("10.9.0.1", "10.9.0.2", 0xc0000a01, reqid))
            .unwrap();
        let sas = x.list_sas().unwrap();
        assert!(
            sas.iter().all(|sa| sa.spi != 0),
            "the acquire state is gone: {sas:#?}"
        );
        s.send_to(b"again", "10.8.0.7:9").unwrap();
        let events = m.wait_events(Duration::from_secs(1)).unwrap();
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, XfrmEvent::Acquire { .. })),
            "{events:#?}"
        );
        let ours = x
            .list_sas()
            .unwrap()
            .into_iter()
            .find(|sa| sa.spi == 0xc0000a01)
            .expect("the SA");
        assert_eq!(ours.counters.packets, 1, "the packet went through the SA");
    });
}

/// What a ternd killed with -9 leaves behind is removed at the next start;
/// what others installed stays.
#[test]
fn remove_stale_removes_only_terns_own_state() {
    in_fresh_netns(|| {
        let mut x = open();
        let ours = kernel_reqid(1);
        let sel_a = Selector::subnets(ip("10.1.0.0"), 16, ip("10.2.0.0"), 16);
        let sel_b = Selector::subnets(ip("10.2.0.0"), 16, ip("10.1.0.0"), 16);
        let sel_v6 = Selector::subnets(ip("2001:db8:1::"), 64, ip("2001:db8:2::"), 64);
        for p in [
            policy(sel_a, PolicyDir::Out, ours),
            policy(sel_b, PolicyDir::In, ours),
            policy(sel_b, PolicyDir::Fwd, ours),
            PolicyParams {
                mark: Some(Mark::exact(3)),
                if_id: Some(4),
                ..policy(sel_v6, PolicyDir::Out, ours)
            },
            // strongSwan's (reqid 1) and one without templates stay.
            policy(sel_a, PolicyDir::Fwd, 1),
            PolicyParams {
                templates: Vec::new(),
                ..policy(sel_v6, PolicyDir::In, 0)
            },
        ] {
            x.add_policy(&p).unwrap_or_else(|e| panic!("{e}"));
        }
        let esp = esp_available();
        if esp {
            x.add_sa(&gcm_sa("192.0.2.1", "192.0.2.2", 0xc0000001, ours))
                .unwrap();
            x.add_sa(&SaParams {
                mark: Some(Mark::exact(3)),
                ..gcm_sa("192.0.2.2", "192.0.2.1", 0xc0000002, ours)
            })
            .unwrap();
            x.add_sa(&gcm_sa("192.0.2.1", "192.0.2.2", 0x1234, 1))
                .unwrap();
        }
        // A larval SA from ALLOCSPI carries the reqid too (no ESP needed).
        let larval = x
            .alloc_spi(
                ip("192.0.2.9"),
                ip("192.0.2.1"),
                ours,
                0xc000_0000,
                0xcfff_ffff,
            )
            .unwrap();

        let removed = x
            .remove_stale(&TERN_REQIDS)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(removed.policies.len(), 4, "{removed:#?}");
        assert_eq!(removed.sas.len(), if esp { 3 } else { 1 }, "{removed:#?}");
        assert!(removed.sas.iter().any(|s| s.spi == larval));

        let left = x.list_policies().unwrap();
        assert_eq!(left.len(), 2, "{left:#?}");
        assert!(left.iter().all(|p| p.templates.iter().all(|t| t.reqid < 2)));
        let sas = x.list_sas().unwrap();
        assert_eq!(sas.len(), usize::from(esp), "{sas:#?}");
        // Nothing left of ours: a second run removes nothing.
        assert!(x.remove_stale(&TERN_REQIDS).unwrap().is_empty());
    });
}

#[test]
fn marked_sa_is_found_with_its_mark_only() {
    if !esp_available() {
        eprintln!("skipped here: this kernel has no ESP (runs in UML)");
        return;
    }
    in_fresh_netns(|| {
        let mut x = open();
        let mark = Some(Mark {
            value: 7,
            mask: 0xf,
        });
        x.add_sa(&SaParams {
            mark,
            if_id: Some(9),
            ..gcm_sa("192.0.2.1", "192.0.2.2", 0xc0000010, 5)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let got = x
            .get_sa_marked(ip("192.0.2.1"), ip("192.0.2.2"), 0xc0000010, mark)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((got.mark, got.if_id), (mark, Some(9)));
        assert!(x
            .get_sa(ip("192.0.2.1"), ip("192.0.2.2"), 0xc0000010)
            .unwrap_err()
            .is_not_found());
        x.delete_sa_marked(ip("192.0.2.1"), ip("192.0.2.2"), 0xc0000010, mark)
            .unwrap();
        assert!(x.list_sas().unwrap().is_empty());
    });
}

#[test]
fn monitor_sees_sa_added_and_deleted_and_soft_expire() {
    if !esp_available() {
        eprintln!("skipped here: this kernel has no ESP (runs in UML)");
        return;
    }
    in_fresh_netns(|| {
        let mut x = open();
        let mut m = Monitor::open().unwrap();
        let sa = SaParams {
            lifetime: Lifetime {
                soft_seconds: 1,
                hard_seconds: 2,
                ..Lifetime::default()
            },
            ..gcm_sa("192.0.2.1", "192.0.2.2", 0xc0000020, 6)
        };
        x.add_sa(&sa).unwrap();
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(6);
        while std::time::Instant::now() < deadline
            && !seen
                .iter()
                .any(|e| matches!(e, XfrmEvent::Expire { hard: true, .. }))
        {
            seen.extend(m.wait_events(Duration::from_millis(500)).unwrap());
        }
        let kinds: Vec<String> = seen
            .iter()
            .map(|e| match e {
                XfrmEvent::SaChanged { change, sa } => format!("{change:?} {:#x}", sa.spi),
                XfrmEvent::Expire { sa, hard } => format!("expire {:#x} hard={hard}", sa.spi),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "Added 0xc0000020",
                "expire 0xc0000020 hard=false",
                "expire 0xc0000020 hard=true"
            ],
            "{seen:#?}"
        );
        // The hard expiry deleted it.
        assert!(x.list_sas().unwrap().is_empty());
    });
}
