//! `ternctl simulate` as a user runs it: a scenario file, text or JSON, exit status.

use std::path::PathBuf;
use std::process::Command;

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../conf/scenarios")
        .join(name)
}

fn ternctl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ternctl"))
        .args(args)
        .output()
        .expect("ternctl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_week_of_mismatched_lifetimes_as_json() {
    let file = scenario("mismatched-3600-vs-2700.toml");
    let (code, stdout, stderr) = ternctl(&["simulate", "--json", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["duration_s"], 7.0 * 86400.0);
    assert_eq!(report["max_outage_s"], 0.0);
    assert_eq!(report["duplicate_child_sas"], 0);
    for side in ["local", "peer"] {
        for key in ["ike_rekeys", "child_rekeys", "collisions", "hard_expiries"] {
            assert!(report[side][key].is_u64(), "{side}.{key} in {stdout}");
        }
        assert_eq!(report[side]["hard_expiries"], 0, "{side}");
    }
    // The peer's 2700 s lifetime is the shorter: it does the CHILD rekeys, about
    // one every 45 minutes (less its jitter) for 7 days.
    let peer_rekeys = report["peer"]["child_rekeys"].as_u64().unwrap();
    assert!((224..=260).contains(&peer_rekeys), "{peer_rekeys}");
    assert_eq!(report["local"]["child_rekeys"], 0);
}

#[test]
fn text_report_names_the_figures() {
    let file = scenario("identical-no-jitter.toml");
    let (code, stdout, stderr) = ternctl(&["simulate", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("simulated 7d 0h 0m (seed 1)"), "{stdout}");
    assert!(
        stdout.contains("duplicate CHILD SAs at the end: 0; kernels agree"),
        "{stdout}"
    );
    assert!(stdout.contains("collisions"), "{stdout}");
}

#[test]
fn a_bad_scenario_names_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("ternctl-simulate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "duration = \"1d\"\nseed = 1\n[network]\nloss = \"lots\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = ternctl(&["simulate", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(stderr.contains("bad.toml:4:8"), "{stderr}");
    let (code, _, stderr) = ternctl(&["simulate", dir.join("missing.toml").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("missing.toml: cannot read the scenario"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_strongswan_peer_given_as_its_swanctl_conf_is_simulated_with_its_ways() {
    // strongSwan with CHILD rekey_time = 7s and no life_time: its life is 7 s as
    // well, so it lets each SA expire; tern learns that and rekeys first.
    let file = scenario("strongswan-rekey-7s.toml");
    let (code, stdout, stderr) = ternctl(&["simulate", "--json", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    // Imported as written: the peer's 7 s lives (rounded down as strongSwan
    // computes them) end its first SAs before anyone rekeys.
    let peer_expiries = report["peer"]["hard_expiries"].as_u64().unwrap();
    assert!((1..=3).contains(&peer_expiries), "{stdout}");
    assert_eq!(report["local"]["rekeys_adapted"], 1, "{stdout}");
    // Then tern rekeys every few seconds, and the tunnel stays up.
    assert!(
        report["local"]["child_rekeys"].as_u64().unwrap() > 400,
        "{stdout}"
    );
    assert!(report["max_outage_s"].as_f64().unwrap() < 1.0, "{stdout}");
    let (code, text, _) = ternctl(&["simulate", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        text.contains("the peer lets its SAs expire instead of rekeying them"),
        "{text}"
    );
}

#[test]
fn a_swanctl_peer_tern_cannot_load_is_refused_with_the_file_and_line() {
    let dir = std::env::temp_dir().join(format!("ternctl-simulate-swan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("peer.conf"),
        "connections {\n    demo {\n        local_addrs = 192.0.2.2\n    }\n",
    )
    .unwrap();
    // The same scenario, with a swanctl.conf whose connection lacks what tern needs.
    let text = std::fs::read_to_string(scenario("strongswan-rekey-7s.toml")).unwrap();
    std::fs::write(
        dir.join("s.toml"),
        text.replace("strongswan-rekey-7s.swanctl.conf", "peer.conf"),
    )
    .unwrap();
    let (code, stdout, stderr) = ternctl(&["simulate", dir.join("s.toml").to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stderr.contains("[peer] swanctl:"), "{stderr}");
    assert!(stderr.contains("peer.conf"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
