use super::*;

const RANGE: (u32, u32) = (0xc000_0000, 0xcfff_ffff);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn peer_us() -> (IpAddr, IpAddr) {
    (ip("192.0.2.2"), ip("192.0.2.1"))
}

fn gcm_sa(src: IpAddr, dst: IpAddr, spi: u32, reqid: u32) -> SaParams {
    SaParams {
        src,
        dst,
        spi,
        reqid,
        mode: Mode::Tunnel,
        aead: Some(AeadAlgo {
            name: "rfc4106(gcm(aes))",
            key: vec![1; 20],
            icv_bits: 128,
        }),
        encryption: None,
        integrity: None,
        encap: None,
        replay_window: 32,
        esn: false,
        lifetime: Lifetime {
            hard_seconds: 3600,
            ..Lifetime::default()
        },
        selector: None,
        update: false,
        mark: None,
        if_id: None,
    }
}

fn out_policy() -> PolicyParams {
    PolicyParams {
        selector: Selector::subnets(ip("10.1.0.0"), 16, ip("10.2.0.0"), 16),
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
    }
}

#[test]
fn alloc_spi_reserves_a_larval_sa_with_its_reqid() {
    let mut x = FakeXfrm::new();
    let (peer, us) = peer_us();
    let spi = x.alloc_spi(peer, us, 5, RANGE.0, RANGE.1).unwrap();
    assert!((RANGE.0..=RANGE.1).contains(&spi), "{spi:#x}");
    let sas = x.list_sas().unwrap();
    assert_eq!(sas.len(), 1);
    let larval = &sas[0];
    assert_eq!((larval.src, larval.dst), (peer, us));
    assert_eq!((larval.spi, larval.reqid, larval.proto), (spi, 5, 50));
    assert_eq!(larval.mode, Some(Mode::Tunnel));
    assert_eq!(larval.hard_seconds, DEFAULT_ACQ_EXPIRES);
    assert_eq!(x.get_sa(peer, us, spi).unwrap(), *larval);
    let c = x.sa_counters(peer, us, spi).unwrap();
    assert_eq!((c.bytes, c.packets), (0, 0));
}

#[test]
fn each_alloc_spi_gets_a_fresh_spi_and_seeds_differ() {
    let (peer, us) = peer_us();
    let mut x = FakeXfrm::new();
    let a = x.alloc_spi(peer, us, 9, RANGE.0, RANGE.1).unwrap();
    let b = x.alloc_spi(peer, us, 9, RANGE.0, RANGE.1).unwrap();
    assert_ne!(a, b);
    assert_eq!(x.list_sas().unwrap().len(), 2);
    let mut other = FakeXfrm::with_seed(1);
    assert_ne!(other.alloc_spi(peer, us, 9, RANGE.0, RANGE.1).unwrap(), a);
}

#[test]
fn a_taken_range_gives_no_free_spi_and_leaves_an_spi_less_larval_sa() {
    let mut x = FakeXfrm::new();
    let (peer, us) = peer_us();
    let spi = x.alloc_spi(peer, us, 5, 0x100, 0x101).unwrap();
    let other = x.alloc_spi(peer, us, 5, 0x100, 0x101).unwrap();
    assert_eq!([spi.min(other), spi.max(other)], [0x100, 0x101]);
    let e = x.alloc_spi(peer, us, 6, spi, spi).unwrap_err();
    assert!(matches!(e, XfrmError::NoSpiAvailable { .. }), "{e}");
    assert!(e.to_string().contains("no free SPI in 0x"), "{e}");
    let left: Vec<(u32, u32)> = x
        .list_sas()
        .unwrap()
        .iter()
        .map(|s| (s.spi, s.reqid))
        .collect();
    assert!(left.contains(&(0, 6)), "{left:x?}");
    // The next ALLOCSPI for reqid 6 reuses that larval SA.
    let third = x.alloc_spi(peer, us, 6, 0x200, 0x200).unwrap();
    assert_eq!(third, 0x200);
    assert_eq!(x.list_sas().unwrap().len(), 3);
}

#[test]
fn update_fills_the_larval_sa() {
    let mut x = FakeXfrm::new();
    let (peer, us) = peer_us();
    let spi = x.alloc_spi(peer, us, 5, RANGE.0, RANGE.1).unwrap();
    let mut sa = gcm_sa(peer, us, spi, 5);
    sa.update = true;
    x.add_sa(&sa).unwrap();
    let sas = x.list_sas().unwrap();
    assert_eq!(sas.len(), 1, "the larval SA was replaced: {sas:#?}");
    assert_eq!((sas[0].spi, sas[0].hard_seconds), (spi, 3600));
}

#[test]
fn update_without_a_reserved_spi_is_not_found() {
    let mut x = FakeXfrm::new();
    let (peer, us) = peer_us();
    let mut sa = gcm_sa(peer, us, 0x4242, 1);
    sa.update = true;
    let e = x.add_sa(&sa).unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(
        e.to_string(),
        "updating ESP SA 192.0.2.2->192.0.2.1 spi 0x00004242: no such SA in the kernel"
    );
    assert!(x.list_sas().unwrap().is_empty());
}

#[test]
fn new_sa_on_a_taken_dst_and_spi_already_exists() {
    let mut x = FakeXfrm::new();
    let (peer, us) = peer_us();
    let spi = x.alloc_spi(peer, us, 5, RANGE.0, RANGE.1).unwrap();
    // The larval SA holds the SPI too; the source is not part of the key.
    for src in [peer, ip("192.0.2.9")] {
        let e = x.add_sa(&gcm_sa(src, us, spi, 5)).unwrap_err();
        assert!(e.is_already_exists(), "{e}");
    }
    x.add_sa(&gcm_sa(us, peer, spi, 5)).unwrap();
    let e = x.add_sa(&gcm_sa(us, peer, spi, 5)).unwrap_err();
    assert!(e.is_already_exists(), "{e}");
    assert!(
        e.to_string()
            .starts_with("adding ESP SA 192.0.2.1->192.0.2.2"),
        "{e}"
    );
    assert_eq!(x.list_sas().unwrap().len(), 2);
}

#[test]
fn delete_and_get_of_a_missing_sa_are_not_found() {
    let mut x = FakeXfrm::new();
    let (peer, us) = peer_us();
    x.add_sa(&gcm_sa(us, peer, 0x1234, 1)).unwrap();
    x.delete_sa(us, peer, 0x1234).unwrap();
    let e = x.delete_sa(us, peer, 0x1234).unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(
        e.to_string(),
        "deleting ESP SA 192.0.2.1->192.0.2.2 spi 0x00001234: no such SA in the kernel"
    );
    assert!(x.sa_counters(us, peer, 0x1234).unwrap_err().is_not_found());
}

#[test]
fn requests_the_kernel_would_never_see_are_rejected_alike() {
    let mut x = FakeXfrm::new();
    let e = x
        .alloc_spi(ip("192.0.2.2"), ip("2001:db8::1"), 1, 1, 2)
        .unwrap_err();
    assert!(matches!(e, XfrmError::Invalid { .. }), "{e}");
    let e = x
        .alloc_spi(ip("192.0.2.2"), ip("192.0.2.1"), 1, 9, 2)
        .unwrap_err();
    assert!(matches!(e, XfrmError::Invalid { .. }), "{e}");
    let mut sa = gcm_sa(ip("192.0.2.2"), ip("192.0.2.1"), 1, 1);
    sa.aead = None;
    assert!(matches!(x.add_sa(&sa), Err(XfrmError::Invalid { .. })));
    assert!(x.list_sas().unwrap().is_empty());
}

#[test]
fn policies_exist_once_update_replaces_and_delete_of_a_missing_one_is_not_found() {
    let mut x = FakeXfrm::new();
    let p = out_policy();
    x.add_policy(&p).unwrap();
    let e = x.add_policy(&p).unwrap_err();
    assert!(e.is_already_exists(), "{e}");
    assert!(
        e.to_string()
            .starts_with("adding policy 10.1.0.0/16 -> 10.2.0.0/16 dir out:"),
        "{e}"
    );
    let index = x.list_policies().unwrap()[0].index;
    assert_eq!(index & 7, 1, "the direction is in the low bits");

    // The same selector in another direction is another policy.
    x.add_policy(&PolicyParams {
        dir: PolicyDir::Fwd,
        ..p.clone()
    })
    .unwrap();
    let changed = PolicyParams {
        update: true,
        priority: 7,
        ..p.clone()
    };
    x.add_policy(&changed).unwrap();
    let listed = x.list_policies().unwrap();
    assert_eq!(listed.len(), 2);
    let out = listed.iter().find(|l| l.dir == PolicyDir::Out).unwrap();
    assert_eq!((out.priority, out.index, out.action), (7, index, 0));
    assert_eq!(out.templates, p.templates);

    x.delete_policy(&p.selector, PolicyDir::Out).unwrap();
    let e = x.delete_policy(&p.selector, PolicyDir::Out).unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(
        e.to_string(),
        "deleting policy 10.1.0.0/16 -> 10.2.0.0/16 dir out: no such policy in the kernel"
    );
    assert_eq!(x.list_policies().unwrap().len(), 1);
}

#[test]
fn update_policy_adds_when_absent_and_transport_templates_lose_their_addresses() {
    let mut x = FakeXfrm::new();
    let mut p = out_policy();
    p.update = true;
    p.templates[0].mode = Mode::Transport;
    x.add_policy(&p).unwrap();
    let listed = x.list_policies().unwrap();
    assert_eq!(listed.len(), 1);
    let t = listed[0].templates[0];
    assert_eq!(
        (t.src, t.dst, t.mode),
        (ip("0.0.0.0"), ip("0.0.0.0"), Mode::Transport)
    );
}

#[test]
fn a_marked_policy_is_not_the_unmarked_one() {
    let mut x = FakeXfrm::new();
    let p = out_policy();
    x.add_policy(&PolicyParams {
        mark: Some(Mark::exact(3)),
        ..p.clone()
    })
    .unwrap();
    x.add_policy(&p).unwrap();
    x.delete_policy(&p.selector, p.dir).unwrap();
    assert!(x
        .delete_policy(&p.selector, p.dir)
        .unwrap_err()
        .is_not_found());
    assert_eq!(x.list_policies().unwrap()[0].mark, Some(Mark::exact(3)));
}

#[test]
fn flush_empties_both_tables() {
    let mut x = FakeXfrm::new();
    let (peer, us) = peer_us();
    x.alloc_spi(peer, us, 1, RANGE.0, RANGE.1).unwrap();
    x.add_policy(&out_policy()).unwrap();
    x.flush_sas();
    x.flush_policies();
    assert!(x.list_sas().unwrap().is_empty());
    assert!(x.list_policies().unwrap().is_empty());
}

#[test]
fn traffic_carried_shows_in_the_sas_counters_until_it_goes() {
    let mut x = FakeXfrm::new();
    let (peer, us) = peer_us();
    x.add_sa(&gcm_sa(peer, us, 0xc000_0001, 5)).unwrap();
    assert!(x.carry(us, 0xc000_0001, 1500, 3));
    assert!(x.carry(us, 0xc000_0001, 500, 1));
    let c = x.sa_counters(peer, us, 0xc000_0001).unwrap();
    assert_eq!((c.bytes, c.packets), (2000, 4));
    x.delete_sa(peer, us, 0xc000_0001).unwrap();
    assert!(!x.carry(us, 0xc000_0001, 1, 1), "no SA, nothing counted");
}
