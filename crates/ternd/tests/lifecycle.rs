//! ternd's life as an administrator sees it: configuration errors at start,
//! reload (ternctl and SIGHUP) with two connections, the control socket's
//! permissions, and SIGTERM. Two ternd in network namespaces, `--no-kernel`.
//!
//! Needs root (ip netns, and a second user to be refused); fails, saying so,
//! without it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{moon_config, sun_config, temp_dir, ternctl_path, Daemon, Net, TERND};

/// A second connection between the same two hosts, told apart by identities.
fn other_connection(local: &str, remote: &str, local_net: &str, remote_net: &str) -> String {
    format!(
        r#"
[connections.other]
local_addrs = ["192.0.2.{local}"]
remote_addrs = ["192.0.2.{remote}"]
local_id = "other-{local}.tern.example"
remote_id = "other-{remote}.tern.example"
auth = "psk"
psk = "another-psk-for-other"

[connections.other.children.lan]
local_ts = ["{local_net}"]
remote_ts = ["{remote_net}"]
"#
    )
}

/// moon (192.0.2.1) and sun (192.0.2.2), each with `demo` and `other`.
fn two_connections(net: &Net, dir: &Path) -> (Daemon, Daemon, std::path::PathBuf) {
    let moon_conf = moon_config(dir, "moon.toml", |text| {
        text + &other_connection("1", "2", "10.1.1.0/24", "10.2.1.0/24")
    });
    let sun_conf = sun_config(dir, "tern-demo-psk-change-me");
    let text = std::fs::read_to_string(&sun_conf).unwrap()
        + &other_connection("2", "1", "10.2.1.0/24", "10.1.1.0/24");
    std::fs::write(&sun_conf, text).unwrap();
    let moon = Daemon::start(&net.a, dir, "moon", Some(&moon_conf));
    let sun = Daemon::start(&net.b, dir, "sun", Some(&sun_conf));
    for conn in ["demo", "other"] {
        let out = moon.ternctl(&["initiate", conn]);
        assert_eq!(out.code, 0, "{out:?}\n{}", moon.log_text());
    }
    (moon, sun, moon_conf)
}

/// (IKE unique id, CHILD SPI in) of `conn`'s SA, if it has one.
fn sa_of(daemon: &Daemon, conn: &str) -> Option<(u64, String)> {
    daemon
        .sas()
        .into_iter()
        .find(|sa| sa.connection == conn)
        .map(|sa| {
            // An SA being deleted has no CHILD SA left.
            let spi = sa.children.first().map(|c| c.spi_in.clone());
            (sa.unique_id, spi.unwrap_or_default())
        })
}

/// `file:line:column: ` at the start of a message.
fn located_in(message: &str, file: &str) -> (usize, usize) {
    let at = message
        .find(file)
        .unwrap_or_else(|| panic!("`{file}` not named in: {message}"));
    let mut parts = message[at + file.len()..].splitn(4, ':');
    assert_eq!(parts.next(), Some(""), "{message}");
    let line = parts.next().and_then(|l| l.parse().ok());
    let column = parts.next().and_then(|c| c.parse().ok());
    match (line, column) {
        (Some(l), Some(c)) => (l, c),
        _ => panic!("no line:column after {file} in: {message}"),
    }
}

#[test]
fn reload_and_sighup_apply_changes_and_leave_unchanged_connections_alone() {
    let net = Net::new("l");
    let dir = temp_dir("l");
    let (moon, sun, moon_conf) = two_connections(&net, &dir);
    let demo = sa_of(&moon, "demo").expect("demo up");
    let other = sa_of(&moon, "other").expect("other up");
    let good = std::fs::read_to_string(&moon_conf).unwrap();

    // An invalid file: ternctl reload fails (exit 1) naming file, line and column,
    // and nothing changes.
    std::fs::write(
        &moon_conf,
        good.replace(
            "[connections.other.children.lan]\nlocal_ts",
            "[connections.other.children.lan]\nlocal_tss",
        ),
    )
    .unwrap();
    let out = moon.ternctl(&["reload"]);
    assert_eq!(out.code, 1, "{out:?}");
    let (line, column) = located_in(&out.stderr, "moon.toml");
    let bad_line = good
        .lines()
        .position(|l| l == "[connections.other.children.lan]")
        .unwrap()
        + 2;
    assert_eq!((line, column), (bad_line, 1), "{out:?}");
    assert!(out.stderr.contains("did you mean `local_ts`?"), "{out:?}");
    assert_eq!(sa_of(&moon, "demo"), Some(demo.clone()));
    assert_eq!(sa_of(&moon, "other"), Some(other.clone()));

    // The same through SIGHUP: refused, logged with the location.
    moon.signal("HUP");
    moon.wait_for("the refused SIGHUP reload in the log", || {
        moon.log_text().contains("SIGHUP: reload refused")
    });
    let log = moon.log_text();
    let refused = log
        .lines()
        .find(|l| l.contains("SIGHUP: reload refused"))
        .unwrap();
    assert!(
        refused.contains(&format!("moon.toml:{bad_line}:1:")),
        "{refused}"
    );
    assert_eq!(sa_of(&moon, "other"), Some(other.clone()));

    // SIGHUP with a good file: `other` changed (its CHILD SA's rekey_time) and
    // `third` added. demo keeps its SAs; other's go, on both sides.
    let changed = good.replace(
        "[connections.other.children.lan]\n",
        "[connections.other.children.lan]\nrekey_time = \"30m\"\n",
    ) + r#"
[connections.third]
remote_addrs = ["192.0.2.3"]
local_id = "third.tern.example"
auth = "psk"
psk = "yet-another-psk"
"#;
    std::fs::write(&moon_conf, changed).unwrap();
    moon.signal("HUP");
    moon.wait_for("the SIGHUP reload in the log", || {
        moon.log_text().contains(
            "SIGHUP: configuration reloaded: added third; removed none; changed other; 1 unchanged",
        )
    });
    moon.wait_for("other's SAs gone on both sides", || {
        sa_of(&moon, "other").is_none() && sa_of(&sun, "other").is_none()
    });
    assert_eq!(sa_of(&moon, "demo"), Some(demo.clone()), "demo untouched");
    let conns = moon.ternctl(&["list-conns", "--json"]).json();
    let names: Vec<&str> = conns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["demo", "other", "third"]);
    let ends = moon.ends("other");
    assert!(
        ends.contains(&(
            "IKE".to_string(),
            "connection changed in the configuration".to_string()
        )),
        "{ends:?}"
    );
    // The changed connection can be brought up again.
    let out = moon.ternctl(&["initiate", "other"]);
    assert_eq!(out.code, 0, "{out:?}");

    // ternctl reload removing `other` and `third`: demo still untouched.
    std::fs::write(
        &moon_conf,
        &good[..good.find("\n[connections.other]").unwrap()],
    )
    .unwrap();
    let out = moon.ternctl(&["reload"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.starts_with(
            "configuration reloaded: added none; removed other, third; changed none; 1 unchanged"
        ),
        "{out:?}"
    );
    moon.wait_for("other's SAs gone after its removal", || {
        sa_of(&moon, "other").is_none() && sa_of(&sun, "other").is_none()
    });
    assert_eq!(sa_of(&moon, "demo"), Some(demo));
}

#[test]
fn sigterm_deletes_every_ike_sa_and_ends_the_watch() {
    let net = Net::new("t");
    let dir = temp_dir("t");
    let (moon, sun, _) = two_connections(&net, &dir);
    assert_eq!(moon.sas().len(), 2);
    let watch = Command::new(ternctl_path())
        .arg("--socket")
        .arg(&moon.socket)
        .arg("watch")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    moon.wait_for("the watcher", || {
        moon.ternctl(&["stats", "--json"]).json()["events"]["watchers"] == 1
    });

    moon.signal("TERM");
    let mut moon = moon;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = moon.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "ternd did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "ternd exit status {status}");
    // sun heard a DELETE for each IKE SA: nothing left, and it says why.
    assert!(sun.sas().is_empty(), "{:?}", sun.sas());
    for conn in ["demo", "other"] {
        assert!(
            sun.ends(conn)
                .contains(&("IKE".to_string(), "deleted by the peer".to_string())),
            "{conn}: {:?}",
            sun.ends(conn)
        );
    }
    let log = moon.log_text();
    assert!(log.contains("shutting down: deleting all IKE SAs"), "{log}");
    assert!(!moon.socket.exists(), "the control socket is removed");

    // The watcher saw both IKE SAs end, then the stream close: exit 1.
    let out = watch.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for conn in ["demo", "other"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(&format!(" {conn}: IKE SA #"))
                    && l.ends_with("ended: ternd is stopping")),
            "{stdout}"
        );
    }
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ternd closed the event stream"),
        "{out:?}"
    );
}

#[test]
fn the_control_socket_is_0660_and_checks_who_connects() {
    let net = Net::new("m");
    let dir = temp_dir("m");
    let moon = Daemon::start(&net.a, &dir, "moon", None);
    let mode = std::fs::metadata(&moon.socket)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660, "socket mode {mode:o}");

    let nobody = |args: &[&str]| {
        let out = Command::new(ternctl_path())
            .arg("--socket")
            .arg(&moon.socket)
            .args(args)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The file mode keeps other users out: they cannot even connect.
    let (code, stderr) = nobody(&["list-sas"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");

    // Loosened by mistake, the socket still refuses them: ternd checks the peer's
    // credentials and answers with a refusal (exit 1), for watch too.
    std::fs::set_permissions(&moon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    for args in [&["list-sas"][..], &["watch"], &["terminate", "demo"]] {
        let (code, stderr) = nobody(args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(
                "permission denied: ternctl must run as root, as ternd's user or in its group"
            ),
            "{args:?}: {stderr}"
        );
    }
    assert!(moon.log_text().contains("control request refused"));
    // A member of ternd's group (root's here) by a supplementary group gets in,
    // as `usermod -aG` makes members.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--groups=0"])
        .arg(ternctl_path())
        .arg("--socket")
        .arg(&moon.socket)
        .arg("list-conns")
        .output()
        .expect("setpriv (util-linux) runs ternctl as another user");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Root still gets in.
    assert_eq!(moon.ternctl(&["list-sas"]).code, 0);
}

/// What ternd answered on a raw connection after `request`, until it closed.
fn raw_answer(socket: &Path, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // ternd may stop reading (and answer) before all of it is written.
    let _ = stream.write_all(request);
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("ternd answers and closes the connection");
    answer
}

#[test]
fn the_control_socket_bounds_requests_and_connections() {
    let net = Net::new("b");
    let dir = temp_dir("b");
    let moon = Daemon::start(&net.a, &dir, "moon", None);

    // 1 MiB without a newline: an error, and the connection closes.
    let answer = raw_answer(&moon.socket, &vec![b'{'; 1 << 20]);
    assert!(
        answer.contains("request longer than 65536 bytes; connection closed"),
        "{answer}"
    );
    // Not a request at all: an error, and the connection closes.
    let answer = raw_answer(&moon.socket, b"\xffnot json\n");
    assert!(answer.contains("bad request"), "{answer}");

    // 64 clients that say nothing fill the control socket; one more is refused.
    let silent: Vec<_> = (0..64)
        .map(|_| std::os::unix::net::UnixStream::connect(&moon.socket).unwrap())
        .collect();
    // Connected is not yet accepted: ternd counts each as it accepts it (and
    // the two connections above as open until it has seen them close).
    let mut refused = None;
    moon.wait_for("ternd to refuse a 65th control connection", || {
        let answer = moon.ternctl(&["version"]);
        let busy = answer.code == 1;
        refused = Some(answer);
        busy
    });
    let refused = refused.expect("ternctl ran");
    assert!(
        refused
            .stderr
            .contains("ternd is busy: 64 control connections are open; try again"),
        "{refused:?}"
    );
    // Once they hang up, ternctl works again.
    drop(silent);
    moon.wait_for("a free control connection", || {
        moon.ternctl(&["version"]).code == 0
    });
}

#[test]
fn socket_group_lets_its_members_in_and_nobody_else() {
    let net = Net::new("g");
    let dir = temp_dir("g");
    let conf = moon_config(&dir, "moon.toml", |t| {
        t.replace("[daemon]\n", "[daemon]\nsocket_group = \"65534\"\n")
    });
    let moon = Daemon::start(&net.a, &dir, "moon", Some(&conf));
    let meta = std::fs::metadata(&moon.socket).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.gid(), 65534, "the socket's group");
    assert_eq!(meta.mode() & 0o777, 0o660);
    let as_user = |uid: u32, gid: u32| {
        let out = Command::new(ternctl_path())
            .arg("--socket")
            .arg(&moon.socket)
            .arg("list-conns")
            .uid(uid)
            .gid(gid)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = as_user(65533, 65534);
    assert_eq!(code, Some(0), "a member of socket_group: {stderr}");
    let (code, stderr) = as_user(65533, 65533);
    assert_eq!(code, Some(3), "not a member: {stderr}");
    // Loosened, the socket still refuses a non-member: root's group no longer
    // counts either, as ternd's group was replaced by socket_group.
    std::fs::set_permissions(&moon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, stderr) = as_user(65533, 0);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("permission denied"), "{stderr}");

    // A group that does not exist stops ternd at start.
    let bad = moon_config(&dir, "nogroup.toml", |t| {
        t.replace(
            "[daemon]\n",
            "[daemon]\nsocket_group = \"no-such-group-here\"\n",
        )
    });
    let out = Command::new(TERND)
        .args(["--no-kernel", "--socket"])
        .arg(dir.join("never.sock"))
        .arg("--config")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("there is no group `no-such-group-here`"),
        "{stderr}"
    );
}

#[test]
fn a_bad_configuration_stops_ternd_at_start_with_file_line_and_column() {
    let dir = temp_dir("b");
    let start = |config: &Path| {
        Command::new(TERND)
            .args(["--no-kernel", "--socket"])
            .arg(dir.join("never.sock"))
            .arg("--config")
            .arg(config)
            .output()
            .unwrap()
    };

    let typo = moon_config(&dir, "typo.toml", |t| t.replace("local_id =", "locl_id ="));
    let out = start(&typo);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (line, column) = located_in(&stderr, "typo.toml");
    let text = std::fs::read_to_string(&typo).unwrap();
    assert!(
        text.lines().nth(line - 1).unwrap().starts_with("locl_id"),
        "{stderr}"
    );
    assert_eq!(column, 1);
    assert!(stderr.contains("did you mean `local_id`?"), "{stderr}");

    let bad_value = moon_config(&dir, "value.toml", |t| {
        t.replace(
            r#"proposals = ["aes128gcm16-prfsha256-x25519"]"#,
            r#"proposals = ["aes128gcm16-prfsha256-x448"]"#,
        )
    });
    let out = start(&bad_value);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (line, column) = located_in(&stderr, "value.toml");
    let text = std::fs::read_to_string(&bad_value).unwrap();
    let written = text.lines().nth(line - 1).unwrap();
    assert_eq!(&written[column - 1..column + 3], "x448", "{stderr}");

    // A key file other users can read is refused, and nothing starts.
    let psk = dir.join("demo.psk");
    std::fs::write(&psk, "a-secret-in-a-file").unwrap();
    std::fs::set_permissions(&psk, std::fs::Permissions::from_mode(0o644)).unwrap();
    let leaky = moon_config(&dir, "leaky.toml", |t| {
        t.replace(
            r#"psk = "tern-demo-psk-change-me""#,
            r#"psk_file = "demo.psk""#,
        )
    });
    let out = start(&leaky);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("leaky.toml:"), "{stderr}");
    assert!(stderr.contains("demo.psk"), "{stderr}");
    assert!(
        !stderr.contains("a-secret-in-a-file"),
        "never the secret: {stderr}"
    );
    assert!(!dir.join("never.sock").exists());
}

#[test]
fn a_trapped_child_is_listed_until_terminate_removes_the_trap() {
    let net = Net::new("k");
    let dir = temp_dir("k");
    // The connection's start_action (the first in the file) traps its children.
    let conf = moon_config(&dir, "moon.toml", |t| {
        t.replacen("start_action = \"none\"", "start_action = \"trap\"", 1)
    });
    let moon = Daemon::start(&net.a, &dir, "moon", Some(&conf));
    let trapped = |moon: &Daemon| {
        let conns = moon.ternctl(&["list-conns", "--json"]).json();
        conns[0]["children"][0]["trapped"].as_bool()
    };
    assert_eq!(trapped(&moon), Some(true), "{}", moon.log_text());
    let text = moon.ternctl(&["list-conns"]);
    assert!(
        text.stdout.contains("TRAPPED (waiting for traffic)"),
        "{text:?}"
    );
    assert!(moon.sas().is_empty(), "a trap is no SA");
    let out = moon.ternctl(&["terminate", "demo"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("demo: trap removed"), "{out:?}");
    assert_eq!(trapped(&moon), Some(false));
}
