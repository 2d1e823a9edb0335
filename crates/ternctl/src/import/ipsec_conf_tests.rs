//! The ipsec.conf importer on files written for these tests after the keys
//! strongSwan's ipsec.conf documentation describes, each with an ipsec.secrets
//! beside it.

use std::path::PathBuf;

use super::{ipsec_conf, Imported};

/// `conf` and `secrets` written to a directory of their own; the import of them.
fn import(tag: &str, conf: &str, secrets: Option<&str>) -> (Imported, PathBuf) {
    let dir = std::env::temp_dir().join(format!("ternctl-ipsec-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ipsec.conf");
    std::fs::write(&path, conf).unwrap();
    let secrets_path = dir.join("ipsec.secrets");
    match secrets {
        Some(s) => std::fs::write(&secrets_path, s).unwrap(),
        None => {
            let _ = std::fs::remove_file(&secrets_path);
        }
    }
    (ipsec_conf(conf, &path), dir)
}

fn note_on(imported: &Imported, line: usize, says: &str) {
    assert!(
        imported
            .notes
            .iter()
            .any(|n| n.line == line && n.message.contains(says)),
        "no note on line {line} saying {says:?}: {:#?}",
        imported.notes
    );
}

fn has_line(imported: &Imported, line: &str) {
    assert!(
        imported.toml.lines().any(|l| l == line),
        "no `{line}` in\n{}",
        imported.toml
    );
}

const HOST_TO_HOST: &str =
    include_str!("../../tests/fixtures/import/ipsec-host-to-host/ipsec.conf");

const HOST_TO_HOST_SECRETS: &str =
    include_str!("../../tests/fixtures/import/ipsec-host-to-host/ipsec.secrets");

#[test]
fn host_to_host_with_default_converts_and_loads() {
    let (imported, _) = import("h2h", HOST_TO_HOST, Some(HOST_TO_HOST_SECRETS));
    assert!(imported.loads, "{}\n{:#?}", imported.toml, imported.notes);
    let config = tern_config::parse_str(&imported.toml, "converted").unwrap();
    let conn = &config.engine.connections[0];
    assert_eq!(conn.name, "moon-sun");
    assert_eq!(conn.dpd_delay, std::time::Duration::from_secs(30));
    // %default: ikelifetime 60m, rekeymargin 3m; rekeyfuzz 100 %.
    assert_eq!(conn.lifetime.rekey_time.as_secs(), 57 * 60);
    assert_eq!(conn.lifetime.life_time.as_secs(), 60 * 60);
    let child = &conn.children[0];
    assert_eq!(child.name, "moon-sun");
    assert_eq!(child.lifetime.rekey_time.as_secs(), 17 * 60);
    assert_eq!(child.lifetime.life_time.as_secs(), 20 * 60);
    for line in [
        "local_addrs = [\"192.0.2.1\"]",
        "local_id = \"moon.example.org\"",
        "remote_id = \"sun.example.org\"",
        "auth = \"psk\"",
        // The second secret: it names both identities. 0s (base64) as 0x hex.
        "psk = \"0x7465726e2d69707365632d636f6e662d746573742d6b6579\"",
        "proposals = [\"aes256-sha256-modp2048\"]",
        "esp_proposals = [\"aes256gcm16-modp2048\"]",
        "keyingtries = 1",
        "mobike = false",
        "rand_time = \"3m\"",
        "start_action = \"start\"",
        "dpd_action = \"restart\"",
        // No subnets: strongSwan's default, the hosts themselves.
        "local_ts = [\"192.0.2.1\"]",
        "remote_ts = [\"192.0.2.2\"]",
    ] {
        has_line(&imported, line);
    }
    note_on(&imported, 2, "`config setup` not converted");
    note_on(&imported, 18, "the strict flag `!` is dropped");
    assert!(
        imported
            .notes
            .iter()
            .all(|n| !n.message.contains("tern-ipsec")),
        "no secret in the report"
    );
}

const NET_TO_NET: &str = include_str!("../../tests/fixtures/import/ipsec-net-to-net/ipsec.conf");

const NET_TO_NET_SECRETS: &str =
    include_str!("../../tests/fixtures/import/ipsec-net-to-net/ipsec.secrets");

#[test]
fn net_to_net_with_also_converts_each_loaded_conn() {
    let (imported, _) = import("n2n", NET_TO_NET, Some(NET_TO_NET_SECRETS));
    assert!(imported.loads, "{}\n{:#?}", imported.toml, imported.notes);
    let config = tern_config::parse_str(&imported.toml, "converted").unwrap();
    let names: Vec<&str> = config
        .engine
        .connections
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    // `sites` is a template (auto=ignore, the default, and named by also=).
    assert_eq!(names, ["lan-a-to-lan-b", "lan-a-to-dmz"]);
    let conn = &config.engine.connections[0];
    assert_eq!(conn.lifetime.rekey_time.as_secs(), 8 * 3600 - 600);
    assert_eq!(conn.lifetime.life_time.as_secs(), 8 * 3600);
    let child = &conn.children[0];
    assert_eq!(child.local_ts.len(), 2);
    assert_eq!(child.lifetime.rekey_time.as_secs(), 2 * 3600 - 600);
    for line in [
        "rand_time = \"5m\"",
        "start_action = \"trap\"",
        "dpd_action = \"trap\"",
        "close_action = \"start\"",
        "mode = \"transport\"",
        "psk = \"a key for the two sites\"",
    ] {
        has_line(&imported, line);
    }
    // Settings inherited through also= are reported once per conn, at their line.
    note_on(&imported, 15, "`dpdtimeout=60s` not converted");
    note_on(&imported, 18, "`leftfirewall=yes` not converted");
    note_on(&imported, 26, "conn unused-test not converted: auto=ignore");
}

#[test]
fn without_secrets_or_with_unsupported_settings_the_report_says_what_to_do() {
    let conf = "conn rw\n    left=192.0.2.1\n    right=%any\n    rightsourceip=10.3.0.0/24\n    leftauth=pubkey\n    rightauth=eap-mschapv2\n    leftcert=gwCert.pem\n    rightsubnet=10.3.0.0/24\n    keyexchange=ikev1\n    include /etc/other.conf\n    auto=add\ninclude /etc/ipsec.d/*.conf\n";
    let (imported, dir) = import("rw", conf, None);
    note_on(&imported, 1, "has no leftid; strongSwan uses its address");
    note_on(&imported, 4, "virtual IPs come from [pools.NAME] tables");
    note_on(&imported, 6, "`rightauth=eap-mschapv2` not converted");
    note_on(&imported, 9, "tern speaks IKEv2 only");
    note_on(&imported, 12, "not followed");
    note_on(&imported, 1, "set key = \"...\"");
    let cert = dir.canonicalize().unwrap().join("ipsec.d/certs/gwCert.pem");
    has_line(&imported, &format!("cert = \"{}\"", cert.display()));
    assert!(!imported.loads, "no key file: tern cannot load it");

    let (imported, _) = import(
        "nosecret",
        "conn a\n    left=192.0.2.1\n    right=192.0.2.2\n    authby=secret\n    auto=add\n",
        None,
    );
    note_on(
        &imported,
        1,
        "no PSK in the ipsec.secrets beside this file matches conn a",
    );
    assert!(!imported.loads);
}

#[test]
fn a_bad_secret_is_reported_with_its_ipsec_secrets_line_never_its_value() {
    let (imported, _) = import(
        "badsecret",
        "conn a\n    left=192.0.2.1\n    right=192.0.2.2\n    authby=secret\n    auto=add\n",
        Some("# keys\n192.0.2.1 192.0.2.2 : PSK 0s!!not-base64!!\n"),
    );
    note_on(&imported, 0, "ipsec.secrets:2: a PSK that is neither text");
    assert!(imported
        .notes
        .iter()
        .all(|n| !n.message.contains("not-base64")));
    assert!(!imported.loads);
}

#[test]
fn a_file_without_a_loaded_conn_says_so() {
    let (imported, _) = import("empty", "config setup\n    strictcrlpolicy=no\n", None);
    note_on(&imported, 0, "no conn to convert");
}
