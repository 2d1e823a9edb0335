//! ternctl: the command line for ternd.
//!
//! Exit codes ([`cli::EXIT_STATUS`] says it for users): 0 ok, 1 the operation failed
//! (the daemon reported an error, answered nonsense or closed watch's stream), 2 usage
//! error, 3 cannot reach the daemon. `decode` exits 1 if anything failed to decode;
//! `simulate` exits 1 if the scenario could not be run; `diagnose --config` exits 1
//! when the file has problems, 2 when it does not load.

mod cli;
mod decode;
mod diagnose;
mod diagnose_live;
mod format;
mod generate;
mod import;
mod offline;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde_json::json;
use tern_control::{Client, ClientError, Command, EventInfo, Response, ResponseBody};

use cli::{Cli, CliCommand, ImportFrom};

/// How long to wait for answers that need no negotiation.
const QUICK_TIMEOUT: Duration = Duration::from_secs(30);
/// Slack on top of `initiate --timeout`, so the daemon's own verdict arrives first.
const INITIATE_SLACK: Duration = Duration::from_secs(10);
/// `terminate` waits for the peer's answer or for retransmissions to give up
/// (about 90 s with the default retransmission settings).
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(180);

/// Why a command did not succeed, and which exit code says so.
enum Failure {
    /// The daemon answered with an error.
    Daemon(String),
    /// A problem talking to the daemon.
    Client(ClientError),
    /// The daemon answered something that does not fit the question.
    Unexpected(String),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Client(ClientError::Unreachable { .. }) => 3,
            Failure::Daemon(_) | Failure::Client(_) | Failure::Unexpected(_) => 1,
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Daemon(m) | Failure::Unexpected(m) => m.clone(),
            Failure::Client(e) => e.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Prints help and --version to stdout (exit 0), usage errors to stderr (2).
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match &cli.command {
        CliCommand::Decode { file } => return run_decode(file, cli.json),
        CliCommand::Simulate { file } => return run_simulate(file, cli.json),
        CliCommand::Diagnose {
            config: Some(path), ..
        } => return run_diagnose(path, cli.json),
        CliCommand::Diagnose {
            pcap: Some(path),
            keys,
            ..
        } => return run_offline_diagnose(path, keys.as_deref(), cli.json),
        CliCommand::Diagnose {
            connection,
            config: None,
            pcap: None,
            ..
        } => return run_live_diagnose(&cli, connection.clone()),
        CliCommand::Watch { connection } => return run_watch(&cli, connection.clone()),
        CliCommand::Completions { shell } => {
            return print_bytes(&generate::completions(*shell));
        }
        CliCommand::Man => return print_bytes(&generate::man()),
        CliCommand::Import { from } => return run_import(from, cli.json),
        _ => {}
    }
    match run(&cli) {
        Ok(text) => {
            print_stdout(&text);
            ExitCode::SUCCESS
        }
        Err(failure) => report_failure(&failure, cli.json),
    }
}

/// Says why a command failed on stderr (as JSON under `--json`), and exits so.
fn report_failure(failure: &Failure, as_json: bool) -> ExitCode {
    let code = failure.exit_code();
    if as_json {
        eprintln!(
            "{}",
            json!({ "error": failure.message(), "exit_status": code })
        );
    } else {
        eprintln!("ternctl: {}", failure.message());
    }
    ExitCode::from(code)
}

/// `ternctl decode`: messages to stdout, problems to stderr, 1 if there were any.
fn run_decode(file: &std::path::Path, as_json: bool) -> ExitCode {
    let report = match decode::read_input(file) {
        Ok(input) => decode::report(&input, as_json),
        Err(e) => return report_failure(&Failure::Unexpected(e.to_string()), as_json),
    };
    print_stdout(&report.stdout);
    for error in &report.errors {
        eprintln!("ternctl: {error}");
    }
    if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `ternctl watch`: one line per event until interrupted, or until ternd closes
/// the stream (exit 1: the events stopped without being asked to).
fn run_watch(cli: &Cli, connection: Option<String>) -> ExitCode {
    let fail = |failure: Failure| report_failure(&failure, cli.json);
    let mut events = match Client::new(&cli.socket).watch(connection, QUICK_TIMEOUT) {
        Ok(Ok(events)) => events,
        Ok(Err(Response::Error { message })) => return fail(Failure::Daemon(message)),
        Ok(Err(other)) => {
            return fail(Failure::Unexpected(format!(
                "ternd answered with an unexpected response: {other:?}"
            )))
        }
        Err(e) => return fail(Failure::Client(e)),
    };
    loop {
        let event = match events.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => {
                return fail(Failure::Daemon(
                    "ternd closed the event stream (it stopped)".into(),
                ))
            }
            Err(e) => return fail(Failure::Client(e)),
        };
        if !print_event(&event, cli.json) {
            // Nobody reads our output any more (`ternctl watch | head`): done.
            return ExitCode::SUCCESS;
        }
    }
}

/// Prints one event and flushes, so a pipe sees it at once; false if stdout is gone.
fn print_event(event: &EventInfo, as_json: bool) -> bool {
    let line = if as_json {
        let mut line = serde_json::to_string(event).expect("an event serializes");
        line.push('\n');
        line
    } else {
        format::event(event)
    };
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())
        .and_then(|_| out.flush())
        .is_ok()
}

/// Writes generated output (a completion script, the man page).
fn print_bytes(bytes: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ternctl: cannot write the output: {e}");
            ExitCode::from(1)
        }
    }
}

/// `ternctl import swanctl|ipsec-conf FILE`: the TOML to stdout, what was not
/// converted to stderr as `FILE:LINE: why`; 1 if tern would not load the result
/// as it is.
fn run_import(from: &ImportFrom, as_json: bool) -> ExitCode {
    let file = match from {
        ImportFrom::Swanctl { file } | ImportFrom::IpsecConf { file } => file.as_path(),
    };
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            let failure = Failure::Unexpected(format!("cannot read {}: {e}", file.display()));
            return report_failure(&failure, as_json);
        }
    };
    let converted = match from {
        ImportFrom::Swanctl { .. } => import::swanctl(&text, file),
        ImportFrom::IpsecConf { .. } => Ok(import::ipsec_conf(&text, file)),
    };
    let imported = match converted {
        Ok(imported) => imported,
        Err(note) => {
            let failure = Failure::Unexpected(format!(
                "{}:{}: {}; nothing converted",
                file.display(),
                note.line,
                note.message
            ));
            return report_failure(&failure, as_json);
        }
    };
    if as_json {
        let notes: Vec<_> = imported
            .notes
            .iter()
            .map(|n| json!({ "line": n.line, "message": n.message }))
            .collect();
        print_stdout(&to_json(&json!({
            "toml": imported.toml,
            "not_converted": notes,
            "loads": imported.loads,
        })));
    } else {
        print_stdout(&imported.toml);
        for note in &imported.notes {
            eprintln!("{}:{}: {}", file.display(), note.line, note.message);
        }
    }
    if imported.loads {
        ExitCode::SUCCESS
    } else {
        if !as_json {
            eprintln!("ternctl: tern would not load the result as it is (see above)");
        }
        ExitCode::from(1)
    }
}

/// `ternctl diagnose --config FILE`: the lint's findings on stdout; 0 when there
/// are none, 1 when there are, 2 when the file does not load (its errors on
/// stderr).
fn run_diagnose(path: &std::path::Path, as_json: bool) -> ExitCode {
    let outcome = diagnose::config_file(path);
    let (stdout, stderr) = if as_json {
        (outcome.json_stdout(), outcome.json_stderr())
    } else {
        (outcome.text_stdout(), outcome.text_stderr())
    };
    print_stdout(&stdout);
    eprint!("{stderr}");
    ExitCode::from(outcome.exit_code())
}

/// `ternctl diagnose --pcap FILE`: the verdicts per pair of peers on stdout,
/// what could not be read on stderr; 0 when every pair is healthy, 1 when one
/// has a problem or the capture is unreadable or partly so.
fn run_offline_diagnose(
    path: &std::path::Path,
    keys: Option<&std::path::Path>,
    as_json: bool,
) -> ExitCode {
    let keys = match keys.map(|k| {
        std::fs::read_to_string(k)
            .map(zeroize::Zeroizing::new)
            .map_err(|e| format!("cannot read {}: {e}", k.display()))
            .and_then(|text| {
                offline::KeyTable::parse(&text).map_err(|e| format!("{}: {e}", k.display()))
            })
    }) {
        None => None,
        Some(Ok(table)) => Some(table),
        Some(Err(e)) => return report_failure(&Failure::Unexpected(e), as_json),
    };
    let input = match decode::read_input(path) {
        Ok(input) => input,
        Err(e) => return report_failure(&Failure::Unexpected(e), as_json),
    };
    let result = offline::diagnose(&input, keys.as_ref());
    if let Some(why) = &result.unreadable {
        return report_failure(&Failure::Unexpected(why.clone()), as_json);
    }
    print_stdout(&if as_json {
        result.json()
    } else {
        result.text()
    });
    for error in result.errors() {
        eprintln!("ternctl: {error}");
    }
    ExitCode::from(result.exit_code())
}

/// `ternctl diagnose [CONN]`: asks ternd for its evidence and prints the
/// verdicts; 0 when every connection is healthy, 1 when one has a problem (or
/// ternd refused), 3 when ternd is unreachable.
fn run_live_diagnose(cli: &Cli, connection: Option<String>) -> ExitCode {
    let body = match call(cli, Command::Diagnose { connection }, QUICK_TIMEOUT) {
        Ok(body) => body,
        Err(failure) => return report_failure(&failure, cli.json),
    };
    let ResponseBody::Diagnosis { connections, stats } = body else {
        return report_failure(
            &Failure::Unexpected(format!(
                "ternd answered diagnose with an unexpected response: {body:?}"
            )),
            cli.json,
        );
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let diagnoses = diagnose_live::judge(&connections, &stats, now_ms);
    print_stdout(&if cli.json {
        diagnose_live::json(&diagnoses)
    } else {
        diagnose_live::text(&diagnoses)
    });
    ExitCode::from(diagnose_live::exit_code(&diagnoses))
}

/// A scenario's `swanctl = "FILE"` side: strongSwan's file as tern's TOML, as
/// `ternctl import swanctl` makes it; refused when tern would not load the result.
fn import_for_simulate(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let imported = import::swanctl(&text, path)
        .map_err(|n| format!("{}:{}: {}", path.display(), n.line, n.message))?;
    if !imported.loads {
        let notes: Vec<String> = imported
            .notes
            .iter()
            .map(|n| format!("{}:{}: {}", path.display(), n.line, n.message))
            .collect();
        return Err(format!(
            "tern cannot load what it imports from this file:\n{}",
            notes.join("\n")
        ));
    }
    Ok(imported.toml)
}

/// `ternctl simulate`: the report to stdout; 1 if the scenario could not be run.
fn run_simulate(file: &std::path::Path, as_json: bool) -> ExitCode {
    let report = match tern_sim::load_with(file, Some(&import_for_simulate))
        .and_then(|scenario| tern_sim::run(&scenario))
    {
        Ok(report) => report,
        Err(e) => return report_failure(&Failure::Unexpected(e.to_string()), as_json),
    };
    let text = if as_json {
        serde_json::to_string_pretty(&report).expect("a report serializes") + "\n"
    } else {
        report.to_string()
    };
    print_stdout(&text);
    ExitCode::SUCCESS
}

/// Sends the command and renders the answer (text or JSON).
fn run(cli: &Cli) -> Result<String, Failure> {
    let (command, timeout) = match &cli.command {
        CliCommand::ListSas { .. } | CliCommand::History { .. } => {
            (Command::ListSas, QUICK_TIMEOUT)
        }
        CliCommand::ListConns { .. } => (Command::ListConns, QUICK_TIMEOUT),
        CliCommand::Initiate {
            connection,
            timeout,
        } => (
            Command::Initiate {
                connection: connection.clone(),
                timeout_secs: *timeout,
            },
            Duration::from_secs(*timeout) + INITIATE_SLACK,
        ),
        CliCommand::Terminate { connection } => (
            Command::Terminate {
                connection: connection.clone(),
            },
            TERMINATE_TIMEOUT,
        ),
        CliCommand::Rekey { connection, ike } => (
            if *ike {
                Command::RekeyIke {
                    connection: connection.clone(),
                }
            } else {
                Command::Rekey {
                    connection: connection.clone(),
                }
            },
            // A rekey waits for the peer like a terminate does.
            TERMINATE_TIMEOUT,
        ),
        CliCommand::Reload => (Command::Reload, QUICK_TIMEOUT),
        CliCommand::Version => (Command::Version, QUICK_TIMEOUT),
        CliCommand::Stats => (Command::Stats, QUICK_TIMEOUT),
        CliCommand::Leases => (Command::ListLeases, QUICK_TIMEOUT),
        CliCommand::Decode { .. }
        | CliCommand::Simulate { .. }
        | CliCommand::Diagnose { .. }
        | CliCommand::Watch { .. }
        | CliCommand::Completions { .. }
        | CliCommand::Import { .. }
        | CliCommand::Man => {
            return Err(Failure::Unexpected(
                "this command is not a single request to the daemon".into(),
            ))
        }
    };
    let body = call(cli, command, timeout)?;
    let body = filter(cli, body)?;
    let times = if cli.exact {
        format::Times::Exact
    } else {
        format::Times::Rounded
    };
    render(&cli.command, body, cli.json, times)
}

fn call(cli: &Cli, command: Command, timeout: Duration) -> Result<ResponseBody, Failure> {
    match Client::new(&cli.socket)
        .call(command, timeout)
        .map_err(Failure::Client)?
    {
        Response::Ok { body } => Ok(body),
        Response::Error { message } => Err(Failure::Daemon(message)),
    }
}

/// `list-sas CONN` and `list-conns CONN`: only that connection's, or an error if
/// ternd has no such connection.
fn filter(cli: &Cli, body: ResponseBody) -> Result<ResponseBody, Failure> {
    let unknown = |name: &str| Failure::Daemon(format!("no connection named `{name}`"));
    match (&cli.command, body) {
        (
            CliCommand::ListSas {
                connection: Some(name),
            },
            ResponseBody::Sas {
                mut sas,
                mut history,
            },
        ) => {
            sas.retain(|sa| &sa.connection == name);
            history.retain(|h| &h.connection == name);
            // Nothing of it to show: is there such a connection at all?
            if sas.is_empty() && history.is_empty() {
                let ResponseBody::Conns { conns } = call(cli, Command::ListConns, QUICK_TIMEOUT)?
                else {
                    return Err(Failure::Unexpected(
                        "ternd answered list-conns with something else".into(),
                    ));
                };
                if !conns.iter().any(|c| &c.name == name) {
                    return Err(unknown(name));
                }
            }
            Ok(ResponseBody::Sas { sas, history })
        }
        (
            CliCommand::ListConns {
                connection: Some(name),
            },
            ResponseBody::Conns { mut conns },
        ) => {
            conns.retain(|c| &c.name == name);
            if conns.is_empty() {
                return Err(unknown(name));
            }
            Ok(ResponseBody::Conns { conns })
        }
        (_, body) => Ok(body),
    }
}

fn render(
    asked: &CliCommand,
    body: ResponseBody,
    as_json: bool,
    times: format::Times,
) -> Result<String, Failure> {
    let text = match (asked, body) {
        (CliCommand::ListSas { .. }, ResponseBody::Sas { sas, history }) => {
            if as_json {
                to_json(&sas)
            } else {
                let ends = format::history(&history, false, times);
                if ends.is_empty() {
                    format::ike_sas(&sas, times)
                } else {
                    format!("{}\n{ends}", format::ike_sas(&sas, times))
                }
            }
        }
        (CliCommand::History { connection, all }, ResponseBody::Sas { mut history, .. }) => {
            if let Some(name) = connection {
                history.retain(|h| &h.connection == name);
            }
            if as_json {
                to_json(&history)
            } else {
                let text = format::history(&history, *all, times);
                if text.is_empty() {
                    "no SA has ended yet\n".to_string()
                } else {
                    text
                }
            }
        }
        (CliCommand::ListConns { .. }, ResponseBody::Conns { conns }) => {
            if as_json {
                to_json(&conns)
            } else {
                format::conns(&conns)
            }
        }
        (CliCommand::Initiate { .. }, ResponseBody::Initiated { message })
        | (CliCommand::Terminate { .. }, ResponseBody::Terminated { message })
        | (CliCommand::Rekey { .. }, ResponseBody::Rekeyed { message })
        | (CliCommand::Reload, ResponseBody::Reloaded { message }) => {
            if as_json {
                to_json(&json!({ "message": message }))
            } else {
                format!("{message}\n")
            }
        }
        (CliCommand::Stats, ResponseBody::Stats { stats }) => {
            if as_json {
                to_json(&stats)
            } else {
                format::stats(&stats)
            }
        }
        (CliCommand::Leases, ResponseBody::Leases { leases }) => {
            if as_json {
                to_json(&leases)
            } else {
                format::leases(&leases)
            }
        }
        (CliCommand::Version, ResponseBody::Version { version }) => {
            if as_json {
                to_json(&json!({ "version": version }))
            } else {
                format!("ternctl {}\nternd {version}\n", env!("CARGO_PKG_VERSION"))
            }
        }
        (_, other) => {
            return Err(Failure::Unexpected(format!(
                "ternd answered with an unexpected response: {other:?}"
            )))
        }
    };
    Ok(text)
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Serializing these plain data types cannot fail; fall back to null to be safe.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    text.push('\n');
    text
}

/// Writes to stdout; a closed pipe (`ternctl list-sas | head`) is not an error.
fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}
