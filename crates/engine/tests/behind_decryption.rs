//! The fuzzing hook (feature `fuzzing`): payload chains handed to an IKE SA as if
//! they had been decrypted reach the same handlers real messages do. Findings of
//! the `behind_decryption` fuzz target (fuzz/) become tests here.

mod common;

use common::*;
use tern_engine::Event;
use tern_wire::{DeletePayload, ExchangeType, Payload, ProtocolId};

fn up() -> Pair {
    let mut pair = Pair::demo();
    pair.initiate_from_a("demo");
    pair.deliver();
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 1);
    pair
}

#[test]
fn a_delete_handed_over_ends_the_ike_sa_as_a_real_one_would() {
    let mut pair = up();
    let id = pair.b.engine.fuzz_ike_sa_ids()[0];
    let delete = Payload::Delete(DeletePayload {
        protocol: ProtocolId::IKE,
        spi_size: 0,
        spis: Vec::new(),
    });
    let now = pair.now;
    assert!(pair.b.engine.fuzz_deliver_decrypted(
        now,
        id,
        ExchangeType::INFORMATIONAL,
        false,
        vec![delete]
    ));
    while let Some(e) = pair.b.engine.poll_event() {
        pair.b.events.push(e);
    }
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    assert!(pair
        .b
        .events
        .iter()
        .any(|e| matches!(e, Event::IkeSaDeleted { .. })));
    // The answer went out, encrypted, to the peer, which knows it for a response.
    assert!(pair.b.engine.poll_transmit().is_some());
}

#[test]
fn a_response_with_no_request_in_flight_is_refused() {
    let mut pair = up();
    let id = pair.a.engine.fuzz_ike_sa_ids()[0];
    let now = pair.now;
    assert!(!pair.a.engine.fuzz_deliver_decrypted(
        now,
        id,
        ExchangeType::INFORMATIONAL,
        true,
        Vec::new()
    ));
    assert_eq!(pair.a.engine.list_sas(pair.now).len(), 1);
    assert!(!pair.a.engine.fuzz_deliver_decrypted(
        now,
        id + 1000,
        ExchangeType::INFORMATIONAL,
        false,
        Vec::new()
    ));
}

/// Fuzz finding (crash-aabe7163): the hook handed a chain to an IKE SA still
/// waiting for its IKE_SA_INIT response, which has no keys to answer with; no
/// message could have decrypted for it, so the hook refuses, as `open` would.
#[test]
fn an_ike_sa_without_keys_gets_nothing() {
    let mut pair = up();
    let now = pair.now;
    let before = pair.a.engine.fuzz_ike_sa_ids();
    pair.a
        .engine
        .handle_command(
            now,
            tern_engine::Command::Initiate {
                connection: "demo".into(),
            },
        )
        .expect("initiate");
    // The new IKE SA (IKE_SA_INIT sent, not answered) is not offered...
    assert_eq!(pair.a.engine.fuzz_ike_sa_ids(), before);
    let half_open = pair
        .a
        .engine
        .list_sas(now)
        .into_iter()
        .map(|sa| sa.unique_id)
        .find(|id| !before.contains(id))
        .expect("the new IKE SA");
    // ...and a chain for it is refused, not answered.
    assert!(!pair.a.engine.fuzz_deliver_decrypted(
        now,
        half_open,
        ExchangeType::INFORMATIONAL,
        false,
        Vec::new()
    ));
}
