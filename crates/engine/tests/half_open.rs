//! Half-open IKE SAs bounded per address and in all (strongSwan's
//! `block_threshold` and `init_limit_half_open`), cookies first: a flood of
//! IKE_SA_INITs is refused by count, and a legitimate peer still connects.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tern_engine::config::EngineConfig;
use tern_engine::Transmit;
use tern_wire::{ExchangeType, Message, NotifyType, Payload};

/// B answers anyone, with these limits.
fn sun_limited(cookie_threshold: u32, per_address: u32, limit: u32) -> EngineConfig {
    let mut config = EngineConfig {
        cookie_threshold,
        half_open_per_address: per_address,
        half_open_limit: limit,
        ..sun_config()
    };
    config.connections[0].remote_addrs.clear();
    config
}

/// A valid IKE_SA_INIT request for B's connection (made by a throwaway moon).
fn an_init_request() -> Message {
    let mut other = Pair::new(moon_config(), sun_config());
    other.initiate_from_a("demo");
    Message::parse(&other.a.engine.poll_transmit().unwrap().payload).unwrap()
}

fn attacker(n: u8) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, n], 500))
}

fn cookie_demand(answer: &Transmit) -> Option<Vec<u8>> {
    match Message::parse(&answer.payload).unwrap().payloads.as_slice() {
        [Payload::Notify(n)] if n.notify_type == NotifyType::COOKIE => Some(n.data.clone()),
        _ => None,
    }
}

fn is_full_answer(answer: &Transmit) -> bool {
    let message = Message::parse(&answer.payload).unwrap();
    message.header.exchange == ExchangeType::IKE_SA_INIT
        && message.payloads.iter().any(|p| matches!(p, Payload::Sa(_)))
}

/// An initiator at `from` (one that receives there, so it returns cookies)
/// sends IKE_SA_INIT with its own SPI `n`. Returns B's last answer, if any.
fn init_from(pair: &mut Pair, request: &Message, from: SocketAddr, n: u16) -> Option<Transmit> {
    let mut request = request.clone();
    request.header.initiator_spi = [0x5a, 0xa5, 0, 0, 0, 0, (n >> 8) as u8, n as u8];
    let to = pair.b.addr;
    let send = |pair: &mut Pair, bytes: Vec<u8>| {
        pair.b.engine.handle_datagram(pair.now, to, from, &bytes);
        let answers: Vec<Transmit> = std::iter::from_fn(|| pair.b.engine.poll_transmit()).collect();
        assert!(answers.len() <= 1, "{answers:?}");
        answers.into_iter().next()
    };
    let answer = send(pair, request.to_bytes())?;
    let Some(cookie) = cookie_demand(&answer) else {
        return Some(answer);
    };
    request.payloads.insert(
        0,
        Payload::Notify(tern_wire::NotifyPayload::new(NotifyType::COOKIE, cookie)),
    );
    send(pair, request.to_bytes())
}

#[test]
fn one_address_gets_its_quota_and_no_more() {
    let mut pair = Pair::new(moon_config(), sun_limited(100, 3, 1_000));
    let request = an_init_request();
    let answered = (0..10)
        .filter_map(|n| init_from(&mut pair, &request, attacker(1), n))
        .filter(is_full_answer)
        .count();
    assert_eq!(answered, 3);
    let stats = pair.b.engine.stats();
    assert_eq!(stats.half_open_refused_per_address, 7);
    assert_eq!(stats.half_open_refused_limit, 0);
    assert_eq!(pair.b.engine.half_open(), 3);

    // Another address has a quota of its own.
    assert!(is_full_answer(
        &init_from(&mut pair, &request, attacker(2), 100).unwrap()
    ));

    // The real peer connects meanwhile.
    pair.initiate_from_a("demo");
    pair.deliver();
    let established = pair
        .b
        .engine
        .list_sas(pair.now)
        .into_iter()
        .filter(|sa| sa.state == "ESTABLISHED")
        .count();
    assert_eq!(established, 1);
}

#[test]
fn the_overall_limit_holds_across_addresses() {
    let mut pair = Pair::new(moon_config(), sun_limited(100, 2, 5));
    let request = an_init_request();
    let answered = (0..20u8)
        .filter_map(|n| init_from(&mut pair, &request, attacker(n), u16::from(n)))
        .filter(is_full_answer)
        .count();
    assert_eq!(answered, 5);
    assert_eq!(pair.b.engine.stats().half_open_refused_limit, 15);
    assert_eq!(pair.b.engine.half_open(), 5);
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 5, "state bounded");

    // Once they time out (no IKE_AUTH came), the state is gone and newcomers
    // get in again.
    // B alone: what it sends the attackers meanwhile goes nowhere.
    pair.now += Duration::from_secs(170);
    pair.b.engine.handle_timeout(pair.now);
    while pair.b.engine.poll_transmit().is_some() {}
    assert_eq!(pair.b.engine.half_open(), 0);
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    assert!(is_full_answer(
        &init_from(&mut pair, &request, attacker(99), 999).unwrap()
    ));
}

#[test]
fn cookies_come_first_then_the_per_address_limit() {
    // Past 2 half-open SAs every newcomer must return a cookie; an address that
    // does (it receives there) is then held to 3.
    let mut pair = Pair::new(moon_config(), sun_limited(2, 3, 1_000));
    let request = an_init_request();
    let answered = (0..8)
        .filter_map(|n| init_from(&mut pair, &request, attacker(1), n))
        .filter(is_full_answer)
        .count();
    assert_eq!(answered, 3);
    let stats = pair.b.engine.stats();
    // Requests 3 to 8 were asked for a cookie; 4 to 8 brought one and were refused.
    assert_eq!(stats.cookies_demanded, 6);
    assert_eq!(stats.half_open_refused_per_address, 5);

    // Spoofed addresses never return the cookie: asked, never counted.
    let mut spoofed = request.clone();
    spoofed.header.initiator_spi = [7; 8];
    let to = pair.b.addr;
    pair.b
        .engine
        .handle_datagram(pair.now, to, attacker(50), &spoofed.to_bytes());
    let answer = pair.b.engine.poll_transmit().unwrap();
    assert!(cookie_demand(&answer).is_some());
    assert_eq!(pair.b.engine.half_open(), 3);

    // The real peer returns its cookie and connects.
    pair.initiate_from_a("demo");
    pair.deliver();
    assert_eq!(
        pair.a.engine.list_sas(pair.now)[0].state,
        "ESTABLISHED",
        "{:?}",
        pair.a.events
    );
}
