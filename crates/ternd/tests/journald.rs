//! ternd logging natively to the journal: a fake journald (a datagram socket bound
//! where journald's would be, in a mount namespace of ternd's own) receives what a
//! real one would, and the lines carry their priority and the fields an operator
//! filters on (`journalctl CONN=demo`). Needs root, iproute2 and unshare(1).

mod common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{sun_config, temp_dir, Daemon, Net, TERND};

/// One journal entry: its fields in order, values as text.
type Entry = Vec<(String, String)>;

/// Decodes a datagram in the journal's native protocol: `NAME=value\n`, or
/// `NAME\n`, a little-endian u64 length, the value and `\n`.
fn decode(mut datagram: &[u8]) -> Entry {
    let mut fields = Vec::new();
    while !datagram.is_empty() {
        let line_end = datagram
            .iter()
            .position(|&b| b == b'\n')
            .expect("field ends");
        let line = &datagram[..line_end];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            fields.push((
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            ));
            datagram = &datagram[line_end + 1..];
        } else {
            let name = String::from_utf8_lossy(line).into_owned();
            let rest = &datagram[line_end + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            let value = String::from_utf8_lossy(&rest[8..8 + len]).into_owned();
            assert_eq!(rest[8 + len], b'\n', "value of {name} ends with a newline");
            fields.push((name, value));
            datagram = &rest[8 + len + 1..];
        }
    }
    fields
}

fn field<'a>(entry: &'a Entry, name: &str) -> Option<&'a str> {
    entry
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A journald stand-in: `dir/socket`, mounted over /run/systemd/journal for ternd.
struct FakeJournal {
    socket: UnixDatagram,
    entries: Vec<Entry>,
}

impl FakeJournal {
    fn bind(dir: &Path) -> FakeJournal {
        let path = dir.join("socket");
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        FakeJournal {
            socket,
            entries: Vec::new(),
        }
    }

    /// Reads until an entry whose MESSAGE contains `text` arrives; returns it.
    fn wait_for(&mut self, text: &str) -> Entry {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = vec![0u8; 65536];
        loop {
            if let Some(e) = self
                .entries
                .iter()
                .find(|e| field(e, "MESSAGE").is_some_and(|m| m.contains(text)))
            {
                return e.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no journal entry says {text:?}; got {:#?}",
                self.entries
            );
            if let Ok(n) = self.socket.recv(&mut buf) {
                if n > 0 {
                    self.entries.push(decode(&buf[..n]));
                }
            }
        }
    }
}

/// ternd in namespace `ns` with `args`, seeing `journal_dir` as /run/systemd/journal
/// (or an empty /run when None), stderr to `log`, with `env` set.
fn spawn_in_mount_namespace(
    ns: &str,
    journal_dir: Option<&Path>,
    args: &[&str],
    log: &Path,
    env: &[(&str, String)],
) -> Child {
    let bind = match journal_dir {
        Some(dir) => format!(
            "mkdir -p /run/systemd/journal && mount --bind '{}' /run/systemd/journal && ",
            dir.display()
        ),
        None => String::new(),
    };
    let script = format!("mount -t tmpfs tmpfs /run && {bind}exec \"$@\"");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "unshare", "--mount", "--propagation"])
        .args(["private", "sh", "-c", &script, "sh", TERND])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("start ternd under unshare")
}

fn wait_for_socket(child: &mut Child, socket: &Path, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "ternd ended ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "ternd never opened its socket");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// JOURNAL_STREAM naming `file`, as systemd names the stream it gives as stderr.
fn journal_stream_of(file: &Path) -> String {
    let meta = std::fs::metadata(file).unwrap();
    format!("{}:{}", meta.dev(), meta.ino())
}

#[test]
fn under_systemd_the_journal_gets_priorities_and_sa_fields() {
    let net = Net::new("j");
    let dir = temp_dir("journald");
    let journal_dir = dir.join("journal");
    std::fs::create_dir_all(&journal_dir).unwrap();
    let mut journal = FakeJournal::bind(&journal_dir);

    // moon, the initiator, logs to the journal because its stderr is the stream
    // JOURNAL_STREAM names (auto, the default): what systemd sets up.
    let moon_log = dir.join("moon.log");
    std::fs::write(&moon_log, "").unwrap();
    let moon_socket = dir.join("moon.sock");
    let mut moon = spawn_in_mount_namespace(
        &net.a,
        Some(&journal_dir),
        &[
            "--demo",
            "--no-kernel",
            "--state-file",
            dir.join("moon.history.json").to_str().unwrap(),
            "--socket",
            moon_socket.to_str().unwrap(),
        ],
        &moon_log,
        &[("JOURNAL_STREAM", journal_stream_of(&moon_log))],
    );
    wait_for_socket(&mut moon, &moon_socket, &moon_log);
    let sun = Daemon::start(
        &net.b,
        &dir,
        "sun",
        Some(&sun_config(&dir, "tern-demo-psk-change-me")),
    );

    let ready = journal.wait_for("control socket ready");
    assert_eq!(field(&ready, "PRIORITY"), Some("6"), "info is 6: {ready:?}");
    assert_eq!(field(&ready, "SYSLOG_IDENTIFIER"), Some("ternd"));

    let client = tern_control::Client::new(&moon_socket);
    let answer = client
        .call(
            tern_control::Command::Initiate {
                connection: "demo".into(),
                timeout_secs: 10,
            },
            Duration::from_secs(20),
        )
        .expect("moon answers");
    assert!(
        matches!(answer, tern_control::Response::Ok { .. }),
        "{answer:?}"
    );
    let sa = &sun.sas()[0];
    let ike_spi = format!("{}_{}", sa.initiator_spi, sa.responder_spi);

    let up = journal.wait_for("IKE SA established");
    assert_eq!(field(&up, "PRIORITY"), Some("6"));
    assert_eq!(field(&up, "CONN"), Some("demo"), "{up:?}");
    assert_eq!(field(&up, "IKE_SPI"), Some(ike_spi.as_str()), "{up:?}");
    assert!(field(&up, "PEER").is_some(), "{up:?}");
    assert_eq!(field(&up, "REMOTE"), Some("192.0.2.2:500"), "{up:?}");
    assert_eq!(field(&up, "TARGET"), Some("tern_engine::ike_auth"));

    let child = journal.wait_for("CHILD SA installed");
    assert_eq!(field(&child, "CONN"), Some("demo"));
    assert_eq!(field(&child, "CHILD"), Some("net"));
    assert_eq!(field(&child, "IKE_SPI"), Some(ike_spi.as_str()));
    assert_eq!(
        field(&child, "CHILD_SPI"),
        Some(sa.children[0].spi_out.as_str()),
        "moon's inbound SPI is sun's outbound: {child:?}"
    );

    // A warning arrives as priority 4: garbage at moon's IKE port.
    common::run(Command::new("ip").args([
        "netns",
        "exec",
        &net.b,
        "bash",
        "-c",
        "echo not-ike > /dev/udp/192.0.2.1/500",
    ]));
    let dropped = journal.wait_for("dropped IKE packet");
    assert_eq!(field(&dropped, "PRIORITY"), Some("4"), "{dropped:?}");
    assert!(field(&dropped, "REASON").is_some(), "{dropped:?}");

    let answer = client
        .call(
            tern_control::Command::Terminate {
                connection: "demo".into(),
            },
            Duration::from_secs(20),
        )
        .expect("moon answers");
    assert!(
        matches!(answer, tern_control::Response::Ok { .. }),
        "{answer:?}"
    );
    let gone = journal.wait_for("IKE SA deleted");
    assert_eq!(field(&gone, "CONN"), Some("demo"));
    assert_eq!(field(&gone, "IKE_SPI"), Some(ike_spi.as_str()));
    drop(sun);

    // Nothing went to stderr: the journal has it all.
    let _ = moon.kill();
    let _ = moon.wait();
    assert_eq!(std::fs::read_to_string(&moon_log).unwrap(), "");
}

#[test]
fn a_redirected_stderr_or_an_unreachable_journal_means_stderr() {
    let net = Net::new("k");
    let dir = temp_dir("log-fallback");
    let socket = dir.join("ternd.sock");
    let other = dir.join("other");
    std::fs::write(&other, "").unwrap();
    let args = |sock: &Path| {
        vec![
            "--demo".to_string(),
            "--no-kernel".to_string(),
            "--state-file".to_string(),
            dir.join("h.json").to_str().unwrap().to_string(),
            "--socket".to_string(),
            sock.to_str().unwrap().to_string(),
        ]
    };

    // JOURNAL_STREAM inherited, but stderr is another file: text on stderr.
    let log = dir.join("redirected.log");
    let a = args(&socket);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let mut child = spawn_in_mount_namespace(
        &net.a,
        None,
        &a,
        &log,
        &[("JOURNAL_STREAM", journal_stream_of(&other))],
    );
    wait_for_socket(&mut child, &socket, &log);
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("control socket ready"), "{text}");
    assert!(!text.contains("logging to stderr"), "{text}");

    // stderr is the stream, but no journald listens: stderr, and the reason why.
    let socket = dir.join("ternd2.sock");
    let log = dir.join("unreachable.log");
    std::fs::write(&log, "").unwrap();
    let a = args(&socket);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let mut child = spawn_in_mount_namespace(
        &net.a,
        None,
        &a,
        &log,
        &[("JOURNAL_STREAM", journal_stream_of(&log))],
    );
    // The file is truncated by File::create in spawn: same inode, same stream.
    wait_for_socket(&mut child, &socket, &log);
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("logging to stderr: stderr is the journal's stream but journald's socket cannot be reached"),
        "{text}"
    );
    assert!(text.contains("control socket ready"), "{text}");

    // Asked for by name, an unreachable journal is an error, not silence.
    let log = dir.join("named.log");
    let mut a = args(&dir.join("ternd3.sock"));
    a.extend(["--log-target".to_string(), "journald".to_string()]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let status = spawn_in_mount_namespace(&net.a, None, &a, &log, &[])
        .wait()
        .unwrap();
    assert!(!status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("ternd: cannot log to journald:"), "{text}");
}
