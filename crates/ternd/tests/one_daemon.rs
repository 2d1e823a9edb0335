//! One ternd per control socket and IKE address: a second one refuses to start,
//! names the running one, and leaves its socket and ports alone.
//!
//! Needs root (ip netns); fails, saying so, without it.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{temp_dir, Daemon, Net, TERND};

/// Runs a second ternd in `ns` to its end (it must end within 10 s).
fn second_ternd(ns: &str, socket: &std::path::Path) -> Output {
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            TERND,
            "--demo",
            "--no-kernel",
            "--socket",
        ])
        .arg(socket)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start ternd");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the second ternd kept running beside the first");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_second_ternd_refuses_to_start_and_the_first_keeps_its_socket() {
    let net = Net::new("o");
    let dir = temp_dir("o");
    let mut moon = Daemon::start(&net.a, &dir, "moon", None);

    // The same control socket: refused, naming the running daemon.
    let out = second_ternd(&net.a, &moon.socket);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "another ternd (pid {}) is already running with control socket {}",
            moon.child.id(),
            moon.socket.display()
        )),
        "{stderr}"
    );

    // Its own control socket, but the same IKE ports: refused too.
    let elsewhere = dir.join("elsewhere.sock");
    let out = second_ternd(&net.a, &elsewhere);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("UDP 0.0.0.0:500 is already in use by another process"),
        "{stderr}"
    );
    assert!(!elsewhere.exists(), "the refused daemon left a socket");

    // The first daemon still has its socket and answers on it.
    assert!(moon.socket.exists(), "the second ternd removed the socket");
    let version = moon.ternctl(&["version"]);
    assert_eq!(version.code, 0, "{version:?}");

    // Stopped, it removes its own socket, and the next ternd may start.
    moon.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    while moon.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "ternd did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!moon.socket.exists(), "the control socket is removed");
    let next = Daemon::start(&net.a, &dir, "moon", None);
    assert_eq!(next.ternctl(&["version"]).code, 0);
}
