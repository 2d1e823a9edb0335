//! `ternctl import swanctl FILE` as a user runs it: the TOML on stdout, what was
//! not converted on stderr as FILE:LINE, JSON with --json, exit status 1 when tern
//! would not load the result or the file cannot be read.

use std::path::PathBuf;
use std::process::{Command, Output};

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ternctl-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn ternctl(args: &[&str], file: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ternctl"))
        .args(args)
        .arg(file)
        .output()
        .unwrap()
}

const GOOD: &str = "connections {\n\
  gw {\n\
    remote_addrs = 192.0.2.9\n\
    encap = yes\n\
    local { auth = psk\n id = a.example }\n\
    remote { auth = psk\n id = b.example }\n\
    children { lan { local_ts = 10.0.1.0/24\n remote_ts = 10.0.2.0/24 } }\n\
  }\n\
}\n\
secrets { ike { secret = \"k3y-for-a-and-b\" } }\n";

#[test]
fn converts_to_stdout_and_reports_to_stderr_by_line() {
    let file = temp_file("good.conf", GOOD);
    let out = ternctl(&["import", "swanctl"], &file);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("[connections.gw.children.lan]"), "{stdout}");
    assert!(stdout.contains("psk = \"k3y-for-a-and-b\""), "{stdout}");
    assert_eq!(
        stderr.trim(),
        format!(
            "{}:4: `encap = yes` not converted: tern encapsulates ESP in UDP only when it detects a NAT",
            file.display()
        )
    );
    assert!(tern_config::parse_str(&stdout, "x").is_ok());

    let out = ternctl(&["--json", "import", "swanctl"], &file);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["loads"], true);
    assert_eq!(json["not_converted"][0]["line"], 4);
    assert!(json["toml"].as_str().unwrap().contains("[connections.gw]"));
}

#[test]
fn a_result_tern_refuses_or_an_unreadable_file_exits_1() {
    let file = temp_file("no-ts.conf", "connections {\n  gw {\n    local { id = a }\n    children { lan { remote_ts = dynamic } }\n  }\n}\n");
    let out = ternctl(&["import", "swanctl"], &file);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":4: `remote_ts = dynamic` not converted"),
        "{stderr}"
    );
    assert!(
        stderr.contains("tern would not load the result"),
        "{stderr}"
    );

    let broken = temp_file("broken.conf", "connections {\n  gw {\n");
    let out = ternctl(&["import", "swanctl"], &broken);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing converted"));

    let missing = PathBuf::from("/nonexistent/swanctl.conf");
    let out = ternctl(&["--json", "import", "swanctl"], &missing);
    assert_eq!(out.status.code(), Some(1));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(error["error"].as_str().unwrap().contains("cannot read"));
}
