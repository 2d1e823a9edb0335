//! Shared by the integration tests: a hex helper and sample messages.
#![allow(dead_code)]

use std::net::{Ipv4Addr, Ipv6Addr};

use tern_wire::*;

/// Decodes hex, ignoring whitespace and `#` comments to the end of the line.
pub fn hex(text: &str) -> Vec<u8> {
    let digits: String = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits");
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// An IKE_SA_INIT request as an initiator offering AES-GCM and AES-CBC would send
/// it, assembled by hand from RFC 7296 §3: SA with two proposals (key-length
/// attributes), KE x25519, Nonce, both NAT-D notifies, IKEV2_FRAGMENTATION_SUPPORTED,
/// SIGNATURE_HASH_ALGORITHMS and a Vendor ID. 314 bytes.
pub fn ike_sa_init_request() -> Vec<u8> {
    hex("
        # IKE header
        5d3a1f8e2247c091 0000000000000000   # SPIi, SPIr
        21 20 22 08 00000000 0000013a        # next SA, v2.0, IKE_SA_INIT, I flag, msg id 0, length 314
        # SA payload (next KE), length 112
        22 00 0070
          # proposal 1 (more follow), length 64, #1, IKE, no SPI, 6 transforms
          02 00 0040 01 01 00 06
            03 00 000c 01 00 0014 800e 0080   # ENCR AES_GCM_16, key length 128
            03 00 000c 01 00 0014 800e 0100   # ENCR AES_GCM_16, key length 256
            03 00 0008 02 00 0005             # PRF HMAC_SHA2_256
            03 00 0008 02 00 0006             # PRF HMAC_SHA2_384
            03 00 0008 04 00 001f             # KE CURVE25519
            00 00 0008 04 00 0013             # KE ECP_256 (last)
          # proposal 2 (last), length 44, #2, IKE, no SPI, 4 transforms
          00 00 002c 02 01 00 04
            03 00 000c 01 00 000c 800e 0080   # ENCR AES_CBC, key length 128
            03 00 0008 03 00 000c             # INTEG HMAC_SHA2_256_128
            03 00 0008 02 00 0005             # PRF HMAC_SHA2_256
            00 00 0008 04 00 000e             # KE MODP_2048 (last)
        # KE payload (next Nonce), length 40: CURVE25519, 32-byte public value
        28 00 0028 001f 0000
          8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a
        # Nonce payload (next Notify), length 36
        29 00 0024
          c3a1e5f70b2d4f6183a5c7e9fb1d3f52748a9cbede0f2143658aacce02243648
        # Notify NAT_DETECTION_SOURCE_IP (next Notify), length 28
        29 00 001c 00 00 4004
          1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d
        # Notify NAT_DETECTION_DESTINATION_IP (next Notify), length 28
        29 00 001c 00 00 4005
          a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4
        # Notify IKEV2_FRAGMENTATION_SUPPORTED (next Notify), length 8
        29 00 0008 00 00 402e
        # Notify SIGNATURE_HASH_ALGORITHMS (next Vendor ID), length 14: SHA2-256/384/512
        2b 00 000e 00 00 402f 0002 0003 0004
        # Vendor ID (last), length 20
        00 00 0014 882fe56d6fd20dbc2251613b2ebe5beb
    ")
}

/// One of every payload this crate parses (except SK/SKF), with varied contents.
pub fn every_plain_payload() -> Vec<Payload> {
    vec![
        Payload::Sa(SaPayload {
            proposals: vec![Proposal {
                number: 1,
                protocol: ProtocolId::ESP,
                spi: vec![0xc1, 0x00, 0x00, 0x2a],
                transforms: vec![
                    Transform::new(TransformType::ENCR, EncrId::AES_GCM_16.0).with_key_length(128),
                    Transform {
                        transform_type: TransformType::ENCR,
                        id: EncrId::AES_CBC.0,
                        attributes: vec![
                            TransformAttribute::KeyLength(256),
                            TransformAttribute::Other {
                                attr_type: 0x1234,
                                value: AttributeValue::Tlv(vec![1, 2, 3]),
                            },
                            TransformAttribute::Other {
                                attr_type: 0x55,
                                value: AttributeValue::Tv(7),
                            },
                        ],
                    },
                    Transform::new(TransformType::ESN, EsnId::NO_ESN.0),
                ],
            }],
        }),
        Payload::Ke(KePayload {
            method: KeMethod::CURVE25519,
            data: vec![9; 32],
        }),
        Payload::IdI(Identification {
            id_type: IdType::FQDN,
            data: b"moon.example.org".to_vec(),
        }),
        Payload::IdR(Identification {
            id_type: IdType::IPV4_ADDR,
            data: vec![192, 0, 2, 1],
        }),
        Payload::Cert(CertPayload {
            encoding: CertEncoding::X509_SIGNATURE,
            data: vec![0x30, 0x82, 0x01, 0x0a],
        }),
        Payload::CertReq(CertReqPayload {
            encoding: CertEncoding::X509_SIGNATURE,
            data: vec![0xee; 20],
        }),
        Payload::Auth(AuthPayload {
            method: AuthMethod::SHARED_KEY_MIC,
            data: vec![0x5a; 32],
        }),
        Payload::Nonce(vec![0x11; 32]),
        Payload::Notify(NotifyPayload::new(NotifyType::INITIAL_CONTACT, vec![])),
        Payload::Notify(NotifyPayload::with_spi(
            NotifyType::REKEY_SA,
            ProtocolId::ESP,
            vec![0xca, 0xfe, 0xba, 0xbe],
            vec![],
        )),
        Payload::Delete(DeletePayload::esp([0x0102_0304, 0x0506_0708])),
        Payload::Delete(DeletePayload::ike()),
        Payload::VendorId(b"tern".to_vec()),
        Payload::TsI(TsPayload {
            selectors: vec![
                TrafficSelector::any_ipv4(),
                TrafficSelector::range(
                    17,
                    500,
                    4500,
                    Ipv4Addr::new(10, 1, 0, 0).into(),
                    Ipv4Addr::new(10, 1, 255, 255).into(),
                )
                .expect("same family"),
            ],
        }),
        Payload::TsR(TsPayload {
            selectors: vec![
                TrafficSelector::any_ipv6(),
                TrafficSelector::range(
                    6,
                    65535,
                    0,
                    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(),
                    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xff).into(),
                )
                .expect("same family"),
            ],
        }),
        Payload::Cp(CpPayload {
            cfg_type: CfgType::CFG_REQUEST,
            attributes: vec![
                CpAttribute {
                    attr_type: CfgAttributeType::INTERNAL_IP4_ADDRESS,
                    value: vec![],
                },
                CpAttribute {
                    attr_type: CfgAttributeType::INTERNAL_IP6_DNS,
                    value: vec![0x20; 16],
                },
            ],
        }),
        Payload::Eap(vec![1, 7, 0, 5, 1]),
        Payload::Unknown {
            payload_type: PayloadType(200),
            critical: true,
            body: vec![0xde, 0xad],
        },
        Payload::Unknown {
            payload_type: PayloadType(201),
            critical: false,
            body: vec![],
        },
    ]
}

pub fn header(exchange: ExchangeType) -> Header {
    Header::new(
        [0x5d, 0x3a, 0x1f, 0x8e, 0x22, 0x47, 0xc0, 0x91],
        [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80],
        exchange,
        Flags::request(true),
        1,
    )
}

/// An IKE_AUTH request: header, then an SK payload carrying 64 opaque bytes.
pub fn ike_auth_request() -> Vec<u8> {
    Message {
        header: header(ExchangeType::IKE_AUTH),
        payloads: vec![Payload::Encrypted(EncryptedPayload {
            first_inner: PayloadType::IDI,
            body: (0..64).collect(),
        })],
    }
    .to_bytes()
}

/// An unencrypted INFORMATIONAL carrying every plain payload (not a real exchange,
/// but it exercises every parser in one datagram).
pub fn every_payload_message() -> Vec<u8> {
    Message {
        header: header(ExchangeType::INFORMATIONAL),
        payloads: every_plain_payload(),
    }
    .to_bytes()
}

/// Offsets of each generic payload header in a message, by walking the chain.
pub fn payload_offsets(message: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = Header::LEN;
    let mut next = message[16];
    while next != 0 && at + 4 <= message.len() {
        offsets.push(at);
        let encrypted = next == PayloadType::SK.0 || next == PayloadType::SKF.0;
        next = message[at];
        at += usize::from(u16::from_be_bytes([message[at + 2], message[at + 3]]));
        if encrypted {
            break;
        }
    }
    offsets
}
