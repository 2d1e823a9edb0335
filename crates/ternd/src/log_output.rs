//! Where ternd's log goes: natively to the systemd journal (each line with its
//! priority and fields such as CONN, IKE_SPI, CHILD_SPI and PEER, through
//! tracing-journald), or to stderr as text.
//!
//! `--log-target auto`, the default, picks the journal when stderr is the journal's
//! stream: systemd then sets `JOURNAL_STREAM` to that stream's `DEV:INO`
//! (systemd.exec(5)). A process whose stderr was redirected elsewhere keeps the
//! variable but not the stream, so the device and inode are compared, not just the
//! variable's presence.

use std::os::unix::fs::MetadataExt;

use tracing_journald::{Priority, PriorityMappings};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::log_filter::LogFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogTarget {
    /// The journal when stderr is connected to it (as under systemd), stderr otherwise.
    Auto,
    /// The journal's native protocol; an error if journald cannot be reached.
    Journald,
    /// Text on stderr.
    Stderr,
}

/// Where the log went, and why if not where `auto` would have sent it.
#[derive(Debug, PartialEq, Eq)]
pub enum Chosen {
    Journald,
    Stderr,
    /// `auto` saw the journal's stream but could not open journald's socket.
    StderrBecause(String),
}

/// The device and inode numbers in a `JOURNAL_STREAM` value (`DEV:INO`, decimal).
fn parse_journal_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

/// Whether stderr, with `stderr_id` (device, inode), is the stream systemd named in
/// `journal_stream`.
pub fn stderr_is_journal(journal_stream: Option<&str>, stderr_id: Option<(u64, u64)>) -> bool {
    match (journal_stream.and_then(parse_journal_stream), stderr_id) {
        (Some(stream), Some(stderr)) => stream == stderr,
        _ => false,
    }
}

/// The device and inode of this process's stderr, if it is open.
fn stderr_id() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

/// Whether `target` means the journal in this process's environment.
fn wants_journal(target: LogTarget) -> bool {
    match target {
        LogTarget::Journald => true,
        LogTarget::Stderr => false,
        LogTarget::Auto => {
            stderr_is_journal(std::env::var("JOURNAL_STREAM").ok().as_deref(), stderr_id())
        }
    }
}

/// The journald layer: no prefix on event fields, so `conn` arrives as CONN;
/// SYSLOG_IDENTIFIER=ternd whatever the binary was called; and syslog's priorities
/// for tracing's levels (the crate's default puts info at notice, 5, which would
/// make every routine line stand out in `journalctl -p notice`).
fn journald_layer() -> std::io::Result<tracing_journald::Layer> {
    let mut priorities = PriorityMappings::new();
    priorities.info = Priority::Informational;
    priorities.debug = Priority::Debug;
    priorities.trace = Priority::Debug;
    Ok(tracing_journald::layer()?
        .with_field_prefix(None)
        .with_syslog_identifier("ternd".to_string())
        .with_priority_mappings(priorities))
}

/// Installs the global subscriber for `target` and `filter`. Errors only when the
/// journal was asked for by name and cannot be reached.
pub fn init(target: LogTarget, filter: &LogFilter) -> Result<Chosen, String> {
    let chosen = if wants_journal(target) {
        match journald_layer() {
            Ok(layer) => {
                tracing_subscriber::registry()
                    .with(filter.env_filter())
                    .with(layer)
                    .init();
                return Ok(Chosen::Journald);
            }
            Err(e) if target == LogTarget::Journald => {
                return Err(format!("cannot log to journald: {e}"));
            }
            Err(e) => Chosen::StderrBecause(format!(
                "stderr is the journal's stream but journald's socket cannot be reached ({e})"
            )),
        }
    } else {
        Chosen::Stderr
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter.env_filter())
        .init();
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_is_chosen_only_when_stderr_is_its_stream() {
        assert!(stderr_is_journal(Some("8:1234"), Some((8, 1234))));
        // Inherited by a child whose stderr went elsewhere.
        assert!(!stderr_is_journal(Some("8:1234"), Some((8, 99))));
        assert!(!stderr_is_journal(Some("8:1234"), Some((9, 1234))));
        // Not under systemd, or stderr closed.
        assert!(!stderr_is_journal(None, Some((8, 1234))));
        assert!(!stderr_is_journal(Some("8:1234"), None));
    }

    #[test]
    fn a_malformed_journal_stream_means_stderr() {
        for value in ["", "8", "8:", ":1234", "x:1", "8:1234:5", "-1:2"] {
            assert!(
                !stderr_is_journal(Some(value), Some((8, 1234))),
                "{value:?}"
            );
        }
    }

    #[test]
    fn this_process_stderr_has_an_identity() {
        // What auto compares against JOURNAL_STREAM must be readable.
        let (_, ino) = stderr_id().expect("stderr is open in tests");
        assert_ne!(ino, 0);
    }

    #[test]
    fn explicit_targets_ignore_the_environment() {
        assert!(wants_journal(LogTarget::Journald));
        assert!(!wants_journal(LogTarget::Stderr));
    }
}
