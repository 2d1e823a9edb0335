//! tern_wire::decode: captures built here byte by byte (classic pcap in both byte
//! orders, pcapng, every supported link type, IPv4 and IPv6, ports 500 and 4500),
//! the real strongSwan capture, hex text, and broken input of every kind.

mod common;

use std::net::{IpAddr, SocketAddr};

use common::{hex, ike_sa_init_request};
use tern_wire::decode::*;
use tern_wire::*;

const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW: u32 = 101;
const LINKTYPE_LINUX_SLL: u32 = 113;
const LINKTYPE_LINUX_SLL2: u32 = 276;
const LINKTYPE_NULL: u32 = 0;

/// An IPv4 or IPv6 packet carrying one UDP datagram (checksums left zero: nobody checks).
fn ip_udp(source: SocketAddr, destination: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut udp = Vec::new();
    udp.extend_from_slice(&source.port().to_be_bytes());
    udp.extend_from_slice(&destination.port().to_be_bytes());
    udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut packet = Vec::new();
    match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            packet.extend_from_slice(&[0x45, 0]);
            packet.extend_from_slice(&((20 + udp.len()) as u16).to_be_bytes());
            packet.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
            packet.extend_from_slice(&s.octets());
            packet.extend_from_slice(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            packet.extend_from_slice(&[0x60, 0, 0, 0]);
            packet.extend_from_slice(&(udp.len() as u16).to_be_bytes());
            packet.extend_from_slice(&[17, 64]);
            packet.extend_from_slice(&s.octets());
            packet.extend_from_slice(&d.octets());
        }
        _ => panic!("mixed address families"),
    }
    packet.extend_from_slice(&udp);
    packet
}

/// Wraps an IP packet in a link-layer header of `linktype`.
fn frame(linktype: u32, ip: &[u8]) -> Vec<u8> {
    let ethertype: [u8; 2] = if ip[0] >> 4 == 4 {
        [0x08, 0x00]
    } else {
        [0x86, 0xdd]
    };
    let mut f = Vec::new();
    match linktype {
        LINKTYPE_ETHERNET => {
            f.extend_from_slice(&[2; 12]);
            f.extend_from_slice(&ethertype);
        }
        LINKTYPE_LINUX_SLL => {
            f.extend_from_slice(&[0, 0, 0, 1, 0, 6, 2, 2, 2, 2, 2, 2, 0, 0]);
            f.extend_from_slice(&ethertype);
        }
        LINKTYPE_LINUX_SLL2 => {
            f.extend_from_slice(&ethertype);
            f.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 2, 2, 2, 2, 2, 0, 0]);
        }
        LINKTYPE_NULL => f.extend_from_slice(&2u32.to_le_bytes()),
        LINKTYPE_RAW => {}
        other => panic!("no builder for link type {other}"),
    }
    f.extend_from_slice(ip);
    f
}

/// A classic pcap file (microsecond timestamps) in either byte order.
fn pcap(linktype: u32, big_endian: bool, frames: &[Vec<u8>]) -> Vec<u8> {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&u32b(0xa1b2_c3d4));
    out.extend_from_slice(&u16b(2));
    out.extend_from_slice(&u16b(4));
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&u32b(65535));
    out.extend_from_slice(&u32b(linktype));
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&u32b(1_700_000_000 + i as u32));
        out.extend_from_slice(&u32b(0));
        out.extend_from_slice(&u32b(f.len() as u32));
        out.extend_from_slice(&u32b(f.len() as u32));
        out.extend_from_slice(f);
    }
    out
}

/// A pcapng block: type, total length, body padded to 4, total length.
fn block(little: bool, block_type: u32, body: &[u8]) -> Vec<u8> {
    let u32b = |v: u32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let padded = body.len().div_ceil(4) * 4;
    let total = (12 + padded) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&u32b(block_type));
    out.extend_from_slice(&u32b(total));
    out.extend_from_slice(body);
    out.resize(8 + padded, 0);
    out.extend_from_slice(&u32b(total));
    out
}

/// A pcapng file: one section, the given interfaces, then the packets as Enhanced
/// Packet Blocks (interface index, frame), with a custom block in between to skip.
fn pcapng(little: bool, interfaces: &[u32], packets: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let u32b = |v: u32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let u16b = |v: u16| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let mut shb = Vec::new();
    shb.extend_from_slice(&u32b(0x1a2b_3c4d));
    shb.extend_from_slice(&u16b(1));
    shb.extend_from_slice(&u16b(0));
    shb.extend_from_slice(&[0xff; 8]); // section length unknown
    let mut out = block(little, 0x0a0d_0d0a, &shb);
    for &linktype in interfaces {
        let mut idb = Vec::new();
        idb.extend_from_slice(&u16b(linktype as u16));
        idb.extend_from_slice(&u16b(0));
        idb.extend_from_slice(&u32b(0));
        out.extend(block(little, 1, &idb));
    }
    out.extend(block(little, 0x0000_0bad, b"custom block, skipped"));
    for (interface, f) in packets {
        let mut epb = Vec::new();
        epb.extend_from_slice(&u32b(*interface));
        epb.extend_from_slice(&u32b(0));
        epb.extend_from_slice(&u32b(0));
        epb.extend_from_slice(&u32b(f.len() as u32));
        epb.extend_from_slice(&u32b(f.len() as u32));
        epb.extend_from_slice(f);
        out.extend(block(little, 6, &epb));
    }
    out
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

fn marked(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0; 4];
    out.extend_from_slice(message);
    out
}

/// The messages decoded from `input`, panicking on any problem.
fn messages(input: &[u8]) -> Vec<(Origin, Message)> {
    decode(input)
        .expect("input is readable")
        .into_iter()
        .map(|d| match d.outcome {
            Ok(m) => (d.origin, m),
            Err(e) => panic!("{}: {e}", d.origin),
        })
        .collect()
}

#[test]
fn pcap_every_link_type_both_byte_orders() {
    let message = ike_sa_init_request();
    let ip = ip_udp(addr("192.0.2.1:500"), addr("192.0.2.2:500"), &message);
    for linktype in [
        LINKTYPE_ETHERNET,
        LINKTYPE_RAW,
        LINKTYPE_LINUX_SLL,
        LINKTYPE_LINUX_SLL2,
        LINKTYPE_NULL,
    ] {
        for big_endian in [false, true] {
            let file = pcap(linktype, big_endian, &[frame(linktype, &ip)]);
            assert_eq!(InputFormat::detect(&file), InputFormat::Pcap);
            let found = messages(&file);
            assert_eq!(found.len(), 1, "link type {linktype}");
            let (origin, parsed) = &found[0];
            assert_eq!(parsed.to_bytes(), message);
            let Origin::Packet {
                number,
                source,
                destination,
                input_offset,
            } = origin
            else {
                panic!("a packet origin")
            };
            assert_eq!(*number, 1);
            assert_eq!(*source, Some(addr("192.0.2.1:500")));
            assert_eq!(*destination, Some(addr("192.0.2.2:500")));
            assert_eq!(
                &file[*input_offset..*input_offset + message.len()],
                &message[..]
            );
        }
    }
}

#[test]
fn port_4500_strips_the_marker_and_skips_esp_and_keepalives() {
    let message = ike_sa_init_request();
    let (a, b) = (addr("[2001:db8::1]:4500"), addr("[2001:db8::2]:4500"));
    let frames = [
        ip_udp(a, b, &marked(&message)),
        ip_udp(a, b, &[0xc1, 0, 0, 1, 0, 0, 0, 1, 0xee, 0xee]), // ESP in UDP
        ip_udp(a, b, &[0xff]),                                  // NAT keepalive
        ip_udp(addr("[2001:db8::1]:53"), addr("[2001:db8::2]:53"), b"dns"), // not IKE
    ]
    .map(|ip| frame(LINKTYPE_ETHERNET, &ip));
    let found = messages(&pcap(LINKTYPE_ETHERNET, false, &frames));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.to_bytes(), message);
    assert!(matches!(found[0].0, Origin::Packet { number: 1, .. }));
}

#[test]
fn vlan_tagged_ethernet() {
    let message = ike_sa_init_request();
    let ip = ip_udp(addr("192.0.2.1:500"), addr("192.0.2.2:500"), &message);
    let mut f = vec![2; 12];
    f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
    f.extend_from_slice(&ip);
    assert_eq!(messages(&pcap(LINKTYPE_ETHERNET, false, &[f])).len(), 1);
}

#[test]
fn pcapng_both_byte_orders_several_interfaces() {
    let message = ike_sa_init_request();
    let v4 = ip_udp(addr("192.0.2.1:500"), addr("192.0.2.2:500"), &message);
    let v6 = ip_udp(
        addr("[2001:db8::1]:4500"),
        addr("[2001:db8::2]:4500"),
        &marked(&message),
    );
    for little in [true, false] {
        let file = pcapng(
            little,
            &[LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2],
            &[
                (0, frame(LINKTYPE_ETHERNET, &v4)),
                (1, frame(LINKTYPE_LINUX_SLL2, &v6)),
            ],
        );
        assert_eq!(InputFormat::detect(&file), InputFormat::PcapNg);
        let found = messages(&file);
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|(_, m)| m.to_bytes() == message));
        assert!(matches!(
            found[1].0,
            Origin::Packet { number: 2, source: Some(s), .. } if s == addr("[2001:db8::1]:4500")
        ));
    }
}

#[test]
fn pcapng_packet_on_an_undescribed_interface_is_reported() {
    let ip = ip_udp(
        addr("192.0.2.1:500"),
        addr("192.0.2.2:500"),
        &ike_sa_init_request(),
    );
    let file = pcapng(true, &[LINKTYPE_RAW], &[(3, ip)]);
    let items = decode(&file).unwrap();
    assert_eq!(items.len(), 1);
    let error = items[0].error_text().expect("an error");
    assert!(error.contains("interface 3"), "{error}");
}

/// A one-interface pcapng file (raw IP) holding `blocks` after its interface.
fn pcapng_with_blocks(little: bool, blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = pcapng(little, &[LINKTYPE_RAW], &[]);
    for b in blocks {
        out.extend_from_slice(b);
    }
    out
}

#[test]
fn pcapng_simple_and_obsolete_packet_blocks_decode_in_both_byte_orders() {
    let message = ike_sa_init_request();
    let ip = ip_udp(addr("192.0.2.1:500"), addr("192.0.2.2:500"), &message);
    for little in [true, false] {
        let u32b = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let mut spb = u32b(ip.len() as u32).to_vec();
        spb.extend_from_slice(&ip);
        // Obsolete Packet Block: interface (u16), drops (u16), timestamp, lengths.
        let mut opb = if little {
            0u16.to_le_bytes()
        } else {
            0u16.to_be_bytes()
        }
        .to_vec();
        opb.extend_from_slice(&[0, 0]);
        opb.extend_from_slice(&[0; 8]);
        opb.extend_from_slice(&u32b(ip.len() as u32));
        opb.extend_from_slice(&u32b(ip.len() as u32));
        opb.extend_from_slice(&ip);
        let file = pcapng_with_blocks(little, &[block(little, 3, &spb), block(little, 2, &opb)]);
        let found = messages(&file);
        assert_eq!(found.len(), 2, "little-endian: {little}");
        assert!(found.iter().all(|(_, m)| m.to_bytes() == message));
        assert!(matches!(found[1].0, Origin::Packet { number: 2, .. }));
    }
}

#[test]
fn a_packet_block_too_short_for_its_packet_is_reported_and_the_rest_decodes() {
    let ip = ip_udp(
        addr("192.0.2.1:500"),
        addr("192.0.2.2:500"),
        &ike_sa_init_request(),
    );
    let epb = |captured: u32| {
        let mut b = [0u32, 0, 0, captured, ip.len() as u32]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>();
        b.extend_from_slice(&ip);
        block(true, 6, &b)
    };
    // A captured length beyond the block, then a name resolution block whose
    // record runs off its end (skipped), then a good packet.
    let broken_nrb = block(true, 4, &[1, 0, 0xff, 0x00]);
    let file = pcapng_with_blocks(
        true,
        &[epb(ip.len() as u32 + 64), broken_nrb, epb(ip.len() as u32)],
    );
    let items = decode(&file).unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    let error = items[0].error_text().expect("the first packet is reported");
    assert!(
        error.contains("captured length exceeds its block"),
        "{error}"
    );
    assert!(items[1].outcome.is_ok(), "{:?}", items[1].outcome);
}

#[test]
fn malformed_message_is_reported_with_its_offset_and_the_rest_still_decodes() {
    let good = ike_sa_init_request();
    let mut bad = good.clone();
    bad[28 + 2] = 0xff; // the SA payload's length
    let frames = [&good, &bad, &good].map(|m| {
        frame(
            LINKTYPE_RAW,
            &ip_udp(addr("192.0.2.1:500"), addr("192.0.2.2:500"), m),
        )
    });
    let items = decode(&pcap(LINKTYPE_RAW, true, &frames)).unwrap();
    assert_eq!(items.len(), 3);
    assert!(items[0].outcome.is_ok() && items[2].outcome.is_ok());
    let Err(DecodeProblem::Message(e)) = &items[1].outcome else {
        panic!("expected a malformed message: {:?}", items[1].outcome)
    };
    assert_eq!(e.offset, 30);
    let text = items[1].error_text().unwrap();
    assert!(
        text.starts_with(
            "packet 2 192.0.2.1:500 -> 192.0.2.2:500: malformed IKE message at offset 30"
        ),
        "{text}"
    );
    // The JSON array holds the two good messages.
    let json = to_json(&items);
    assert_eq!(json.matches("\"exchange\"").count(), 2);
}

#[test]
fn truncated_captures_are_reported_not_panicked_on() {
    let ip = ip_udp(
        addr("192.0.2.1:500"),
        addr("192.0.2.2:500"),
        &ike_sa_init_request(),
    );
    let file = pcap(LINKTYPE_RAW, false, &[ip.clone(), ip]);
    // Cut inside the second record: the first message still decodes.
    let items = decode(&file[..file.len() - 10]).unwrap();
    assert_eq!(items.len(), 2);
    assert!(items[0].outcome.is_ok());
    assert!(items[1]
        .error_text()
        .unwrap()
        .contains("the file ends in the middle"));
    // A file header alone is an empty capture; less than one is an input error.
    assert_eq!(decode(&file[..24]).unwrap(), vec![]);
    assert!(decode(&file[..20]).is_err());
}

#[test]
fn snapped_packets_say_so() {
    let ip = ip_udp(
        addr("192.0.2.1:500"),
        addr("192.0.2.2:500"),
        &ike_sa_init_request(),
    );
    let mut file = pcap(LINKTYPE_RAW, false, &[ip[..100].to_vec()]);
    // Restore the original length in the record header: the capture cut it short.
    file[24 + 12..24 + 16].copy_from_slice(&(ip.len() as u32).to_le_bytes());
    let items = decode(&file).unwrap();
    let text = items[0].error_text().unwrap();
    assert!(text.contains("snapshot length"), "{text}");
}

#[test]
fn ip_fragments_are_reported_or_skipped() {
    let mut ip = ip_udp(
        addr("192.0.2.1:500"),
        addr("192.0.2.2:500"),
        &ike_sa_init_request(),
    );
    ip[6] |= 0x20; // more fragments
    let mut later = ip.clone();
    later[6] = 0x00;
    later[7] = 0x10; // fragment offset 16 (x8 bytes): not the first fragment
    let items = decode(&pcap(LINKTYPE_RAW, false, &[ip, later])).unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0].error_text().unwrap().contains("fragmented"));
}

#[test]
fn unsupported_link_type_is_an_input_error() {
    let file = pcap(147, false, &[]);
    let e = decode(&file).unwrap_err();
    assert_eq!(e.offset, 20);
    assert!(e.reason.contains("link type 147"));
}

#[test]
fn hex_blocks_with_comments() {
    let message = ike_sa_init_request();
    let as_hex: String = message.iter().map(|b| format!("{b:02x}")).collect();
    let text = format!(
        "# two messages\n{}\n# still the first\n{}\n\n  \n{as_hex}\n\n0g\n\n123\n",
        &as_hex[..100],
        &as_hex[100..]
    );
    assert_eq!(InputFormat::detect(text.as_bytes()), InputFormat::Hex);
    let items = decode(text.as_bytes()).unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(
        items[0].outcome.as_ref().map(Message::to_bytes),
        Ok(message.clone())
    );
    assert_eq!(
        items[0].origin,
        Origin::HexBlock {
            line: 2,
            input_offset: 15
        }
    );
    assert_eq!(
        items[1].outcome.as_ref().map(Message::to_bytes),
        Ok(message)
    );
    let line_7_offset: usize = text.split('\n').take(6).map(|l| l.len() + 1).sum();
    assert_eq!(
        items[1].origin,
        Origin::HexBlock {
            line: 7,
            input_offset: line_7_offset
        }
    );
    assert!(items[2]
        .error_text()
        .unwrap()
        .contains("line 9, column 2: 'g' is not a hex digit"));
    assert!(items[3]
        .error_text()
        .unwrap()
        .contains("odd number of hex digits"));
    assert!(decode(&[0xff, 0xfe]).is_err());
}

#[test]
fn the_real_strongswan_capture() {
    let file = include_bytes!("fixtures/strongswan.pcap");
    let found = messages(file);
    assert_eq!(found.len(), 14);
    let exchanges: Vec<ExchangeType> = found.iter().map(|(_, m)| m.header.exchange).collect();
    use ExchangeType as X;
    assert_eq!(
        exchanges,
        [
            X::IKE_SA_INIT,
            X::IKE_SA_INIT,
            X::IKE_AUTH,
            X::IKE_AUTH,
            X::CREATE_CHILD_SA,
            X::CREATE_CHILD_SA,
            X::INFORMATIONAL,
            X::INFORMATIONAL,
            X::CREATE_CHILD_SA,
            X::CREATE_CHILD_SA,
            X::INFORMATIONAL,
            X::INFORMATIONAL,
            X::INFORMATIONAL,
            X::INFORMATIONAL
        ]
    );
    // Each message is the one stored as a hex fixture.
    let request = hex(include_str!("fixtures/ike_sa_init_request.hex"));
    assert_eq!(found[0].1.to_bytes(), request);
    let auth = hex(include_str!("fixtures/ike_auth_request.hex"));
    assert_eq!(found[2].1.to_bytes(), auth);

    let items = decode(file).unwrap();
    let text = items[0].render_text().unwrap();
    assert!(text.starts_with(
        "packet 1 192.0.2.2:500 -> 192.0.2.1:500: IKE_SA_INIT request (message ID 0, from the original initiator, 892 bytes)\n  SPIs a3a4d9ae5f8df933 / 0000000000000000\n  SA\n    proposal number=1 protocol=IKE\n      transform type=ENCR id=AES_CBC key_length=128\n"
    ), "{text}");
    assert!(text.contains("  KE method=CURVE25519 length=32 data="));
    assert!(text.contains("  NOTIFY notify_type=SIGNATURE_HASH_ALGORITHMS hash_algorithms=[SHA2_256, SHA2_384, SHA2_512, IDENTITY]\n"));
    let auth_text = items[2].render_text().unwrap();
    assert!(
        auth_text.ends_with("  SK encrypted=true first_inner=IDI length=384\n"),
        "{auth_text}"
    );
}

#[test]
fn descriptions_have_the_documented_keys() {
    let described = describe_message(&Message::parse(&ike_sa_init_request()).unwrap());
    for key in [
        "exchange",
        "initiator_spi",
        "responder_spi",
        "message_id",
        "is_response",
        "is_initiator",
        "payloads",
    ] {
        assert!(described.get(key).is_some(), "{key}");
    }
    assert_eq!(described.get("exchange"), Some(&Value::text("IKE_SA_INIT")));
    assert_eq!(
        described.get("initiator_spi"),
        Some(&Value::text("5d3a1f8e2247c091"))
    );
    assert_eq!(described.get("is_initiator"), Some(&Value::Bool(true)));
    let Some(Value::List(payloads)) = described.get("payloads") else {
        panic!("payloads")
    };
    assert!(payloads
        .iter()
        .all(|p| matches!(p.get("type"), Some(Value::Text(_)))));
}

#[test]
fn every_payload_kind_is_described_and_rendered() {
    let mut payloads = common::every_plain_payload();
    payloads.push(Payload::Unknown {
        payload_type: PayloadType(200),
        critical: true,
        body: vec![1, 2, 3],
    });
    payloads.push(Payload::Encrypted(EncryptedPayload {
        first_inner: PayloadType::IDI,
        body: vec![0; 48],
    }));
    let message = Message {
        header: common::header(ExchangeType::IKE_AUTH),
        payloads,
    };
    let bytes = message.to_bytes();
    let items = decode(
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .as_bytes(),
    )
    .unwrap();
    let text = items[0].render_text().expect("decodes");
    for expected in [
        "SA",
        "KE",
        "IDI",
        "CERT",
        "CERTREQ",
        "AUTH",
        "NONCE",
        "NOTIFY",
        "DELETE",
        "VENDOR_ID",
        "TSI",
        "TSR",
        "CP",
        "EAP",
        "PayloadType(0xc8) critical=true",
        "SK encrypted=true",
    ] {
        assert!(
            text.contains(&format!("\n  {expected}")),
            "{expected} missing from:\n{text}"
        );
    }
    assert!(to_json(&items).contains("\"type\": \"PayloadType(0xc8)\""));
}

/// The decode path on every prefix and many corruptions of the real capture: no panic.
#[test]
fn broken_captures_never_panic() {
    let file = include_bytes!("fixtures/strongswan.pcap");
    for end in 0..file.len() {
        let _ = decode(&file[..end]).map(|items| to_json(&items));
    }
    let mut bytes = file.to_vec();
    for at in 0..bytes.len() {
        let original = bytes[at];
        for value in [0x00, 0xff, original ^ 0x80, original.wrapping_add(1)] {
            bytes[at] = value;
            if let Ok(items) = decode(&bytes) {
                for item in &items {
                    let _ = (item.render_text(), item.error_text());
                }
            }
        }
        bytes[at] = original;
    }
}
