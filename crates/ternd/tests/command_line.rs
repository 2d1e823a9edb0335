//! ternd's command line as an administrator meets it: log levels, where the
//! configuration comes from, and `--check`. No root needed: the daemons here listen
//! on 127.0.0.1 ports above 1024, `--no-kernel`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{temp_dir, TERND};

/// A configuration with no connection, listening on 127.0.0.1:`port` and `port`+1.
fn loopback_config(dir: &Path, port: u16) -> PathBuf {
    let path = dir.join(format!("loopback-{port}.toml"));
    let socket = dir.join(format!("ternd-{port}.sock"));
    std::fs::write(
        &path,
        format!(
            "[daemon]\nsocket = \"{}\"\nlisten = [\"127.0.0.1\"]\nport = {port}\nnat_port = {}\nworkers = 1\n",
            socket.display(),
            port + 1
        ),
    )
    .unwrap();
    path
}

fn ternd(args: &[&str]) -> Output {
    Command::new(TERND)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ternd")
}

/// Starts ternd with `args` (stderr to `log`), waits for its control socket, stops it
/// with SIGTERM and returns what it logged.
fn run_until_ready(args: &[&str], socket: &Path, log: &Path) -> String {
    let mut child: Child = Command::new(TERND)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start ternd");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "ternd ended ({status}) before its control socket appeared: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "ternd never opened its socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    child.wait().unwrap();
    std::fs::read_to_string(log).unwrap()
}

#[test]
fn warning_and_warn_both_keep_warnings_and_drop_info() {
    let dir = temp_dir("log-warning");
    for (level, port) in [("warning", 25_110), ("warn", 25_120)] {
        let config = loopback_config(&dir, port);
        let socket = dir.join(format!("ternd-{port}.sock"));
        let log = run_until_ready(
            &[
                "--no-kernel",
                "--log-level",
                level,
                "--config",
                config.to_str().unwrap(),
            ],
            &socket,
            &dir.join(format!("{level}.log")),
        );
        assert!(
            log.contains("WARN") && log.contains("--no-kernel"),
            "{level}: the --no-kernel warning is logged: {log}"
        );
        assert!(
            !log.contains("INFO"),
            "{level}: no info line gets through: {log}"
        );
    }
}

#[test]
fn a_per_subsystem_directive_raises_one_target() {
    let dir = temp_dir("log-directive");
    let config = loopback_config(&dir, 25_130);
    let socket = dir.join("ternd-25130.sock");
    let log = run_until_ready(
        &[
            "--no-kernel",
            "--log-level",
            "error,ternd=info",
            "--config",
            config.to_str().unwrap(),
        ],
        &socket,
        &dir.join("directive.log"),
    );
    assert!(log.contains("control socket ready"), "{log}");
    assert!(log.contains("INFO"), "{log}");
}

#[test]
fn an_unknown_log_level_is_refused_with_status_2() {
    for given in ["inof", "info,tern_engine=loud", "warnings"] {
        let out = ternd(&["--log-level", given, "--no-kernel"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{given}: {stderr}");
        assert!(
            stderr.contains("unknown log level"),
            "{given}: says why: {stderr}"
        );
        assert!(stderr.contains("--log-level"), "{given}: names the option");
    }
}

/// Runs ternd with an empty tmpfs over /etc (a private mount namespace: needs root),
/// so the host's own /etc/tern/ternd.toml, if any, stays out of the test.
fn ternd_without_etc(args: &[&str]) -> Output {
    let out = Command::new("unshare")
        .args([
            "--mount",
            "sh",
            "-c",
            "mount -t tmpfs tmpfs /etc && exec \"$0\" \"$@\"",
        ])
        .arg(TERND)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run unshare (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("unshare:") && !stderr.contains("mount:"),
        "cannot hide /etc (these tests need root): {stderr}"
    );
    out
}

#[test]
fn without_config_ternd_reads_etc_and_says_how_out_when_it_is_missing() {
    let out = ternd_without_etc(&["--no-kernel"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for needed in [
        "/etc/tern/ternd.toml does not exist",
        "--config FILE",
        "--demo",
    ] {
        assert!(stderr.contains(needed), "names {needed}: {stderr}");
    }
}

#[test]
fn demo_runs_the_embedded_configuration_and_excludes_config() {
    let dir = temp_dir("demo");
    let socket = dir.join("demo.sock");
    // The demo listens on 0.0.0.0:500; a namespace of its own keeps the host's ports free.
    let net = common::Net::new("tdm");
    let log = dir.join("demo.log");
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.a,
            TERND,
            "--demo",
            "--no-kernel",
            "--socket",
        ])
        .arg(&socket)
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(
            child.try_wait().unwrap().is_none() && Instant::now() < deadline,
            "ternd --demo did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let conns = common::ternctl(&socket, &["list-conns"]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(conns.stdout.contains("demo"), "{conns:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("embedded demo configuration"), "{text}");

    let out = ternd(&["--demo", "--config", "/dev/null"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--demo and --config exclude each other"
    );
}

#[test]
fn check_prints_every_error_with_its_position_and_fails() {
    let dir = temp_dir("check-bad");
    let path = dir.join("three.toml");
    std::fs::write(
        &path,
        "[daemon]\nport = 0\nworkerz = 2\n\n[connections.x]\nauth = \"psk\"\npsk = \"a-long-enough-pre-shared-key\"\nremote_addrs = [\"192.0.2.300\"]\nlocal_id = \"moon.example\"\n",
    )
    .unwrap();
    let out = ternd(&["--check", "--config", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let file = path.display().to_string();
    for (position, says) in [
        ("3:1", "unknown key `workerz`"),
        ("2:8", "`daemon.port` must be between 1 and 65535"),
        ("8:17", "`192.0.2.300` is not an IPv4 or IPv6 address"),
    ] {
        assert!(
            stderr.contains(&format!("{file}:{position}: {says}")),
            "{position} {says}: {stderr}"
        );
    }
    assert!(stderr.contains("3 error(s)"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing claims success");
}

#[test]
fn check_lists_the_connections_of_a_sound_file() {
    let config = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../conf/examples/site-to-site-psk-east.toml"
    ))
    .unwrap();
    let dir = temp_dir("check-good");
    let path = dir.join("east.toml");
    std::fs::write(&path, config).unwrap();
    let out = ternd(&["--check", "-c", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with(&format!("{}: OK, 1 connection(s)", path.display())),
        "{stdout}"
    );
    assert!(stdout.contains("auth psk"), "{stdout}");
}

#[test]
fn check_warns_about_settings_that_load_but_will_hurt() {
    let dir = temp_dir("check-lint");
    let path = dir.join("hurts.toml");
    std::fs::write(
        &path,
        "[connections.x]\nauth = \"psk\"\npsk = \"a-long-enough-pre-shared-key\"\n\
         local_id = \"moon.example\"\ndpd_delay = 2\n\n\
         [connections.x.children.net]\nlocal_ts = [\"10.1.0.0/24\"]\nremote_ts = [\"10.2.0.0/24\"]\n\
         rekey_time = 0\nlife_time = \"1h\"\n",
    )
    .unwrap();
    let out = ternd(&["--check", "-c", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "warnings only: {stdout}{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].ends_with("OK, 1 connection(s)"), "{stdout}");
    assert!(
        lines.iter().any(|l| l.starts_with(
            "warning: connection x: dpd_delay (2s) is shorter than the first retransmission wait (4s)"
        )),
        "{stdout}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "warning: connection x, child net: rekey_time is 0 (rekeying off) but life_time is 1h"
        )),
        "{stdout}"
    );
    assert_eq!(
        lines.last(),
        Some(&format!("{}: 2 warning(s)", path.display()).as_str())
    );
    assert!(
        !stdout.contains("a-long-enough"),
        "no key material: {stdout}"
    );
}

#[test]
fn check_without_config_checks_the_etc_file() {
    let out = ternd_without_etc(&["--check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/etc/tern/ternd.toml does not exist"),
        "{stderr}"
    );
}
