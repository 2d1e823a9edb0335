//! `ternctl diagnose --config FILE` as a user runs it: the lint's findings on
//! stdout, exit status 0 clean, 1 findings, 2 a file that does not load; and
//! without a file, the live diagnosis's answer when no ternd runs.

use std::path::PathBuf;
use std::process::Command;

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ternctl-diagnose-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
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

const CONNECTION: &str = "[connections.gw]\n\
auth = \"psk\"\n\
psk = \"a-long-enough-pre-shared-key\"\n\
local_id = \"moon.example\"\n\
remote_addrs = [\"192.0.2.2\"]\n";

const CHILD: &str = "[connections.gw.children.net]\n\
local_ts = [\"10.1.0.0/24\"]\n\
remote_ts = [\"10.2.0.0/24\"]\n";

#[test]
fn a_sound_file_has_no_problems() {
    let file = temp_file("sound.toml", &format!("{CONNECTION}\n{CHILD}"));
    let (code, stdout, stderr) = ternctl(&["diagnose", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, format!("{}: no problems found\n", file.display()));

    let (code, stdout, _) = ternctl(&["diagnose", "--json", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["findings"], serde_json::json!([]));
}

#[test]
fn problems_are_one_sentence_each_and_exit_1() {
    let text = format!(
        "{CONNECTION}proposals = [\"aes128-sha1-prfsha1-modp1024\"]\n\n{CHILD}\
         life_bytes = 1000000\n"
    );
    let file = temp_file("weak.toml", &text);
    let (code, stdout, stderr) = ternctl(&["diagnose", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("connection gw: every IKE proposal can only negotiate a legacy"),
        "{stdout}"
    );
    assert!(
        lines[1]
            .starts_with("connection gw, child net: life_bytes is 1000000 but rekey_bytes is 0")
            && lines[1].ends_with("e.g. 909090"),
        "{stdout}"
    );
    assert_eq!(lines[2], format!("{}: 2 problem(s) found", file.display()));
    assert!(!stdout.contains("a-long-enough"), "no key material");

    let (code, stdout, _) = ternctl(&["--json", "diagnose", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["config"], file.display().to_string());
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2);
    assert_eq!(findings[0]["kind"], "weak_proposals");
    assert_eq!(findings[0]["connection"], "gw");
    assert_eq!(findings[0]["child"], serde_json::Value::Null);
    assert_eq!(findings[0]["setting"], "proposals");
    assert_eq!(findings[1]["kind"], "traffic_life_without_rekey");
    assert_eq!(findings[1]["child"], "net");
    assert_eq!(findings[1]["setting"], "rekey_bytes");
    assert!(findings[1]["message"]
        .as_str()
        .unwrap()
        .contains("e.g. 909090"));
}

#[test]
fn a_file_that_does_not_load_gives_its_errors_and_exit_2() {
    let file = temp_file("bad.toml", "[daemon]\nport = 0\n");
    let (code, stdout, stderr) = ternctl(&["diagnose", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "{}:2:8: `daemon.port` must be between 1 and 65535",
            file.display()
        )),
        "{stderr}"
    );
    assert!(stderr.ends_with("1 error(s)\n"), "{stderr}");

    let (code, _, stderr) = ternctl(&["--json", "diagnose", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    let json: serde_json::Value = serde_json::from_str(&stderr).unwrap();
    assert_eq!(json["exit_status"], 2);
    assert!(
        json["errors"][0].as_str().unwrap().contains(":2:8:"),
        "{stderr}"
    );
}

#[test]
fn diagnose_without_a_file_asks_the_daemon_and_says_when_there_is_none() {
    let socket =
        std::env::temp_dir().join(format!("ternctl-diagnose-none-{}.sock", std::process::id()));
    let socket = socket.to_str().unwrap();
    let (code, stdout, stderr) = ternctl(&["--socket", socket, "diagnose"]);
    assert_eq!(code, 3, "ternd unreachable: {stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.starts_with("ternctl: ") && stderr.contains(socket),
        "{stderr}"
    );
    let (code, _, stderr) = ternctl(&["--json", "--socket", socket, "diagnose", "gw"]);
    assert_eq!(code, 3);
    let json: serde_json::Value = serde_json::from_str(&stderr).unwrap();
    assert_eq!(json["exit_status"], 3);
}

#[test]
fn the_shipped_configurations_have_no_problems() {
    let conf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conf");
    for file in [
        "ternd.toml",
        "examples/demo-sun.toml",
        "examples/road-warrior-windows.toml",
        "examples/site-to-site-psk-east.toml",
        "examples/site-to-site-psk-west.toml",
    ] {
        let path = conf.join(file);
        let (code, stdout, stderr) = ternctl(&["diagnose", "--config", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{file}: {stdout}{stderr}");
        assert!(stdout.ends_with(": no problems found\n"), "{stdout}");
    }
}
