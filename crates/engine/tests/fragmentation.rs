//! IKE fragmentation (RFC 7383) between two engines: large certificate messages go
//! out as SKF fragments no larger than the configured size, and arrive whole
//! through loss, duplication and reordering.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tern_engine::config::{
    AuthConfig, Certificate, Credential, EngineConfig, Fragmentation, Identity, PrivateKey,
    PubkeyAuth,
};
use tern_wire::{ExchangeType, Message, NotifyType, Payload};

macro_rules! fixture {
    ($name:expr) => {
        include_bytes!(concat!("fixtures/certs/", $name))
    };
}

/// RSA-4096 certificates through an intermediate: IKE_AUTH messages of ~3.5 kB.
fn config(moon: bool, fragment_size: u16) -> EngineConfig {
    let mut config = if moon { moon_config() } else { sun_config() };
    let (me, peer, cert, key): (_, _, &[u8], &[u8]) = if moon {
        (
            "moon",
            "sun",
            fixture!("moon-rsa4096.cert.pem"),
            fixture!("moon-rsa4096.key.pem"),
        )
    } else {
        (
            "sun",
            "moon",
            fixture!("sun-rsa4096.cert.pem"),
            fixture!("sun-rsa4096.key.pem"),
        )
    };
    let mut certs = Certificate::from_pem(cert).unwrap();
    certs.extend(Certificate::from_pem(fixture!("int4096.cert.pem")).unwrap());
    let conn = &mut config.connections[0];
    conn.local_id = Identity::Fqdn(format!("{me}.tern.test"));
    conn.remote_id = Some(Identity::Fqdn(format!("{peer}.tern.test")));
    let cacerts = Certificate::from_pem(fixture!("ca4096.cert.pem")).unwrap();
    conn.auth = AuthConfig::Pubkey(Arc::new(PubkeyAuth {
        credentials: vec![Credential::new(
            certs,
            PrivateKey::from_pem(key).unwrap(),
            &cacerts,
        )],
        cacerts,
        crls: Vec::new(),
    }));
    config.fragmentation = Fragmentation {
        enabled: true,
        size_v4: fragment_size,
        size_v6: 1280,
    };
    config
}

fn established(node: &Node) -> bool {
    let sas = node.engine.list_sas(std::time::Instant::now());
    sas.len() == 1 && sas[0].state == "ESTABLISHED" && sas[0].children.len() == 1
}

fn skf(bytes: &[u8]) -> Option<(u16, u16)> {
    match Message::parse(bytes).ok()?.payloads.last()? {
        Payload::EncryptedFragment(f) => Some((f.fragment_number, f.total_fragments)),
        _ => None,
    }
}

/// IP + UDP + non-ESP marker around each IKE message.
const OVERHEAD: usize = 20 + 8 + 4;

#[test]
fn large_ike_auth_messages_go_in_fragments_of_the_configured_size() {
    let mut pair = Pair::new(config(true, 576), config(false, 576));
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(established(&pair.a), "{:?}", pair.a.events);
    assert!(established(&pair.b), "{:?}", pair.b.events);

    let init = Message::parse(&pair.wire_log[0].1).unwrap();
    assert_eq!(init.header.exchange, ExchangeType::IKE_SA_INIT);
    assert!(init.payloads.iter().any(|p| matches!(p,
        Payload::Notify(n) if n.notify_type == NotifyType::IKEV2_FRAGMENTATION_SUPPORTED)));

    let fragments: Vec<(bool, (u16, u16), usize)> = pair
        .wire_log
        .iter()
        .filter_map(|(from_a, bytes)| skf(bytes).map(|f| (*from_a, f, bytes.len())))
        .collect();
    let request = fragments.iter().filter(|f| f.0).count();
    let response = fragments.iter().filter(|f| !f.0).count();
    assert!(request >= 6 && response >= 6, "{fragments:?}");
    for (_, (number, total), len) in &fragments {
        assert!(
            len + OVERHEAD <= 576,
            "fragment {number}/{total}: {len} octets"
        );
    }
    // Everything after IKE_SA_INIT that fits went whole: only IKE_AUTH was split.
    assert_eq!(
        pair.wire_log.len(),
        2 + request + response,
        "no other datagrams"
    );
}

#[test]
fn a_peer_without_fragmentation_gets_whole_messages() {
    let mut sun = config(false, 576);
    sun.fragmentation.enabled = false;
    let mut pair = Pair::new(config(true, 576), sun);
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(established(&pair.a) && established(&pair.b));
    assert!(pair.wire_log.iter().all(|(_, b)| skf(b).is_none()));
    assert!(
        pair.wire_log.iter().any(|(_, b)| b.len() > 3000),
        "IKE_AUTH went as one large datagram"
    );
}

#[test]
fn fragments_reordered_and_duplicated_make_one_sa() {
    let mut pair = Pair::new(config(true, 700), config(false, 700));
    // Every fragment is held back, then all are delivered in reverse order, twice.
    pair.network = Box::new(|t, _| {
        if skf(&t.payload).is_some() {
            Fate::Hold
        } else {
            Fate::Deliver
        }
    });
    pair.initiate_from_a("demo");
    pair.deliver();
    for _ in 0..2 {
        // The request's fragments, then (once it is whole) the response's.
        pair.held.reverse();
        let held = pair.held.clone();
        pair.release_held();
        pair.held = held;
        pair.release_held();
        pair.deliver();
    }
    assert!(established(&pair.a), "{:?}", pair.a.events);
    assert!(established(&pair.b), "{:?}", pair.b.events);
    assert!(pair.a.kernel().errors.is_empty() && pair.b.kernel().errors.is_empty());
    assert_eq!(pair.b.kernel().sas.len(), 2, "one CHILD SA, not two");
}

#[test]
fn lost_fragments_are_recovered_by_retransmission() {
    let mut recovered = 0;
    for seed in 1..=20u64 {
        let mut pair = Pair::new(config(true, 576), config(false, 576));
        // 15 % of all datagrams lost, at random (xorshift, from the seed). Each
        // retransmission resends every fragment; the receiver keeps those it has.
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        pair.network = Box::new(move |_, _| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state % 100 < 15 {
                Fate::Drop
            } else {
                Fate::Deliver
            }
        });
        pair.initiate_from_a("demo");
        pair.run_for(Duration::from_secs(300));
        if pair.a.engine.stats().retransmits_sent > 0 {
            recovered += 1;
        }
        assert!(
            established(&pair.a),
            "seed {seed}: {:?} {:?}",
            pair.a.events,
            pair.b.events
        );
        assert!(established(&pair.b), "seed {seed}: {:?}", pair.b.events);
    }
    assert!(
        recovered >= 10,
        "only {recovered} of 20 runs needed a retransmission"
    );
}

#[test]
fn interleaved_fragmented_request_and_response_both_arrive() {
    // Large CHILD SA rekeys from both sides at once: MODP-4096 key exchange values
    // make each CREATE_CHILD_SA message larger than a 576-octet datagram.
    let modp = |mut c: EngineConfig| {
        c.connections[0].children[0].esp_proposals[0].key_exchange =
            vec![tern_engine::config::KeyExchange::Modp4096];
        c
    };
    let mut pair = Pair::new(modp(config(true, 576)), modp(config(false, 576)));
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(established(&pair.a) && established(&pair.b));
    let sent_before = pair.wire_log.len();
    // Both rekey; hold everything so the two exchanges' fragments cross, then
    // deliver them interleaved.
    pair.network = Box::new(|_, _| Fate::Hold);
    for node in [&mut pair.a, &mut pair.b] {
        node.rekey(pair.now, "demo");
    }
    pair.deliver();
    let (request_a, request_b): (Vec<_>, Vec<_>) = pair.held.drain(..).partition(|(a, _)| *a);
    assert!(
        request_a.len() > 1 && request_b.len() > 1,
        "the rekey requests were fragmented"
    );
    // B gets A's request whole and answers it (held); A then gets B's request and
    // B's response, fragment by fragment, interleaved.
    pair.held = request_a;
    pair.release_held();
    pair.deliver();
    let response_b: Vec<_> = pair.held.drain(..).collect();
    assert!(response_b.len() > 1, "the response was fragmented");
    let (mut rb, mut sb) = (request_b.into_iter(), response_b.into_iter());
    loop {
        match (rb.next(), sb.next()) {
            (None, None) => break,
            (r, s) => pair.held.extend(r.into_iter().chain(s)),
        }
    }
    pair.network = Box::new(|_, _| Fate::Deliver);
    pair.release_held();
    pair.network = Box::new(|_, _| Fate::Deliver);
    pair.run_for(Duration::from_secs(30));
    assert!(pair.wire_log.len() > sent_before);
    assert_eq!(
        pair.a.engine.stats().retransmits_sent,
        0,
        "nothing needed resending"
    );
    for node in [&pair.a, &pair.b] {
        let sas = node.engine.list_sas(pair.now);
        assert_eq!(sas.len(), 1);
        assert_eq!(sas[0].children.len(), 1, "{:?}", node.events);
        assert!(
            node.kernel().errors.is_empty(),
            "{:?}",
            node.kernel().errors
        );
    }
    let rekeyed = |node: &Node| {
        node.events
            .iter()
            .filter(|e| matches!(e, tern_engine::Event::ChildSaInstalled { .. }))
            .count()
    };
    assert!(rekeyed(&pair.a) >= 2 && rekeyed(&pair.b) >= 2);
}
