//! conf/ternd.service gives ternd what it needs and nothing more: Type=notify (ternd
//! speaks sd_notify), only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE, and the usual
//! hardening; `systemd-analyze verify` accepts it without a warning.

use std::collections::HashMap;

fn unit() -> HashMap<String, Vec<String>> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../conf/ternd.service"
    ))
    .expect("conf/ternd.service");
    let mut keys: HashMap<String, Vec<String>> = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with('[') || line.is_empty() {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {line}"));
        keys.entry(k.to_string()).or_default().push(v.to_string());
    }
    keys
}

fn one<'a>(u: &'a HashMap<String, Vec<String>>, key: &str) -> &'a str {
    match u.get(key).map(Vec::as_slice) {
        Some([v]) => v,
        other => panic!("{key}: expected one value, found {other:?}"),
    }
}

#[test]
fn notify_type_with_a_watchdog() {
    let u = unit();
    assert_eq!(one(&u, "Type"), "notify");
    assert_eq!(one(&u, "NotifyAccess"), "main");
    assert!(one(&u, "WatchdogSec").ends_with('s'));
    assert_eq!(
        one(&u, "RuntimeDirectory"),
        "tern",
        "the control socket's directory"
    );
    assert_eq!(
        one(&u, "StateDirectory"),
        "tern",
        "the SA history's directory (daemon.state_file)"
    );
}

#[test]
fn only_the_two_capabilities() {
    let u = unit();
    for key in ["CapabilityBoundingSet", "AmbientCapabilities"] {
        let mut caps: Vec<&str> = one(&u, key).split_whitespace().collect();
        caps.sort();
        assert_eq!(caps, ["CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"], "{key}");
    }
}

#[test]
fn hardened() {
    let u = unit();
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("RestrictNamespaces", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
    ] {
        assert_eq!(one(&u, key), value, "{key}");
    }
    let mut families: Vec<&str> = one(&u, "RestrictAddressFamilies")
        .split_whitespace()
        .collect();
    families.sort();
    assert_eq!(families, ["AF_INET", "AF_INET6", "AF_NETLINK", "AF_UNIX"]);
}

#[test]
fn reload_is_sighup() {
    assert_eq!(one(&unit(), "ExecReload"), "/bin/kill -HUP $MAINPID");
}

#[test]
fn systemd_analyze_verify_accepts_it_without_a_warning() {
    // verify checks that ExecStart's binary exists: point it at the one just built.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../conf/ternd.service"
    ))
    .unwrap();
    assert!(text.contains("ExecStart=/usr/sbin/ternd "));
    let dir = std::env::temp_dir().join(format!("ternd-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ternd.service");
    std::fs::write(
        &path,
        text.replace("/usr/sbin/ternd", env!("CARGO_BIN_EXE_ternd")),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run systemd-analyze ({e}): install systemd (apt-get install systemd)")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed: {stderr}"
    );
    let about_us: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ternd.service"))
        .collect();
    assert!(
        about_us.is_empty(),
        "systemd-analyze verify warns: {about_us:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn runs_as_tern_with_private_files_and_no_privileged_system_calls() {
    let u = unit();
    assert_eq!(one(&u, "User"), "tern");
    assert_eq!(one(&u, "Group"), "tern");
    assert_eq!(one(&u, "UMask"), "0077");
    assert_eq!(one(&u, "ProtectProc"), "invisible");
    assert_eq!(
        u["SystemCallFilter"],
        ["@system-service", "~@privileged @resources", "@chown"],
        "the service set, less privileged calls but chown (for socket_group)"
    );
    assert_eq!(one(&u, "SystemCallErrorNumber"), "EPERM");
    assert_eq!(
        one(&u, "ExecStart"),
        "/usr/sbin/ternd --config /etc/tern/ternd.toml"
    );
}
