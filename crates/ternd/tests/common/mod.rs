//! Helpers shared by the host tests: two network namespaces joined by a veth pair,
//! ternd processes in them, and ternctl against their control sockets.
#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const TERND: &str = env!("CARGO_BIN_EXE_ternd");

/// Two namespaces `<prefix>a` (192.0.2.1) and `<prefix>b` (192.0.2.2), removed on drop.
pub struct Net {
    pub a: String,
    pub b: String,
}

pub fn run(cmd: &mut Command) -> Output {
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
    pub fn new(tag: &str) -> Net {
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

pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Daemon {
    pub fn start(ns: &str, dir: &Path, name: &str, config: Option<&Path>) -> Daemon {
        Daemon::start_with_env(ns, dir, name, config, &[])
    }

    pub fn start_with_env(
        ns: &str,
        dir: &Path,
        name: &str,
        config: Option<&Path>,
        env: &[(&str, &Path)],
    ) -> Daemon {
        let socket = dir.join(format!("{name}.sock"));
        let log = dir.join(format!("{name}.log"));
        // Each daemon its own history, kept across its restarts in the test.
        let state_file = dir.join(format!("{name}.history.json"));
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            ns,
            TERND,
            "--no-kernel",
            "--log-level",
            "debug",
            "--state-file",
        ])
        .arg(&state_file)
        .arg("--socket")
        .arg(&socket);
        // No file: the embedded demo configuration, which only --demo runs.
        match config {
            Some(c) => cmd.arg("--config").arg(c),
            None => cmd.arg("--demo"),
        };
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

    pub fn ctl(&self, args: &[&str]) -> (bool, String) {
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

    pub fn sas(&self) -> Vec<tern_control::IkeSaInfo> {
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
    pub fn ends(&self, connection: &str) -> Vec<(String, String)> {
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

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sun_config(dir: &Path, psk: &str) -> PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../conf/examples/demo-sun.toml"
    ))
    .unwrap();
    let text = text.replace("tern-demo-psk-change-me", psk);
    // Named by a counter, not the key: file names show up in logs.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("sun-{n}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ternd-test-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The ternctl binary, built beside ternd by `cargo test --workspace` (with
/// `cargo test -p ternd` alone it may be missing, or older than the source).
pub fn ternctl_path() -> PathBuf {
    let path = Path::new(TERND).with_file_name("ternctl");
    assert!(
        path.exists(),
        "{} is missing: these tests run ternctl as a user would; build it first \
         (cargo build -p ternctl, or run cargo test --workspace)",
        path.display()
    );
    path
}

/// What one ternctl run printed, and its exit status.
pub struct Ctl {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ctl {
    /// stdout as JSON; panics with the output if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

impl std::fmt::Debug for Ctl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `ternctl --socket SOCKET ARGS...` to completion.
pub fn ternctl(socket: &Path, args: &[&str]) -> Ctl {
    let out = Command::new(ternctl_path())
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("run ternctl");
    Ctl {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Daemon {
    /// ternctl against this daemon.
    pub fn ternctl(&self, args: &[&str]) -> Ctl {
        ternctl(&self.socket, args)
    }

    /// Waits until `ready` holds, or fails with the daemon's log.
    pub fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\nlog:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (e.g. "TERM", "HUP") to ternd.
    pub fn signal(&self, signal: &str) {
        // ip netns exec runs ternd in place (exec), so the child is ternd itself.
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {pid}");
    }
}

/// The default configuration (moon's side of the demo) with `edit` applied, written
/// to `dir/name`.
pub fn moon_config(dir: &Path, name: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../conf/ternd.toml"
    ))
    .unwrap();
    let path = dir.join(name);
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// A `ternctl watch` process whose output lines arrive on a channel.
pub struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watch {
    pub fn start(daemon: &Daemon, args: &[&str]) -> Watch {
        let mut child = Command::new(ternctl_path())
            .arg("--socket")
            .arg(&daemon.socket)
            .arg("watch")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ternctl watch");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Watch { child, lines }
    }

    /// Lines until one satisfies `last` (included), or fails after 10 s.
    pub fn until(&self, what: &str, last: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = last(&line);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("watch never printed {what}; it printed {seen:#?}"),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
