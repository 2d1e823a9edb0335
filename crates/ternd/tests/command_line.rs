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
