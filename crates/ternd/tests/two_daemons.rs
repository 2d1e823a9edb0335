//! Two ternd processes, IKE only (`--no-kernel`), in two network namespaces joined
//! by a veth pair: the daemon, its sockets and its control socket, end to end.
//!
//! Needs root (ip netns); fails, saying so, without it. The kernel-level half of
//! the story (ESP SAs, policies, traffic) is the interop suite's, in User-Mode Linux.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{run, sun_config, temp_dir, Daemon, Net};

#[test]
fn tunnel_up_and_down_between_two_daemons_despite_garbage() {
    let net = Net::new("u");
    let dir = temp_dir("u");
    let moon = Daemon::start(&net.a, &dir, "moon", None);
    let sun = Daemon::start(
        &net.b,
        &dir,
        "sun",
        Some(&sun_config(&dir, "tern-demo-psk-change-me")),
    );

    // Garbage at both IKE ports first: dropped and logged, the daemon keeps serving.
    run(Command::new("ip").args(["netns", "exec", &net.a, "bash", "-c", "echo not-ike > /dev/udp/192.0.2.2/500; printf '\\0\\0\\0\\0junk' > /dev/udp/192.0.2.2/4500"]));

    let (ok, message) = moon.ctl(&["initiate", "demo"]);
    assert!(
        ok,
        "initiate failed: {message}\nmoon: {}\nsun: {}",
        moon.log_text(),
        sun.log_text()
    );
    assert!(message.contains("CHILD SA net installed"), "{message}");
    let (m, s) = (&moon.sas()[0], &sun.sas()[0]);
    assert_eq!(m.initiator_spi, s.initiator_spi);
    assert_eq!(m.children[0].spi_in, s.children[0].spi_out);
    assert_eq!(s.children[0].local_ts, vec!["10.2.0.0/24"]);
    assert!(
        sun.log_text().contains("dropped IKE packet"),
        "garbage logged: {}",
        sun.log_text()
    );

    let (ok, message) = sun.ctl(&["terminate", "demo"]);
    assert!(ok, "{message}");
    assert!(sun.sas().is_empty());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !moon.sas().is_empty() {
        assert!(
            Instant::now() < deadline,
            "moon kept its SA after sun's DELETE"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Both remember why: list-sas carries each connection's recent ends.
    let peer_deleted = |kind: &str| (kind.to_string(), "deleted by the peer".to_string());
    assert_eq!(
        moon.ends("demo"),
        [peer_deleted("CHILD"), peer_deleted("IKE")]
    );
    let terminated = |kind: &str| (kind.to_string(), "terminated by ternctl".to_string());
    assert_eq!(sun.ends("demo"), [terminated("CHILD"), terminated("IKE")]);
}

#[test]
fn wrong_psk_is_reported_in_plain_words_on_both_sides() {
    let net = Net::new("p");
    let dir = temp_dir("p");
    let moon = Daemon::start(&net.a, &dir, "moon", None);
    let sun = Daemon::start(
        &net.b,
        &dir,
        "sun",
        Some(&sun_config(&dir, "not-the-same-key")),
    );

    let (ok, message) = moon.ctl(&["initiate", "demo"]);
    assert!(!ok);
    assert!(message.contains("AUTHENTICATION_FAILED"), "{message}");
    let log = sun.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("pre-shared key mismatch"))
        .unwrap_or_else(|| panic!("no mismatch line in {log}"));
    assert!(
        line.contains("demo"),
        "the line names the connection: {line}"
    );
    assert!(moon.sas().is_empty() && sun.sas().is_empty());
}

#[test]
fn unknown_connection_and_terminate_without_sa_are_clear_errors() {
    let net = Net::new("e");
    let dir = temp_dir("e");
    let moon = Daemon::start(&net.a, &dir, "moon", None);
    let (ok, message) = moon.ctl(&["initiate", "nope"]);
    assert!(
        !ok && message.contains("no connection named `nope`"),
        "{message}"
    );
    let (ok, message) = moon.ctl(&["terminate", "demo"]);
    assert!(!ok && message.contains("no IKE SA"), "{message}");
}

#[test]
fn tells_systemd_it_is_ready_and_stopping() {
    let net = Net::new("n");
    let dir = temp_dir("n");
    let notify = dir.join("notify");
    let _ = std::fs::remove_file(&notify);
    let systemd = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    systemd
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let moon = Daemon::start_with_env(&net.a, &dir, "moon", None, &[("NOTIFY_SOCKET", &notify)]);
    let mut buf = [0u8; 512];
    let n = systemd.recv(&mut buf).expect("READY=1 from ternd");
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ready.starts_with("READY=1\nSTATUS=1 connection"), "{ready}");
    // SIGTERM: ternd says it is stopping before it deletes its SAs.
    let pid = moon.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let n = systemd.recv(&mut buf).expect("STOPPING=1 from ternd");
    assert!(
        buf[..n].starts_with(b"STOPPING=1"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[test]
fn reload_applies_a_good_file_and_refuses_a_bad_one_without_losing_anything() {
    let net = Net::new("r");
    let dir = temp_dir("r");
    let moon_conf = dir.join("moon.toml");
    let default = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../conf/ternd.toml"
    ))
    .unwrap();
    std::fs::write(&moon_conf, &default).unwrap();
    let moon = Daemon::start(&net.a, &dir, "moon", Some(&moon_conf));
    let sun = Daemon::start(
        &net.b,
        &dir,
        "sun",
        Some(&sun_config(&dir, "tern-demo-psk-change-me")),
    );
    let (ok, message) = moon.ctl(&["initiate", "demo"]);
    assert!(ok, "{message}");
    let ike = moon.sas()[0].unique_id;

    // A typo: refused with file, line and column; the tunnel stays.
    std::fs::write(
        &moon_conf,
        default.replace("remote_addrs =", "remote_adrs ="),
    )
    .unwrap();
    let (ok, message) = moon.ctl(&["reload"]);
    assert!(!ok, "{message}");
    assert!(
        message.contains("moon.toml:") && message.contains("did you mean `remote_addrs`"),
        "{message}"
    );
    assert_eq!(moon.sas()[0].unique_id, ike);

    // The same file again: nothing changes.
    std::fs::write(&moon_conf, &default).unwrap();
    let (ok, message) = moon.ctl(&["reload"]);
    assert!(ok && message.contains("1 unchanged"), "{message}");
    assert_eq!(moon.sas()[0].unique_id, ike);

    // The connection removed: its SAs go, on both sides.
    let without = default
        .split("[connections.demo]")
        .next()
        .unwrap()
        .to_string();
    std::fs::write(&moon_conf, without).unwrap();
    let (ok, message) = moon.ctl(&["reload"]);
    assert!(ok && message.contains("removed demo"), "{message}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(moon.sas().is_empty() && sun.sas().is_empty()) {
        assert!(
            Instant::now() < deadline,
            "SAs of a removed connection survived the reload"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
