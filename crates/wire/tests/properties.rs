//! Property-based round trips over generated messages: whatever is built from the
//! public types writes to bytes that parse back to the same value, and writing
//! that value again gives the same bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::collection::vec;
use proptest::prelude::*;
use tern_wire::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

fn transform_attribute() -> impl Strategy<Value = TransformAttribute> {
    const KEY_LENGTH: u16 = 14;
    prop_oneof![
        any::<u16>().prop_map(TransformAttribute::KeyLength),
        // A TV attribute of type 14 is the Key Length: it parses as KeyLength.
        (0..0x8000u16, any::<u16>())
            .prop_filter("TV type 14 is KeyLength", |(t, _)| *t != KEY_LENGTH)
            .prop_map(|(attr_type, v)| TransformAttribute::Other {
                attr_type,
                value: AttributeValue::Tv(v),
            }),
        (0..0x8000u16, bytes(12)).prop_map(|(attr_type, v)| TransformAttribute::Other {
            attr_type,
            value: AttributeValue::Tlv(v),
        }),
    ]
}

fn sa_payload() -> impl Strategy<Value = SaPayload> {
    let transform = (1..=12u8, any::<u16>(), vec(transform_attribute(), 0..3)).prop_map(
        |(t, id, attributes)| Transform {
            transform_type: TransformType(t),
            id,
            attributes,
        },
    );
    let proposal = (
        any::<u8>(),
        0..=3u8,
        prop_oneof![Just(0usize), Just(4), Just(8)],
        vec(transform, 0..6),
    )
        .prop_flat_map(|(number, protocol, spi_len, transforms)| {
            vec(any::<u8>(), spi_len).prop_map(move |spi| Proposal {
                number,
                protocol: ProtocolId(protocol),
                spi,
                transforms: transforms.clone(),
            })
        });
    vec(proposal, 0..4).prop_map(|proposals| SaPayload { proposals })
}

fn traffic_selector() -> impl Strategy<Value = TrafficSelector> {
    let v4 = (any::<u32>(), any::<u32>())
        .prop_map(|(a, b)| (IpAddr::V4(Ipv4Addr::from(a)), IpAddr::V4(Ipv4Addr::from(b))));
    let v6 = (any::<u128>(), any::<u128>())
        .prop_map(|(a, b)| (IpAddr::V6(Ipv6Addr::from(a)), IpAddr::V6(Ipv6Addr::from(b))));
    (any::<u8>(), any::<u16>(), any::<u16>(), prop_oneof![v4, v6]).prop_map(
        |(protocol, start_port, end_port, (start, end))| {
            TrafficSelector::range(protocol, start_port, end_port, start, end).expect("same family")
        },
    )
}

fn other_selector() -> impl Strategy<Value = OtherTrafficSelector> {
    (any::<u8>(), any::<u8>(), bytes(20))
        .prop_filter("not an address range", |(t, _, _)| *t != 7 && *t != 8)
        .prop_map(|(t, second_octet, data)| OtherTrafficSelector {
            ts_type: TsType(t),
            second_octet,
            data,
        })
}

fn any_ts_payload() -> impl Strategy<Value = AnyTsPayload> {
    let selector = prop_oneof![
        traffic_selector().prop_map(AnyTrafficSelector::Range),
        other_selector().prop_map(AnyTrafficSelector::Other),
    ];
    (
        other_selector(),
        vec(selector, 0..3),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(other, mut selectors, at)| {
            // At least one selector that is not a range, or it would parse as TsPayload.
            let at = at.index(selectors.len() + 1);
            selectors.insert(at, AnyTrafficSelector::Other(other));
            AnyTsPayload { selectors }
        })
}

fn delete_payload() -> impl Strategy<Value = DeletePayload> {
    (0..=3u8, prop_oneof![Just(0u8), Just(4), Just(8)]).prop_flat_map(|(protocol, spi_size)| {
        let count = if spi_size == 0 { 0..1 } else { 0..4 };
        vec(vec(any::<u8>(), usize::from(spi_size)), count).prop_map(move |spis| DeletePayload {
            protocol: ProtocolId(protocol),
            spi_size,
            spis,
        })
    })
}

/// Payload types this crate does not parse, so they come back as Unknown.
fn unknown_payload_type() -> impl Strategy<Value = PayloadType> {
    prop_oneof![1..=32u8, 49..=52u8, 54..=255u8].prop_map(PayloadType)
}

fn plain_payload() -> impl Strategy<Value = Payload> {
    let id = || {
        (any::<u8>(), bytes(24)).prop_map(|(t, data)| Identification {
            id_type: IdType(t),
            data,
        })
    };
    prop_oneof![
        sa_payload().prop_map(Payload::Sa),
        (any::<u16>(), bytes(40)).prop_map(|(m, data)| Payload::Ke(KePayload {
            method: KeMethod(m),
            data
        })),
        id().prop_map(Payload::IdI),
        id().prop_map(Payload::IdR),
        (any::<u8>(), bytes(40)).prop_map(|(e, data)| Payload::Cert(CertPayload {
            encoding: CertEncoding(e),
            data
        })),
        (any::<u8>(), bytes(40)).prop_map(|(e, data)| Payload::CertReq(CertReqPayload {
            encoding: CertEncoding(e),
            data
        })),
        (any::<u8>(), bytes(40)).prop_map(|(m, data)| Payload::Auth(AuthPayload {
            method: AuthMethod(m),
            data
        })),
        bytes(64).prop_map(Payload::Nonce),
        (any::<u8>(), bytes(8), any::<u16>(), bytes(24)).prop_map(|(p, spi, t, data)| {
            Payload::Notify(NotifyPayload {
                protocol: ProtocolId(p),
                spi,
                notify_type: NotifyType(t),
                data,
            })
        }),
        delete_payload().prop_map(Payload::Delete),
        bytes(20).prop_map(Payload::VendorId),
        vec(traffic_selector(), 0..4).prop_map(|selectors| Payload::TsI(TsPayload { selectors })),
        vec(traffic_selector(), 0..4).prop_map(|selectors| Payload::TsR(TsPayload { selectors })),
        any_ts_payload().prop_map(Payload::TsIAny),
        any_ts_payload().prop_map(Payload::TsRAny),
        (any::<u8>(), vec((0..0x8000u16, bytes(16)), 0..4)).prop_map(|(t, attributes)| {
            Payload::Cp(CpPayload {
                cfg_type: CfgType(t),
                attributes: attributes
                    .into_iter()
                    .map(|(a, value)| CpAttribute {
                        attr_type: CfgAttributeType(a),
                        value,
                    })
                    .collect(),
            })
        }),
        bytes(24).prop_map(Payload::Eap),
        (unknown_payload_type(), any::<bool>(), bytes(24)).prop_map(
            |(payload_type, critical, body)| Payload::Unknown {
                payload_type,
                critical,
                body
            }
        ),
    ]
}

fn encrypted_payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        (any::<u8>(), bytes(64)).prop_map(|(first, body)| Payload::Encrypted(EncryptedPayload {
            first_inner: PayloadType(first),
            body
        })),
        (1..=u16::MAX, any::<u8>(), bytes(64)).prop_flat_map(|(total, first, body)| {
            (1..=total).prop_map(move |number| {
                Payload::EncryptedFragment(EncryptedFragmentPayload {
                    fragment_number: number,
                    total_fragments: total,
                    first_inner: PayloadType(first),
                    body: body.clone(),
                })
            })
        }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    let header = (
        any::<[u8; 8]>(),
        any::<[u8; 8]>(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        0..16u8,
    )
        .prop_map(|(i, r, exchange, flags, id, minor)| {
            let mut h = Header::new(i, r, ExchangeType(exchange), Flags(flags), id);
            h.minor_version = minor;
            h
        });
    (
        header,
        vec(plain_payload(), 0..6),
        proptest::option::of(encrypted_payload()),
    )
        .prop_map(|(header, mut payloads, encrypted)| {
            payloads.extend(encrypted);
            Message { header, payloads }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn messages_round_trip(mut message in message()) {
        let bytes = message.try_to_bytes().expect("generated messages are writable");
        // Writing fills these in.
        message.header.next_payload = message.payloads.first().map_or(PayloadType::NONE, Payload::payload_type);
        message.header.length = bytes.len() as u32;
        let parsed = Message::parse(&bytes);
        prop_assert_eq!(parsed.as_ref(), Ok(&message));
        prop_assert_eq!(message.to_bytes(), bytes);
    }

    #[test]
    fn plaintext_chains_round_trip(payloads in vec(plain_payload(), 0..6)) {
        let (first, bytes) = try_write_payloads(&payloads).expect("writable");
        prop_assert_eq!(parse_payloads(first, &bytes), Ok(payloads));
    }

    #[test]
    fn every_prefix_of_a_generated_message_is_an_error(message in message()) {
        let bytes = message.to_bytes();
        for end in 0..bytes.len() {
            prop_assert!(Message::parse(&bytes[..end]).is_err());
        }
    }

    #[test]
    fn generated_messages_decode_and_describe(message in message()) {
        let hex: String = message.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let items = tern_wire::decode::decode(hex.as_bytes()).expect("hex input");
        prop_assert_eq!(items.len(), 1);
        prop_assert!(items[0].render_text().is_some());
        prop_assert!(tern_wire::decode::to_json(&items).contains("\"payloads\""));
    }
}
