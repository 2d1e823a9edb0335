//! Parsing and writing typical messages: strongSwan's IKE_SA_INIT request (default
//! proposals, 892 bytes) and response, an IKE_AUTH request as received (SK), and
//! the plaintext chain inside a PSK IKE_AUTH request.
//!
//!     CARGO_TARGET_DIR=/work/target-wire cargo bench -p tern-wire --bench parse_write

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tern_wire::*;

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .flat_map(|line| line.bytes().filter(u8::is_ascii_hexdigit))
        .map(|c| (c as char).to_digit(16).unwrap_or(0) as u8)
        .collect();
    digits.chunks_exact(2).map(|p| p[0] << 4 | p[1]).collect()
}

/// What an initiator puts inside SK in a PSK IKE_AUTH request.
fn ike_auth_plaintext() -> Vec<Payload> {
    let subnet = |third: u8| {
        TrafficSelector::range(
            0,
            0,
            u16::MAX,
            Ipv4Addr::new(10, third, 0, 0).into(),
            Ipv4Addr::new(10, third, 0, 255).into(),
        )
        .expect("IPv4 range")
    };
    vec![
        Payload::IdI(Identification {
            id_type: IdType::FQDN,
            data: b"moon.tern.example".to_vec(),
        }),
        Payload::Notify(NotifyPayload::new(NotifyType::INITIAL_CONTACT, vec![])),
        Payload::IdR(Identification {
            id_type: IdType::FQDN,
            data: b"sun.tern.example".to_vec(),
        }),
        Payload::Auth(AuthPayload {
            method: AuthMethod::SHARED_KEY_MIC,
            data: vec![0x5a; 32],
        }),
        Payload::Sa(SaPayload {
            proposals: vec![Proposal {
                number: 1,
                protocol: ProtocolId::ESP,
                spi: vec![0xc1, 0x2d, 0x44, 0x10],
                transforms: vec![
                    Transform::new(TransformType::ENCR, EncrId::AES_GCM_16.0).with_key_length(128),
                    Transform::new(TransformType::ESN, EsnId::NO_ESN.0),
                ],
            }],
        }),
        Payload::TsI(TsPayload {
            selectors: vec![subnet(1)],
        }),
        Payload::TsR(TsPayload {
            selectors: vec![subnet(2)],
        }),
        Payload::Notify(NotifyPayload::new(NotifyType::MOBIKE_SUPPORTED, vec![])),
    ]
}

fn messages(c: &mut Criterion) {
    let cases = [
        (
            "ike_sa_init_request",
            hex(include_str!("../tests/fixtures/ike_sa_init_request.hex")),
        ),
        (
            "ike_sa_init_response",
            hex(include_str!("../tests/fixtures/ike_sa_init_response.hex")),
        ),
        (
            "ike_auth_request",
            hex(include_str!("../tests/fixtures/ike_auth_request.hex")),
        ),
    ];
    for (name, bytes) in cases {
        let message = Message::parse(&bytes).expect("fixture parses");
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("parse", |b| b.iter(|| Message::parse(black_box(&bytes))));
        group.bench_function("write", |b| b.iter(|| black_box(&message).to_bytes()));
        group.finish();
    }

    let payloads = ike_auth_plaintext();
    let (first, bytes) = write_payloads(&payloads);
    let mut group = c.benchmark_group("ike_auth_plaintext");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| parse_payloads(black_box(first), black_box(&bytes)))
    });
    group.bench_function("write", |b| b.iter(|| write_payloads(black_box(&payloads))));
    group.finish();
}

criterion_group!(benches, messages);
criterion_main!(benches);
