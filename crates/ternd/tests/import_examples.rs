//! Both importers on the example files written after strongSwan's documented
//! swanctl.conf and ipsec.conf keys (crates/ternctl/tests/fixtures/import): each
//! converts with exit status 0, and `ternd --check` accepts what it wrote, as an
//! administrator would check it. No root needed.

mod common;

use std::process::Command;

use common::{temp_dir, ternctl_path, TERND};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../ternctl/tests/fixtures/import"
);

/// `ternctl import KIND FILE` into a file, then `ternd --check` on it: the
/// connections `--check` lists.
fn import_then_check(kind: &str, file: &str, tag: &str) -> String {
    let source = format!("{FIXTURES}/{file}");
    let out = Command::new(ternctl_path())
        .args(["import", kind, &source])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ternctl import {kind} {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let converted = temp_dir("import-examples").join(format!("{tag}.toml"));
    std::fs::write(&converted, &out.stdout).unwrap();
    let check = Command::new(TERND)
        .arg("--check")
        .arg("--config")
        .arg(&converted)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        check.status.success(),
        "ternd --check refused the conversion of {file}: {}{listed}\n{}",
        String::from_utf8_lossy(&check.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    listed
}

#[test]
fn every_converted_example_passes_ternd_check() {
    let listed = import_then_check("swanctl", "swanctl-doc-examples/swanctl.conf", "swanctl");
    assert!(listed.contains("OK, 2 connection(s)"), "{listed}");
    assert!(listed.contains("10.3.0.0/16[tcp/443]"), "{listed}");

    let listed = import_then_check("ipsec-conf", "ipsec-host-to-host/ipsec.conf", "h2h");
    assert!(listed.contains("OK, 1 connection(s)"), "{listed}");
    assert!(
        listed.contains("moon-sun: to 192.0.2.2, auth psk"),
        "{listed}"
    );

    let listed = import_then_check("ipsec-conf", "ipsec-net-to-net/ipsec.conf", "n2n");
    assert!(listed.contains("OK, 2 connection(s)"), "{listed}");
    assert!(
        listed.contains("10.10.0.0/16 <=> 172.16.5.0/24 (transport)"),
        "{listed}"
    );
}
