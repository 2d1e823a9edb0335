//! Malformed input: every failure is an error with an offset, never a panic.

mod common;

use common::{every_payload_message, hex, ike_auth_request, ike_sa_init_request, payload_offsets};
use tern_wire::*;

fn samples() -> Vec<Vec<u8>> {
    vec![
        ike_sa_init_request(),
        ike_auth_request(),
        every_payload_message(),
    ]
}

fn kind(result: Result<Message, WireError>) -> WireErrorKind {
    result.expect_err("should not parse").kind
}

fn set_u16(bytes: &mut [u8], at: usize, value: u16) {
    bytes[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

fn set_length(bytes: &mut [u8], length: usize) {
    bytes[24..28].copy_from_slice(&(length as u32).to_be_bytes());
}

/// Makes the header's length field agree with the buffer.
fn fix_length(bytes: &mut [u8]) {
    set_length(bytes, bytes.len());
}

#[test]
fn every_truncation_fails() {
    for sample in samples() {
        Message::parse(&sample).expect("the sample itself is valid");
        for cut in 0..sample.len() {
            assert!(
                Message::parse(&sample[..cut]).is_err(),
                "prefix of {cut} bytes parsed"
            );
        }
    }
}

#[test]
fn every_truncation_fails_even_with_a_matching_length_field() {
    // With the header's length fixed up, the cut is found by the payload parsers.
    for sample in samples() {
        for cut in Header::LEN..sample.len() {
            let mut prefix = sample[..cut].to_vec();
            set_length(&mut prefix, cut);
            assert!(
                Message::parse(&prefix).is_err(),
                "prefix of {cut} bytes parsed"
            );
        }
    }
}

#[test]
fn every_truncation_of_a_plaintext_chain_fails() {
    let (first, chain) = write_payloads(&common::every_plain_payload());
    for cut in 0..chain.len() {
        assert!(
            parse_payloads(first, &chain[..cut]).is_err(),
            "prefix of {cut} bytes parsed"
        );
    }
}

#[test]
fn truncated_error_says_what_was_expected() {
    let sample = ike_sa_init_request();
    assert_eq!(
        Header::parse(&sample[..20]),
        Err(WireError {
            offset: 20,
            kind: WireErrorKind::Truncated {
                expected: "message ID",
                needed: 4,
                available: 0,
            },
        })
    );
    let message = Header::parse(&sample[..20]).unwrap_err().to_string();
    assert_eq!(
        message,
        "at offset 20: expected message ID (4 bytes), but only 0 bytes remain"
    );
}

#[test]
fn trailing_bytes_after_the_chain() {
    let mut bytes = ike_sa_init_request();
    bytes.extend_from_slice(&[0, 0, 0]);
    fix_length(&mut bytes);
    assert_eq!(
        Message::parse(&bytes),
        Err(WireError {
            offset: 314,
            kind: WireErrorKind::TrailingBytes(3),
        })
    );
}

#[test]
fn datagram_longer_than_the_length_field() {
    let mut bytes = ike_sa_init_request();
    bytes.push(0);
    assert_eq!(
        Message::parse(&bytes),
        Err(WireError {
            offset: 24,
            kind: WireErrorKind::BadLength {
                what: "IKE message (header length field)",
                declared: 314,
                min: 315,
                max: 315,
            },
        })
    );
}

#[test]
fn header_length_field_corrupted() {
    let sample = ike_sa_init_request();
    for length in [0, 1, 27, 28, 313, 315, 0xffff_ffff] {
        let mut bytes = sample.clone();
        set_length(&mut bytes, length);
        assert!(
            Message::parse(&bytes).is_err(),
            "length field {length} accepted"
        );
    }
}

#[test]
fn every_payload_length_field_corrupted() {
    for sample in samples() {
        let offsets = payload_offsets(&sample);
        assert!(!offsets.is_empty());
        for at in offsets {
            let real = u16::from_be_bytes([sample[at + 2], sample[at + 3]]);
            for wrong in [0, 1, 3, real.wrapping_sub(1), real + 1, 0xffff] {
                let mut bytes = sample.clone();
                set_u16(&mut bytes, at + 2, wrong);
                // Only check "no panic" for shrinking: a shorter payload can make the
                // rest parse as something else. Growing past the end must fail.
                let result = Message::parse(&bytes);
                if wrong < 4 || wrong > real {
                    assert!(
                        result.is_err(),
                        "payload at {at} with length {wrong} parsed"
                    );
                }
            }
        }
    }
}

#[test]
fn payload_length_below_generic_header() {
    let mut bytes = ike_sa_init_request();
    set_u16(&mut bytes, 30, 3);
    assert_eq!(
        Message::parse(&bytes),
        Err(WireError {
            offset: 30,
            kind: WireErrorKind::BadLength {
                what: "payload",
                declared: 3,
                min: 4,
                max: 314 - 28,
            },
        })
    );
}

#[test]
fn proposal_and_transform_lengths_corrupted() {
    let sample = ike_sa_init_request();
    // Proposal 1 starts at 32, its first transform at 40, proposal 2 at 96.
    for (at, what) in [(34, "proposal"), (42, "transform"), (98, "proposal")] {
        let real = u16::from_be_bytes([sample[at], sample[at + 1]]);
        for wrong in [0, 7, real - 1, real + 1, 0xffff] {
            let mut bytes = sample.clone();
            set_u16(&mut bytes, at, wrong);
            assert!(
                Message::parse(&bytes).is_err(),
                "{what} length {wrong} at {at} parsed"
            );
        }
    }
}

#[test]
fn transform_count_must_match() {
    let mut bytes = ike_sa_init_request();
    bytes[39] = 5; // proposal 1 declares 5 transforms but carries 6
    assert_eq!(
        kind(Message::parse(&bytes)),
        WireErrorKind::CountMismatch {
            what: "transforms in proposal",
            declared: 5,
            found: 6,
        }
    );
}

#[test]
fn last_substructure_must_match() {
    let mut bytes = ike_sa_init_request();
    bytes[32] = 0; // proposal 1 claims to be last
    assert_eq!(
        Message::parse(&bytes).map_err(|e| (e.offset, e.kind)),
        Err((
            32,
            WireErrorKind::BadSubstructure {
                what: "proposal",
                found: 0,
                expected: 2,
            }
        ))
    );
    let mut bytes = ike_sa_init_request();
    bytes[40] = 0; // first transform claims to be last
    assert!(matches!(
        kind(Message::parse(&bytes)),
        WireErrorKind::BadSubstructure {
            what: "transform",
            ..
        }
    ));
}

#[test]
fn unsupported_major_version() {
    let mut bytes = ike_sa_init_request();
    bytes[17] = 0x30;
    assert_eq!(
        Message::parse(&bytes),
        Err(WireError {
            offset: 17,
            kind: WireErrorKind::UnsupportedVersion(3),
        })
    );
    // The header alone still parses, so the engine can answer INVALID_MAJOR_VERSION.
    assert_eq!(Header::parse(&bytes).map(|h| h.major_version), Ok(3));
    // A higher minor version is fine.
    bytes[17] = 0x21;
    assert!(Message::parse(&bytes).is_ok());
}

#[test]
fn sk_must_be_last() {
    let mut bytes = ike_auth_request();
    bytes.extend_from_slice(&hex("00 00 0004")); // an empty payload after SK
    fix_length(&mut bytes);
    assert_eq!(
        kind(Message::parse(&bytes)),
        WireErrorKind::EncryptedNotLast
    );
}

#[test]
fn sk_inside_plaintext_is_rejected() {
    let chain = hex("29 00 0008 00112233");
    assert_eq!(
        parse_payloads(PayloadType::SK, &chain).map_err(|e| e.kind),
        Err(WireErrorKind::EncryptedInsidePlaintext)
    );
}

#[test]
fn skf_fragment_numbers_are_checked() {
    let message = |number: u16, total: u16| {
        Message {
            header: common::header(ExchangeType::IKE_AUTH),
            payloads: vec![Payload::EncryptedFragment(EncryptedFragmentPayload {
                fragment_number: number,
                total_fragments: total,
                first_inner: PayloadType::NONE,
                body: vec![0; 16],
            })],
        }
        .to_bytes()
    };
    assert!(Message::parse(&message(2, 2)).is_ok());
    assert_eq!(
        kind(Message::parse(&message(0, 2))),
        WireErrorKind::BadFragmentNumber {
            number: 0,
            total: 2
        }
    );
    assert_eq!(
        kind(Message::parse(&message(3, 2))),
        WireErrorKind::BadFragmentNumber {
            number: 3,
            total: 2
        }
    );
}

#[test]
fn delete_spi_count_cannot_outgrow_the_input() {
    // SPI size 0 with 65535 SPIs would be 65535 entries from 4 bytes.
    let chain = hex("00 00 0008 01 00 ffff");
    assert!(matches!(
        parse_payloads(PayloadType::DELETE, &chain).map_err(|e| e.kind),
        Err(WireErrorKind::CountMismatch {
            declared: 65535,
            ..
        })
    ));
    // Four SPIs of size 4 declared, one present.
    let chain = hex("00 00 000c 03 04 0004 01020304");
    assert!(matches!(
        parse_payloads(PayloadType::DELETE, &chain).map_err(|e| e.kind),
        Err(WireErrorKind::BadLength {
            declared: 4,
            min: 16,
            ..
        })
    ));
}

#[test]
fn traffic_selector_errors() {
    // An unknown selector type is kept (so the engine can answer TS_UNACCEPTABLE),
    // next to an address range, and writes back unchanged.
    let chain =
        hex("00 00 0020 02 000000 0b 00 0008 0000ffff 07 00 0010 0000 ffff 00000000 ffffffff");
    let parsed = parse_payloads(PayloadType::TSI, &chain).unwrap();
    let Payload::TsIAny(any) = &parsed[0] else {
        panic!("expected TsIAny, got {parsed:?}");
    };
    assert_eq!(
        any.selectors[0],
        AnyTrafficSelector::Other(OtherTrafficSelector {
            ts_type: TsType(11),
            second_octet: 0,
            data: vec![0, 0, 0xff, 0xff],
        })
    );
    assert_eq!(
        any.selectors[1],
        AnyTrafficSelector::Range(TrafficSelector::any_ipv4())
    );
    assert_eq!(
        try_write_payloads(&parsed),
        Ok((PayloadType::TSI, chain.clone()))
    );
    // An unknown selector's length must cover its header and fit the payload.
    let chain = hex("00 00 0010 01 000000 0b 00 0003 00000000");
    assert!(matches!(
        parse_payloads(PayloadType::TSR, &chain).map_err(|e| (e.offset, e.kind)),
        Err((10, WireErrorKind::BadLength { declared: 3, .. }))
    ));
    let chain = hex("00 00 0010 01 000000 0b 00 0009 00000000");
    assert!(parse_payloads(PayloadType::TSR, &chain).is_err());
    // IPv4 selector with an IPv6 length.
    let chain = hex("00 00 0018 01 000000 07 00 0028 0000 ffff 00000000 ffffffff");
    assert!(matches!(
        parse_payloads(PayloadType::TSI, &chain).map_err(|e| e.kind),
        Err(WireErrorKind::BadLength {
            what: "traffic selector",
            declared: 40,
            ..
        })
    ));
    // Count says two, one present.
    let chain = hex("00 00 0018 02 000000 07 00 0010 0000 ffff 00000000 ffffffff");
    assert!(matches!(
        parse_payloads(PayloadType::TSI, &chain).map_err(|e| e.kind),
        Err(WireErrorKind::CountMismatch {
            declared: 2,
            found: 1,
            ..
        })
    ));
}

#[test]
fn fixed_fields_inside_payloads_are_required() {
    // A KE payload whose body is shorter than method + reserved.
    let chain = hex("00 00 0007 001f 00");
    assert!(matches!(
        parse_payloads(PayloadType::KE, &chain).map_err(|e| e.kind),
        Err(WireErrorKind::Truncated { .. })
    ));
    // A Notify whose SPI size runs past the payload.
    let chain = hex("00 00 000a 03 04 4009 cafe");
    assert!(matches!(
        parse_payloads(PayloadType::NOTIFY, &chain).map_err(|e| e.kind),
        Err(WireErrorKind::Truncated {
            expected: "notify SPI",
            ..
        })
    ));
    // A CP attribute whose length runs past the payload.
    let chain = hex("00 00 000c 01 000000 0001 0004");
    assert!(parse_payloads(PayloadType::CP, &chain).is_err());
    // A TLV transform attribute whose length runs past the transform.
    let chain = hex("00 00 0018 00 00 0014 01 03 00 01 00 00 000c 01 00 000c 0001 0004");
    assert!(parse_payloads(PayloadType::SA, &chain).is_err());
}

#[test]
fn chain_announcing_a_payload_that_is_not_there() {
    let chain = hex("28 00 0008 11223344"); // Nonce announcing another Nonce
    assert!(matches!(
        parse_payloads(PayloadType::NONCE, &chain).map_err(|e| (e.offset, e.kind)),
        Err((8, WireErrorKind::Truncated { .. }))
    ));
}
