//! Virtual IPs as a gateway (RFC 7296 §2.19, §3.15): B answers A's CFG_REQUEST
//! from its pool, narrows A's CHILD SA to the address, refuses with
//! INTERNAL_ADDRESS_FAILURE when the pool is exhausted, and keeps the lease
//! across an IKE rekey and for A's return after its IKE SA ended.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;
use tern_engine::config::{AddressRange, EngineConfig, PoolConfig, VirtualIpRequest};
use tern_engine::{Command, EndKind, LeaseInfo};

/// A: a road warrior asking for an IPv4 address (and DNS), offering all its
/// traffic (0.0.0.0/0) towards B's 10.2.0.0/24.
fn road_warrior(requested: Option<Ipv4Addr>) -> EngineConfig {
    let mut config = moon_config();
    config.connections[0].children[0].local_ts = vec![cidr("0.0.0.0/0")];
    config.emulate.request_virtual_ip = Some(VirtualIpRequest {
        ipv4: Some(requested),
        ipv6: None,
        dns: true,
    });
    config
}

/// B: a gateway handing out `first`..=`last` (and a DNS server) to its clients.
fn gateway(first: &str, last: &str) -> EngineConfig {
    let mut config = sun_config();
    let conn = &mut config.connections[0];
    conn.children[0].remote_ts = vec![cidr("10.3.0.0/24")];
    conn.pools = vec![PoolConfig {
        name: "rw".into(),
        ranges: vec![AddressRange {
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
        }],
        dns: vec!["10.2.0.53".parse().unwrap()],
        domains: Vec::new(),
    }];
    config
}

fn lease(address: &str, online: bool) -> LeaseInfo {
    LeaseInfo {
        pool: "rw".into(),
        address: address.parse::<IpAddr>().unwrap(),
        identity: "moon.tern.example".into(),
        online,
    }
}

fn connect(pair: &mut Pair) {
    pair.initiate_from_a("demo");
    pair.deliver();
}

fn terminate(pair: &mut Pair) {
    let now = pair.now;
    let command = Command::Terminate {
        connection: "demo".into(),
    };
    pair.a.engine.handle_command(now, command).unwrap();
    pair.deliver();
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
}

#[test]
fn a_client_gets_an_address_and_its_child_sa_is_narrowed_to_it() {
    let mut pair = Pair::new(road_warrior(None), gateway("10.3.0.1", "10.3.0.254"));
    connect(&mut pair);
    assert_eq!(pair.b.engine.leases(), [lease("10.3.0.1", true)]);
    let b = &pair.b.engine.list_sas(pair.now)[0].children[0];
    assert_eq!(b.remote_ts, ["10.3.0.1/32"]);
    assert_eq!(b.local_ts, ["10.2.0.0/24"]);
    // A accepted the narrowed selectors: its SA carries traffic from its address.
    let a = &pair.a.engine.list_sas(pair.now)[0].children[0];
    assert_eq!(a.local_ts, ["10.3.0.1/32"]);
}

#[test]
fn a_requested_address_is_given_when_free() {
    let wanted = Ipv4Addr::new(10, 3, 0, 7);
    let mut pair = Pair::new(
        road_warrior(Some(wanted)),
        gateway("10.3.0.1", "10.3.0.254"),
    );
    connect(&mut pair);
    assert_eq!(pair.b.engine.leases(), [lease("10.3.0.7", true)]);
}

#[test]
fn the_lease_survives_an_ike_rekey_and_waits_for_its_client_after_the_end() {
    // A asks for .3 first; it comes back asking for any address and gets .3
    // again, not the never-used .1.
    let mut pair = Pair::new(
        road_warrior(Some(Ipv4Addr::new(10, 3, 0, 3))),
        gateway("10.3.0.1", "10.3.0.9"),
    );
    connect(&mut pair);
    let now = pair.now;
    let rekey = Command::RekeyIke {
        connection: "demo".into(),
    };
    pair.a.engine.handle_command(now, rekey).unwrap();
    pair.deliver();
    let sas = pair.b.engine.list_sas(pair.now);
    assert_eq!(sas.len(), 1, "the old IKE SA went after the rekey");
    assert!(sas[0].unique_id > 1, "the IKE SA is the rekey's new one");
    assert_eq!(pair.b.engine.leases(), [lease("10.3.0.3", true)]);

    terminate(&mut pair);
    assert_eq!(pair.b.engine.leases(), [lease("10.3.0.3", false)]);

    let now = pair.now;
    pair.a.engine.reload(now, road_warrior(None));
    connect(&mut pair);
    assert_eq!(pair.b.engine.leases(), [lease("10.3.0.3", true)]);
    let b = &pair.b.engine.list_sas(pair.now)[0].children[0];
    assert_eq!(b.remote_ts, ["10.3.0.3/32"]);
}

#[test]
fn an_exhausted_pool_answers_internal_address_failure() {
    // One address, held by A's first IKE SA; its second asks for any address
    // and finds none left.
    let mut pair = Pair::new(road_warrior(None), gateway("10.3.0.1", "10.3.0.1"));
    connect(&mut pair);
    connect(&mut pair);
    assert_eq!(pair.b.engine.leases(), [lease("10.3.0.1", true)]);
    let failed = |history: Vec<(String, Vec<tern_engine::SaEnd>)>| {
        history
            .into_iter()
            .flat_map(|(_, ends)| ends)
            .find(|end| end.cause.kind == EndKind::PoolExhausted)
    };
    let at_b = failed(pair.b.engine.history()).expect("B's child failed for want of an address");
    assert!(!at_b.was_up);
    assert!(
        at_b.cause.text.contains(
            "no virtual IP for peer 'moon.tern.example': pool `rw` is exhausted (1 of 1 IPv4 addresses in use)"
        ),
        "{}",
        at_b.cause.text
    );
    let at_a =
        failed(pair.a.engine.history()).expect("A was refused with INTERNAL_ADDRESS_FAILURE");
    assert!(
        at_a.cause.text.contains("INTERNAL_ADDRESS_FAILURE"),
        "{}",
        at_a.cause.text
    );
    let stats = pair.b.engine.stats();
    assert_eq!(
        (stats.virtual_ips_assigned, stats.virtual_ip_refusals),
        (1, 1)
    );
    // The first client's CHILD SA is untouched.
    let children: usize = pair
        .b
        .engine
        .list_sas(pair.now)
        .iter()
        .map(|sa| sa.children.len())
        .sum();
    assert_eq!(children, 1);
}

#[test]
fn a_connection_without_pools_answers_no_address() {
    let mut b = gateway("10.3.0.1", "10.3.0.9");
    b.connections[0].pools.clear();
    b.connections[0].children[0].remote_ts = vec![cidr("0.0.0.0/0")];
    let mut pair = Pair::new(road_warrior(None), b);
    connect(&mut pair);
    assert!(pair.b.engine.leases().is_empty());
    // Without an address the child is not narrowed: it is what A offered.
    let b = &pair.b.engine.list_sas(pair.now)[0].children[0];
    assert_eq!(b.remote_ts, ["0.0.0.0/0"]);
}

#[test]
fn a_restarted_client_gets_the_address_its_forgotten_ike_sa_held() {
    // A restarts (losing its state) and comes back with INITIAL_CONTACT while B
    // still holds its old IKE SA: the old SA goes, and its address goes to the new
    // one rather than a second address being used up.
    let mut pair = Pair::new(road_warrior(None), gateway("10.3.0.1", "10.3.0.9"));
    connect(&mut pair);
    pair.a = Node::new(road_warrior(None), pair.a.addr, 7);
    connect(&mut pair);
    let sas = pair.b.engine.list_sas(pair.now);
    assert_eq!(sas.len(), 1, "the forgotten IKE SA went");
    assert_eq!(sas[0].children[0].remote_ts, ["10.3.0.1/32"]);
    assert_eq!(pair.b.engine.leases(), [lease("10.3.0.1", true)]);
}

#[test]
fn a_client_asking_for_both_families_gets_an_address_of_each() {
    let mut a = road_warrior(None);
    a.connections[0].children[0].local_ts = vec![cidr("0.0.0.0/0"), cidr("::/0")];
    a.connections[0].children[0].remote_ts = vec![cidr("10.2.0.0/24"), cidr("fd02::/64")];
    a.emulate.request_virtual_ip = Some(VirtualIpRequest {
        ipv4: Some(None),
        ipv6: Some(None),
        dns: true,
    });
    let mut b = gateway("10.3.0.1", "10.3.0.9");
    let conn = &mut b.connections[0];
    conn.children[0].local_ts = vec![cidr("10.2.0.0/24"), cidr("fd02::/64")];
    conn.children[0].remote_ts = vec![cidr("10.3.0.0/24"), cidr("fd03::/64")];
    conn.pools[0].ranges.push(AddressRange {
        first: "fd03::1".parse().unwrap(),
        last: "fd03::ffff".parse().unwrap(),
    });
    let mut pair = Pair::new(a, b);
    connect(&mut pair);
    let mut v6 = lease("10.3.0.1", true);
    v6.address = "fd03::1".parse().unwrap();
    assert_eq!(pair.b.engine.leases(), [lease("10.3.0.1", true), v6]);
    let b = &pair.b.engine.list_sas(pair.now)[0].children[0];
    assert_eq!(b.remote_ts, ["10.3.0.1/32", "fd03::1/128"]);
    let a = &pair.a.engine.list_sas(pair.now)[0].children[0];
    assert_eq!(a.local_ts, ["10.3.0.1/32", "fd03::1/128"]);
}

#[test]
fn a_pool_without_the_family_asked_for_answers_internal_address_failure() {
    let mut a = road_warrior(None);
    a.emulate.request_virtual_ip = Some(VirtualIpRequest {
        ipv4: None,
        ipv6: Some(None),
        dns: false,
    });
    let mut pair = Pair::new(a, gateway("10.3.0.1", "10.3.0.9"));
    connect(&mut pair);
    assert!(pair.b.engine.leases().is_empty());
    let ends: Vec<_> = pair
        .b
        .engine
        .history()
        .into_iter()
        .flat_map(|(_, ends)| ends)
        .filter(|end| end.cause.kind == EndKind::PoolExhausted)
        .collect();
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert!(
        ends[0]
            .cause
            .text
            .contains("the pools of `demo` have no IPv6 addresses"),
        "{}",
        ends[0].cause.text
    );
}

#[test]
fn a_reload_keeps_the_leases_of_unchanged_pools_only() {
    let mut pair = Pair::new(road_warrior(None), gateway("10.3.0.1", "10.3.0.9"));
    connect(&mut pair);
    let now = pair.now;
    pair.b.engine.reload(now, gateway("10.3.0.1", "10.3.0.9"));
    pair.deliver();
    assert_eq!(pair.b.engine.leases(), [lease("10.3.0.1", true)]);
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 1);
    // Another pool: the connection changed, its SAs end, the old pool's leases go.
    let now = pair.now;
    pair.b.engine.reload(now, gateway("10.3.0.5", "10.3.0.9"));
    pair.deliver();
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    assert!(pair.b.engine.leases().is_empty());
    connect(&mut pair);
    assert_eq!(pair.b.engine.leases(), [lease("10.3.0.5", true)]);
}
