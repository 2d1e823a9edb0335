//! NAT traversal (RFC 7296 §2.23, RFC 3948): A sits behind a NAT that rewrites
//! its address and port and forgets idle mappings.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::*;
use tern_engine::config::EngineConfig;
use tern_engine::UdpEncap;

const PUBLIC: &str = "203.0.113.9";
const NAT_TIMEOUT: Duration = Duration::from_secs(60);

/// B answers whoever A appears to be (its public address is not configured).
fn pair_behind_nat(a: EngineConfig) -> Pair {
    let mut b = sun_config();
    b.connections[0].remote_addrs.clear();
    let mut pair = Pair::new(a, b);
    pair.nat = Some(Nat::new(PUBLIC, NAT_TIMEOUT));
    pair
}

fn a_private() -> IpAddr {
    A_ADDR.parse::<SocketAddr>().unwrap().ip()
}

fn b_ip() -> IpAddr {
    B_ADDR.parse::<SocketAddr>().unwrap().ip()
}

fn public() -> IpAddr {
    PUBLIC.parse().unwrap()
}

#[test]
fn behind_a_nat_ike_floats_to_4500_and_esp_goes_in_udp() {
    let pair = pair_behind_nat(moon_config()).up();

    // Each side's IKE SA runs between the NAT-T ports; B sees A's public side.
    let a = &pair.a.engine.list_sas(pair.now)[0];
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(a.local_addr, SocketAddr::new(a_private(), 4500));
    assert_eq!(a.remote_addr, SocketAddr::new(b_ip(), 4500));
    let mapped = pair
        .nat
        .as_ref()
        .unwrap()
        .public_port(pair.now, a.local_addr)
        .expect("A's 4500 is mapped");
    assert_eq!(b.remote_addr, SocketAddr::new(public(), mapped));
    assert_eq!(b.local_addr, SocketAddr::new(b_ip(), 4500));

    // Both kernels carry ESP in UDP on those ports, both directions.
    let (a_child, b_child) = (&a.children[0], &b.children[0]);
    let ka = pair.a.kernel();
    assert_eq!(
        ka.encap.get(&(a_private(), b_ip(), a_child.spi_out)),
        Some(&UdpEncap {
            sport: 4500,
            dport: 4500
        })
    );
    assert_eq!(
        ka.encap.get(&(b_ip(), a_private(), a_child.spi_in)),
        Some(&UdpEncap {
            sport: 4500,
            dport: 4500
        })
    );
    let kb = pair.b.kernel();
    assert_eq!(
        kb.encap.get(&(b_ip(), public(), b_child.spi_out)),
        Some(&UdpEncap {
            sport: 4500,
            dport: mapped
        })
    );
    assert_eq!(
        kb.encap.get(&(public(), b_ip(), b_child.spi_in)),
        Some(&UdpEncap {
            sport: mapped,
            dport: 4500
        })
    );
    assert!(ka.errors.is_empty() && kb.errors.is_empty());
}

#[test]
fn the_float_to_4500_is_no_mapping_change_and_each_side_says_who_is_behind() {
    let pair = pair_behind_nat(moon_config()).up();
    let a = pair.a.engine.list_sas(pair.now)[0]
        .nat
        .expect("A sees the NAT");
    let b = pair.b.engine.list_sas(pair.now)[0]
        .nat
        .expect("B sees the NAT");
    assert!(a.local_behind && !a.peer_behind, "{a:?}");
    assert_eq!(a.keepalive_every, Some(Duration::from_secs(20)));
    assert!(b.peer_behind && !b.local_behind, "{b:?}");
    assert_eq!(b.keepalive_every, None, "B is not behind a NAT");
    assert_eq!((a.mapping_changes, b.mapping_changes), (0, 0));
}

#[test]
fn without_a_nat_nothing_moves() {
    let pair = Pair::demo().up();
    let a = &pair.a.engine.list_sas(pair.now)[0];
    assert_eq!(a.local_addr.port(), 500);
    assert_eq!(a.remote_addr.port(), 500);
    assert!(pair.a.kernel().encap.is_empty());
    assert_eq!(a.nat, None);
    assert!(pair.b.kernel().encap.is_empty());
    let mut pair = pair;
    pair.run_for(Duration::from_secs(300));
    assert!(pair.keepalives.is_empty(), "no NAT, no keepalives");
}

#[test]
fn the_side_behind_the_nat_keeps_its_mapping_alive() {
    let mut pair = pair_behind_nat(moon_config()).up();
    let a_local = pair.a.engine.list_sas(pair.now)[0].local_addr;
    let mapped = pair
        .nat
        .as_ref()
        .unwrap()
        .public_port(pair.now, a_local)
        .unwrap();

    // Ten idle minutes: A (behind the NAT) sends a keepalive every 20 s, B none.
    let start = pair.now;
    pair.run_for(Duration::from_secs(600));
    let from_a: Vec<_> = pair.keepalives.iter().filter(|k| k.0).collect();
    assert!(pair.keepalives.iter().all(|k| k.0), "B is not behind a NAT");
    assert!(
        (29..=31).contains(&from_a.len()),
        "{} keepalives in 600 s",
        from_a.len()
    );
    assert!(from_a
        .windows(2)
        .all(|w| w[1].1 - w[0].1 <= Duration::from_secs(20)));
    assert!(from_a[0].1 - start <= Duration::from_secs(20));
    assert_eq!(
        pair.a.engine.stats().nat_keepalives_sent,
        from_a.len() as u64
    );

    // The mapping held, so B can still reach A: a rekey from B goes through.
    assert_eq!(
        pair.nat.as_ref().unwrap().public_port(pair.now, a_local),
        Some(mapped)
    );
    let old_spi = pair.b.engine.list_sas(pair.now)[0].children[0].spi_in;
    pair.b.rekey(pair.now, "demo");
    pair.run_for(Duration::from_secs(5));
    let children = &pair.b.engine.list_sas(pair.now)[0].children;
    assert!(
        children
            .iter()
            .any(|c| c.state == "INSTALLED" && c.spi_in != old_spi),
        "{children:?}"
    );
}

#[test]
fn with_keepalives_off_the_nat_forgets_and_the_peer_cannot_reach_us() {
    let a = EngineConfig {
        nat_keepalive: Duration::ZERO,
        ..moon_config()
    };
    let mut pair = pair_behind_nat(a).up();
    pair.run_for(Duration::from_secs(120));
    assert!(pair.keepalives.is_empty());
    let a_local = pair.a.engine.list_sas(pair.now)[0].local_addr;
    assert_eq!(
        pair.nat.as_ref().unwrap().public_port(pair.now, a_local),
        None
    );
    // What keepalives are for: a request from B now dies at the NAT.
    let received_before = pair.a.engine.stats().received;
    pair.b.rekey(pair.now, "demo");
    pair.run_for(Duration::from_secs(3));
    assert_eq!(pair.a.engine.stats().received, received_before);
}

/// B's view of A: the IKE SA's remote end, and the ESP-in-UDP ports of its
/// CHILD SA's two kernel SAs (inbound, outbound).
fn b_sees(pair: &Pair) -> (SocketAddr, Option<UdpEncap>, Option<UdpEncap>) {
    let sa = &pair.b.engine.list_sas(pair.now)[0];
    let child = &sa.children[0];
    let peer = sa.remote_addr.ip();
    let kb = pair.b.kernel();
    (
        sa.remote_addr,
        kb.encap.get(&(peer, b_ip(), child.spi_in)).copied(),
        kb.encap.get(&(b_ip(), peer, child.spi_out)).copied(),
    )
}

#[test]
fn when_the_nat_maps_a_anew_the_esp_sas_follow_with_their_keys() {
    // A checks on B after 100 idle seconds, once the NAT has forgotten it.
    let mut a = EngineConfig {
        nat_keepalive: Duration::ZERO,
        ..moon_config()
    };
    a.connections[0].dpd_delay = Duration::from_secs(100);
    let mut pair = pair_behind_nat(a).up();
    let (before, _, _) = b_sees(&pair);
    let child = pair.b.engine.list_sas(pair.now)[0].children[0].clone();
    let key_out = pair.b.kernel().sas[&(b_ip(), public(), child.spi_out)].clone();

    pair.run_for(Duration::from_secs(150));

    let (after, inbound, outbound) = b_sees(&pair);
    assert_eq!(after.ip(), public());
    assert_ne!(after.port(), before.port(), "A was mapped anew");
    // B counts the change of A's mapping, for `ternctl diagnose`.
    let nat = pair.b.engine.list_sas(pair.now)[0]
        .nat
        .expect("a NAT in the way");
    assert!(nat.peer_behind && !nat.local_behind, "{nat:?}");
    assert_eq!(nat.mapping_changes, 1, "{nat:?}");
    let sa = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(sa.children[0].spi_in, child.spi_in, "the same CHILD SA");
    let moved = |sport, dport| Some(UdpEncap { sport, dport });
    assert_eq!(inbound, moved(after.port(), 4500));
    assert_eq!(outbound, moved(4500, after.port()));
    let kb = pair.b.kernel();
    assert_eq!(
        kb.sas[&(b_ip(), public(), child.spi_out)],
        key_out,
        "its keys stay"
    );
    assert!(kb.errors.is_empty(), "{:?}", kb.errors);
}

#[test]
fn a_mapping_seen_on_esp_moves_ike_and_esp_to_the_new_port() {
    let mut pair = pair_behind_nat(moon_config()).up();
    let (before, _, _) = b_sees(&pair);
    let spi_in = pair.b.engine.list_sas(pair.now)[0].children[0].spi_in;
    let new = SocketAddr::new(public(), before.port() + 100);

    pair.b.engine.handle_kernel_event(
        pair.now,
        tern_engine::KernelEvent::Mapping {
            dst: b_ip(),
            spi: spi_in,
            new,
        },
    );
    pair.deliver();

    let (after, inbound, outbound) = b_sees(&pair);
    assert_eq!(after, new, "IKE follows");
    let changes = |pair: &Pair| {
        let nat = pair.b.engine.list_sas(pair.now)[0]
            .nat
            .expect("a NAT in the way");
        nat.mapping_changes
    };
    assert_eq!(changes(&pair), 1, "the mapping change is counted");
    assert_eq!(
        inbound,
        Some(UdpEncap {
            sport: new.port(),
            dport: 4500
        })
    );
    assert_eq!(
        outbound,
        Some(UdpEncap {
            sport: 4500,
            dport: new.port()
        })
    );
    assert!(
        pair.b.kernel().errors.is_empty(),
        "{:?}",
        pair.b.kernel().errors
    );

    // A mapping for an SPI that is not B's, or the same mapping again, changes nothing.
    for (spi, addr) in [(0x0bad_0bad, before), (spi_in, new)] {
        pair.b.engine.handle_kernel_event(
            pair.now,
            tern_engine::KernelEvent::Mapping {
                dst: b_ip(),
                spi,
                new: addr,
            },
        );
        pair.deliver();
        assert_eq!(b_sees(&pair).0, new);
    }
    assert_eq!(changes(&pair), 1, "nothing moved, nothing counted");
}

#[test]
fn without_a_nat_a_mapping_is_ignored() {
    let mut pair = Pair::demo().up();
    let sa = pair.b.engine.list_sas(pair.now)[0].clone();
    let new = SocketAddr::new(sa.remote_addr.ip(), 4321);
    pair.b.engine.handle_kernel_event(
        pair.now,
        tern_engine::KernelEvent::Mapping {
            dst: b_ip(),
            spi: sa.children[0].spi_in,
            new,
        },
    );
    pair.deliver();
    assert_eq!(
        pair.b.engine.list_sas(pair.now)[0].remote_addr,
        sa.remote_addr
    );
}
