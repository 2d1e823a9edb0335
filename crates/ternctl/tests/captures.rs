//! `ternctl diagnose --pcap` on real captures between two strongSwan charons in
//! the test kernel (tern in neither role), made by tests/captures/make-captures
//! (fixtures/captures/README.md): each says its failure, naming the side.

use std::path::PathBuf;
use std::process::Command;

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/captures")
        .join(format!("{name}.pcap"))
}

/// Exit status, and the JSON answer's findings of the one pair.
fn diagnose(name: &str) -> (i32, Vec<serde_json::Value>, String) {
    let file = capture(name);
    let out = Command::new(env!("CARGO_BIN_EXE_ternctl"))
        .args(["--json", "diagnose", "--pcap", file.to_str().unwrap()])
        .output()
        .expect("ternctl runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let connections = json["connections"].as_array().expect("connections");
    assert_eq!(connections.len(), 1, "{stdout}");
    assert_eq!(connections[0]["connection"], "192.0.2.1 <-> 192.0.2.2");
    let findings = connections[0]["findings"].as_array().unwrap().clone();
    (out.status.code().unwrap_or(-1), findings, stdout)
}

/// The one finding: its kind, setting, and message and fix as one text.
fn only_finding(name: &str) -> (String, String, String) {
    let (code, findings, stdout) = diagnose(name);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(findings.len(), 1, "{stdout}");
    let f = &findings[0];
    (
        f["kind"].as_str().unwrap().to_string(),
        f["setting"].as_str().unwrap_or("").to_string(),
        format!(
            "{} Fix: {}",
            f["message"].as_str().unwrap(),
            f["fix"].as_str().unwrap()
        ),
    )
}

#[test]
fn no_proposal_names_the_initiators_proposal() {
    let (kind, setting, text) = only_finding("no-proposal");
    assert_eq!(
        (kind.as_str(), setting.as_str()),
        ("no_proposal", "proposals")
    );
    assert!(
        text.contains("192.0.2.2:500 answered 192.0.2.1:500's IKE_SA_INIT with NO_PROPOSAL_CHOSEN"),
        "{text}"
    );
    assert!(
        text.contains("192.0.2.1 offered #1 AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE25519"),
        "{text}"
    );
}

#[test]
fn a_peer_that_is_down_is_never_reachable() {
    let (kind, setting, text) = only_finding("peer-down");
    assert_eq!(
        (kind.as_str(), setting.as_str()),
        ("never_reachable", "remote_addrs")
    );
    // charon's retransmit_tries = 3: the request and three retransmissions.
    assert!(
        text.contains("192.0.2.1:500 sent IKE_SA_INIT 4 time(s)"),
        "{text}"
    );
    assert!(
        text.contains("192.0.2.2:500 never answered: 192.0.2.2 is down"),
        "{text}"
    );
}

#[test]
fn a_wrong_psk_is_an_ike_auth_answered_with_a_bare_notify() {
    let (kind, setting, text) = only_finding("wrong-psk");
    assert_eq!((kind.as_str(), setting.as_str()), ("auth_failed", "psk"));
    assert!(
        text.contains("192.0.2.2 refused 192.0.2.1's IKE_AUTH (1 time(s)"),
        "{text}"
    );
    assert!(text.contains("most likely AUTHENTICATION_FAILED"), "{text}");
}

#[test]
fn esp_dropped_one_way_names_the_silent_side() {
    let (kind, _, text) = only_finding("esp-one-way");
    assert_eq!(kind, "esp_not_arriving");
    assert!(
        text.contains("ESP went from 192.0.2.1 to 192.0.2.2 (20 packets on 1 SPI(s)"),
        "{text}"
    );
    assert!(text.contains("none came back from 192.0.2.2"), "{text}");
}

#[test]
fn a_peer_with_rekeying_off_lets_child_sas_expire() {
    let (kind, setting, text) = only_finding("rekey-off");
    assert_eq!(
        (kind.as_str(), setting.as_str()),
        ("peer_lets_sas_expire", "rekey_time")
    );
    // sun's life of 8 s over a 25 s ping: three expiries, each deleted by sun.
    assert!(
        text.contains("3 time(s) an ESP SA stopped after about 7."),
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
fn a_peer_killed_is_a_dead_peer_then_unreachable() {
    let (code, findings, stdout) = diagnose("dead-peer");
    assert_eq!(code, 1, "{stdout}");
    let kinds: Vec<&str> = findings
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["dead_peer", "never_reachable"], "{stdout}");
    let dead = findings[0]["message"].as_str().unwrap();
    // charon's DPD request and its three retransmissions, then dpd_action = restart.
    assert!(dead.contains("192.0.2.2 stopped answering an established IKE SA (dead peer): 192.0.2.1:4500 sent INFORMATIONAL (message ID 2) 4 times"), "{dead}");
    assert!(
        dead.contains("then 192.0.2.1 started a new IKE SA at"),
        "{dead}"
    );
    let unreachable = findings[1]["message"].as_str().unwrap();
    assert!(
        unreachable.contains("192.0.2.2:500 stopped answering (its last answer was at"),
        "{unreachable}"
    );
    assert_eq!(findings[0]["setting"], "dpd_action");
}

#[test]
fn each_capture_is_small_and_its_text_names_the_story() {
    for name in [
        "no-proposal",
        "peer-down",
        "wrong-psk",
        "esp-one-way",
        "rekey-off",
        "dead-peer",
    ] {
        let file = capture(name);
        assert!(std::fs::metadata(&file).unwrap().len() < 50_000, "{name}");
        let out = Command::new(env!("CARGO_BIN_EXE_ternctl"))
            .args(["diagnose", "--pcap", file.to_str().unwrap()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{name}: {text}");
        assert!(
            text.starts_with("192.0.2.1 <-> 192.0.2.2: "),
            "{name}: {text}"
        );
        assert!(text.contains("\nstory:\n  IKE SA "), "{name}: {text}");
    }
}

#[test]
fn a_wrong_psk_with_the_initiators_keys_is_the_notify_itself() {
    let keys = capture("wrong-psk").with_extension("keys");
    let out = Command::new(env!("CARGO_BIN_EXE_ternctl"))
        .args(["diagnose", "--pcap"])
        .arg(capture("wrong-psk"))
        .arg("--keys")
        .arg(&keys)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            "authentication failed: 192.0.2.2 said AUTHENTICATION_FAILED in IKE_AUTH (1 time(s)"
        ),
        "{text}"
    );
    assert!(
        text.contains("(decrypted): AUTHENTICATION_FAILED"),
        "{text}"
    );
    assert!(
        text.contains("IKE_AUTH #1 by 192.0.2.1 (INITIAL_CONTACT) at"),
        "{text}"
    );
    assert!(!text.contains("most likely"), "{text}");
}
