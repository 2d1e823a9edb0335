//! Real messages from strongSwan 5.9.8 (see fixtures/README.md for the capture):
//! parsed, checked field by field, written back byte for byte; and every prefix and
//! every single-byte corruption of each gives an error or a valid message.

mod common;

use common::hex;
use tern_wire::*;

struct Fixture {
    name: &'static str,
    bytes: Vec<u8>,
}

macro_rules! fixture {
    ($name:literal) => {
        Fixture {
            name: $name,
            bytes: hex(include_str!(concat!("fixtures/", $name, ".hex"))),
        }
    };
}

fn fixtures() -> Vec<Fixture> {
    vec![
        fixture!("ike_sa_init_request"),
        fixture!("ike_sa_init_response"),
        fixture!("ike_auth_request"),
        fixture!("ike_auth_response"),
        fixture!("create_child_sa_rekey_child_request"),
        fixture!("create_child_sa_rekey_child_response"),
        fixture!("informational_delete_child_request"),
        fixture!("informational_delete_child_response"),
        fixture!("create_child_sa_rekey_ike_request"),
        fixture!("create_child_sa_rekey_ike_response"),
        fixture!("informational_delete_ike_request"),
        fixture!("informational_delete_ike_response"),
    ]
}

fn parse(name: &str) -> (Vec<u8>, Message) {
    let fixture = fixtures()
        .into_iter()
        .find(|f| f.name == name)
        .expect("fixture exists");
    let message = Message::parse(&fixture.bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    (fixture.bytes, message)
}

fn notify_types(message: &Message) -> Vec<NotifyType> {
    message
        .payloads
        .iter()
        .filter_map(|p| match p {
            Payload::Notify(n) => Some(n.notify_type),
            _ => None,
        })
        .collect()
}

fn transforms(proposal: &Proposal, transform_type: TransformType) -> Vec<(u16, Option<u16>)> {
    proposal
        .transforms
        .iter()
        .filter(|t| t.transform_type == transform_type)
        .map(|t| (t.id, t.key_length()))
        .collect()
}

#[test]
fn every_fixture_writes_back_byte_for_byte() {
    for fixture in fixtures() {
        let message =
            Message::parse(&fixture.bytes).unwrap_or_else(|e| panic!("{}: {e}", fixture.name));
        assert_eq!(message.to_bytes(), fixture.bytes, "{}", fixture.name);
        assert_eq!(message.header.length as usize, fixture.bytes.len());
    }
}

#[test]
fn ike_sa_init_request_with_strongswans_default_proposals() {
    let (_, m) = parse("ike_sa_init_request");
    assert_eq!(m.header.exchange, ExchangeType::IKE_SA_INIT);
    assert!(m.header.flags.is_initiator() && m.header.flags.is_request());
    assert_eq!(m.header.message_id, 0);
    assert_eq!(m.header.responder_spi, [0; 8]);
    assert_eq!(
        m.header.initiator_spi,
        [0xa3, 0xa4, 0xd9, 0xae, 0x5f, 0x8d, 0xf9, 0x33]
    );
    let types: Vec<PayloadType> = m.payloads.iter().map(Payload::payload_type).collect();
    use PayloadType as P;
    assert_eq!(
        types,
        [
            P::SA,
            P::KE,
            P::NONCE,
            P::NOTIFY,
            P::NOTIFY,
            P::NOTIFY,
            P::NOTIFY,
            P::NOTIFY
        ]
    );

    let Payload::Sa(sa) = &m.payloads[0] else {
        panic!("SA first")
    };
    assert_eq!(sa.proposals.len(), 2);
    let (cbc, aead) = (&sa.proposals[0], &sa.proposals[1]);
    assert_eq!(
        (cbc.number, cbc.protocol, cbc.spi.len()),
        (1, ProtocolId::IKE, 0)
    );
    assert_eq!((cbc.transforms.len(), aead.transforms.len()), (34, 36));
    let aes_cbc = EncrId::AES_CBC.0;
    assert_eq!(
        transforms(cbc, TransformType::ENCR)[..3],
        [
            (aes_cbc, Some(128)),
            (aes_cbc, Some(192)),
            (aes_cbc, Some(256))
        ]
    );
    assert_eq!(
        transforms(cbc, TransformType::INTEG),
        [
            (IntegId::HMAC_SHA2_256_128.0, None),
            (IntegId::HMAC_SHA2_384_192.0, None),
            (IntegId::HMAC_SHA2_512_256.0, None),
            (IntegId::HMAC_SHA1_96.0, None),
        ]
    );
    assert_eq!(
        transforms(aead, TransformType::KE)[..3],
        [
            (KeMethod::CURVE25519.0, None),
            (KeMethod::CURVE448.0, None),
            (KeMethod::ECP_256.0, None)
        ]
    );
    assert!(transforms(aead, TransformType::INTEG).is_empty());
    assert_eq!(
        transforms(aead, TransformType::ENCR)[0],
        (EncrId::AES_GCM_16.0, Some(128))
    );

    let Payload::Ke(ke) = &m.payloads[1] else {
        panic!("KE second")
    };
    assert_eq!((ke.method, ke.data.len()), (KeMethod::CURVE25519, 32));
    let Payload::Nonce(nonce) = &m.payloads[2] else {
        panic!("Nonce third")
    };
    assert_eq!(nonce.len(), 32);

    use NotifyType as N;
    assert_eq!(
        notify_types(&m),
        [
            N::NAT_DETECTION_SOURCE_IP,
            N::NAT_DETECTION_DESTINATION_IP,
            N::IKEV2_FRAGMENTATION_SUPPORTED,
            N::SIGNATURE_HASH_ALGORITHMS,
            N::REDIRECT_SUPPORTED
        ]
    );
    let decoded: Vec<NotifyData> = m
        .payloads
        .iter()
        .filter_map(|p| match p {
            Payload::Notify(n) => Some(n.decode_data().expect("notify data decodes")),
            _ => None,
        })
        .collect();
    assert!(matches!(decoded[0], NotifyData::NatDetection(_)));
    assert_eq!(decoded[2], NotifyData::Empty);
    assert_eq!(
        decoded[3],
        NotifyData::SignatureHashAlgorithms(vec![
            HashAlgorithm::SHA2_256,
            HashAlgorithm::SHA2_384,
            HashAlgorithm::SHA2_512,
            HashAlgorithm::IDENTITY
        ])
    );
    assert_eq!(decoded[4], NotifyData::Empty);
}

#[test]
fn ike_sa_init_response_chooses_one_suite() {
    let (_, request) = parse("ike_sa_init_request");
    let (_, m) = parse("ike_sa_init_response");
    assert!(m.header.flags.is_response() && !m.header.flags.is_initiator());
    assert_eq!(m.header.initiator_spi, request.header.initiator_spi);
    assert_ne!(m.header.responder_spi, [0; 8]);
    let Payload::Sa(sa) = &m.payloads[0] else {
        panic!("SA first")
    };
    assert_eq!(sa.proposals.len(), 1);
    let chosen: Vec<(TransformType, u16, Option<u16>)> = sa.proposals[0]
        .transforms
        .iter()
        .map(|t| (t.transform_type, t.id, t.key_length()))
        .collect();
    assert_eq!(
        chosen,
        [
            (TransformType::ENCR, EncrId::AES_CBC.0, Some(128)),
            (TransformType::INTEG, IntegId::HMAC_SHA2_256_128.0, None),
            (TransformType::PRF, PrfId::HMAC_SHA2_256.0, None),
            (TransformType::KE, KeMethod::CURVE25519.0, None),
        ]
    );
    use NotifyType as N;
    assert_eq!(
        notify_types(&m),
        [
            N::NAT_DETECTION_SOURCE_IP,
            N::NAT_DETECTION_DESTINATION_IP,
            N::IKEV2_FRAGMENTATION_SUPPORTED,
            N::SIGNATURE_HASH_ALGORITHMS,
            N::CHILDLESS_IKEV2_SUPPORTED,
            N::MULTIPLE_AUTH_SUPPORTED
        ]
    );
}

#[test]
fn encrypted_exchanges_carry_one_sk_payload() {
    // (fixture, exchange, message ID, response?, first inner payload)
    let expected = [
        (
            "ike_auth_request",
            ExchangeType::IKE_AUTH,
            1,
            false,
            PayloadType::IDI,
        ),
        (
            "ike_auth_response",
            ExchangeType::IKE_AUTH,
            1,
            true,
            PayloadType::IDR,
        ),
        (
            "create_child_sa_rekey_child_request",
            ExchangeType::CREATE_CHILD_SA,
            2,
            false,
            PayloadType::NOTIFY,
        ),
        (
            "create_child_sa_rekey_child_response",
            ExchangeType::CREATE_CHILD_SA,
            2,
            true,
            PayloadType::SA,
        ),
        (
            "informational_delete_child_request",
            ExchangeType::INFORMATIONAL,
            3,
            false,
            PayloadType::DELETE,
        ),
        (
            "informational_delete_child_response",
            ExchangeType::INFORMATIONAL,
            3,
            true,
            PayloadType::DELETE,
        ),
        (
            "create_child_sa_rekey_ike_request",
            ExchangeType::CREATE_CHILD_SA,
            4,
            false,
            PayloadType::SA,
        ),
        (
            "create_child_sa_rekey_ike_response",
            ExchangeType::CREATE_CHILD_SA,
            4,
            true,
            PayloadType::SA,
        ),
        (
            "informational_delete_ike_request",
            ExchangeType::INFORMATIONAL,
            0,
            false,
            PayloadType::DELETE,
        ),
        (
            "informational_delete_ike_response",
            ExchangeType::INFORMATIONAL,
            0,
            true,
            PayloadType::NONE,
        ),
    ];
    for (name, exchange, message_id, response, first_inner) in expected {
        let (bytes, m) = parse(name);
        assert_eq!(m.header.exchange, exchange, "{name}");
        assert_eq!(m.header.message_id, message_id, "{name}");
        assert_eq!(m.header.flags.is_response(), response, "{name}");
        // sun initiated the IKE SA (and the rekeyed one), so its messages carry the I bit.
        assert_eq!(m.header.flags.is_initiator(), !response, "{name}");
        assert_eq!(m.payloads.len(), 1, "{name}");
        let sk = m.encrypted().expect("an SK payload");
        assert_eq!(sk.first_inner, first_inner, "{name}");
        assert_eq!(sk.body.len(), bytes.len() - Header::LEN - 4, "{name}");
    }
}

#[test]
fn every_prefix_is_an_error() {
    for fixture in fixtures() {
        for end in 0..fixture.bytes.len() {
            assert!(
                Message::parse(&fixture.bytes[..end]).is_err(),
                "{}: the first {end} bytes parsed",
                fixture.name
            );
        }
    }
}

/// Whatever a corrupted message parses to writes back to bytes that parse the same.
fn check_valid(name: &str, at: usize, message: Message) {
    let written = message
        .try_to_bytes()
        .unwrap_or_else(|e| panic!("{name} byte {at}: parsed but cannot be written: {e}"));
    assert_eq!(
        Message::parse(&written).as_ref(),
        Ok(&message),
        "{name} byte {at}: written bytes parse differently"
    );
}

#[test]
fn every_single_byte_corruption_is_an_error_or_a_valid_message() {
    for fixture in fixtures() {
        let mut bytes = fixture.bytes.clone();
        for at in 0..bytes.len() {
            let original = bytes[at];
            for value in (0..=u8::MAX).filter(|&v| v != original) {
                bytes[at] = value;
                if let Ok(message) = Message::parse(&bytes) {
                    check_valid(fixture.name, at, message);
                }
            }
            bytes[at] = original;
        }
    }
}
