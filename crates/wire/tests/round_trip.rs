//! Every payload survives write -> parse -> write, and known layouts are exact.

mod common;

use common::{every_plain_payload, header, hex};
use tern_wire::*;

/// Writes `payloads` as a message, parses it back, and checks both directions.
fn assert_message_round_trip(payloads: Vec<Payload>) -> Vec<u8> {
    let message = Message {
        header: header(ExchangeType::INFORMATIONAL),
        payloads,
    };
    let bytes = message.to_bytes();
    let parsed = Message::parse(&bytes).unwrap_or_else(|e| panic!("{e}: {message:?}"));
    assert_eq!(parsed.payloads, message.payloads);
    assert_eq!(parsed.header.length as usize, bytes.len());
    assert_eq!(parsed.to_bytes(), bytes);
    bytes
}

#[test]
fn each_payload_alone_in_a_message() {
    for payload in every_plain_payload() {
        assert_message_round_trip(vec![payload]);
    }
}

#[test]
fn all_payloads_in_one_message_followed_by_sk() {
    let mut payloads = every_plain_payload();
    payloads.push(Payload::Encrypted(EncryptedPayload {
        first_inner: PayloadType::IDI,
        body: vec![0xaa; 48],
    }));
    assert_message_round_trip(payloads);
}

#[test]
fn skf_round_trip() {
    let bytes =
        assert_message_round_trip(vec![Payload::EncryptedFragment(EncryptedFragmentPayload {
            fragment_number: 1,
            total_fragments: 3,
            first_inner: PayloadType::IDI,
            body: vec![0x42; 40],
        })]);
    // Generic header: next = IDi (35), length 4 + 4 + 40; then fragment 1 of 3.
    assert_eq!(bytes[28..36], [35, 0, 0, 48, 0, 1, 0, 3]);
}

#[test]
fn plaintext_chain_round_trip() {
    let payloads = every_plain_payload();
    let (first, bytes) = write_payloads(&payloads);
    assert_eq!(first, PayloadType::SA);
    assert_eq!(parse_payloads(first, &bytes), Ok(payloads));
}

#[test]
fn empty_plaintext_chain() {
    assert_eq!(write_payloads(&[]), (PayloadType::NONE, vec![]));
    assert_eq!(parse_payloads(PayloadType::NONE, &[]), Ok(vec![]));
}

#[test]
fn message_without_payloads_is_just_a_header() {
    let bytes = assert_message_round_trip(vec![]);
    assert_eq!(bytes.len(), Header::LEN);
    assert_eq!(bytes[16], 0);
}

#[test]
fn sk_body_is_last_and_verbatim() {
    let body: Vec<u8> = (0..=255).collect();
    let message = Message {
        header: header(ExchangeType::IKE_AUTH),
        payloads: vec![
            Payload::Notify(NotifyPayload::new(NotifyType::COOKIE, vec![1; 8])),
            Payload::Encrypted(EncryptedPayload {
                first_inner: PayloadType::IDI,
                body: body.clone(),
            }),
        ],
    };
    let bytes = message.to_bytes();
    assert!(bytes.ends_with(&body));
    // The associated data is everything before the body: header, the notify and
    // SK's generic header (whose next-payload field names the first inner payload).
    let aad = &bytes[..bytes.len() - body.len()];
    assert_eq!(aad.len(), 28 + 16 + 4);
    assert_eq!(aad[44..48], [PayloadType::IDI.0, 0, 1, 4]);
    let parsed = Message::parse(&bytes).expect("valid");
    assert_eq!(parsed.encrypted().map(|sk| &sk.body), Some(&body));
}

#[test]
fn notify_with_spi_layout() {
    let (_, bytes) = write_payloads(&[Payload::Notify(NotifyPayload::with_spi(
        NotifyType::REKEY_SA,
        ProtocolId::ESP,
        vec![0xca, 0xfe, 0xba, 0xbe],
        vec![],
    ))]);
    assert_eq!(bytes, hex("00 00 000c 03 04 4009 cafebabe"));
}

#[test]
fn delete_layouts() {
    let (_, bytes) = write_payloads(&[Payload::Delete(DeletePayload::esp([
        0x01020304, 0x05060708,
    ]))]);
    assert_eq!(bytes, hex("00 00 0010 03 04 0002 01020304 05060708"));
    let (_, bytes) = write_payloads(&[Payload::Delete(DeletePayload::ike())]);
    assert_eq!(bytes, hex("00 00 0008 01 00 0000"));
}

#[test]
fn traffic_selector_layouts() {
    let (_, v4) = write_payloads(&[Payload::TsI(TsPayload {
        selectors: vec![TrafficSelector::any_ipv4()],
    })]);
    assert_eq!(
        v4,
        hex("00 00 0018 01 000000 07 00 0010 0000 ffff 00000000 ffffffff")
    );
    let (_, v6) = write_payloads(&[Payload::TsR(TsPayload {
        selectors: vec![TrafficSelector::any_ipv6()],
    })]);
    assert_eq!(v6.len(), 4 + 4 + 40);
    assert_eq!(v6[8..16], hex("08 00 0028 0000 ffff"));
}

#[test]
fn transform_attribute_layouts() {
    let (_, bytes) = write_payloads(&[Payload::Sa(SaPayload {
        proposals: vec![Proposal {
            number: 1,
            protocol: ProtocolId::ESP,
            spi: vec![1, 2, 3, 4],
            transforms: vec![Transform {
                transform_type: TransformType::ENCR,
                id: EncrId::AES_CBC.0,
                attributes: vec![
                    TransformAttribute::KeyLength(256),
                    TransformAttribute::Other {
                        attr_type: 0x0123,
                        value: AttributeValue::Tlv(vec![0xab, 0xcd]),
                    },
                ],
            }],
        }],
    })]);
    assert_eq!(
        bytes,
        hex("
            00 00 0022                       # SA, length 34
            00 00 001e 01 03 04 01 01020304  # last proposal, length 30, ESP, SPI
            00 00 0012 01 00 000c            # last transform, length 18, ENCR AES_CBC
            800e 0100                        # TV key length 256
            0123 0002 abcd                   # TLV
        ")
    );
}

#[test]
fn cp_layout_and_reserved_bit_ignored() {
    let payload = Payload::Cp(CpPayload {
        cfg_type: CfgType::CFG_REPLY,
        attributes: vec![CpAttribute {
            attr_type: CfgAttributeType::INTERNAL_IP4_ADDRESS,
            value: vec![10, 0, 0, 7],
        }],
    });
    let (first, bytes) = write_payloads(std::slice::from_ref(&payload));
    assert_eq!(bytes, hex("00 00 0010 02 000000 0001 0004 0a000007"));
    // The attribute type's top bit is reserved: ignored on receipt.
    let mut with_reserved_bit = bytes.clone();
    with_reserved_bit[8] |= 0x80;
    assert_eq!(parse_payloads(first, &with_reserved_bit), Ok(vec![payload]));
}

#[test]
fn id_body_bytes_is_rest_of_id_payload() {
    let id = Identification {
        id_type: IdType::FQDN,
        data: b"sun".to_vec(),
    };
    assert_eq!(id.body_bytes(), hex("02 000000 73756e"));
    let (_, written) = write_payloads(&[Payload::IdI(id.clone())]);
    assert_eq!(written[4..], id.body_bytes()[..]);
}

#[test]
fn unknown_critical_payload_is_kept() {
    // Notify, then payload type 0x99 with the critical bit, then a Nonce.
    let chain = hex("
        99 00 0008 00 00 4000        # INITIAL_CONTACT, next 0x99
        28 80 0007 010203            # type 0x99, critical, 3 body bytes, next Nonce
        00 00 0008 11223344          # Nonce
    ");
    let payloads = parse_payloads(PayloadType::NOTIFY, &chain).expect("valid chain");
    assert_eq!(
        payloads[1],
        Payload::Unknown {
            payload_type: PayloadType(0x99),
            critical: true,
            body: vec![1, 2, 3],
        }
    );
    assert!(payloads[1].is_critical());
    assert_eq!(payloads[2], Payload::Nonce(vec![0x11, 0x22, 0x33, 0x44]));
    assert_eq!(write_payloads(&payloads), (PayloadType::NOTIFY, chain));
}

#[test]
fn unknown_values_survive() {
    let payloads = vec![
        Payload::Notify(NotifyPayload::new(NotifyType(0x7777), vec![1])),
        Payload::Ke(KePayload {
            method: KeMethod(0x4242),
            data: vec![],
        }),
        Payload::Auth(AuthPayload {
            method: AuthMethod(0xf0),
            data: vec![],
        }),
    ];
    let message = Message {
        header: Header {
            exchange: ExchangeType(0x99),
            flags: Flags(0xff),
            minor_version: 7,
            ..header(ExchangeType::INFORMATIONAL)
        },
        payloads,
    };
    let bytes = message.to_bytes();
    let parsed = Message::parse(&bytes).expect("valid");
    assert_eq!(parsed.header.exchange, ExchangeType(0x99));
    assert_eq!(parsed.header.flags, Flags(0xff));
    assert_eq!(parsed.header.minor_version, 7);
    assert_eq!(parsed.payloads, message.payloads);
}

#[test]
fn unencodable_values_are_reported_not_written() {
    let sk_not_last = Message {
        header: header(ExchangeType::IKE_AUTH),
        payloads: vec![
            Payload::Encrypted(EncryptedPayload {
                first_inner: PayloadType::IDI,
                body: vec![0; 16],
            }),
            Payload::Nonce(vec![0; 16]),
        ],
    };
    assert_eq!(
        sk_not_last.try_to_bytes().map_err(|e| e.kind),
        Err(WireErrorKind::EncryptedNotLast)
    );

    let nested_sk = [Payload::Encrypted(EncryptedPayload {
        first_inner: PayloadType::NONE,
        body: vec![],
    })];
    assert_eq!(
        try_write_payloads(&nested_sk).map_err(|e| e.kind),
        Err(WireErrorKind::EncryptedInsidePlaintext)
    );

    let huge_nonce = [Payload::Nonce(vec![0; 70_000])];
    assert!(matches!(
        try_write_payloads(&huge_nonce).map_err(|e| e.kind),
        Err(WireErrorKind::TooLong {
            what: "payload",
            ..
        })
    ));

    let mixed_family = [Payload::TsI(TsPayload {
        selectors: vec![TrafficSelector {
            end_addr: std::net::Ipv6Addr::LOCALHOST.into(),
            ..TrafficSelector::any_ipv4()
        }],
    })];
    assert!(matches!(
        try_write_payloads(&mixed_family).map_err(|e| e.kind),
        Err(WireErrorKind::BadTrafficSelector(_))
    ));

    let wrong_spi_size = [Payload::Delete(DeletePayload {
        protocol: ProtocolId::ESP,
        spi_size: 4,
        spis: vec![vec![1, 2, 3]],
    })];
    assert!(try_write_payloads(&wrong_spi_size).is_err());
}
