//! tern_wire::decode::read_capture: ESP headers (IP protocol 50 over IPv4 and
//! IPv6, ESP in UDP 4500) beside the IKE messages, each with its packet time;
//! `decode` still shows IKE alone.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::ike_sa_init_request;
use tern_wire::decode::*;

fn ipv4(source: [u8; 4], destination: [u8; 4], protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, protocol, 0, 0]);
    p.extend_from_slice(&source);
    p.extend_from_slice(&destination);
    p.extend_from_slice(payload);
    p
}

/// A UDP datagram between ports 4500 (checksum left zero).
fn udp_4500(source: [u8; 4], destination: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0x11, 0x94, 0x11, 0x94];
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    ipv4(source, destination, 17, &u)
}

/// SPI, sequence number, then 16 octets standing for the rest.
fn esp(spi: u32, sequence: u32) -> Vec<u8> {
    let mut p = spi.to_be_bytes().to_vec();
    p.extend_from_slice(&sequence.to_be_bytes());
    p.extend_from_slice(&[0xee; 16]);
    p
}

/// A big-endian classic pcap of raw IP packets, one a second from 1 700 000 000.
fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = 0xa1b2_c3d4u32.to_be_bytes().to_vec();
    out.extend_from_slice(&[0, 2, 0, 4]);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_be_bytes());
    out.extend_from_slice(&101u32.to_be_bytes());
    for (i, p) in packets.iter().enumerate() {
        out.extend_from_slice(&(1_700_000_000 + i as u32).to_be_bytes());
        out.extend_from_slice(&250_000u32.to_be_bytes());
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn esp_of(c: &Captured) -> (u64, EspHeader) {
    match &c.item {
        CaptureItem::Esp { number, header } => (*number, *header),
        other => panic!("not ESP: {other:?}"),
    }
}

#[test]
fn read_capture_gives_esp_headers_and_packet_times() {
    let (a, b) = ([192, 0, 2, 1], [192, 0, 2, 2]);
    let mut marked = vec![0; 4];
    marked.extend_from_slice(&ike_sa_init_request());
    let capture = pcap(&[
        udp_4500(a, b, &marked),
        ipv4(b, a, 50, &esp(0xc200_0002, 41)),
        udp_4500(a, b, &esp(0xc100_0001, 7)),
        udp_4500(a, b, &[0xff]), // NAT keepalive: neither
    ]);
    let found = read_capture(&capture).expect("a capture");
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0].time_us, Some(1_700_000_000_250_000));
    assert!(matches!(found[0].item, CaptureItem::Ike(_)));
    let (number, h) = esp_of(&found[1]);
    assert_eq!(found[1].time_us, Some(1_700_000_001_250_000));
    assert_eq!(
        (number, h.spi, h.sequence, h.in_udp),
        (2, 0xc200_0002, 41, false)
    );
    assert_eq!(h.source, IpAddr::V4(Ipv4Addr::from(b)));
    let (number, h) = esp_of(&found[2]);
    assert_eq!(
        (number, h.spi, h.sequence, h.in_udp),
        (3, 0xc100_0001, 7, true)
    );
    // decode still shows the IKE message alone; hex text is no capture.
    assert_eq!(decode(&capture).unwrap().len(), 1);
    assert!(read_capture(b"2a2a").is_err());
}

#[test]
fn esp_over_ipv6_is_read_too() {
    let (s, d): (Ipv6Addr, Ipv6Addr) = (
        "2001:db8::1".parse().unwrap(),
        "2001:db8::2".parse().unwrap(),
    );
    let mut ip = vec![0x60, 0, 0, 0, 0, 24, 50, 64];
    ip.extend_from_slice(&s.octets());
    ip.extend_from_slice(&d.octets());
    ip.extend_from_slice(&esp(0xc300_0003, 9));
    let found = read_capture(&pcap(&[ip])).expect("a capture");
    let (number, h) = esp_of(&found[0]);
    assert_eq!(
        (number, h.spi, h.sequence, h.in_udp),
        (1, 0xc300_0003, 9, false)
    );
    assert_eq!(h.destination, IpAddr::V6(d));
}
