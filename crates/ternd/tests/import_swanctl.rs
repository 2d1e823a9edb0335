//! `ternctl import swanctl` on the swanctl.conf files the interop suite writes
//! (tests/interop/lib.sh's charon_write_conn, with the options its scenarios
//! use), and two ternds running the converted files of both sides bringing the
//! tunnel up. Needs root (ip netns) and bash; fails, saying so, without them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{temp_dir, ternctl_path, Daemon, Net};

const PSK: &str = "tern-demo-psk-change-me";

/// Runs `script` in bash with tests/interop/lib.sh and proposals.sh sourced.
fn interop_bash(script: &str) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -e; source {root}/tests/interop/lib.sh; source {root}/tests/interop/proposals.sh; {script}"
        ))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// charon_write_conn for one side, as start_charon calls it: `DIR/swanctl/swanctl.conf`.
fn write_conn(dir: &Path, side: &str, ike: &str, esp: &str, child: &str, conn: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("swanctl")).unwrap();
    let (local, remote, lid, rid, lnet, rnet) = match side {
        "sun" => (
            "192.0.2.2",
            "192.0.2.1",
            "sun.tern.example",
            "moon.tern.example",
            "10.2.0.0/24",
            "10.1.0.0/24",
        ),
        _ => (
            "192.0.2.1",
            "192.0.2.2",
            "moon.tern.example",
            "sun.tern.example",
            "10.1.0.0/24",
            "10.2.0.0/24",
        ),
    };
    let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    interop_bash(&format!(
        "charon_write_conn {} {local} {remote} {lid} {rid} {lnet} {rnet} {} {} {} {} {}",
        q(&dir.display().to_string()),
        q(PSK),
        q(ike),
        q(esp),
        q(child),
        q(conn)
    ));
    dir.join("swanctl/swanctl.conf")
}

struct Import {
    code: i32,
    toml: String,
    report: String,
}

fn import(file: &Path) -> Import {
    let out = Command::new(ternctl_path())
        .args(["import", "swanctl"])
        .arg(file)
        .output()
        .expect("ternctl runs");
    Import {
        code: out.status.code().unwrap_or(-1),
        toml: String::from_utf8_lossy(&out.stdout).into_owned(),
        report: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One swanctl.conf as start_charon writes it, and the setting in it that
/// cannot be converted, if any.
struct Case {
    side: String,
    ike: String,
    esp: String,
    child: String,
    conn: String,
    unconvertible: Option<&'static str>,
}

#[test]
fn every_interop_swanctl_conf_converts_to_a_file_tern_loads() {
    let dir = temp_dir("import");
    // start_charon's calls in the scenarios.
    let case = |side: &str, child: &str, conn: &str, unconvertible: Option<&'static str>| Case {
        side: side.into(),
        ike: String::new(),
        esp: String::new(),
        child: child.into(),
        conn: conn.into(),
        unconvertible,
    };
    let mut cases = vec![
        case("sun", "", "", None),
        case("moon", "", "", None),
        case("sun", "tfc_padding = mtu", "", Some("tfc_padding")),
        case("sun", "rekey_time = 20s", "rekey_time = 20s", None),
        case(
            "sun",
            "",
            "reauth_time = 20s\n        rekey_time = 0s",
            None,
        ),
        case(
            "sun",
            "rekey_time = 0s\n                life_time = 12s",
            "",
            None,
        ),
        case("sun", "rekey_time = 7s", "", None),
    ];
    // Every row of the proposal matrix (tests/interop/proposals.sh).
    let rows = dir.join("rows");
    interop_bash(&format!(
        "printf '%s\\n' \"${{PROPOSAL_ROWS[@]}}\" > '{}'",
        rows.display()
    ));
    let rows = std::fs::read_to_string(rows).unwrap();
    assert!(rows.lines().count() >= 10, "the proposal rows: {rows}");
    for row in rows.lines() {
        let (ike, esp) = row.split_once(' ').unwrap();
        cases.push(Case {
            ike: ike.into(),
            esp: esp.into(),
            ..case("sun", "", "", None)
        });
    }

    for (n, c) in cases.iter().enumerate() {
        let file = write_conn(
            &dir.join(format!("case-{n}")),
            &c.side,
            &c.ike,
            &c.esp,
            &c.child,
            &c.conn,
        );
        let imported = import(&file);
        let what = format!(
            "{}\n--- converted:\n{}\n--- report:\n{}",
            std::fs::read_to_string(&file).unwrap(),
            imported.toml,
            imported.report
        );
        assert_eq!(imported.code, 0, "{what}");
        let config = tern_config::parse_str(&imported.toml, "converted").expect("tern loads it");
        let demo = &config.engine.connections[0];
        assert_eq!(demo.name, "demo");
        assert_eq!(demo.children[0].name, "net");
        assert!(
            imported.toml.contains(&format!("psk = \"{PSK}\"")),
            "{what}"
        );
        if !c.ike.is_empty() {
            assert!(
                imported
                    .toml
                    .contains(&format!("proposals = [\"{}\"]", c.ike)),
                "{what}"
            );
        }
        match c.unconvertible {
            Some(key) => assert!(
                imported.report.contains(&format!("`{key}"))
                    && imported.report.contains("not converted"),
                "{what}"
            ),
            None => assert!(imported.report.is_empty(), "{what}"),
        }
    }
}

#[test]
fn the_converted_files_of_both_sides_bring_the_tunnel_up() {
    let net = Net::new("i");
    let dir = temp_dir("i");
    let mut configs = Vec::new();
    for side in ["moon", "sun"] {
        let file = write_conn(&dir.join(format!("{side}-charon")), side, "", "", "", "");
        let imported = import(&file);
        assert_eq!(imported.code, 0, "{}", imported.report);
        let config = dir.join(format!("{side}-imported.toml"));
        std::fs::write(&config, &imported.toml).unwrap();
        configs.push(config);
    }
    let moon = Daemon::start(&net.a, &dir, "moon", Some(&configs[0]));
    let sun = Daemon::start(&net.b, &dir, "sun", Some(&configs[1]));
    let (ok, message) = moon.ctl(&["initiate", "demo"]);
    assert!(
        ok,
        "{message}\nmoon: {}\nsun: {}",
        moon.log_text(),
        sun.log_text()
    );
    assert!(message.contains("CHILD SA net installed"), "{message}");
    let sa = &sun.sas()[0];
    assert_eq!(sa.children[0].local_ts, ["10.2.0.0/24"]);
}
