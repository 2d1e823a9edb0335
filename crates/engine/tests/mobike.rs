//! MOBIKE (RFC 4555): A (moon, the initiator) changes its address and tells B
//! (sun, the gateway) with UPDATE_SA_ADDRESSES; the IKE SA and its CHILD SAs
//! move without being negotiated again.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::*;
use tern_engine::config::EngineConfig;
use tern_engine::{Command, MobikeInfo, UdpEncap};

const PUBLIC: &str = "203.0.113.9";

/// moon as the side that moves: ternd does not offer MOBIKE as initiator yet
/// (`EngineConfig::mobike_initiator`), the engine can.
fn moving_moon() -> EngineConfig {
    EngineConfig {
        mobike_initiator: true,
        ..moon_config()
    }
}

fn mobike_pair() -> Pair {
    Pair::new(moving_moon(), sun_config())
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn b_ip() -> IpAddr {
    B_ADDR.parse::<SocketAddr>().unwrap().ip()
}

/// `ternctl`'s move on A: its address is now `to`.
fn move_a(pair: &mut Pair, to: &str) -> Result<(), String> {
    pair.a
        .engine
        .handle_command(
            pair.now,
            Command::MoveLocal {
                connection: "demo".into(),
                local: ip(to),
            },
        )
        .map(|_| ())?;
    pair.a.addr = SocketAddr::new(ip(to), 4500);
    pair.deliver();
    Ok(())
}

/// B's CHILD SA: (unique id, inbound SPI, outbound SPI).
fn b_child(pair: &Pair) -> (u64, u32, u32) {
    let c = &pair.b.engine.list_sas(pair.now)[0].children[0];
    (c.unique_id, c.spi_in, c.spi_out)
}

#[test]
fn both_sides_agree_to_mobike_and_list_sas_shows_it() {
    let pair = mobike_pair().up();
    for node in [&pair.a, &pair.b] {
        let sa = &node.engine.list_sas(pair.now)[0];
        assert_eq!(
            sa.mobike,
            Some(MobikeInfo {
                peer_addresses: Vec::new()
            })
        );
    }
}

#[test]
fn as_ternd_sets_it_up_the_initiator_does_not_offer_mobike_yet() {
    // Both connections say mobike = true (the default); moon is ternd's initiator.
    let mut pair = Pair::demo().up();
    for node in [&pair.a, &pair.b] {
        assert_eq!(node.engine.list_sas(pair.now)[0].mobike, None);
    }
    let refused = move_a(&mut pair, "192.0.2.11").unwrap_err();
    assert!(refused.contains("MOBIKE is not in use"), "{refused}");
}

#[test]
fn mobike_off_on_either_side_is_not_used_and_nothing_moves() {
    for (a_on, b_on) in [(false, true), (true, false)] {
        let (mut a, mut b) = (moving_moon(), sun_config());
        a.connections[0].mobike = a_on;
        b.connections[0].mobike = b_on;
        let mut pair = Pair::new(a, b).up();
        for node in [&pair.a, &pair.b] {
            assert_eq!(node.engine.list_sas(pair.now)[0].mobike, None);
        }
        let refused = move_a(&mut pair, "192.0.2.11").unwrap_err();
        assert!(refused.contains("MOBIKE is not in use"), "{refused}");
    }
}

#[test]
fn an_update_moves_the_ike_sa_and_its_child_sas_with_their_keys() {
    let mut pair = mobike_pair().up();
    let old = ip("192.0.2.1");
    let (id, spi_in, spi_out) = b_child(&pair);
    let key_out = pair.b.kernel().sas[&(b_ip(), old, spi_out)].clone();
    let key_in = pair.b.kernel().sas[&(old, b_ip(), spi_in)].clone();

    move_a(&mut pair, "192.0.2.11").unwrap();

    let new = ip("192.0.2.11");
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(b.remote_addr, SocketAddr::new(new, 4500));
    assert_eq!(b.local_addr, SocketAddr::new(b_ip(), 4500));
    assert_eq!(b_child(&pair), (id, spi_in, spi_out), "the same CHILD SA");
    let kb = pair.b.kernel();
    assert_eq!(
        kb.sas[&(b_ip(), new, spi_out)],
        key_out,
        "same keys, new address"
    );
    assert_eq!(kb.sas[&(new, b_ip(), spi_in)], key_in);
    assert!(!kb.sas.contains_key(&(b_ip(), old, spi_out)));
    assert_eq!(kb.sas.len(), 2, "no other SA");
    assert!(kb.encap.is_empty(), "no NAT: plain ESP");
    let out: Vec<_> = kb.outbound.values().collect();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].tunnel_src, out[0].tunnel_dst), (b_ip(), new));
    assert!(kb.errors.is_empty(), "{:?}", kb.errors);
    drop(kb);
    // A moved its kernel SAs on B's answer, which echoed A's COOKIE2.
    let ka = pair.a.kernel();
    assert!(
        ka.sas.contains_key(&(new, b_ip(), spi_in)),
        "{:?}",
        ka.sas.keys()
    );
    assert!(ka.sas.contains_key(&(b_ip(), new, spi_out)));
    assert_eq!(ka.sas.len(), 2);
    assert!(ka.errors.is_empty(), "{:?}", ka.errors);
    drop(ka);
    // Nothing was negotiated again, and the tunnel goes on.
    for node in [&pair.a, &pair.b] {
        let stats = node.engine.stats();
        assert_eq!(
            (stats.child_rekeys_initiated, stats.ike_rekeys_initiated),
            (0, 0)
        );
    }
    pair.run_for(Duration::from_secs(600));
    assert_eq!(b_child(&pair), (id, spi_in, spi_out));
    assert_eq!(pair.a.engine.list_sas(pair.now)[0].state, "ESTABLISHED");
}

#[test]
fn a_move_behind_a_nat_puts_esp_in_udp_and_a_move_out_takes_it_out() {
    let mut pair = mobike_pair().up();
    let (_, spi_in, spi_out) = b_child(&pair);
    pair.nat = Some(Nat::new(PUBLIC, Duration::from_secs(60)));

    move_a(&mut pair, "10.9.0.5").unwrap();

    let b = &pair.b.engine.list_sas(pair.now)[0];
    let public = b.remote_addr;
    assert_eq!(public.ip(), ip(PUBLIC));
    {
        let kb = pair.b.kernel();
        let udp = |sport, dport| Some(UdpEncap { sport, dport });
        let encap = |kernel: &FakeKernel, sa| kernel.encap.get(&sa).copied();
        assert_eq!(
            encap(&kb, (public.ip(), b_ip(), spi_in)),
            udp(public.port(), 4500)
        );
        assert_eq!(
            encap(&kb, (b_ip(), public.ip(), spi_out)),
            udp(4500, public.port())
        );
        assert!(kb.errors.is_empty(), "{:?}", kb.errors);
        let ka = pair.a.kernel();
        // A sends on B's inbound SPI.
        assert_eq!(
            encap(&ka, (ip("10.9.0.5"), b_ip(), spi_in)),
            udp(4500, 4500)
        );
    }
    // A, now behind the NAT, keeps its mapping alive.
    pair.run_for(Duration::from_secs(60));
    assert!(pair.keepalives.iter().any(|(from_a, _)| *from_a));
    let nat = pair.b.engine.list_sas(pair.now)[0]
        .nat
        .expect("A behind the NAT");
    assert_eq!(
        nat.mapping_changes, 0,
        "a roam behind a NAT is no remapping"
    );

    pair.nat = None;
    move_a(&mut pair, "192.0.2.12").unwrap();

    // Roams are no NAT mapping changes (diagnose's nat_mapping_changes).
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(b.nat, None, "no NAT in the way any more");
    let kb = pair.b.kernel();
    assert!(kb.encap.is_empty(), "plain ESP again: {:?}", kb.encap);
    assert!(kb.sas.contains_key(&(b_ip(), ip("192.0.2.12"), spi_out)));
    assert!(kb.errors.is_empty(), "{:?}", kb.errors);
}

#[test]
fn after_an_ike_rekey_the_next_update_moves_the_sa_again() {
    let mut pair = mobike_pair().up();
    move_a(&mut pair, "192.0.2.11").unwrap();
    pair.a.rekey_ike(pair.now, "demo");
    pair.deliver();
    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!(b.len(), 1, "the rekeyed IKE SA is gone: {b:?}");
    assert!(b[0].mobike.is_some(), "MOBIKE stays agreed");

    // The new IKE SA's message IDs start over: its first UPDATE is no replay.
    move_a(&mut pair, "192.0.2.12").unwrap();
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(b.remote_addr, SocketAddr::new(ip("192.0.2.12"), 4500));
    let (_, _, spi_out) = b_child(&pair);
    assert!(pair
        .b
        .kernel()
        .sas
        .contains_key(&(b_ip(), ip("192.0.2.12"), spi_out)));
}

#[test]
fn a_replayed_update_does_not_move_the_sa_back() {
    let mut pair = mobike_pair().up();
    let sent = pair.wire_log.len();
    move_a(&mut pair, "192.0.2.11").unwrap();
    let first_update = pair.wire_log[sent].1.clone();
    move_a(&mut pair, "192.0.2.12").unwrap();
    let (_, _, spi_out) = b_child(&pair);

    // The first UPDATE, delayed on the old path, arrives after the second.
    let b_local = SocketAddr::new(b_ip(), 4500);
    let old_path = SocketAddr::new(ip("192.0.2.11"), 4500);
    pair.b
        .engine
        .handle_datagram(pair.now, b_local, old_path, &first_update);
    while pair.b.engine.poll_transmit().is_some() {}

    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(b.remote_addr, SocketAddr::new(ip("192.0.2.12"), 4500));
    assert!(pair
        .b
        .kernel()
        .sas
        .contains_key(&(b_ip(), ip("192.0.2.12"), spi_out)));
}

/// A's next request (a CHILD SA rekey) reaches B from another address.
fn request_from_elsewhere(pair: &mut Pair, elsewhere: SocketAddr) -> Vec<SocketAddr> {
    pair.network = Box::new(|_, from_a| if from_a { Fate::Drop } else { Fate::Deliver });
    let sent = pair.wire_log.len();
    pair.a.rekey(pair.now, "demo");
    pair.deliver();
    let request = pair.wire_log[sent].1.clone();
    let b_local = pair.b.engine.list_sas(pair.now)[0].local_addr;
    pair.b
        .engine
        .handle_datagram(pair.now, b_local, elsewhere, &request);
    let mut answered_to = Vec::new();
    while let Some(t) = pair.b.engine.poll_transmit() {
        answered_to.push(t.remote);
    }
    answered_to
}

#[test]
fn with_mobike_another_request_from_a_new_address_is_answered_there_not_followed() {
    let mut pair = mobike_pair().up();
    let (_, _, spi_out) = b_child(&pair);
    let elsewhere: SocketAddr = "192.0.2.99:4500".parse().unwrap();

    let answered_to = request_from_elsewhere(&mut pair, elsewhere);

    assert_eq!(
        answered_to,
        vec![elsewhere],
        "the answer goes where the request came from"
    );
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(b.remote_addr, A_ADDR.parse().unwrap(), "the SA stays");
    assert!(pair
        .b
        .kernel()
        .sas
        .contains_key(&(b_ip(), ip("192.0.2.1"), spi_out)));
}

#[test]
fn without_mobike_a_request_from_a_new_address_moves_the_sa_as_before() {
    let mut b = sun_config();
    b.connections[0].mobike = false;
    let mut pair = Pair::new(moving_moon(), b).up();
    let elsewhere: SocketAddr = "192.0.2.99:4500".parse().unwrap();

    let answered_to = request_from_elsewhere(&mut pair, elsewhere);

    assert_eq!(answered_to, vec![elsewhere]);
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(b.remote_addr, elsewhere, "RFC 7296 §2.23: the SA follows");
}

/// B gets `notifies` in an INFORMATIONAL request of A's, as if decrypted.
fn informational_to_b(pair: &mut Pair, notifies: Vec<tern_wire::Payload>) {
    let id = pair.b.engine.fuzz_ike_sa_ids()[0];
    let now = pair.now;
    assert!(pair.b.engine.fuzz_deliver_decrypted(
        now,
        id,
        tern_wire::ExchangeType::INFORMATIONAL,
        false,
        notifies
    ));
    while pair.b.engine.poll_transmit().is_some() {}
}

fn notify(t: tern_wire::NotifyType, data: Vec<u8>) -> tern_wire::Payload {
    tern_wire::Payload::Notify(tern_wire::NotifyPayload::new(t, data))
}

#[test]
fn the_peers_other_addresses_are_kept_until_it_lists_them_again() {
    use tern_wire::NotifyType as N;
    let mut pair = mobike_pair().up();
    informational_to_b(
        &mut pair,
        vec![
            notify(N::ADDITIONAL_IP4_ADDRESS, vec![198, 51, 100, 7]),
            notify(
                N::ADDITIONAL_IP6_ADDRESS,
                ip("2001:db8::7").to_string().into_bytes(),
            ),
        ],
    );
    // The IPv6 one above is malformed (text, not 16 octets): counted and ignored.
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(
        b.mobike.as_ref().unwrap().peer_addresses,
        vec![ip("198.51.100.7")]
    );
    assert_eq!(pair.b.engine.stats().dropped_malformed, 1);

    informational_to_b(
        &mut pair,
        vec![notify(N::NO_ADDITIONAL_ADDRESSES, Vec::new())],
    );
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert!(b.mobike.as_ref().unwrap().peer_addresses.is_empty());
}

#[test]
fn an_update_with_a_malformed_nat_hash_is_counted_and_changes_no_nat_state() {
    use tern_wire::NotifyType as N;
    let mut pair = mobike_pair().up();
    informational_to_b(
        &mut pair,
        vec![
            notify(N::UPDATE_SA_ADDRESSES, Vec::new()),
            notify(N::NAT_DETECTION_SOURCE_IP, vec![0; 19]),
            notify(N::NAT_DETECTION_DESTINATION_IP, vec![0; 20]),
        ],
    );
    assert_eq!(pair.b.engine.stats().dropped_malformed, 1);
    let kb = pair.b.kernel();
    assert!(kb.encap.is_empty(), "no NAT concluded from it");
    assert!(kb.errors.is_empty(), "{:?}", kb.errors);
}
