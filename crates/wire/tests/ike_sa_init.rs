//! Parsing a realistic IKE_SA_INIT request, with exact header and length checks.

mod common;

use common::ike_sa_init_request;
use tern_wire::*;

#[test]
fn sample_is_the_size_its_header_says() {
    let bytes = ike_sa_init_request();
    assert_eq!(bytes.len(), 314);
    assert_eq!(&bytes[24..28], &314u32.to_be_bytes());
}

#[test]
fn header_fields() {
    let bytes = ike_sa_init_request();
    let header = Header::parse(&bytes).expect("valid header");
    assert_eq!(
        header.initiator_spi,
        [0x5d, 0x3a, 0x1f, 0x8e, 0x22, 0x47, 0xc0, 0x91]
    );
    assert_eq!(header.responder_spi, [0; 8]);
    assert_eq!(header.next_payload, PayloadType::SA);
    assert_eq!((header.major_version, header.minor_version), (2, 0));
    assert_eq!(header.exchange, ExchangeType::IKE_SA_INIT);
    assert!(header.flags.is_initiator());
    assert!(header.flags.is_request());
    assert_eq!(header.message_id, 0);
    assert_eq!(header.length, 314);
}

#[test]
fn payload_chain_in_order() {
    let message = Message::parse(&ike_sa_init_request()).expect("valid message");
    let types: Vec<PayloadType> = message.payloads.iter().map(Payload::payload_type).collect();
    assert_eq!(
        types,
        [
            PayloadType::SA,
            PayloadType::KE,
            PayloadType::NONCE,
            PayloadType::NOTIFY,
            PayloadType::NOTIFY,
            PayloadType::NOTIFY,
            PayloadType::NOTIFY,
            PayloadType::VENDOR_ID,
        ]
    );
}

#[test]
fn sa_proposals_and_transforms() {
    let message = Message::parse(&ike_sa_init_request()).expect("valid message");
    let Payload::Sa(sa) = &message.payloads[0] else {
        panic!("first payload is not SA: {:?}", message.payloads[0]);
    };
    assert_eq!(sa.proposals.len(), 2);

    let first = &sa.proposals[0];
    assert_eq!((first.number, first.protocol), (1, ProtocolId::IKE));
    assert!(first.spi.is_empty());
    let summary: Vec<(TransformType, u16, Option<u16>)> = first
        .transforms
        .iter()
        .map(|t| (t.transform_type, t.id, t.key_length()))
        .collect();
    assert_eq!(
        summary,
        [
            (TransformType::ENCR, EncrId::AES_GCM_16.0, Some(128)),
            (TransformType::ENCR, EncrId::AES_GCM_16.0, Some(256)),
            (TransformType::PRF, PrfId::HMAC_SHA2_256.0, None),
            (TransformType::PRF, PrfId::HMAC_SHA2_384.0, None),
            (TransformType::KE, KeMethod::CURVE25519.0, None),
            (TransformType::KE, KeMethod::ECP_256.0, None),
        ]
    );

    let second = &sa.proposals[1];
    assert_eq!((second.number, second.protocol), (2, ProtocolId::IKE));
    assert_eq!(second.transforms.len(), 4);
    assert_eq!(
        second.transforms[0],
        Transform::new(TransformType::ENCR, EncrId::AES_CBC.0).with_key_length(128)
    );
    assert_eq!(
        second.transforms[1],
        Transform::new(TransformType::INTEG, IntegId::HMAC_SHA2_256_128.0)
    );
    assert_eq!(
        second.transforms[3],
        Transform::new(TransformType::KE, KeMethod::MODP_2048.0)
    );
}

#[test]
fn ke_nonce_notifies_and_vendor_id() {
    let message = Message::parse(&ike_sa_init_request()).expect("valid message");
    let Payload::Ke(ke) = &message.payloads[1] else {
        panic!("second payload is not KE");
    };
    assert_eq!(ke.method, KeMethod::CURVE25519);
    assert_eq!(ke.data.len(), 32);
    assert_eq!(ke.data[..4], [0x85, 0x20, 0xf0, 0x09]);

    let Payload::Nonce(nonce) = &message.payloads[2] else {
        panic!("third payload is not Nonce");
    };
    assert_eq!(nonce.len(), 32);

    let notifies: Vec<&NotifyPayload> = message
        .payloads
        .iter()
        .filter_map(|p| match p {
            Payload::Notify(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(notifies[0].notify_type, NotifyType::NAT_DETECTION_SOURCE_IP);
    assert_eq!(notifies[0].data.len(), 20);
    assert_eq!(notifies[0].protocol, ProtocolId::NONE);
    assert!(notifies[0].spi.is_empty());
    assert_eq!(
        notifies[1].notify_type,
        NotifyType::NAT_DETECTION_DESTINATION_IP
    );
    assert_eq!(
        notifies[2],
        &NotifyPayload::new(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, vec![])
    );
    assert_eq!(
        notifies[3].notify_type,
        NotifyType::SIGNATURE_HASH_ALGORITHMS
    );
    assert_eq!(notifies[3].data, [0, 2, 0, 3, 0, 4]);
    assert!(notifies.iter().all(|n| !n.notify_type.is_error()));

    let Payload::VendorId(vid) = &message.payloads[7] else {
        panic!("last payload is not Vendor ID");
    };
    assert_eq!(vid.len(), 16);
}

#[test]
fn writes_back_byte_for_byte() {
    let bytes = ike_sa_init_request();
    let message = Message::parse(&bytes).expect("valid message");
    assert_eq!(message.to_bytes(), bytes);
}

#[test]
fn rebuilt_from_values_gives_the_same_bytes() {
    // The engine builds messages from values; the caller's next_payload and length
    // are ignored and computed.
    let parsed = Message::parse(&ike_sa_init_request()).expect("valid message");
    let mut header = parsed.header.clone();
    header.next_payload = PayloadType::NONE;
    header.length = 0;
    let rebuilt = Message {
        header,
        payloads: parsed.payloads.clone(),
    };
    assert_eq!(rebuilt.to_bytes(), ike_sa_init_request());
}
