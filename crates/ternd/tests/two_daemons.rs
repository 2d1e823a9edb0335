//! Two ternd processes, IKE only (`--no-kernel`), in two network namespaces joined
//! by a veth pair: the daemon, its sockets and its control socket, end to end.
//!
//! Needs root (ip netns); fails, saying so, without it. The kernel-level half of
//! the story (ESP SAs, policies, traffic) is the interop suite's, in User-Mode Linux.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const TERND: &str = env!("CARGO_BIN_EXE_ternd");

/// Two namespaces `<prefix>a` (192.0.2.1) and `<prefix>b` (192.0.2.2), removed on drop.
struct Net {
    a: String,
    b: String,
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Net {
    fn new(tag: &str) -> Net {
        let base = format!("tern{}{tag}", std::process::id());
        let net = Net {
            a: format!("{base}a"),
            b: format!("{base}b"),
        };
        let status = Command::new("ip").args(["netns", "add", &net.a]).status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "cannot create a network namespace: these tests need root and iproute2"
        );
        run(Command::new("ip").args(["netns", "add", &net.b]));
        run(Command::new("ip").args([
            "link", "add", "v0", "netns", &net.a, "type", "veth", "peer", "name", "v1", "netns",
            &net.b,
        ]));
        for (ns, dev, addr) in [
            (&net.a, "v0", "192.0.2.1/24"),
            (&net.b, "v1", "192.0.2.2/24"),
        ] {
            run(Command::new("ip").args(["-n", ns, "addr", "add", addr, "dev", dev]));
            run(Command::new("ip").args(["-n", ns, "link", "set", dev, "up"]));
            run(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]));
        }
        net
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

struct Daemon {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn start(ns: &str, dir: &Path, name: &str, config: Option<&Path>) -> Daemon {
        Daemon::start_with_env(ns, dir, name, config, &[])
    }

    fn start_with_env(
        ns: &str,
        dir: &Path,
        name: &str,
        config: Option<&Path>,
        env: &[(&str, &Path)],
    ) -> Daemon {
        let socket = dir.join(format!("{name}.sock"));
        let log = dir.join(format!("{name}.log"));
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            ns,
            TERND,
            "--no-kernel",
            "--log-level",
            "debug",
            "--socket",
        ])
        .arg(&socket);
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start ternd");
        let daemon = Daemon { child, socket, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !daemon.socket.exists() {
            assert!(
                Instant::now() < deadline,
                "ternd did not open its control socket: {}",
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    fn ctl(&self, args: &[&str]) -> (bool, String) {
        let client = tern_control::Client::new(&self.socket);
        let command = match args {
            ["initiate", c] => tern_control::Command::Initiate {
                connection: c.to_string(),
                timeout_secs: 10,
            },
            ["terminate", c] => tern_control::Command::Terminate {
                connection: c.to_string(),
            },
            ["list-sas"] => tern_control::Command::ListSas,
            ["rekey", c] => tern_control::Command::Rekey {
                connection: c.to_string(),
            },
            ["reload"] => tern_control::Command::Reload,
            other => panic!("unknown command {other:?}"),
        };
        match client
            .call(command, Duration::from_secs(20))
            .expect("ternd answers")
        {
            tern_control::Response::Ok { body } => (true, format!("{body:?}")),
            tern_control::Response::Error { message } => (false, message),
        }
    }

    fn sas(&self) -> Vec<tern_control::IkeSaInfo> {
        let client = tern_control::Client::new(&self.socket);
        match client
            .call(tern_control::Command::ListSas, Duration::from_secs(5))
            .unwrap()
        {
            tern_control::Response::Ok {
                body: tern_control::ResponseBody::Sas { sas, .. },
            } => sas,
            other => panic!("unexpected answer {other:?}"),
        }
    }

    /// Each connection's SA ends: (kind, cause), oldest first.
    fn ends(&self, connection: &str) -> Vec<(String, String)> {
        let client = tern_control::Client::new(&self.socket);
        match client
            .call(tern_control::Command::ListSas, Duration::from_secs(5))
            .unwrap()
        {
            tern_control::Response::Ok {
                body: tern_control::ResponseBody::Sas { history, .. },
            } => history
                .into_iter()
                .filter(|h| h.connection == connection)
                .flat_map(|h| h.ends)
                .map(|e| (e.kind, e.cause))
                .collect(),
            other => panic!("unexpected answer {other:?}"),
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sun_config(dir: &Path, psk: &str) -> PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../conf/examples/demo-sun.toml"
    ))
    .unwrap();
    let text = text.replace("tern-demo-psk-change-me", psk);
    let path = dir.join(format!("sun-{psk}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ternd-test-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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
