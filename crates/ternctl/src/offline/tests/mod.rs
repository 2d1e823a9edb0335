//! diagnose --pcap on captures built here packet by packet: each failure kind,
//! a healthy tunnel, and broken input.

use tern_wire::*;

use super::*;

mod keyed;

const A: &str = "192.0.2.1";
const B: &str = "192.0.2.2";
/// 2026-11-23 00:00:00 UTC, in seconds.
const T0: u64 = 1_795_392_000;

/// One packet of a capture: its time (ms after T0) and its IP bytes.
struct Packet {
    ms: u64,
    ip: Vec<u8>,
}

fn ipv4(source: &str, destination: &str, protocol: u8, payload: &[u8]) -> Vec<u8> {
    let s: std::net::Ipv4Addr = source.parse().unwrap();
    let d: std::net::Ipv4Addr = destination.parse().unwrap();
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, protocol, 0, 0]);
    p.extend_from_slice(&s.octets());
    p.extend_from_slice(&d.octets());
    p.extend_from_slice(payload);
    p
}

fn udp(source: &str, destination: &str, port: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&port.to_be_bytes());
    u.extend_from_slice(&port.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    ipv4(source, destination, 17, &u)
}

/// A classic pcap (little-endian, microseconds, raw IP).
fn pcap(packets: &[Packet]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes());
    for p in packets {
        let us = (T0 * 1000 + p.ms) * 1000;
        out.extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(p.ip.len() as u32).to_le_bytes());
        out.extend_from_slice(&(p.ip.len() as u32).to_le_bytes());
        out.extend_from_slice(&p.ip);
    }
    out
}

/// Builds the IKE side of a capture between A (initiator) and B.
struct Ike {
    spi_i: [u8; 8],
    spi_r: [u8; 8],
    packets: Vec<Packet>,
}

const SPI_R: [u8; 8] = [0xbb; 8];

impl Ike {
    fn new(spi: u8) -> Ike {
        Ike {
            spi_i: [spi; 8],
            spi_r: [0; 8],
            packets: Vec::new(),
        }
    }

    /// A message from A (`by_initiator`) or B at `ms`.
    fn send(&mut self, ms: u64, header: (ExchangeType, u32, bool, bool), payloads: Vec<Payload>) {
        let (exchange, id, by_initiator, response) = header;
        let flags = if response {
            Flags::response(by_initiator)
        } else {
            Flags::request(by_initiator)
        };
        let message = Message {
            header: Header::new(self.spi_i, self.spi_r, exchange, flags, id),
            payloads,
        };
        let (from, to) = if by_initiator { (A, B) } else { (B, A) };
        self.packets.push(Packet {
            ms,
            ip: udp(from, to, 500, &message.to_bytes()),
        });
    }

    fn init_request(&mut self, ms: u64, group: u16) {
        let sa = SaPayload {
            proposals: vec![Proposal {
                number: 1,
                protocol: ProtocolId::IKE,
                spi: vec![],
                transforms: vec![
                    Transform {
                        transform_type: TransformType::ENCR,
                        id: 20,
                        attributes: vec![TransformAttribute::KeyLength(128)],
                    },
                    Transform {
                        transform_type: TransformType::PRF,
                        id: 5,
                        attributes: vec![],
                    },
                    Transform {
                        transform_type: TransformType::KE,
                        id: group,
                        attributes: vec![],
                    },
                ],
            }],
        };
        let ke = KePayload {
            method: KeMethod(group),
            data: vec![7; 32],
        };
        let header = (ExchangeType::IKE_SA_INIT, 0, true, false);
        self.send(
            ms,
            header,
            vec![
                Payload::Sa(sa),
                Payload::Ke(ke),
                Payload::Nonce(vec![1; 32]),
            ],
        );
    }

    fn init_answer(&mut self, ms: u64) {
        self.spi_r = SPI_R;
        let sa = SaPayload { proposals: vec![] };
        self.send(
            ms,
            (ExchangeType::IKE_SA_INIT, 0, false, true),
            vec![Payload::Sa(sa), Payload::Nonce(vec![2; 32])],
        );
    }

    fn init_refused(&mut self, ms: u64, notify: NotifyType, data: Vec<u8>) {
        self.send(
            ms,
            (ExchangeType::IKE_SA_INIT, 0, false, true),
            vec![Payload::Notify(NotifyPayload::new(notify, data))],
        );
    }

    /// An encrypted message of `len` body bytes.
    fn sk(&mut self, ms: u64, header: (ExchangeType, u32, bool, bool), len: usize) {
        let sk = EncryptedPayload {
            first_inner: PayloadType::NONE,
            body: vec![0x5a; len],
        };
        self.send(ms, header, vec![Payload::Encrypted(sk)]);
    }

    /// IKE_SA_INIT and IKE_AUTH, both answered, from `ms`.
    fn established(&mut self, ms: u64) {
        self.init_request(ms, 31);
        self.init_answer(ms + 5);
        self.sk(ms + 10, (ExchangeType::IKE_AUTH, 1, true, false), 300);
        self.sk(ms + 15, (ExchangeType::IKE_AUTH, 1, false, true), 200);
    }
}

/// ESP from `from` to `to` on `spi`, one packet a second over [start, end) s.
fn esp(
    from: &str,
    to: &str,
    spi: u32,
    seconds: std::ops::Range<u64>,
    offset_ms: u64,
) -> Vec<Packet> {
    seconds
        .enumerate()
        .map(|(i, s)| {
            let mut payload = spi.to_be_bytes().to_vec();
            payload.extend_from_slice(&(i as u32 + 1).to_be_bytes());
            payload.extend_from_slice(&[0xee; 32]);
            Packet {
                ms: s * 1000 + offset_ms,
                ip: ipv4(from, to, 50, &payload),
            }
        })
        .collect()
}

fn judge_packets(mut packets: Vec<Packet>) -> Offline {
    packets.sort_by_key(|p| p.ms);
    diagnose(&pcap(&packets), None)
}

/// The one pair's verdict kinds, and the whole text.
fn kinds(o: &Offline) -> (Vec<&'static str>, String) {
    assert_eq!(o.diagnoses.len(), 1, "{}", o.text());
    let kinds = o.diagnoses[0]
        .verdicts
        .iter()
        .map(|v| v.kind.code())
        .collect();
    (kinds, o.text())
}

#[test]
fn an_initiator_nobody_answers_is_never_reachable() {
    let mut ike = Ike::new(1);
    for ms in [0, 1000, 3000] {
        ike.init_request(ms, 31);
    }
    let o = judge_packets(ike.packets);
    let (kinds, text) = kinds(&o);
    assert_eq!(kinds, ["never_reachable"], "{text}");
    assert!(
        text.contains("192.0.2.1:500 sent IKE_SA_INIT 3 time(s) (1 IKE SA(s), from 2026-11-23 00:00:00.000Z to 2026-11-23 00:00:03.000Z) and 192.0.2.2:500 never answered"),
        "{text}"
    );
    assert_eq!(o.exit_code(), 1);
}

#[test]
fn no_proposal_chosen_names_the_initiators_proposals() {
    let mut ike = Ike::new(2);
    ike.init_request(0, 31);
    ike.init_refused(4, NotifyType::NO_PROPOSAL_CHOSEN, vec![]);
    let (kinds, text) = kinds(&judge_packets(ike.packets));
    assert_eq!(kinds, ["no_proposal"], "{text}");
    assert!(
        text.contains(
            "192.0.2.2:500 answered 192.0.2.1:500's IKE_SA_INIT with NO_PROPOSAL_CHOSEN (1 time(s)"
        ),
        "{text}"
    );
    assert!(
        text.contains("192.0.2.1 offered #1 AES_GCM_16_128/"),
        "{text}"
    );
}

#[test]
fn invalid_ke_back_and_forth_is_a_loop_and_once_is_not() {
    let mut ike = Ike::new(3);
    ike.init_request(0, 31);
    ike.init_refused(
        2,
        NotifyType::INVALID_KE_PAYLOAD,
        19u16.to_be_bytes().to_vec(),
    );
    ike.init_request(10, 19);
    ike.init_refused(
        12,
        NotifyType::INVALID_KE_PAYLOAD,
        31u16.to_be_bytes().to_vec(),
    );
    let (kinds, text) = kinds(&judge_packets(ike.packets));
    assert_eq!(kinds, ["invalid_ke_loop"], "{text}");
    assert!(text.contains("INVALID_KE_PAYLOAD (2 times"), "{text}");
    assert!(
        text.contains("192.0.2.2 asked for ECP_256, CURVE25519"),
        "{text}"
    );
    // One INVALID_KE_PAYLOAD, then the group asked for is accepted: routine.
    let mut ike = Ike::new(3);
    ike.init_request(0, 31);
    ike.init_refused(
        2,
        NotifyType::INVALID_KE_PAYLOAD,
        19u16.to_be_bytes().to_vec(),
    );
    ike.init_request(10, 19);
    ike.init_answer(12);
    ike.sk(20, (ExchangeType::IKE_AUTH, 1, true, false), 300);
    ike.sk(25, (ExchangeType::IKE_AUTH, 1, false, true), 200);
    let o = judge_packets(ike.packets);
    assert_eq!(o.exit_code(), 0, "{}", o.text());
}

#[test]
fn ike_auth_never_answered_says_the_request_size() {
    let mut ike = Ike::new(4);
    ike.init_request(0, 31);
    ike.init_answer(5);
    for ms in [10, 2010, 6010] {
        ike.sk(ms, (ExchangeType::IKE_AUTH, 1, true, false), 1400);
    }
    let (kinds, text) = kinds(&judge_packets(ike.packets));
    assert_eq!(kinds, ["auth_unanswered"], "{text}");
    assert!(
        text.contains("never its IKE_AUTH (1432 bytes, sent 3 times from 2026-11-23 00:00:00.010Z to 2026-11-23 00:00:06.010Z)"),
        "{text}"
    );
    assert!(text.contains("fragmentation"), "{text}");
}

#[test]
fn esp_one_way_only_is_said_with_the_silent_side() {
    let mut ike = Ike::new(5);
    ike.established(0);
    let mut packets = ike.packets;
    packets.extend(esp(A, B, 0xc000_0001, 1..31, 0));
    let (kinds, text) = kinds(&judge_packets(packets));
    assert_eq!(kinds, ["esp_not_arriving"], "{text}");
    assert!(
        text.contains("ESP went from 192.0.2.1 to 192.0.2.2 (30 packets on 1 SPI(s)"),
        "{text}"
    );
    assert!(text.contains("none came back from 192.0.2.2"), "{text}");
}

#[test]
fn esp_stopping_one_way_while_the_other_goes_on_is_said() {
    let mut ike = Ike::new(6);
    ike.established(0);
    let mut packets = ike.packets;
    packets.extend(esp(A, B, 0xc000_0001, 1..61, 0));
    packets.extend(esp(B, A, 0xc000_0002, 1..21, 100));
    let (kinds, text) = kinds(&judge_packets(packets));
    assert_eq!(kinds, ["esp_not_arriving"], "{text}");
    assert!(
        text.contains("ESP from 192.0.2.2 to 192.0.2.1 stopped at 2026-11-23 00:00:20.100Z"),
        "{text}"
    );
}

/// ESP both ways on one SPI pair over `seconds`, the second pair's SPIs + 0x10.
fn both_ways(spi: u32, seconds: std::ops::Range<u64>) -> Vec<Packet> {
    let mut p = esp(A, B, spi, seconds.clone(), 0);
    p.extend(esp(B, A, spi + 0x100, seconds, 50));
    p
}

#[test]
fn child_sas_let_expire_name_the_side_that_deletes() {
    let mut ike = Ike::new(7);
    ike.established(0);
    // B deletes at 60.5 s, then A creates a new CHILD SA at 62 s.
    ike.sk(60_500, (ExchangeType::INFORMATIONAL, 0, false, false), 80);
    ike.sk(60_510, (ExchangeType::INFORMATIONAL, 0, true, true), 60);
    ike.sk(62_000, (ExchangeType::CREATE_CHILD_SA, 2, true, false), 300);
    ike.sk(62_010, (ExchangeType::CREATE_CHILD_SA, 2, false, true), 300);
    let mut packets = ike.packets;
    packets.extend(both_ways(0xc000_0001, 1..61));
    packets.extend(both_ways(0xc000_0002, 63..90));
    let (kinds, text) = kinds(&judge_packets(packets));
    assert_eq!(kinds, ["peer_lets_sas_expire"], "{text}");
    assert!(
        text.contains("1 time(s) an ESP SA stopped after about 59.0 s"),
        "{text}"
    );
    assert!(
        text.contains(
            "192.0.2.2 (it sent the INFORMATIONAL that deleted each) lets its SAs expire"
        ),
        "{text}"
    );
    assert!(text.contains("on 192.0.2.2, turn rekeying on"), "{text}");
}

#[test]
fn informational_unanswered_then_a_new_ike_sa_is_a_dead_peer() {
    let mut ike = Ike::new(8);
    ike.established(0);
    for ms in [30_000, 34_000, 41_000, 54_000] {
        ike.sk(ms, (ExchangeType::INFORMATIONAL, 2, true, false), 0);
    }
    let mut again = Ike::new(9);
    again.init_request(80_000, 31);
    again.init_answer(80_005);
    let mut packets = ike.packets;
    packets.extend(again.packets);
    let (kinds, text) = kinds(&judge_packets(packets));
    assert_eq!(kinds, ["dead_peer"], "{text}");
    assert!(text.contains("192.0.2.2 stopped answering an established IKE SA (dead peer): 192.0.2.1:500 sent INFORMATIONAL (message ID 2) 4 times"), "{text}");
    assert!(
        text.contains("then 192.0.2.1 started a new IKE SA at 2026-11-23 00:01:20.000Z"),
        "{text}"
    );
}

#[test]
fn a_rekeyed_tunnel_is_healthy_with_one_line_of_evidence() {
    let mut ike = Ike::new(10);
    ike.established(0);
    ike.sk(
        30_000,
        (ExchangeType::CREATE_CHILD_SA, 2, false, false),
        300,
    );
    ike.sk(30_010, (ExchangeType::CREATE_CHILD_SA, 2, true, true), 300);
    ike.sk(30_500, (ExchangeType::INFORMATIONAL, 3, false, false), 80);
    ike.sk(30_510, (ExchangeType::INFORMATIONAL, 3, true, true), 80);
    let mut packets = ike.packets;
    packets.extend(both_ways(0xc000_0001, 1..31));
    packets.extend(both_ways(0xc000_0002, 31..60));
    let o = judge_packets(packets);
    assert_eq!(o.exit_code(), 0, "{}", o.text());
    let healthy = o.diagnoses[0].healthy.clone().unwrap();
    assert_eq!(
        healthy,
        "healthy: 1 IKE SA(s) (1 established), 1 CREATE_CHILD_SA (0 by 192.0.2.1, 1 by 192.0.2.2), ESP 59 packet(s) from 192.0.2.1 and 59 from 192.0.2.2, every request answered"
    );
    let json: serde_json::Value = serde_json::from_str(&o.json()).unwrap();
    assert_eq!(json["connections"][0]["healthy"], true);
    assert_eq!(
        json["connections"][0]["connection"],
        "192.0.2.1 <-> 192.0.2.2"
    );
    assert_eq!(json["esp"].as_array().unwrap().len(), 4);
    assert_eq!(
        json["ike_sas"][0]["exchanges"][0]["exchange"],
        "IKE_SA_INIT"
    );
}

#[test]
fn a_capture_cut_short_gives_what_it_has_and_says_where() {
    let mut ike = Ike::new(11);
    for ms in [0, 1000, 3000] {
        ike.init_request(ms, 31);
    }
    let mut bytes = pcap(&ike.packets);
    bytes.truncate(bytes.len() - 20);
    let o = diagnose(&bytes, None);
    assert_eq!(o.exit_code(), 1);
    let (kinds, text) = kinds(&o);
    assert_eq!(kinds, ["never_reachable"], "{text}");
    assert!(text.contains("sent IKE_SA_INIT 2 time(s)"), "{text}");
    let errors = o.errors().join("\n");
    assert!(
        errors.contains("packet 3: the file ends in the middle of a packet"),
        "{errors}"
    );
    assert!(
        errors.contains("1 packet(s) could not be read; the verdicts use the rest"),
        "{errors}"
    );
}

#[test]
fn a_capture_without_ike_or_a_file_that_is_no_capture_is_said() {
    let dns = Packet {
        ms: 0,
        ip: {
            let mut u = vec![0, 53, 0, 53, 0, 11, 0, 0];
            u.extend_from_slice(b"dns");
            ipv4(A, B, 17, &u)
        },
    };
    let o = diagnose(&pcap(&[dns]), None);
    assert_eq!(o.exit_code(), 1);
    assert_eq!(o.text(), "");
    assert!(
        o.errors()[0].starts_with("no IKE (UDP 500/4500) or ESP"),
        "{:?}",
        o.errors()
    );
    let o = diagnose(b"this is not a capture\n", None);
    assert_eq!(o.exit_code(), 1);
    assert_eq!(
        o.unreadable.as_deref(),
        Some("cannot read the capture: at byte 0 of the input: not a capture: no pcap or pcapng magic number at the start")
    );
}

#[test]
fn ike_auth_answered_with_a_bare_notify_is_a_refused_authentication() {
    let mut ike = Ike::new(12);
    ike.init_request(0, 31);
    ike.init_answer(5);
    ike.sk(10, (ExchangeType::IKE_AUTH, 1, true, false), 300);
    ike.sk(15, (ExchangeType::IKE_AUTH, 1, false, true), 40);
    let (kinds, text) = kinds(&judge_packets(ike.packets));
    assert_eq!(kinds, ["auth_failed"], "{text}");
    assert!(
        text.contains("192.0.2.2 refused 192.0.2.1's IKE_AUTH (1 time(s), the last at 2026-11-23 00:00:00.015Z): its answer of 72 bytes"),
        "{text}"
    );
    // A full answer (identity, AUTH, SA, selectors) is a success.
    let mut ike = Ike::new(12);
    ike.established(0);
    let o = judge_packets(ike.packets);
    assert_eq!(o.exit_code(), 0, "{}", o.text());
}

#[test]
fn the_healthy_line_gives_each_sides_rekey_rhythm() {
    let mut ike = Ike::new(16);
    ike.established(0);
    for (i, ms) in [20_000u64, 40_000, 60_100].into_iter().enumerate() {
        let id = 2 + i as u32;
        ike.sk(ms, (ExchangeType::CREATE_CHILD_SA, id, true, false), 300);
        ike.sk(
            ms + 10,
            (ExchangeType::CREATE_CHILD_SA, id, false, true),
            300,
        );
    }
    let o = judge_packets(ike.packets);
    let healthy = o.diagnoses[0].healthy.clone().unwrap_or_default();
    assert!(
        healthy.contains("3 CREATE_CHILD_SA (3 every 20.1 s by 192.0.2.1, 0 by 192.0.2.2)"),
        "{}",
        o.text()
    );
}

#[test]
fn a_rekey_while_traffic_pauses_is_no_expiry() {
    let mut ike = Ike::new(17);
    ike.established(0);
    // Traffic stops at 20 s; the rekey comes at 40 s, then the old SA's DELETE.
    ike.sk(40_000, (ExchangeType::CREATE_CHILD_SA, 2, true, false), 300);
    ike.sk(40_010, (ExchangeType::CREATE_CHILD_SA, 2, false, true), 300);
    ike.sk(40_500, (ExchangeType::INFORMATIONAL, 3, true, false), 80);
    ike.sk(40_510, (ExchangeType::INFORMATIONAL, 3, false, true), 80);
    let mut packets = ike.packets;
    packets.extend(both_ways(0xc000_0001, 1..21));
    packets.extend(both_ways(0xc000_0002, 50..60));
    let o = judge_packets(packets);
    assert_eq!(o.exit_code(), 0, "{}", o.text());
}

#[test]
fn invalid_ke_back_and_forth_across_new_spis_is_a_loop_too() {
    let mut first = Ike::new(18);
    first.init_request(0, 31);
    first.init_refused(
        2,
        NotifyType::INVALID_KE_PAYLOAD,
        19u16.to_be_bytes().to_vec(),
    );
    let mut second = Ike::new(19);
    second.init_request(10, 19);
    second.init_refused(
        12,
        NotifyType::INVALID_KE_PAYLOAD,
        31u16.to_be_bytes().to_vec(),
    );
    let mut packets = first.packets;
    packets.extend(second.packets);
    let (kinds, text) = kinds(&judge_packets(packets));
    assert_eq!(kinds, ["invalid_ke_loop"], "{text}");
    assert!(
        text.contains("192.0.2.1 sent key exchanges CURVE25519, ECP_256"),
        "{text}"
    );
}
