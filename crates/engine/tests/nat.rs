//! NAT traversal (RFC 7296 §2.23, RFC 3948): A sits behind a NAT that rewrites
//! its address and port and forgets idle mappings.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::*;
use tern_engine::config::EngineConfig;
use tern_engine::{Command, UdpEncap};

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

fn up(mut pair: Pair) -> Pair {
    pair.initiate_from_a("demo");
    pair.deliver();
    for node in [&pair.a, &pair.b] {
        let sas = node.engine.list_sas(pair.now);
        assert_eq!(sas.len(), 1);
        assert_eq!(sas[0].state, "ESTABLISHED", "{:?}", node.events);
        assert_eq!(sas[0].children.len(), 1);
    }
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
    let pair = up(pair_behind_nat(moon_config()));

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
fn without_a_nat_nothing_moves() {
    let pair = up(Pair::demo());
    let a = &pair.a.engine.list_sas(pair.now)[0];
    assert_eq!(a.local_addr.port(), 500);
    assert_eq!(a.remote_addr.port(), 500);
    assert!(pair.a.kernel().encap.is_empty());
    assert!(pair.b.kernel().encap.is_empty());
    let mut pair = pair;
    pair.run_for(Duration::from_secs(300));
    assert!(pair.keepalives.is_empty(), "no NAT, no keepalives");
}

#[test]
fn the_side_behind_the_nat_keeps_its_mapping_alive() {
    let mut pair = up(pair_behind_nat(moon_config()));
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
    pair.b
        .engine
        .handle_command(
            pair.now,
            Command::Rekey {
                connection: "demo".into(),
            },
        )
        .unwrap();
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
    let mut pair = up(pair_behind_nat(a));
    pair.run_for(Duration::from_secs(120));
    assert!(pair.keepalives.is_empty());
    let a_local = pair.a.engine.list_sas(pair.now)[0].local_addr;
    assert_eq!(
        pair.nat.as_ref().unwrap().public_port(pair.now, a_local),
        None
    );
    // What keepalives are for: a request from B now dies at the NAT.
    let received_before = pair.a.engine.stats().received;
    pair.b
        .engine
        .handle_command(
            pair.now,
            Command::Rekey {
                connection: "demo".into(),
            },
        )
        .unwrap();
    pair.run_for(Duration::from_secs(3));
    assert_eq!(pair.a.engine.stats().received, received_before);
}
