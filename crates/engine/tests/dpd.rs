//! Dead peer detection: liveness checks only after silence, dead peers cleared
//! after the retransmission schedule.

mod common;

use std::time::Duration;

use common::*;
use tern_engine::config::EngineConfig;
use tern_engine::Event;
use tern_wire::{ExchangeType, Message};

const DELAY: Duration = Duration::from_secs(30);

/// The demo pair with dpd_delay set on A and on B.
fn pair_with_dpd(a_delay: Duration, b_delay: Duration) -> Pair {
    let with = |mut config: EngineConfig, delay| {
        config.connections[0].dpd_delay = delay;
        config
    };
    Pair::new(with(moon_config(), a_delay), with(sun_config(), b_delay))
}

fn up(mut pair: Pair) -> Pair {
    pair.initiate_from_a("demo");
    pair.deliver();
    assert_eq!(pair.a.kernel().sas.len(), 2);
    assert_eq!(pair.b.kernel().sas.len(), 2);
    pair
}

/// INFORMATIONAL requests sent by A (liveness checks, here) so far.
fn informational_requests_from_a(pair: &Pair) -> usize {
    pair.wire_log
        .iter()
        .filter(|(from_a, bytes)| {
            let header = Message::parse(bytes).unwrap().header;
            *from_a && header.exchange == ExchangeType::INFORMATIONAL && !header.flags.is_response()
        })
        .count()
}

fn informational_responses_from_b(pair: &Pair) -> usize {
    pair.wire_log
        .iter()
        .filter(|(from_a, bytes)| {
            let header = Message::parse(bytes).unwrap().header;
            !*from_a && header.exchange == ExchangeType::INFORMATIONAL && header.flags.is_response()
        })
        .count()
}

#[test]
fn no_liveness_checks_while_esp_traffic_arrives() {
    let mut pair = up(pair_with_dpd(DELAY, Duration::ZERO));
    for _ in 0..60 {
        pair.a.receive_esp(1400);
        pair.run_for(Duration::from_secs(10));
    }
    assert_eq!(pair.a.engine.stats().dpd_checks_sent, 0);
    assert_eq!(informational_requests_from_a(&pair), 0);

    // The traffic stops: the peer is checked once it has been silent for dpd_delay.
    pair.run_for(2 * DELAY);
    assert!(pair.a.engine.stats().dpd_checks_sent >= 1);
    assert!(informational_requests_from_a(&pair) >= 1);
}

#[test]
fn liveness_check_after_dpd_delay_of_silence() {
    let mut pair = up(pair_with_dpd(DELAY, Duration::ZERO));
    pair.run_for(DELAY - Duration::from_secs(1));
    assert_eq!(informational_requests_from_a(&pair), 0, "too early");
    pair.run_for(Duration::from_secs(2));
    assert_eq!(informational_requests_from_a(&pair), 1);
    assert_eq!(informational_responses_from_b(&pair), 1, "B answers it");
    assert_eq!(pair.a.engine.stats().dpd_checks_sent, 1);

    // The answer counts as hearing from the peer: the next check comes a full
    // dpd_delay later, and the tunnel stays up.
    pair.run_for(DELAY - Duration::from_secs(2));
    assert_eq!(informational_requests_from_a(&pair), 1);
    pair.run_for(Duration::from_secs(2));
    assert_eq!(informational_requests_from_a(&pair), 2);
    assert_eq!(pair.a.engine.list_sas(pair.now).len(), 1);
    assert_eq!(pair.a.kernel().sas.len(), 2);
    assert_eq!(pair.b.engine.stats().dpd_checks_sent, 0, "B has DPD off");
}

#[test]
fn requests_from_the_peer_count_as_signs_of_life() {
    // B checks every 10 s, so A always heard from it recently and never checks.
    let mut pair = up(pair_with_dpd(DELAY, Duration::from_secs(10)));
    pair.run_for(Duration::from_secs(300));
    assert!(pair.b.engine.stats().dpd_checks_sent >= 25);
    assert_eq!(pair.a.engine.stats().dpd_checks_sent, 0);
}

#[test]
fn dead_peer_is_cleared_after_the_retransmit_schedule() {
    let mut pair = up(pair_with_dpd(DELAY, Duration::ZERO));
    pair.network = Box::new(|_, _| Fate::Drop);
    // The check goes out after 30 s; with the default schedule (4 s, x1.8, 5
    // retransmits) the peer is given up about 165 s later.
    pair.run_for(DELAY + Duration::from_secs(160));
    assert_eq!(pair.a.engine.list_sas(pair.now).len(), 1, "not yet");
    assert_eq!(
        informational_requests_from_a(&pair),
        6,
        "sent and retransmitted"
    );
    pair.run_for(Duration::from_secs(10));

    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    let k = pair.a.kernel();
    assert!(k.is_empty(), "kernel state left: {k:?}");
    assert!(k.errors.is_empty(), "{:?}", k.errors);
    drop(k);
    let ike_reason = pair
        .a
        .events
        .iter()
        .find_map(|e| match e {
            Event::IkeSaDeleted { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .expect("IKE SA deleted");
    assert!(
        ike_reason.text.starts_with("dead peer (DPD timeout)"),
        "{ike_reason}"
    );
    assert_eq!(ike_reason.kind, tern_engine::EndKind::DeadPeer);
    let child_reason = pair
        .a
        .events
        .iter()
        .find_map(|e| match e {
            Event::ChildSaDeleted { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .expect("CHILD SA deleted");
    assert!(
        child_reason.text.starts_with("dead peer (DPD timeout)"),
        "{child_reason}"
    );
    assert_eq!(child_reason.kind, tern_engine::EndKind::DeadPeer);
    assert_eq!(pair.a.engine.stats().dead_peers, 1);
    assert_eq!(pair.a.engine.stats().dpd_checks_sent, 1);
    assert_eq!(pair.a.engine.stats().restarts, 0, "dpd_action = clear");
    // Nothing more happens: clear does not bring anything back.
    pair.run_for(Duration::from_secs(3600));
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert!(pair.a.engine.poll_timeout().is_none());
}

/// The liveness decision reads the kernel's counter of the inbound SA through an
/// output (the engine does no I/O); until it is answered, no check goes out. A
/// caller that never answers delays the decision by a second, then it is taken
/// as if the kernel could not tell.
#[test]
fn the_liveness_decision_asks_for_the_counters_and_waits_a_second_at_most() {
    let mut pair = up(pair_with_dpd(DELAY, Duration::ZERO));
    let us = pair.a.addr.ip();
    let inbound: Vec<_> = pair
        .a
        .kernel()
        .sas
        .keys()
        .filter(|(_, dst, _)| *dst == us)
        .copied()
        .collect();
    assert_eq!(inbound.len(), 1);
    let (peer, _, spi_in) = inbound[0];

    pair.now += DELAY;
    pair.a.engine.handle_timeout(pair.now);
    let reads: Vec<_> = std::iter::from_fn(|| pair.a.engine.poll_counter_read()).collect();
    assert_eq!(
        reads,
        [tern_engine::CounterRead {
            src: peer,
            dst: us,
            spi: spi_in
        }]
    );
    assert!(
        pair.a.engine.poll_transmit().is_none(),
        "waits for the answer"
    );

    pair.run_for(Duration::from_millis(999));
    assert_eq!(informational_requests_from_a(&pair), 0);
    pair.run_for(Duration::from_millis(2));
    assert_eq!(informational_requests_from_a(&pair), 1);
    assert_eq!(pair.a.engine.stats().dpd_checks_sent, 1);
}
