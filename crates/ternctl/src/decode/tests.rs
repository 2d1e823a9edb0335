use super::*;

const CAPTURE: &[u8] = include_bytes!("../../../wire/tests/fixtures/strongswan.pcap");
const SA_INIT_RESPONSE: &str =
    include_str!("../../../wire/tests/fixtures/ike_sa_init_response.hex");

#[test]
fn text_for_the_real_capture() {
    let report = report(CAPTURE, false);
    assert!(report.succeeded(), "{:?}", report.errors);
    assert_eq!(report.stdout.matches("\npacket ").count() + 1, 14);
    assert!(report.stdout.starts_with(
        "packet 1 192.0.2.2:500 -> 192.0.2.1:500: IKE_SA_INIT request (message ID 0, from the original initiator, 892 bytes)\n"
    ));
    assert!(report.stdout.contains(
        "packet 9 192.0.2.2:4500 -> 192.0.2.1:4500: CREATE_CHILD_SA request (message ID 4, from the original initiator, 864 bytes)\n  SPIs a3a4d9ae5f8df933 / eac6ee1f5e255896\n  SK encrypted=true first_inner=SA length=832\n"
    ));
}

#[test]
fn json_has_the_documented_keys() {
    let report = report(CAPTURE, true);
    assert!(report.succeeded());
    let parsed: serde_json::Value = serde_json::from_str(&report.stdout).expect("valid JSON");
    let messages = parsed.as_array().expect("an array");
    assert_eq!(messages.len(), 14);
    for m in messages {
        for key in [
            "exchange",
            "initiator_spi",
            "responder_spi",
            "message_id",
            "is_response",
            "is_initiator",
            "payloads",
        ] {
            assert!(m.get(key).is_some(), "{key} missing in {m}");
        }
        for p in m["payloads"].as_array().expect("payloads is a list") {
            assert!(p["type"].is_string());
        }
    }
    let first = &messages[0];
    assert_eq!(first["exchange"], "IKE_SA_INIT");
    assert_eq!(first["initiator_spi"], "a3a4d9ae5f8df933");
    assert_eq!(first["responder_spi"], "0000000000000000");
    assert_eq!(first["message_id"], 0);
    assert_eq!(first["is_response"], false);
    assert_eq!(first["is_initiator"], true);
    assert_eq!(first["payloads"][0]["type"], "SA");
    assert_eq!(
        first["payloads"][0]["proposals"][1]["transforms"][0]["id"],
        "AES_GCM_16"
    );
    let auth = &messages[2]["payloads"][0];
    assert_eq!(auth["type"], "SK");
    assert_eq!(auth["encrypted"], true);
    assert_eq!(auth["length"], 384);
}

#[test]
fn a_malformed_message_is_an_error_and_the_rest_decodes() {
    let good = SA_INIT_RESPONSE;
    // Second block: the same message with its first payload's length broken.
    let broken = good.replacen("22000030", "2200ffff", 1);
    assert_ne!(broken, good);
    let input = format!("{good}\n{broken}\n{good}");
    let report = report(input.as_bytes(), true);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(
        report.errors[0].contains("malformed IKE message at offset 30"),
        "{}",
        report.errors[0]
    );
    let parsed: serde_json::Value = serde_json::from_str(&report.stdout).expect("valid JSON");
    assert_eq!(parsed.as_array().map(Vec::len), Some(2));
}

#[test]
fn unusable_input() {
    let truncated = report(&[0xd4, 0xc3, 0xb2, 0xa1, 0], false);
    assert!(!truncated.succeeded());
    assert!(truncated.errors[0].contains("pcap file header is truncated"));
    let empty = report(b"", false);
    assert!(empty.succeeded());
    assert_eq!(empty.stdout, "no IKE messages found\n");
}
