//! ternctl as a process against a fake daemon: output and exit codes.

use std::io::BufReader;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Command as Process, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use tern_control::{read_line, write_line, Command, Request, Response, ResponseBody};

fn temp_socket() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("ternctl-test-{}-{n}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// Runs ternctl with `args` against a daemon that answers one request with `answer`;
/// returns the process output and the request the daemon saw.
fn run_against(answer: Response, args: &[&str]) -> (Output, Request) {
    let path = temp_socket();
    let listener = UnixListener::bind(&path).unwrap();
    let daemon = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let request: Request = read_line(&mut BufReader::new(&stream)).unwrap();
        write_line(&mut &stream, &answer).unwrap();
        request
    });
    let output = Process::new(env!("CARGO_BIN_EXE_ternctl"))
        .arg("--socket")
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    let request = daemon.join().unwrap();
    let _ = std::fs::remove_file(&path);
    (output, request)
}

#[test]
fn list_sas_json_prints_the_array() {
    let (output, request) = run_against(
        Response::Ok {
            body: ResponseBody::Sas {
                sas: vec![],
                history: vec![],
            },
        },
        &["--json", "list-sas"],
    );
    assert_eq!(request.command, Command::ListSas);
    // Version 1, so an older ternd still answers.
    assert_eq!(request.version, 1);
    assert_eq!(output.status.code(), Some(0));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, serde_json::json!([]));
}

#[test]
fn initiate_passes_the_timeout_and_prints_the_message() {
    let message =
        "demo: IKE SA #1 established, CHILD SA net installed (in c1a2b3c4, out c5d6e7f8) in 23 ms";
    let (output, request) = run_against(
        Response::Ok {
            body: ResponseBody::Initiated {
                message: message.into(),
            },
        },
        &["initiate", "demo", "--timeout", "7"],
    );
    assert_eq!(
        request.command,
        Command::Initiate {
            connection: "demo".into(),
            timeout_secs: 7
        }
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{message}\n")
    );
}

#[test]
fn daemon_error_exits_1() {
    let (output, _) = run_against(
        Response::Error {
            message: "no connection named `nope`".into(),
        },
        &["terminate", "nope"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no connection named `nope`"));
}

#[test]
fn unreachable_daemon_exits_3() {
    let path = temp_socket();
    let output = Process::new(env!("CARGO_BIN_EXE_ternctl"))
        .arg("--socket")
        .arg(&path)
        .arg("list-sas")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach daemon at") && stderr.contains("is ternd running?"),
        "{stderr}"
    );
}

#[test]
fn usage_error_exits_2() {
    let output = Process::new(env!("CARGO_BIN_EXE_ternctl"))
        .arg("initiate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = Process::new(env!("CARGO_BIN_EXE_ternctl"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
}

fn event(ike_id: u64) -> tern_control::EventInfo {
    tern_control::EventInfo {
        unix_ms: 0,
        kind: tern_control::EventKind::IkeSaEstablished,
        connection: "demo".into(),
        ike_id,
        new_ike_id: None,
        initiator_spi: None,
        responder_spi: None,
        child: None,
        spi_in: None,
        spi_out: None,
        reason: None,
        end_kind: None,
        lost: None,
    }
}

/// A daemon that accepts a watch, sends `events` events, then closes (or, with
/// `hold`, keeps sending until the client is gone).
fn watch_daemon(events: u64, hold: bool) -> (PathBuf, thread::JoinHandle<Request>) {
    let path = temp_socket();
    let listener = UnixListener::bind(&path).unwrap();
    let daemon = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let request: Request = read_line(&mut BufReader::new(&stream)).unwrap();
        let ok = Response::Ok {
            body: ResponseBody::Watching { connection: None },
        };
        write_line(&mut &stream, &ok).unwrap();
        for id in 1..=events {
            write_line(&mut &stream, &event(id)).unwrap();
        }
        if hold {
            let mut id = events;
            while write_line(&mut &stream, &event(id)).is_ok() {
                id += 1;
                thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        request
    });
    (path, daemon)
}

#[test]
fn watch_prints_each_event_and_exits_1_when_the_daemon_closes() {
    let (path, daemon) = watch_daemon(3, false);
    let output = Process::new(env!("CARGO_BIN_EXE_ternctl"))
        .arg("--socket")
        .arg(&path)
        .args(["watch", "--json"])
        .output()
        .unwrap();
    let request = daemon.join().unwrap();
    assert_eq!(request.command, Command::Watch { connection: None });
    assert_eq!(request.version, 2);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let ids: Vec<u64> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<tern_control::EventInfo>(l)
                .unwrap()
                .ike_id
        })
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("ternd closed the event stream"));
    let _ = std::fs::remove_file(path);
}

#[test]
fn watch_into_a_pipe_that_closes_exits_0() {
    use std::io::BufRead;
    let (path, daemon) = watch_daemon(1, true);
    let mut child = Process::new(env!("CARGO_BIN_EXE_ternctl"))
        .arg("--socket")
        .arg(&path)
        .arg("watch")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `ternctl watch | head -1`
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("demo: IKE SA #1 established"), "{first}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    daemon.join().unwrap();
    let _ = std::fs::remove_file(path);
}
