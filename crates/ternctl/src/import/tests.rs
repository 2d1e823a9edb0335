//! The importer on swanctl.conf files written for these tests after the keys
//! strongSwan's swanctl.conf documentation describes.

use std::path::Path;

use super::{swanctl, Imported};

fn import(text: &str) -> Imported {
    swanctl(text, Path::new("/nonexistent/swanctl.conf")).unwrap()
}

/// The note on `line`, which must exist and mention `says`.
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

const SITE_TO_SITE: &str = r#"# A branch office's gateway.
connections {
    hq {
        version = 2
        local_addrs = 198.51.100.10
        remote_addrs = 203.0.113.5, hq-backup.example.net
        proposals = aes256gcm16-prfsha384-ecp384, default
        rekey_time = 4h
        over_time = 20m
        dpd_delay = 30s
        mobike = no
        local {
            auth = psk
            id = @branch.example.net
        }
        remote {
            auth = psk
            id = @hq.example.net
        }
        children {
            lan {
                local_ts = 10.20.0.0/16
                remote_ts = 10.10.0.0/16, 10.11.0.0/16
                esp_proposals = aes256gcm16-ecp384
                rekey_time = 50m
                life_time = 1h
                dpd_action = restart
                start_action = start
                updown = /usr/local/sbin/updown.sh
            }
        }
    }
}
secrets {
    ike-other {
        id = somebody.else.example
        secret = "not this one"
    }
    ike-hq {
        id-branch = branch.example.net
        id-hq = hq.example.net
        secret = 0sc2VjcmV0LWtleS1mb3ItdGVzdGluZw==
    }
}
"#;

#[test]
fn a_site_to_site_psk_connection_converts_and_loads() {
    let imported = import(SITE_TO_SITE);
    assert!(imported.loads, "{}\n{:#?}", imported.toml, imported.notes);
    let config = tern_config::parse_str(&imported.toml, "converted").unwrap();
    let hq = &config.engine.connections[0];
    assert_eq!(hq.name, "hq");
    assert_eq!(
        hq.remote_addrs,
        ["203.0.113.5".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(hq.ike_proposals.len(), 1);
    assert_eq!(hq.dpd_delay, std::time::Duration::from_secs(30));
    assert_eq!(
        hq.lifetime.rekey_time,
        std::time::Duration::from_secs(4 * 3600)
    );
    assert_eq!(
        hq.lifetime.life_time,
        std::time::Duration::from_secs(4 * 3600 + 20 * 60),
        "life_time = rekey_time + over_time"
    );
    let lan = &hq.children[0];
    assert_eq!(lan.remote_ts.len(), 2);
    assert_eq!(lan.lifetime.life_time, std::time::Duration::from_secs(3600));
    for line in [
        "local_id = \"branch.example.net\"",
        "remote_id = \"hq.example.net\"",
        // 0s (base64) as 0x hex: "secret-key-for-testing".
        "psk = \"0x7365637265742d6b65792d666f722d74657374696e67\"",
        "dpd_action = \"restart\"",
        "start_action = \"start\"",
        "mobike = false",
    ] {
        assert!(
            imported.toml.lines().any(|l| l == line),
            "no `{line}` in\n{}",
            imported.toml
        );
    }
    note_on(&imported, 6, "`hq-backup.example.net` not converted");
    note_on(&imported, 7, "`default` not converted");
    note_on(
        &imported,
        29,
        "`updown = /usr/local/sbin/updown.sh` not converted",
    );
    assert_eq!(imported.notes.len(), 3, "{:#?}", imported.notes);
    assert!(
        imported
            .notes
            .iter()
            .all(|n| !n.message.contains("secret-key")),
        "no secret in the report"
    );
}

const ROAD_WARRIORS: &str = r#"connections {
    rw {
        pools = rw_pool
        local {
            auth = pubkey
            certs = gwCert.pem
            id = gw.example.org
        }
        remote {
            auth = pubkey
            cacerts = caCert.pem
        }
        remote-2 {
            auth = eap-mschapv2
        }
        children {
            net {
                local_ts = 10.1.0.0/16
                remote_ts = dynamic
                mode = beet
            }
        }
    }
}
pools {
    rw_pool {
        addrs = 10.3.0.0/24
    }
}
secrets {
    eap-carol {
        id = carol
        secret = "carol's password"
    }
}
"#;

#[test]
fn road_warriors_with_eap_and_virtual_ips_say_what_is_missing() {
    let imported = import(ROAD_WARRIORS);
    assert!(!imported.loads, "no remote_ts, no key: tern cannot load it");
    note_on(
        &imported,
        3,
        "`pools = rw_pool` not converted: tern's pools are [pools.NAME] tables",
    );
    note_on(
        &imported,
        13,
        "`remote-2` not converted: tern does one authentication round",
    );
    note_on(&imported, 19, "`remote_ts = dynamic` not converted");
    note_on(&imported, 20, "`mode = beet` not converted");
    note_on(&imported, 25, "section `pools` not converted");
    note_on(&imported, 31, "secret `eap-carol` not converted");
    note_on(&imported, 2, "set key = \"...\"");
    for line in [
        "auth = \"pubkey\"",
        "cert = \"/nonexistent/x509/gwCert.pem\"",
        "cacerts = [\"/nonexistent/x509ca/caCert.pem\"]",
    ] {
        assert!(
            imported.toml.contains(line),
            "no `{line}` in\n{}",
            imported.toml
        );
    }
    // What tern refuses is reported against the swanctl line it came from.
    note_on(
        &imported,
        17,
        "converted, but tern refuses it: missing key `remote_ts`",
    );
    note_on(
        &imported,
        11,
        "converted, but tern refuses it: cannot read cacerts",
    );
}

#[test]
fn ikev1_and_syntax_errors_are_reported_by_line() {
    let imported = import(
        "connections {\n  old {\n    version = 1\n    local { auth = psk\n id = a }\n  }\n}\n",
    );
    note_on(&imported, 3, "tern speaks IKEv2 only");
    let err = swanctl("connections {\n  x {\n", Path::new("s.conf"))
        .err()
        .unwrap();
    assert_eq!(err.line, 2);
}
