//! diagnose --pcap --keys: SK payloads sealed here with known keys, opened with
//! a key file in Wireshark's format.

use tern_wire::*;

use super::*;

/// AES-GCM-128 key material (key and salt) of each direction, as a key file
/// gives them.
const SK_EI: &str = "00112233445566778899aabbccddeeff01020304";
const SK_ER: &str = "ffeeddccbbaa99887766554433221100a1a2a3a4";

fn key_line(spi_i: [u8; 8]) -> String {
    format!(
        "\"{}\",\"{}\",\"{SK_EI}\",\"{SK_ER}\",\"AES-GCM-128 with 16 octet ICV [RFC5282]\",\"\",\"\",\"NONE [RFC4306]\"\n",
        super::hex(&spi_i),
        super::hex(&SPI_R)
    )
}

impl Ike {
    /// A message whose SK payload holds `inner`, sealed with the keys of
    /// [`key_line`].
    fn sealed(&mut self, ms: u64, header: (ExchangeType, u32, bool, bool), inner: Vec<Payload>) {
        let (exchange, id, by_initiator, response) = header;
        let key = if by_initiator { SK_EI } else { SK_ER };
        let key: Vec<u8> = (0..key.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&key[i..i + 2], 16).unwrap())
            .collect();
        let cipher = tern_crypto::SkCipher::new(
            tern_crypto::AeadAlg::AesGcm16 { key_bits: 128 },
            &tern_crypto::Secret::new(key),
        )
        .unwrap();
        let (first_inner, plain) = write_payloads(&inner);
        let body_len = cipher.sealed_len(plain.len());
        let flags = if response {
            Flags::response(by_initiator)
        } else {
            Flags::request(by_initiator)
        };
        let message = Message {
            header: Header::new(self.spi_i, self.spi_r, exchange, flags, id),
            payloads: vec![Payload::Encrypted(EncryptedPayload {
                first_inner,
                body: vec![0; body_len],
            })],
        };
        let mut bytes = message.to_bytes();
        let at = bytes.len() - body_len;
        let (aad, body) = bytes.split_at_mut(at);
        cipher
            .seal(&u64::from(id + 1).to_be_bytes(), aad, &plain, body)
            .unwrap();
        let (from, to) = if by_initiator { (A, B) } else { (B, A) };
        self.packets.push(Packet {
            ms,
            ip: udp(from, to, 500, &bytes),
        });
    }
}

fn notify(kind: NotifyType) -> Payload {
    Payload::Notify(NotifyPayload::new(kind, vec![]))
}

#[test]
fn with_keys_the_authentication_failed_inside_ike_auth_is_named() {
    let mut ike = Ike::new(13);
    ike.init_request(0, 31);
    ike.init_answer(5);
    ike.sealed(
        10,
        (ExchangeType::IKE_AUTH, 1, true, false),
        vec![Payload::Nonce(vec![9; 200])],
    );
    ike.sealed(
        15,
        (ExchangeType::IKE_AUTH, 1, false, true),
        vec![notify(NotifyType::AUTHENTICATION_FAILED)],
    );
    let keys = KeyTable::parse(&format!("# from ternd\n{}", key_line(ike.spi_i))).unwrap();
    let mut packets = ike.packets;
    packets.sort_by_key(|p| p.ms);
    let o = diagnose(&pcap(&packets), Some(&keys));
    let (kinds, text) = kinds(&o);
    assert_eq!(kinds, ["auth_failed"], "{text}");
    assert!(
        text.contains("authentication failed: 192.0.2.2 said AUTHENTICATION_FAILED in IKE_AUTH (1 time(s), the last at 2026-11-23 00:00:00.015Z)"),
        "{text}"
    );
    assert!(
        text.contains("(decrypted): AUTHENTICATION_FAILED"),
        "{text}"
    );
    assert!(o.errors().is_empty(), "{:?}", o.errors());
    // Without the keys, the answer's size alone says it.
    let o = diagnose(&pcap(&packets), None);
    assert!(
        o.text().contains("most likely AUTHENTICATION_FAILED"),
        "{}",
        o.text()
    );
}

#[test]
fn with_keys_a_refused_child_and_a_wrong_key_are_said() {
    let mut ike = Ike::new(14);
    ike.established(0);
    ike.sealed(
        5_000,
        (ExchangeType::CREATE_CHILD_SA, 2, true, false),
        vec![Payload::Nonce(vec![3; 32])],
    );
    ike.sealed(
        5_010,
        (ExchangeType::CREATE_CHILD_SA, 2, false, true),
        vec![notify(NotifyType::TS_UNACCEPTABLE)],
    );
    let keys = KeyTable::parse(&key_line(ike.spi_i)).unwrap();
    let (kinds, text) = kinds(&diagnose(&pcap(&ike.packets), Some(&keys)));
    assert_eq!(kinds, ["ts_unacceptable"], "{text}");
    assert!(
        text.contains("192.0.2.2 said TS_UNACCEPTABLE in CREATE_CHILD_SA"),
        "{text}"
    );
    // Keys for these SPIs that do not open the payload: said, nothing lost.
    let wrong = key_line(ike.spi_i).replace(SK_ER, &SK_EI.replace("00", "11"));
    let o = diagnose(&pcap(&ike.packets), Some(&KeyTable::parse(&wrong).unwrap()));
    let errors = o.errors().join("\n");
    assert!(errors.contains("packet 6 192.0.2.2:500 -> 192.0.2.1:500: the SK payload does not verify with the keys given for this IKE SA"), "{errors}");
    assert_eq!(o.exit_code(), 1);
}

#[test]
fn a_key_file_that_does_not_parse_names_its_line() {
    let bad = |text: &str| KeyTable::parse(text).err().unwrap_or_default();
    assert_eq!(
        bad("\n\"0102030405060708\",\"1\",\"00\"\n"),
        "line 2: 3 fields where Wireshark's ikev2_decryption_table has 8 (initiator SPI, responder SPI, SK_ei, SK_er, encryption alg, SK_ai, SK_ar, integrity alg)"
    );
    let short_key = key_line([1; 8]).replace(SK_EI, "00112233445566778899aabbccddeeff");
    assert_eq!(
        bad(&short_key),
        "line 1: SK_ei has 16 octets; AES-GCM-128 with 16 octet ICV [RFC5282] needs 20 (for AES-GCM the key and its 4-octet salt)"
    );
    let cbc = "0101010101010101,bbbbbbbbbbbbbbbb,00,00,AES-CBC-128 [RFC3602],,,NONE [RFC4306]";
    assert_eq!(
        bad(cbc),
        "line 1: AES-CBC needs an integrity algorithm, and the line has NONE"
    );
    let des = key_line([1; 8]).replace("AES-GCM-128 with 16 octet ICV [RFC5282]", "3DES [RFC2451]");
    assert!(bad(&des).starts_with(
        "line 1: encryption algorithm \"3DES [RFC2451]\" is not one this reader opens"
    ));
}

#[test]
fn with_keys_deletes_and_rekeys_are_in_the_story() {
    let mut ike = Ike::new(15);
    ike.init_request(0, 31);
    ike.init_answer(5);
    let auth = vec![Payload::Nonce(vec![9; 200])];
    ike.sealed(10, (ExchangeType::IKE_AUTH, 1, true, false), auth.clone());
    ike.sealed(15, (ExchangeType::IKE_AUTH, 1, false, true), auth);
    let rekey = Payload::Notify(NotifyPayload {
        protocol: ProtocolId::ESP,
        spi: vec![0xc0, 0, 0, 1],
        notify_type: NotifyType::REKEY_SA,
        data: vec![],
    });
    ike.sealed(
        20_000,
        (ExchangeType::CREATE_CHILD_SA, 0, false, false),
        vec![rekey],
    );
    ike.sealed(
        20_010,
        (ExchangeType::CREATE_CHILD_SA, 0, true, true),
        vec![Payload::Nonce(vec![4; 32])],
    );
    let delete = Payload::Delete(DeletePayload {
        protocol: ProtocolId::ESP,
        spi_size: 4,
        spis: vec![vec![0xc0, 0, 0, 1]],
    });
    ike.sealed(
        20_500,
        (ExchangeType::INFORMATIONAL, 1, false, false),
        vec![delete],
    );
    ike.sealed(20_510, (ExchangeType::INFORMATIONAL, 1, true, true), vec![]);
    let keys = KeyTable::parse(&key_line(ike.spi_i)).unwrap();
    let o = diagnose(&pcap(&ike.packets), Some(&keys));
    let text = o.text();
    assert!(o.errors().is_empty(), "{:?}", o.errors());
    assert!(
        text.contains(
            "CREATE_CHILD_SA #0 by 192.0.2.2 (REKEY_SA) at 2026-11-23 00:00:20.000Z, answered"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "INFORMATIONAL #1 by 192.0.2.2 (DELETE c0000001) at 2026-11-23 00:00:20.500Z"
        ),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&o.json()).unwrap();
    let x = &json["ike_sas"][0]["exchanges"];
    assert_eq!(x[3]["deletes"], serde_json::json!(["c0000001"]));
    assert_eq!(x[2]["request_notifies"], serde_json::json!(["REKEY_SA"]));
    assert_eq!(x[2]["decrypted"], true);
}
