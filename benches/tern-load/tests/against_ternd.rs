//! tern-load against a real ternd (`--no-kernel`) on the loopback: every IKE SA
//! and its CHILD SA comes up (or, with `--childless`, every IKE SA alone), the
//! JSON says so, and ternd holds them all.
//!
//! ternd and ternctl are built by this test (`cargo build -p ternd -p ternctl`)
//! into the same target directory, since a test can only name its own
//! package's binaries.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const TERN_LOAD: &str = env!("CARGO_BIN_EXE_tern-load");

/// The directory cargo put this test's binaries in (target/<profile>).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

fn build_daemon_and_ctl() -> (PathBuf, PathBuf) {
    let dir = bin_dir();
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["build", "--quiet", "-p", "ternd", "-p", "ternctl"]);
    if dir.file_name().is_some_and(|p| p == "release") {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("run cargo");
    assert!(status.success(), "cargo build -p ternd -p ternctl failed");
    (dir.join("ternd"), dir.join("ternctl"))
}

/// A UDP port that is free on 127.0.0.1 together with the next one (ternd
/// listens on both: IKE and NAT-T).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let first = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = first.local_addr().expect("address").port();
        if port < u16::MAX && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two adjacent free UDP ports on 127.0.0.1");
}

struct Ternd {
    child: Child,
    log: PathBuf,
}

impl Drop for Ternd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_ternd(ternd: &Path, dir: &Path, port: u16, childless: bool) -> (Ternd, PathBuf) {
    let socket = dir.join("ternd.sock");
    let config = dir.join("ternd.toml");
    let profile = tern_load::profile::Profile {
        childless,
        ..Default::default()
    };
    let text = tern_load::profile::responder_toml(
        &profile,
        "127.0.0.1".parse().unwrap(),
        port,
        socket.to_str().expect("utf-8 path"),
    );
    std::fs::write(&config, text).expect("write config");
    let log = dir.join("ternd.log");
    let child = Command::new(ternd)
        .args(["--no-kernel", "--log-level", "warn", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start ternd");
    let mut daemon = Ternd { child, log };
    // ternd binds its IKE sockets before its control socket.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        if let Ok(Some(status)) = daemon.child.try_wait() {
            panic!("ternd exited ({status}): {}", read(&daemon.log));
        }
        assert!(
            Instant::now() < deadline,
            "ternd never made its control socket"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (daemon, socket)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn establishes_every_sa_against_ternd_and_reports_json() {
    let (ternd, ternctl) = build_daemon_and_ctl();
    let dir = std::env::temp_dir().join(format!("tern-load-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port_pair();
    let (daemon, socket) = start_ternd(&ternd, &dir, port, false);

    let count = 60;
    let out = Command::new(TERN_LOAD)
        .args(["--responder", &format!("127.0.0.1:{port}")])
        .args(["--count", &count.to_string(), "--concurrency", "8"])
        .args(["--timeout-s", "20"])
        .output()
        .expect("run tern-load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tern-load failed: {}\nternd: {}",
        String::from_utf8_lossy(&out.stderr),
        read(&daemon.log)
    );
    let summary: Value = serde_json::from_str(stdout.trim()).expect("JSON on stdout");
    assert_eq!(summary["established"], count, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    let (rate, p50, p99) = (
        summary["rate_per_s"].as_f64().expect("rate_per_s"),
        summary["p50_ms"].as_f64().expect("p50_ms"),
        summary["p99_ms"].as_f64().expect("p99_ms"),
    );
    assert!(rate > 0.0 && p50 > 0.0 && p50 <= p99, "{summary}");

    // The responder holds every IKE SA, each with its CHILD SA, one identity each.
    let sas = list_sas(&ternctl, &socket);
    assert_eq!(sas.len(), count, "ternd lists {} IKE SAs", sas.len());
    let mut ids: Vec<&str> = sas
        .iter()
        .map(|sa| sa["remote_id"].as_str().expect("remote_id"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "one identity per IKE SA");
    assert!(
        sas.iter()
            .all(|sa| sa["state"] == "ESTABLISHED"
                && sa["children"].as_array().map(Vec::len) == Some(1)),
        "{sas:?}"
    );
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
}

/// ternd's IKE SAs, as `ternctl --json list-sas` shows them.
fn list_sas(ternctl: &Path, socket: &Path) -> Vec<Value> {
    let listed = Command::new(ternctl)
        .args(["--json", "--socket"])
        .arg(socket)
        .arg("list-sas")
        .output()
        .expect("run ternctl");
    assert!(listed.status.success(), "{listed:?}");
    let sas: Value = serde_json::from_slice(&listed.stdout).expect("list-sas JSON");
    sas.as_array().expect("an array of IKE SAs").clone()
}

#[test]
fn childless_load_sets_up_ike_sas_alone_against_ternd() {
    let (ternd, ternctl) = build_daemon_and_ctl();
    // A responder configured with a CHILD SA (it would make one if asked), and
    // one configured without: either way no CHILD SA comes up.
    for responder_childless in [false, true] {
        let dir = std::env::temp_dir().join(format!(
            "tern-load-childless-{}-{responder_childless}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let port = free_port_pair();
        let (daemon, socket) = start_ternd(&ternd, &dir, port, responder_childless);

        let count = 40;
        let out = Command::new(TERN_LOAD)
            .args(["--responder", &format!("127.0.0.1:{port}"), "--childless"])
            .args(["--count", &count.to_string(), "--concurrency", "8"])
            .args(["--timeout-s", "20"])
            .output()
            .expect("run tern-load");
        assert!(
            out.status.success(),
            "tern-load failed: {}\nternd: {}",
            String::from_utf8_lossy(&out.stderr),
            read(&daemon.log)
        );
        let summary: Value =
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("JSON");
        assert_eq!(summary["established"], count, "{summary}");
        assert_eq!(summary["failed"], 0, "{summary}");
        assert_eq!(summary["childless"], true, "{summary}");
        let (p50, p99) = (
            summary["p50_ms"].as_f64().expect("p50_ms"),
            summary["p99_ms"].as_f64().expect("p99_ms"),
        );
        assert!(p50 > 0.0 && p50 <= p99, "{summary}");

        let sas = list_sas(&ternctl, &socket);
        assert_eq!(sas.len(), count, "ternd lists {} IKE SAs", sas.len());
        assert!(
            sas.iter().all(|sa| sa["state"] == "ESTABLISHED"
                && sa["children"].as_array().map(Vec::len) == Some(0)),
            "{sas:?}"
        );
        drop(daemon);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
