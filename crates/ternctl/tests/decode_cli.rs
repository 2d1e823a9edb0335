//! `ternctl decode` as a user runs it: a file or stdin, text or JSON, exit status.

use std::io::Write;
use std::process::{Command, Stdio};

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../wire/tests/fixtures/strongswan.pcap"
);

fn ternctl(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ternctl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ternctl runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("ternctl finishes");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn decodes_a_capture_file() {
    let (code, stdout, stderr) = ternctl(&["decode", CAPTURE], b"");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("IKE_SA_INIT request"));
    assert!(stdout.contains("INFORMATIONAL response"));
    let (code, stdout, _) = ternctl(&["--json", "decode", CAPTURE], b"");
    assert_eq!(code, 0);
    let parsed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(parsed.as_array().map(Vec::len), Some(14));
}

#[test]
fn reads_hex_from_stdin_and_fails_on_a_malformed_message() {
    let good = include_str!("../../wire/tests/fixtures/informational_delete_ike_request.hex");
    let input = format!("{good}\n21 20 25 08\n\n{good}");
    let (code, stdout, stderr) = ternctl(&["decode", "--json", "-"], input.as_bytes());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("malformed IKE message at offset 0"),
        "{stderr}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(parsed.as_array().map(Vec::len), Some(2));
}

#[test]
fn a_missing_file_is_an_error() {
    let (code, _, stderr) = ternctl(&["decode", "/nonexistent/capture.pcap"], b"");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot read /nonexistent/capture.pcap"),
        "{stderr}"
    );
}
