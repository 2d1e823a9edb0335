//! The session of a RADIUS login: Framed-IP-Address as the client's virtual
//! IP (refused when another user's IKE SA holds it), Session-Timeout ending
//! the IKE SA (across an IKE rekey), and accounting Start at establishment,
//! Stop with the typed end reason.

use std::net::{IpAddr, Ipv4Addr};

use tern_engine::config::{AddressRange, PoolConfig, VirtualIpRequest};
use tern_engine::{AccountingRecord, AccountingStatus, Engine};

use super::*;

const GIVEN: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 7);

/// A client asking for an IPv4 address, offering all its traffic.
fn road_warrior(user: &'static str, password: &'static str) -> EngineConfig {
    let mut config = client(user, password);
    config.connections[0].children[0].local_ts = vec![cidr("0.0.0.0/0")];
    config.emulate.request_virtual_ip = Some(VirtualIpRequest {
        ipv4: Some(None),
        ipv6: None,
        dns: false,
    });
    config
}

/// The EAP-RADIUS gateway with a pool of its own (10.3.0.1-10.3.0.9).
fn gateway_with_pool() -> EngineConfig {
    let mut config = gateway();
    let conn = &mut config.connections[0];
    conn.children[0].remote_ts = vec![cidr("10.0.0.0/8")];
    conn.pools = vec![PoolConfig {
        name: "rw".into(),
        ranges: vec![AddressRange {
            first: "10.3.0.1".parse().unwrap(),
            last: "10.3.0.9".parse().unwrap(),
        }],
        dns: Vec::new(),
        domains: Vec::new(),
    }];
    config
}

fn granting(grant: RadiusGrant) -> Radius {
    let mut radius = Radius::new(Behaviour::Normal);
    radius.grant = grant;
    radius
}

fn accounting(engine: &mut Engine) -> Vec<AccountingRecord> {
    std::iter::from_fn(|| engine.poll_accounting()).collect()
}

#[test]
fn the_radius_address_is_the_virtual_ip_and_accounting_starts_and_stops() {
    let mut pair = Pair::new(road_warrior("carol", "Ar3etTnp"), gateway_with_pool());
    let mut radius = granting(RadiusGrant {
        framed_ip: Some(GIVEN),
        class: vec![b"dept=ops".to_vec()],
        ..Default::default()
    });
    pair.initiate_from_a("demo");
    converse(&mut pair, &mut radius);

    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].children[0].remote_ts, ["10.9.0.7/32"]);
    let a = pair.a.engine.list_sas(pair.now);
    assert_eq!(a[0].children[0].local_ts, ["10.9.0.7/32"], "A took it");
    assert!(pair.b.engine.leases().is_empty(), "the pool was not used");

    let start = accounting(&mut pair.b.engine);
    assert_eq!(start.len(), 1, "{start:?}");
    let s = &start[0];
    assert_eq!(s.status, AccountingStatus::Start);
    assert_eq!(s.user, "carol");
    assert_eq!(s.virtual_ips, [IpAddr::V4(GIVEN)]);
    assert_eq!(s.class, [b"dept=ops".to_vec()]);
    assert_eq!((s.local, s.remote), (pair.b.addr, pair.a.addr));
    assert_eq!(s.session_id.len(), 16);
    assert!(
        accounting(&mut pair.a.engine).is_empty(),
        "A logged in no one"
    );

    pair.run_for(Duration::from_secs(90));
    pair.a.terminate(pair.now, "demo");
    pair.deliver();
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    let stop = accounting(&mut pair.b.engine);
    assert_eq!(stop.len(), 1, "{stop:?}");
    assert_eq!(
        stop[0].status,
        AccountingStatus::Stop {
            cause: EndKind::DeletedByPeer,
            session_time: Duration::from_secs(90),
            usage: Default::default(),
        }
    );
    assert_eq!(stop[0].session_id, s.session_id);
    assert_eq!(stop[0].virtual_ips, s.virtual_ips);
    assert_eq!(stop[0].class, s.class);

    // Carol comes back: the address is hers again, under a new session id.
    pair.initiate_from_a("demo");
    converse(&mut pair, &mut radius);
    let again = accounting(&mut pair.b.engine);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].virtual_ips, [IpAddr::V4(GIVEN)]);
    assert_ne!(again[0].session_id, s.session_id);
}

#[test]
fn an_address_another_users_ike_sa_holds_is_refused_with_internal_address_failure() {
    let mut pair = Pair::new(road_warrior("carol", "Ar3etTnp"), gateway_with_pool());
    let grant = RadiusGrant {
        framed_ip: Some(GIVEN),
        ..Default::default()
    };
    let mut radius = granting(grant.clone());
    pair.initiate_from_a("demo");
    converse(&mut pair, &mut radius);
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 1);
    accounting(&mut pair.b.engine);

    // Dave, from the same address, is given the same Framed-IP-Address.
    pair.a = Node::new(road_warrior("dave", "W7R0g3do"), A_ADDR.parse().unwrap(), 3);
    let mut radius = granting(grant);
    pair.initiate_from_a("demo");
    converse(&mut pair, &mut radius);

    let b = pair.b.engine.list_sas(pair.now);
    let carol = b.iter().find(|s| s.remote_id == "carol").unwrap();
    assert_eq!(
        carol.children[0].remote_ts,
        ["10.9.0.7/32"],
        "carol keeps it"
    );
    let refused: Vec<SaEnd> = ends(pair.b.engine.history())
        .into_iter()
        .filter(|e| e.kind == tern_engine::SaKind::Child)
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].cause.kind, EndKind::PoolExhausted);
    let text = &refused[0].cause.text;
    assert!(
        text.contains("'dave'") && text.contains("10.9.0.7, which an IKE SA of 'carol' holds"),
        "{text}"
    );
    assert!(pair.a.kernel().sas.is_empty(), "dave got no CHILD SA");
}

#[test]
fn session_timeout_deletes_the_ike_sa_at_the_limit_even_after_an_ike_rekey() {
    let mut pair = Pair::new(road_warrior("carol", "Ar3etTnp"), gateway_with_pool());
    let mut radius = granting(RadiusGrant {
        session_timeout: Some(Duration::from_secs(300)),
        ..Default::default()
    });
    pair.initiate_from_a("demo");
    converse(&mut pair, &mut radius);
    let start = accounting(&mut pair.b.engine);
    assert_eq!(start.len(), 1);
    assert_eq!(
        start[0].virtual_ips,
        ["10.3.0.1".parse::<IpAddr>().unwrap()]
    );

    pair.run_for(Duration::from_secs(100));
    let before = pair.b.engine.list_sas(pair.now)[0].unique_id;
    pair.b.rekey_ike(pair.now, "demo");
    pair.deliver();
    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_ne!(b[0].unique_id, before, "rekeyed");
    assert!(
        accounting(&mut pair.b.engine).is_empty(),
        "an IKE rekey neither stops nor starts the session"
    );

    pair.run_for(Duration::from_secs(199));
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 1, "up at 299 s");
    pair.run_for(Duration::from_secs(2));
    assert!(pair.b.engine.list_sas(pair.now).is_empty(), "gone at 300 s");
    assert!(pair.a.engine.list_sas(pair.now).is_empty(), "A was told");
    let b = ends(pair.b.engine.history());
    let ike = b
        .iter()
        .find(|e| e.kind == tern_engine::SaKind::Ike && e.cause.kind != EndKind::Rekeyed)
        .unwrap();
    assert_eq!(ike.cause.kind, EndKind::SessionTimeout);
    assert!(
        ike.cause
            .text
            .contains("Session-Timeout of 300 s for user 'carol'"),
        "{}",
        ike.cause.text
    );
    let stop = accounting(&mut pair.b.engine);
    assert_eq!(stop.len(), 1, "{stop:?}");
    assert_eq!(
        stop[0].status,
        AccountingStatus::Stop {
            cause: EndKind::SessionTimeout,
            session_time: Duration::from_secs(300),
            usage: Default::default(),
        }
    );
    assert_eq!(stop[0].session_id, start[0].session_id);
    assert!(pair.b.engine.leases().iter().all(|l| !l.online));
}

#[test]
fn a_dead_client_is_stopped_as_dead_peer() {
    let mut config = gateway_with_pool();
    config.connections[0].dpd_delay = Duration::from_secs(30);
    let mut pair = Pair::new(road_warrior("carol", "Ar3etTnp"), config);
    let mut radius = granting(RadiusGrant::default());
    pair.initiate_from_a("demo");
    converse(&mut pair, &mut radius);
    assert_eq!(accounting(&mut pair.b.engine).len(), 1);

    pair.network = Box::new(|_, _| Fate::Drop);
    pair.run_for(Duration::from_secs(600));
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    let stop = accounting(&mut pair.b.engine);
    assert_eq!(stop.len(), 1, "{stop:?}");
    let AccountingStatus::Stop { cause, .. } = stop[0].status else {
        panic!("{stop:?}")
    };
    assert_eq!(cause, EndKind::DeadPeer);
}

#[test]
fn a_login_that_fails_after_the_accept_sends_no_accounting() {
    let mut pair = Pair::new(road_warrior("carol", "Ar3etTnp"), gateway_with_pool());
    let mut radius = Radius::new(Behaviour::NoKeys);
    pair.initiate_from_a("demo");
    converse(&mut pair, &mut radius);
    pair.run_for(Duration::from_secs(60));
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    assert!(accounting(&mut pair.b.engine).is_empty());
}

#[test]
fn an_ipv6_address_from_radius_is_given_beside_the_ipv4_one() {
    let mut client = road_warrior("carol", "Ar3etTnp");
    client.connections[0].children[0].local_ts = vec![cidr("0.0.0.0/0"), cidr("::/0")];
    client.emulate.request_virtual_ip = Some(VirtualIpRequest {
        ipv4: Some(None),
        ipv6: Some(None),
        dns: false,
    });
    let mut gateway = gateway_with_pool();
    gateway.connections[0].children[0].remote_ts = vec![cidr("10.0.0.0/8"), cidr("fd00::/16")];
    let mut pair = Pair::new(client, gateway);
    let mut radius = granting(RadiusGrant {
        framed_ip: Some(GIVEN),
        framed_ipv6: Some("fd00::7".parse().unwrap()),
        ..Default::default()
    });
    pair.initiate_from_a("demo");
    converse(&mut pair, &mut radius);
    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!(b.len(), 1, "{b:?}");
    let mut remote = b[0].children[0].remote_ts.clone();
    remote.sort();
    assert_eq!(remote, ["10.9.0.7/32", "fd00::7/128"]);
    let start = accounting(&mut pair.b.engine);
    assert_eq!(
        start[0].virtual_ips,
        [IpAddr::V4(GIVEN), "fd00::7".parse::<IpAddr>().unwrap()]
    );
}
