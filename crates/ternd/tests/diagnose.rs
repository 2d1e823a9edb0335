//! `ternctl diagnose [CONN]` against running ternds, where the evidence comes
//! from real exchanges: a healthy tunnel, a wrong PSK, PFS wanted by one side
//! only (the rekey refused), a peer that never answers. Two ternd in network
//! namespaces, `--no-kernel`.
//!
//! Needs root (ip netns); fails, saying so, without it.

mod common;

use common::{moon_config, sun_config, temp_dir, Daemon, Net};

/// The finding of `kind` in `ternctl --json diagnose` output, or a panic with it.
fn finding(json: &serde_json::Value, kind: &str) -> serde_json::Value {
    json["connections"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} finding in {json:#}"))
}

#[test]
fn a_healthy_tunnel_is_healthy_and_an_unknown_connection_is_an_error() {
    let net = Net::new("dh");
    let dir = temp_dir("dh");
    let moon = Daemon::start(&net.a, &dir, "moon", None);
    let sun = Daemon::start(
        &net.b,
        &dir,
        "sun",
        Some(&sun_config(&dir, "tern-demo-psk-change-me")),
    );
    let (ok, message) = moon.ctl(&["initiate", "demo"]);
    assert!(ok, "{message}\n{}", sun.log_text());
    let out = moon.ternctl(&["diagnose", "demo"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .starts_with("demo: healthy: IKE SA up, 1 of 1 children installed (net)"),
        "{out:?}"
    );
    let json = moon.ternctl(&["--json", "diagnose"]).json();
    assert_eq!(json["connections"][0]["healthy"], true, "{json:#}");
    let out = moon.ternctl(&["diagnose", "nope"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stderr, "ternctl: no connection named `nope`\n");
}

#[test]
fn a_wrong_psk_is_an_authentication_failure_naming_psk() {
    let net = Net::new("dp");
    let dir = temp_dir("dp");
    let moon = Daemon::start(&net.a, &dir, "moon", None);
    let _sun = Daemon::start(
        &net.b,
        &dir,
        "sun",
        Some(&sun_config(&dir, "not-the-same-key")),
    );
    let (ok, _) = moon.ctl(&["initiate", "demo"]);
    assert!(!ok);
    let out = moon.ternctl(&["diagnose", "demo"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("authentication failed"), "{out:?}");
    let json = moon.ternctl(&["--json", "diagnose", "demo"]).json();
    assert_eq!(finding(&json, "auth_failed")["setting"], "psk");
    assert_eq!(json["connections"][0]["healthy"], false);
}

#[test]
fn a_rekey_refused_for_pfs_wanted_by_us_only_names_the_group_and_the_key() {
    let net = Net::new("df");
    let dir = temp_dir("df");
    let moon_conf = moon_config(&dir, "moon.toml", |text| {
        text.replace(
            "esp_proposals = [\"aes128gcm16\"]",
            "esp_proposals = [\"aes128gcm16-x25519\"]",
        )
    });
    let moon = Daemon::start(&net.a, &dir, "moon", Some(&moon_conf));
    let sun = Daemon::start(
        &net.b,
        &dir,
        "sun",
        Some(&sun_config(&dir, "tern-demo-psk-change-me")),
    );
    let (ok, message) = moon.ctl(&["initiate", "demo"]);
    assert!(ok, "{message}\n{}", sun.log_text());
    // IKE_AUTH's CHILD SA makes no key exchange: it came up. Its rekey carries one.
    let _ = moon.ctl(&["rekey", "demo"]);
    moon.wait_for("the refused rekey in the history", || {
        moon.ternctl(&["--json", "diagnose", "demo"]).code == 1
    });
    let out = moon.ternctl(&["diagnose", "demo"]);
    assert!(
        out.stdout.contains("PFS (x25519) is wanted by tern only"),
        "{out:?}"
    );
    let json = moon.ternctl(&["--json", "diagnose", "demo"]).json();
    let pfs = finding(&json, "one_sided_pfs");
    assert_eq!(pfs["setting"], "esp_proposals");
    assert_eq!(pfs["child"], "net");
    assert!(pfs["fix"].as_str().unwrap().contains("x25519"), "{pfs:#}");
}

#[test]
fn a_peer_that_never_answers_is_never_reachable() {
    let net = Net::new("dn");
    let dir = temp_dir("dn");
    let moon_conf = moon_config(&dir, "moon.toml", |text| {
        text.replace("base_secs = 4.0", "base_secs = 0.1")
            .replace("tries = 5", "tries = 1")
    });
    // No sun.
    let moon = Daemon::start(&net.a, &dir, "moon", Some(&moon_conf));
    let (ok, _) = moon.ctl(&["initiate", "demo"]);
    assert!(!ok);
    let json = moon.ternctl(&["--json", "diagnose", "demo"]).json();
    let f = finding(&json, "never_reachable");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("never answered IKE_SA_INIT"),
        "{f:#}"
    );
    assert_eq!(f["setting"], "remote_addrs");
}
