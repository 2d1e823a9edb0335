//! IKE_SA_INIT cookies (RFC 7296 §2.6): a responder with too many half-open IKE
//! SAs demands a COOKIE and keeps no state; an initiator retries with it.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tern_engine::config::EngineConfig;
use tern_engine::Transmit;
use tern_wire::{ExchangeType, Message, NotifyType, Payload};

/// B answers anyone (a road-warrior responder), with the given cookie threshold.
fn sun_with_threshold(threshold: u32) -> EngineConfig {
    let mut config = EngineConfig {
        cookie_threshold: threshold,
        ..sun_config()
    };
    config.connections[0].remote_addrs.clear();
    config
}

/// The COOKIE notify's data if `bytes` is an IKE_SA_INIT answer that demands one.
fn cookie_demand(bytes: &[u8]) -> Option<Vec<u8>> {
    let message = Message::parse(bytes).unwrap();
    if message.header.exchange != ExchangeType::IKE_SA_INIT || !message.header.flags.is_response() {
        return None;
    }
    match message.payloads.as_slice() {
        [Payload::Notify(n)] if n.notify_type == NotifyType::COOKIE => Some(n.data.clone()),
        _ => None,
    }
}

fn first_payload_is_cookie(bytes: &[u8]) -> bool {
    let message = Message::parse(bytes).unwrap();
    matches!(message.payloads.first(), Some(Payload::Notify(n)) if n.notify_type == NotifyType::COOKIE)
}

/// A's first IKE_SA_INIT request, captured without delivering it.
fn captured_init_request(pair: &mut Pair) -> Vec<u8> {
    pair.initiate_from_a("demo");
    pair.a.engine.poll_transmit().unwrap().payload
}

/// Hands `bytes` to B as if sent from `from`, and returns what B answered.
fn inject_into_b(pair: &mut Pair, from: SocketAddr, bytes: &[u8]) -> Vec<Transmit> {
    let to = pair.b.addr;
    pair.b.engine.handle_datagram(pair.now, to, from, bytes);
    std::iter::from_fn(|| pair.b.engine.poll_transmit()).collect()
}

fn spoofed(n: u8) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, n], 500))
}

#[test]
fn initiator_retries_with_the_cookie_and_the_tunnel_comes_up() {
    let mut pair = Pair::new(moon_config(), sun_with_threshold(0));
    pair.initiate_from_a("demo");
    pair.deliver();

    let sas = pair.a.engine.list_sas(pair.now);
    assert_eq!(sas.len(), 1);
    assert_eq!(sas[0].state, "ESTABLISHED", "{:?}", pair.a.events);
    assert_eq!(pair.a.kernel().sas.len(), 2);
    assert_eq!(pair.b.kernel().sas.len(), 2);
    assert_eq!(pair.b.engine.stats().cookies_demanded, 1);

    // On the wire: request, COOKIE demand, the request again led by the cookie.
    let (from_a0, first) = &pair.wire_log[0];
    let (from_a1, demand) = &pair.wire_log[1];
    let (from_a2, retry) = &pair.wire_log[2];
    assert!(*from_a0 && !*from_a1 && *from_a2);
    assert!(!first_payload_is_cookie(first));
    let cookie = cookie_demand(demand).expect("B demands a cookie");
    assert!(first_payload_is_cookie(retry));
    let echoed = match &Message::parse(retry).unwrap().payloads[0] {
        Payload::Notify(n) => n.data.clone(),
        _ => unreachable!(),
    };
    assert_eq!(echoed, cookie);
}

#[test]
fn below_the_threshold_no_cookie_is_demanded() {
    let mut pair = Pair::demo();
    pair.initiate_from_a("demo");
    pair.deliver();
    assert_eq!(pair.b.engine.stats().cookies_demanded, 0);
    assert!(pair
        .wire_log
        .iter()
        .all(|(_, b)| cookie_demand(b).is_none()));
    assert_eq!(pair.b.engine.list_sas(pair.now)[0].state, "ESTABLISHED");
}

#[test]
fn a_flood_of_half_open_sas_makes_newcomers_prove_their_address() {
    let mut pair = Pair::new(moon_config(), sun_with_threshold(3));
    let request = captured_init_request(&mut pair);

    // Three spoofed initiators (same request, other addresses) fill the half-open quota.
    for n in 1..=3 {
        let answers = inject_into_b(&mut pair, spoofed(n), &request);
        assert_eq!(answers.len(), 1);
        assert!(
            cookie_demand(&answers[0].payload).is_none(),
            "spoofer {n} answered in full"
        );
    }
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 3);

    // The fourth gets only a cookie, and B keeps no state for it.
    let answers = inject_into_b(&mut pair, spoofed(4), &request);
    assert_eq!(answers.len(), 1);
    assert!(cookie_demand(&answers[0].payload).is_some());
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 3);

    // A cookie made for someone else does not open the door either.
    let stolen = cookie_demand(&answers[0].payload).unwrap();
    let mut forged = Message::parse(&request).unwrap();
    forged.payloads.insert(
        0,
        Payload::Notify(tern_wire::NotifyPayload {
            protocol: tern_wire::ProtocolId(0),
            spi: Vec::new(),
            notify_type: NotifyType::COOKIE,
            data: stolen,
        }),
    );
    let answers = inject_into_b(&mut pair, spoofed(5), &forged.to_bytes());
    assert!(cookie_demand(&answers[0].payload).is_some());
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 3);
    assert_eq!(pair.b.engine.stats().cookies_demanded, 2);

    // The real initiator, which can receive at its address, gets through (its
    // first request was captured above; its retransmission is what arrives).
    pair.run_for(Duration::from_secs(5));
    let established = pair
        .b
        .engine
        .list_sas(pair.now)
        .into_iter()
        .filter(|sa| sa.state == "ESTABLISHED")
        .count();
    assert_eq!(established, 1);
    assert_eq!(pair.a.kernel().sas.len(), 2);
    assert_eq!(pair.b.engine.stats().cookies_demanded, 3);
}

#[test]
fn once_the_half_open_sas_time_out_cookies_are_no_longer_demanded() {
    let mut pair = Pair::new(moon_config(), sun_with_threshold(2));
    let request = captured_init_request(&mut pair);
    for n in 1..=2 {
        inject_into_b(&mut pair, spoofed(n), &request);
    }
    assert!(cookie_demand(&inject_into_b(&mut pair, spoofed(3), &request)[0].payload).is_some());

    // Half-open SAs are dropped when no IKE_AUTH came within the retransmission
    // schedule (165 s by default). (A's own request is still unanswered in its
    // queue; drop A's retransmissions meanwhile.)
    pair.network = Box::new(|_, _| Fate::Drop);
    pair.run_for(Duration::from_secs(160));
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 2, "not yet");
    pair.run_for(Duration::from_secs(6));
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    let answers = inject_into_b(&mut pair, spoofed(4), &request);
    assert!(cookie_demand(&answers[0].payload).is_none());
}
