//! Unknown payloads in IKE_SA_INIT (RFC 7296 §2.5, §3.2): skipped without the
//! critical bit, refused with UNSUPPORTED_CRITICAL_PAYLOAD with it.

mod common;

use common::*;
use tern_engine::config::EngineConfig;
use tern_engine::Transmit;
use tern_wire::{ExchangeType, Message, NotifyType, Payload};

/// B answers anyone, and never demands a cookie here.
fn sun_for_anyone() -> EngineConfig {
    let mut config = EngineConfig {
        cookie_threshold: 100,
        ..sun_config()
    };
    config.connections[0].remote_addrs.clear();
    config
}

/// Hands A's IKE_SA_INIT request, with an unknown payload (type 222) added, to
/// B; returns what B answered.
fn init_request_with_unknown(pair: &mut Pair, critical: bool) -> Vec<Transmit> {
    pair.initiate_from_a("demo");
    let request = pair.a.engine.poll_transmit().unwrap().payload;
    let mut message = Message::parse(&request).unwrap();
    message.payloads.push(Payload::Unknown {
        payload_type: tern_wire::PayloadType(222),
        critical,
        body: vec![1, 2, 3, 4],
    });
    let (to, from) = (pair.b.addr, pair.a.addr);
    pair.b
        .engine
        .handle_datagram(pair.now, to, from, &message.to_bytes());
    std::iter::from_fn(|| pair.b.engine.poll_transmit()).collect()
}

#[test]
fn an_unknown_critical_payload_in_ike_sa_init_is_refused() {
    // RFC 7296 §2.5: an unrecognized payload with the critical bit set rejects
    // the message, and the answer says which payload type it was.
    let mut pair = Pair::new(moon_config(), sun_for_anyone());
    let answers = init_request_with_unknown(&mut pair, true);
    assert_eq!(answers.len(), 1, "one answer");
    let answer = Message::parse(&answers[0].payload).unwrap();
    assert_eq!(answer.header.exchange, ExchangeType::IKE_SA_INIT);
    assert!(answer.header.flags.is_response());
    assert_eq!(answer.header.responder_spi, [0; 8], "no SA was made");
    match answer.payloads.as_slice() {
        [Payload::Notify(n)] => {
            assert_eq!(n.notify_type, NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD);
            assert_eq!(n.data, vec![222]);
        }
        other => panic!("not an UNSUPPORTED_CRITICAL_PAYLOAD answer: {other:?}"),
    }
    assert!(pair.b.engine.list_sas(pair.now).is_empty(), "no state kept");

    // Without the critical bit it is skipped, and the exchange goes on.
    let mut pair = Pair::new(moon_config(), sun_for_anyone());
    let answers = init_request_with_unknown(&mut pair, false);
    assert_eq!(answers.len(), 1);
    let answer = Message::parse(&answers[0].payload).unwrap();
    assert!(answer.payloads.iter().any(|p| matches!(p, Payload::Sa(_))));
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 1);
}
