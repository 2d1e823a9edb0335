//! IKE_SA_INIT + IKE_AUTH + the first CHILD SA between two engines, and what
//! happens when the network or the configuration gets in the way.

mod common;

use std::time::Duration;

use common::*;
use tern_engine::config::{AuthConfig, Encryption};
use tern_engine::Event;
use tern_wire::{ExchangeType, Message};

fn established(node: &Node) -> bool {
    let sas = node.engine.list_sas(std::time::Instant::now());
    sas.len() == 1 && sas[0].state == "ESTABLISHED" && sas[0].children.len() == 1
}

fn failure_reason(node: &Node) -> Option<String> {
    node.events.iter().find_map(|e| match e {
        Event::IkeSaFailed { reason, .. } => Some(reason.text.clone()),
        _ => None,
    })
}

#[test]
fn tunnel_comes_up_with_matching_spis_and_keys() {
    let mut pair = Pair::demo();
    pair.initiate_from_a("demo");
    pair.deliver();

    assert!(established(&pair.a), "moon: {:?}", pair.a.events);
    assert!(established(&pair.b), "sun: {:?}", pair.b.events);
    let a = &pair.a.engine.list_sas(pair.now)[0];
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(a.initiator_spi, b.initiator_spi);
    assert_eq!(a.responder_spi, b.responder_spi);
    assert_eq!(a.proposal, "AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE25519");
    assert_eq!(a.remote_id, "sun.tern.example");
    assert_eq!(b.remote_id, "moon.tern.example");
    let (ca, cb) = (&a.children[0], &b.children[0]);
    assert_eq!(ca.spi_in, cb.spi_out);
    assert_eq!(ca.spi_out, cb.spi_in);
    assert_eq!(ca.local_ts, vec!["10.1.0.0/24"]);
    assert_eq!(ca.remote_ts, vec!["10.2.0.0/24"]);
    assert_eq!(cb.local_ts, vec!["10.2.0.0/24"]);

    // Each kernel holds two SAs and in/out/fwd policies; A's outbound key is B's inbound key.
    let ka = pair.a.kernel();
    let kb = pair.b.kernel();
    assert!(
        ka.errors.is_empty() && kb.errors.is_empty(),
        "{:?} {:?}",
        ka.errors,
        kb.errors
    );
    assert_eq!(ka.sas.len(), 2);
    assert_eq!(ka.policies.len(), 3);
    assert!(ka.larval.is_empty());
    let moon: std::net::IpAddr = "192.0.2.1".parse().unwrap();
    let sun: std::net::IpAddr = "192.0.2.2".parse().unwrap();
    let a_out = &ka.sas[&(moon, sun, ca.spi_out)];
    let b_in = &kb.sas[&(moon, sun, cb.spi_in)];
    assert_eq!(a_out, b_in);
    assert_eq!(a_out.len(), 20, "AES-GCM-128 key plus 4-octet salt");
    assert_ne!(
        ka.sas[&(sun, moon, ca.spi_in)],
        *a_out,
        "each direction has its own key"
    );
}

#[test]
fn retransmitted_requests_get_the_cached_response_not_a_second_sa() {
    let mut pair = Pair::demo();
    // Every request from the initiator arrives twice.
    pair.network = Box::new(|t, from_a| {
        let request = Message::parse(&t.payload)
            .map(|m| !m.header.flags.is_response())
            .unwrap_or(false);
        if from_a && request {
            Fate::Duplicate
        } else {
            Fate::Deliver
        }
    });
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(established(&pair.a));
    assert!(established(&pair.b));
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 1);
    assert_eq!(pair.b.kernel().sas.len(), 2, "one CHILD SA, not two");
    assert_eq!(
        pair.b.engine.stats().retransmits_answered,
        2,
        "IKE_SA_INIT and IKE_AUTH duplicates"
    );
    // The initiator drops the duplicate responses as answers to no request.
    assert_eq!(pair.a.engine.stats().dropped_unexpected, 2);
}

#[test]
fn lost_response_is_recovered_by_retransmission() {
    let mut pair = Pair::demo();
    let mut dropped = false;
    pair.network = Box::new(move |t, from_a| {
        let auth_response = Message::parse(&t.payload)
            .map(|m| m.header.exchange == ExchangeType::IKE_AUTH && m.header.flags.is_response())
            .unwrap_or(false);
        if !from_a && auth_response && !dropped {
            dropped = true;
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    pair.initiate_from_a("demo");
    pair.run_for(Duration::from_secs(3));
    assert!(!established(&pair.a));
    assert!(established(&pair.b));
    pair.run_for(Duration::from_secs(2));
    assert!(
        established(&pair.a),
        "retransmitted after 4 s: {:?}",
        pair.a.events
    );
    assert_eq!(pair.a.engine.stats().retransmits_sent, 1);
    assert_eq!(pair.b.kernel().sas.len(), 2);
}

#[test]
fn silent_peer_is_given_up_after_the_retransmission_schedule() {
    let mut pair = Pair::demo();
    pair.network = Box::new(|_, from_a| if from_a { Fate::Drop } else { Fate::Deliver });
    pair.initiate_from_a("demo");
    pair.run_for(Duration::from_secs(164));
    assert_eq!(
        failure_reason(&pair.a),
        None,
        "still trying before 4 * (1 + 1.8 + ... + 1.8^5) s"
    );
    pair.run_for(Duration::from_secs(2));
    let reason = failure_reason(&pair.a).expect("gave up");
    assert!(
        reason.contains("did not answer our IKE_SA_INIT request after 6 transmissions"),
        "{reason}"
    );
    assert_eq!(pair.a.engine.stats().retransmits_sent, 5);
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert!(pair.a.kernel().is_empty());
}

#[test]
fn wrong_psk_fails_on_both_sides_with_a_plain_reason() {
    let mut sun = sun_config();
    sun.connections[0].auth = AuthConfig::Psk(b"another secret".to_vec());
    let mut pair = Pair::new(moon_config(), sun);
    pair.initiate_from_a("demo");
    pair.deliver();

    let responder = failure_reason(&pair.b).expect("sun refused");
    assert!(responder.contains("pre-shared key mismatch"), "{responder}");
    assert!(
        responder.contains("`demo`"),
        "names the connection: {responder}"
    );
    let initiator = failure_reason(&pair.a).expect("moon learned of it");
    assert!(initiator.contains("AUTHENTICATION_FAILED"), "{initiator}");
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    assert!(
        pair.a.kernel().is_empty(),
        "the reserved SPI is released: {:?}",
        pair.a.kernel()
    );
    assert!(pair.b.kernel().is_empty());
}

#[test]
fn no_common_proposal_is_reported_by_the_initiator() {
    let mut sun = sun_config();
    sun.connections[0].ike_proposals[0].encryption = vec![Encryption::AesGcm16 { key_bits: 256 }];
    let mut pair = Pair::new(moon_config(), sun);
    pair.initiate_from_a("demo");
    pair.deliver();
    let reason = failure_reason(&pair.a).expect("failed");
    assert!(reason.contains("NO_PROPOSAL_CHOSEN"), "{reason}");
    assert!(
        reason.contains("#1 AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE25519"),
        "names what we offered: {reason}"
    );
    assert!(
        pair.b.engine.list_sas(pair.now).is_empty(),
        "the responder kept no state"
    );
}

#[test]
fn responder_narrows_traffic_selectors() {
    let mut moon = moon_config();
    moon.connections[0].children[0].remote_ts = vec![cidr("10.0.0.0/8")];
    let mut pair = Pair::new(moon, sun_config());
    pair.initiate_from_a("demo");
    pair.deliver();
    let a = &pair.a.engine.list_sas(pair.now)[0];
    assert_eq!(
        a.children[0].remote_ts,
        vec!["10.2.0.0/24"],
        "narrowed to sun's subnet"
    );
}

#[test]
fn unacceptable_selectors_fail_the_child_but_keep_the_ike_sa() {
    let mut moon = moon_config();
    moon.connections[0].children[0].remote_ts = vec![cidr("172.16.0.0/12")];
    let mut pair = Pair::new(moon, sun_config());
    pair.initiate_from_a("demo");
    pair.deliver();
    let a = &pair.a.engine.list_sas(pair.now)[0];
    assert_eq!(a.state, "ESTABLISHED");
    assert!(a.children.is_empty());
    let reason = pair.a.events.iter().find_map(|e| match e {
        Event::ChildSaFailed { reason, .. } => Some(reason.text.clone()),
        _ => None,
    });
    assert!(reason.unwrap().contains("TS_UNACCEPTABLE"));
    assert!(pair.a.kernel().is_empty(), "reserved SPI released");
    assert!(pair.b.kernel().is_empty());
}

#[test]
fn garbage_and_forgeries_are_dropped_and_service_continues() {
    let mut pair = Pair::demo();
    let (b_addr, a_addr) = (pair.b.addr, pair.a.addr);
    pair.b
        .engine
        .handle_datagram(pair.now, b_addr, a_addr, b"definitely not IKE");
    pair.b
        .engine
        .handle_datagram(pair.now, b_addr, a_addr, &[0u8; 28]);
    assert_eq!(pair.b.engine.stats().dropped_malformed, 2);

    // Flip a bit in the encrypted IKE_AUTH request: B must drop it, not answer it.
    let mut tampered = false;
    pair.network = Box::new(move |t, from_a| {
        let auth = Message::parse(&t.payload)
            .map(|m| m.header.exchange == ExchangeType::IKE_AUTH)
            .unwrap_or(false);
        if from_a && auth && !tampered {
            tampered = true;
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    pair.initiate_from_a("demo");
    pair.deliver();
    let auth_request = pair
        .wire_log
        .iter()
        .find(|(from_a, bytes)| {
            *from_a && Message::parse(bytes).unwrap().header.exchange == ExchangeType::IKE_AUTH
        })
        .unwrap()
        .1
        .clone();
    let mut forged = auth_request.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    pair.b
        .engine
        .handle_datagram(pair.now, b_addr, a_addr, &forged);
    assert_eq!(pair.b.engine.stats().dropped_unauthenticated, 1);
    assert!(!established(&pair.b));
    // The genuine retransmission still gets through.
    pair.run_for(Duration::from_secs(5));
    assert!(established(&pair.a));
    assert!(established(&pair.b));
}

#[test]
fn simulations_are_deterministic() {
    let run = || {
        let mut pair = Pair::demo();
        pair.initiate_from_a("demo");
        pair.deliver();
        pair.wire_log.clone()
    };
    assert_eq!(run(), run());
}

#[test]
fn responder_answers_where_the_request_came_from_when_the_peer_floats_to_4500() {
    // strongSwan moves to port 4500 for IKE_AUTH when MOBIKE is on, NAT or not.
    let mut pair = Pair::demo();
    pair.network = Box::new(|t, from_a| {
        let auth = Message::parse(&t.payload)
            .map(|m| m.header.exchange == ExchangeType::IKE_AUTH)
            .unwrap_or(false);
        if from_a && auth {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    pair.initiate_from_a("demo");
    pair.deliver();
    let auth_request = pair
        .wire_log
        .iter()
        .find(|(from_a, bytes)| {
            *from_a && Message::parse(bytes).unwrap().header.exchange == ExchangeType::IKE_AUTH
        })
        .unwrap()
        .1
        .clone();
    let (b_nat, a_nat) = (
        "192.0.2.2:4500".parse().unwrap(),
        "192.0.2.1:4500".parse().unwrap(),
    );
    pair.b
        .engine
        .handle_datagram(pair.now, b_nat, a_nat, &auth_request);
    let response = pair.b.engine.poll_transmit().expect("IKE_AUTH answered");
    assert_eq!((response.local, response.remote), (b_nat, a_nat));
    let sa = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(
        sa.remote_addr, a_nat,
        "later requests go to the new port too"
    );
}

#[test]
fn one_ike_sa_by_its_id() {
    let mut pair = Pair::demo();
    pair.initiate_from_a("demo");
    pair.deliver();
    let listed = pair.a.engine.list_sas(pair.now);
    let id = listed[0].unique_id;
    assert_eq!(
        pair.a.engine.ike_sa(pair.now, id).as_ref(),
        Some(&listed[0])
    );
    assert_eq!(pair.a.engine.ike_sa(pair.now, id + 100), None);
}

#[test]
fn childless_ike_sas_are_announced_and_come_up_in_both_roles() {
    // RFC 6023: a connection with no children sets up an IKE SA alone.
    for a_initiates in [true, false] {
        let childless = |mut c: tern_engine::config::EngineConfig| {
            c.connections[0].children.clear();
            c
        };
        let (a, b) = if a_initiates {
            (childless(moon_config()), sun_config())
        } else {
            (moon_config(), childless(sun_config()))
        };
        let mut pair = Pair::new(a, b);
        if a_initiates {
            pair.initiate_from_a("demo");
        } else {
            // B initiates: swap roles by sending the command to B.
            pair.b
                .engine
                .handle_command(
                    pair.now,
                    tern_engine::Command::Initiate {
                        connection: "demo".into(),
                    },
                )
                .unwrap();
        }
        pair.deliver();
        for node in [&pair.a, &pair.b] {
            let sas = node.engine.list_sas(pair.now);
            assert_eq!(sas.len(), 1);
            assert_eq!(sas[0].state, "ESTABLISHED", "{:?}", node.events);
            assert!(sas[0].children.is_empty());
            assert!(node.kernel().is_empty());
        }
        // Both IKE_SA_INIT messages said so.
        let inits: Vec<Message> = pair
            .wire_log
            .iter()
            .map(|(_, b)| Message::parse(b).unwrap())
            .filter(|m| m.header.exchange == ExchangeType::IKE_SA_INIT)
            .collect();
        assert_eq!(inits.len(), 2);
        for m in inits {
            assert!(m.payloads.iter().any(|p| matches!(p,
                tern_wire::Payload::Notify(n) if n.notify_type == tern_wire::NotifyType::CHILDLESS_IKEV2_SUPPORTED)));
        }
    }
}

/// A second child for both sides: 10.1.1.0/24 === 10.2.1.0/24.
fn with_second_child(
    mut config: tern_engine::config::EngineConfig,
    local: &str,
    remote: &str,
) -> tern_engine::config::EngineConfig {
    let mut child = config.connections[0].children[0].clone();
    child.name = "net2".into();
    child.local_ts = vec![cidr(local)];
    child.remote_ts = vec![cidr(remote)];
    config.connections[0].children.push(child);
    config
}

#[test]
fn initiating_brings_up_every_child_of_the_connection() {
    let moon = with_second_child(moon_config(), "10.1.1.0/24", "10.2.1.0/24");
    let sun = with_second_child(sun_config(), "10.2.1.0/24", "10.1.1.0/24");
    let mut pair = Pair::new(moon, sun);
    pair.initiate_from_a("demo");
    pair.deliver();

    for node in [&pair.a, &pair.b] {
        let sas = node.engine.list_sas(pair.now);
        assert_eq!(sas.len(), 1, "one IKE SA: {sas:?}");
        let mut names: Vec<_> = sas[0].children.iter().map(|c| c.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["net", "net2"], "both children on the IKE SA");
        assert_eq!(node.kernel().sas.len(), 4, "two ESP SAs per child");
    }
    let a = &pair.a.engine.list_sas(pair.now)[0];
    let net2 = a.children.iter().find(|c| c.name == "net2").unwrap();
    assert_eq!(net2.local_ts, vec!["10.1.1.0/24"]);
    assert_eq!(net2.remote_ts, vec!["10.2.1.0/24"]);
}
