//! EAP-MSCHAPv2 on the gateway side (RFC 7296 §2.16): B is a gateway whose
//! peer logs in with EAP (`remote_auth = "eap-mschapv2"`); A is a strongSwan-like
//! client (`Emulation::eap_login`): IKE_AUTH without AUTH, EAP-Identity, the
//! MS-CHAPv2 challenge, and AUTH from the MSK on both sides.

mod common;

use std::sync::Arc;

use common::*;
use tern_engine::config::{
    AddressRange, EapLogin, EapUsers, EngineConfig, PoolConfig, RemoteAuth, VirtualIpRequest,
};
use tern_engine::{EndKind, SaEnd};

fn client(user: &'static str, password: &'static str) -> EngineConfig {
    let mut config = moon_config();
    config.connections[0].children[0].local_ts = vec![cidr("0.0.0.0/0")];
    config.emulate.request_virtual_ip = Some(VirtualIpRequest {
        ipv4: Some(None),
        ipv6: None,
        dns: false,
    });
    config.emulate.eap_login = Some(EapLogin { user, password });
    config
}

fn gateway() -> EngineConfig {
    let mut users = EapUsers::default();
    assert!(users.add("carol", "Ar3etTnp"));
    assert!(users.add("dave", "W7R0g3do"));
    let mut config = sun_config();
    let conn = &mut config.connections[0];
    conn.remote_auth = RemoteAuth::EapMschapv2(Arc::new(users));
    conn.children[0].remote_ts = vec![cidr("10.3.0.0/24")];
    conn.pools = vec![PoolConfig {
        name: "rw".into(),
        ranges: vec![AddressRange {
            first: "10.3.0.1".parse().unwrap(),
            last: "10.3.0.10".parse().unwrap(),
        }],
        dns: Vec::new(),
        domains: Vec::new(),
    }];
    config
}

fn ends(history: Vec<(String, Vec<SaEnd>)>) -> Vec<SaEnd> {
    history.into_iter().flat_map(|(_, ends)| ends).collect()
}

#[test]
fn a_user_with_the_right_password_gets_in_with_a_virtual_ip_and_a_child_sa() {
    let mut pair = Pair::new(client("carol", "Ar3etTnp"), gateway());
    pair.initiate_from_a("demo");
    pair.deliver();

    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].state, "ESTABLISHED");
    // The gateway knows the client by its EAP identity.
    assert_eq!(b[0].remote_id, "carol");
    assert_eq!(b[0].children.len(), 1);
    assert_eq!(b[0].children[0].remote_ts, ["10.3.0.1/32"]);
    let leases = pair.b.engine.leases();
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].identity, "carol");

    let a = pair.a.engine.list_sas(pair.now);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].state, "ESTABLISHED");
    assert_eq!(a[0].remote_id, "sun.tern.example");
    assert_eq!(a[0].children[0].local_ts, ["10.3.0.1/32"]);
    // The same keys on both sides: A's outbound SPI is B's inbound one.
    assert_eq!(a[0].children[0].spi_out, b[0].children[0].spi_in);
    assert_eq!(a[0].children[0].spi_in, b[0].children[0].spi_out);
    assert!(ends(pair.a.engine.history()).is_empty());
    assert!(ends(pair.b.engine.history()).is_empty());

    // Both kernels hold the same two ESP SAs, with the same keys: traffic
    // sealed on one side opens on the other.
    let (ka, kb) = (pair.a.kernel().sas.clone(), pair.b.kernel().sas.clone());
    assert_eq!(ka.len(), 2, "{ka:?}");
    assert_eq!(ka, kb);
}

fn refused(user: &'static str, password: &'static str, why: &str) {
    let mut pair = Pair::new(client(user, password), gateway());
    pair.initiate_from_a("demo");
    pair.deliver();
    pair.run_for(std::time::Duration::from_secs(60));

    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    assert!(
        pair.b.engine.leases().is_empty(),
        "no address for a refused user"
    );
    assert!(pair.a.kernel().is_empty() && pair.b.kernel().is_empty());

    let b = ends(pair.b.engine.history());
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].cause.kind, EndKind::EapFailed);
    assert!(!b[0].was_up);
    let text = &b[0].cause.text;
    assert!(
        text.contains(&format!("for user '{user}'")) && text.contains(why),
        "{text}"
    );
    assert!(!text.contains(password), "{text}");

    let a = ends(pair.a.engine.history());
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].cause.kind, EndKind::EapFailed);
    assert!(
        a[0].cause.text.contains("EAP-Failure"),
        "{}",
        a[0].cause.text
    );
}

#[test]
fn a_wrong_password_is_refused_on_both_sides_and_named_at_the_gateway() {
    refused("carol", "W7R0g3do", "wrong password for EAP user 'carol'");
}

#[test]
fn an_unknown_user_is_refused_like_a_wrong_password() {
    refused("mallory", "Ar3etTnp", "unknown EAP user 'mallory'");
}

#[test]
fn a_client_that_sends_auth_is_not_let_in_by_an_eap_connection() {
    let mut a = client("carol", "Ar3etTnp");
    a.emulate.eap_login = None;
    let mut pair = Pair::new(a, gateway());
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    let b = ends(pair.b.engine.history());
    assert!(
        b.iter().any(|e| e.cause.kind == EndKind::AuthFailed),
        "{b:?}"
    );
    let a = ends(pair.a.engine.history());
    assert!(
        a.iter().any(|e| e.cause.kind == EndKind::AuthFailed),
        "{a:?}"
    );
}

#[test]
fn other_users_log_in_beside_each_other() {
    let mut pair = Pair::new(client("dave", "W7R0g3do"), gateway());
    pair.initiate_from_a("demo");
    pair.deliver();
    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].remote_id, "dave");
    assert_eq!(pair.b.engine.leases()[0].identity, "dave");
}

#[test]
fn lost_and_duplicated_eap_rounds_are_retransmitted_and_answered_once() {
    let mut pair = Pair::new(client("carol", "Ar3etTnp"), gateway());
    // IKE_SA_INIT is datagrams 0 and 1; then four IKE_AUTH rounds and the last.
    let mut n = 0;
    pair.network = Box::new(move |_, _| {
        n += 1;
        match n {
            4 | 7 | 10 => Fate::Drop,
            5 | 8 | 11 => Fate::Duplicate,
            _ => Fate::Deliver,
        }
    });
    pair.initiate_from_a("demo");
    pair.run_for(std::time::Duration::from_secs(120));
    let (a, b) = (
        pair.a.engine.list_sas(pair.now),
        pair.b.engine.list_sas(pair.now),
    );
    assert_eq!((a.len(), b.len()), (1, 1), "{a:?} {b:?}");
    assert_eq!((a[0].state, b[0].state), ("ESTABLISHED", "ESTABLISHED"));
    assert_eq!(b[0].remote_id, "carol");
    assert_eq!(pair.a.kernel().sas, pair.b.kernel().sas);
    assert_eq!(pair.a.kernel().sas.len(), 2);
    assert!(ends(pair.b.engine.history()).is_empty());
    // 12 datagrams without loss; the three lost ones were sent again.
    assert!(
        pair.wire_log.len() >= 15,
        "{} datagrams",
        pair.wire_log.len()
    );
}
