//! The worked examples of docs/ run as written (only their addresses moved to the
//! test network): two ternd in network namespaces, `--no-kernel`.
//!
//! Needs root (ip netns); fails, saying so, without it.

mod common;

use std::path::{Path, PathBuf};

use common::{temp_dir, Daemon, Net};

fn example(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../conf/examples")
            .join(name),
    )
    .unwrap()
}

/// `text` with the example's addresses replaced by the test network's, written to
/// `dir/name`.
fn moved(dir: &Path, name: &str, text: &str, addresses: &[(&str, &str)]) -> PathBuf {
    let mut text = text.to_string();
    for (from, to) in addresses {
        assert!(text.contains(from), "{name} has no {from}");
        text = text.replace(from, to);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn site_to_site_with_psk_comes_up_by_itself() {
    let net = Net::new("w");
    let dir = temp_dir("w");
    let addresses = [
        ("198.51.100.10", "192.0.2.1"),
        ("203.0.113.20", "192.0.2.2"),
    ];
    let east = moved(
        &dir,
        "east.toml",
        &example("site-to-site-psk-east.toml"),
        &addresses,
    );
    let west = moved(
        &dir,
        "west.toml",
        &example("site-to-site-psk-west.toml"),
        &addresses,
    );
    let east = Daemon::start(&net.b, &dir, "east", Some(&east));
    // west has start_action = "start": no ternctl needed.
    let west = Daemon::start(&net.a, &dir, "west", Some(&west));
    west.wait_for("the tunnel", || {
        let sas = west.sas();
        sas.len() == 1 && sas[0].children.len() == 1
    });
    let (w, e) = (&west.sas()[0], &east.sas()[0]);
    assert_eq!(w.connection, "east");
    assert_eq!(e.connection, "west");
    assert_eq!(w.proposal, e.proposal);
    assert!(
        w.proposal.contains("AES_GCM_16_256") && w.proposal.contains("ECP_384"),
        "{}",
        w.proposal
    );
    assert_eq!(w.children[0].local_ts, ["10.10.0.0/16"]);
    assert_eq!(e.children[0].local_ts, ["10.20.0.0/16"]);
    assert_eq!(w.children[0].spi_in, e.children[0].spi_out);

    // A rekey of the CHILD SA uses the PFS group of esp_proposals.
    let out = west.ternctl(&["rekey", "east"]);
    assert_eq!(out.code, 0, "{out:?}");
    // The old CHILD SA may still be there, REKEYED, until its DELETE is answered.
    let sa = &west.sas()[0];
    let child = sa
        .children
        .iter()
        .find(|c| c.state == tern_control::ChildSaState::Installed)
        .unwrap_or_else(|| panic!("no installed CHILD SA: {sa:?}"));
    assert!(child.proposal.contains("ECP_384"), "{}", child.proposal);

    // The key never reaches a log (at debug level) or ternctl's output.
    let key = "3c1e9f0d5a7b28e4c6f1a09d7e3b5c2f";
    assert!(example("site-to-site-psk-west.toml").contains(key));
    for daemon in [&west, &east] {
        assert!(!daemon.log_text().contains(key), "the PSK in a log");
        for args in [
            &["list-conns", "--json"][..],
            &["list-conns"],
            &["list-sas", "--json"],
        ] {
            assert!(!daemon.ternctl(args).stdout.contains(key), "{args:?}");
        }
    }

    // close_action = "start": east closes the tunnel, west brings it straight back.
    let out = east.ternctl(&["terminate", "west"]);
    assert_eq!(out.code, 0, "{out:?}");
    west.wait_for("the tunnel back after east's DELETE", || {
        let sas = west.sas();
        sas.len() == 1 && sas[0].unique_id != w.unique_id && sas[0].children.len() == 1
    });
}

/// What the Windows client offers, in tern's syntax, minus what tern cannot offer
/// (3DES, DES and NULL encryption).
const WINDOWS_OFFERS: &[(&str, &str, &str, &str)] = &[
    // name, IKE offer, what the IKE SA must use, ESP offer
    (
        "win10",
        "aes128-aes192-aes256-sha1-sha256-sha384-modp1024",
        "MODP_1024",
        "aes256-aes128-sha1",
    ),
    (
        "win11gcm",
        "aes128gcm16-aes256gcm16-prfsha1-prfsha256-prfsha384-modp1024",
        "MODP_1024",
        "aes256-aes128-sha1",
    ),
    (
        "win-dh2048",
        "aes256-sha1-sha256-sha384-modp2048",
        "MODP_2048",
        "aes256-aes128-sha1",
    ),
];

#[test]
fn road_warrior_responder_accepts_the_windows_client_s_default_proposals() {
    let net = Net::new("r");
    let dir = temp_dir("r");
    let gateway = moved(
        &dir,
        "gateway.toml",
        &example("road-warrior-windows.toml"),
        &[("198.51.100.1", "192.0.2.2")],
    );
    let psk = example("road-warrior-windows.toml")
        .lines()
        .find_map(|l| l.strip_prefix("psk = "))
        .unwrap()
        .to_string();
    let mut client = String::new();
    for (name, ike, _, esp) in WINDOWS_OFFERS {
        client += &format!(
            r#"
[connections.{name}]
remote_addrs = ["192.0.2.2"]
local_id = "carol@example.org"
remote_id = "vpn.example.org"
auth = "psk"
psk = {psk}
proposals = ["{ike}"]

[connections.{name}.children.office]
local_ts = ["192.0.2.1/32"]
remote_ts = ["10.10.0.0/16"]
esp_proposals = ["{esp}"]
"#
        );
    }
    let client_conf = dir.join("client.toml");
    std::fs::write(&client_conf, client).unwrap();
    let gateway = Daemon::start(&net.b, &dir, "gateway", Some(&gateway));
    let carol = Daemon::start(&net.a, &dir, "carol", Some(&client_conf));

    for (name, _, group, _) in WINDOWS_OFFERS {
        let out = carol.ternctl(&["initiate", name]);
        assert_eq!(out.code, 0, "{name}: {out:?}\n{}", gateway.log_text());
        let sa = &gateway.sas()[0];
        assert_eq!(sa.connection, "roadwarriors");
        assert_eq!(sa.remote_id, "carol@example.org");
        assert!(sa.proposal.contains(group), "{name}: {}", sa.proposal);
        let child = &sa.children[0];
        assert!(
            child.proposal.contains("AES_CBC"),
            "{name}: {}",
            child.proposal
        );
        assert_eq!(child.remote_ts, ["192.0.2.1/32"], "narrowed to the client");
        assert_eq!(child.local_ts, ["10.10.0.0/16"]);
        let out = carol.ternctl(&["terminate", name]);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(gateway.sas().is_empty());
    }
}
