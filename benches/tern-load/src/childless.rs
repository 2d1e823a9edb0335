//! Childless IKE SAs (RFC 6023) as a load: the checks tern-load makes of the
//! responder's answers when it sets up IKE SAs without a CHILD SA.
//!
//! RFC 6023 §3: the responder says in its IKE_SA_INIT response that it
//! accepts an IKE_AUTH without SA and TS payloads (N(CHILDLESS_IKEV2_SUPPORTED)),
//! and the IKE SA it then sets up has no CHILD SA. A responder that does not
//! say so, or that makes a CHILD SA anyway, has not done the work measured.

use std::time::Instant;

use tern_engine::Engine;
use tern_wire::{ExchangeType, Header, Message, NotifyType, Payload};

/// Whether `datagram` (IKE, without the non-ESP marker) is an IKE_SA_INIT
/// response that completes the exchange (it carries the responder's SA payload),
/// and if so whether it announces CHILDLESS_IKEV2_SUPPORTED. `None` for any
/// other message, including a COOKIE or INVALID_KE_PAYLOAD answer, which the
/// engine handles by sending IKE_SA_INIT again.
pub fn init_response_announces_childless(datagram: &[u8]) -> Option<bool> {
    // Only the header of most datagrams is read: IKE_AUTH is encrypted anyway.
    let header = Header::parse(datagram).ok()?;
    if header.exchange != ExchangeType::IKE_SA_INIT || !header.flags.is_response() {
        return None;
    }
    let message = Message::parse(datagram).ok()?;
    if !message.payloads.iter().any(|p| matches!(p, Payload::Sa(_))) {
        return None;
    }
    Some(message.payloads.iter().any(|p| {
        matches!(p, Payload::Notify(n) if n.notify_type == NotifyType::CHILDLESS_IKEV2_SUPPORTED)
    }))
}

/// Why the responder's IKE_SA_INIT response fails a childless load.
pub const NOT_ANNOUNCED: &str =
    "the responder's IKE_SA_INIT response lacks CHILDLESS_IKEV2_SUPPORTED (RFC 6023 §3)";

/// An initiator engine that reported its IKE SA established: it must hold
/// that one IKE SA, established, with no CHILD SA.
pub fn judge_established(engine: &Engine, now: Instant) -> Result<(), String> {
    let sas = engine.list_sas(now);
    match sas.as_slice() {
        [sa] if sa.state == "ESTABLISHED" && sa.children.is_empty() => Ok(()),
        [sa] if sa.state == "ESTABLISHED" => Err(format!(
            "the childless IKE SA has {} CHILD SA(s)",
            sa.children.len()
        )),
        [sa] => Err(format!("the IKE SA is {}, not ESTABLISHED", sa.state)),
        _ => Err(format!(
            "the initiator holds {} IKE SAs, not one",
            sas.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_wire::{
        Flags, NotifyPayload as Notify, Proposal, ProtocolId, SaPayload, Transform, TransformType,
    };

    fn message(exchange: ExchangeType, flags: Flags, payloads: Vec<Payload>) -> Vec<u8> {
        Message {
            header: Header::new([1; 8], [2; 8], exchange, flags, 0),
            payloads,
        }
        .to_bytes()
    }

    fn notify(t: NotifyType) -> Payload {
        Payload::Notify(Notify::new(t, Vec::new()))
    }

    /// The responder's chosen IKE proposal (only its presence is looked at).
    fn sa() -> Payload {
        Payload::Sa(SaPayload {
            proposals: vec![Proposal {
                number: 1,
                protocol: ProtocolId::IKE,
                spi: Vec::new(),
                transforms: vec![Transform::new(TransformType::PRF, 5)],
            }],
        })
    }

    #[test]
    fn an_init_response_is_judged_by_its_childless_notify() {
        let with = message(
            ExchangeType::IKE_SA_INIT,
            Flags::response(false),
            vec![sa(), notify(NotifyType::CHILDLESS_IKEV2_SUPPORTED)],
        );
        let without = message(
            ExchangeType::IKE_SA_INIT,
            Flags::response(false),
            vec![sa(), notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED)],
        );
        assert_eq!(init_response_announces_childless(&with), Some(true));
        assert_eq!(init_response_announces_childless(&without), Some(false));
    }

    #[test]
    fn other_messages_are_not_judged() {
        // A cookie demand: the exchange starts again, nothing to judge yet.
        let cookie = message(
            ExchangeType::IKE_SA_INIT,
            Flags::response(false),
            vec![Payload::Notify(Notify::new(
                NotifyType::COOKIE,
                vec![7; 16],
            ))],
        );
        let request = message(
            ExchangeType::IKE_SA_INIT,
            Flags::request(true),
            vec![sa(), notify(NotifyType::CHILDLESS_IKEV2_SUPPORTED)],
        );
        let informational = message(ExchangeType::INFORMATIONAL, Flags::response(false), vec![]);
        assert_eq!(init_response_announces_childless(&cookie), None);
        assert_eq!(init_response_announces_childless(&request), None);
        assert_eq!(init_response_announces_childless(&informational), None);
        assert_eq!(init_response_announces_childless(b"garbage"), None);
    }
}
