//! How each connection's SAs ended, with wall-clock times, kept across restarts:
//! what `ternctl list-sas` and `ternctl history` show.
//!
//! Every engine records into one store (SA ends come as engine events). At most
//! `[daemon] history_length` ends are kept per connection; when full, the oldest
//! routine end (an SA replaced by its rekey) makes way first, so a busy rekey
//! rhythm cannot push out the one drop that matters. The store is written to
//! `[daemon] state_file` (temporary file, then rename: a crash leaves the old
//! file or the new, never half of one) by a task off the engines' threads, at
//! most every [`SAVE_EVERY`], and once more when ternd stops.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tern_control::{ConnHistory, SaEndInfo};
use tern_engine::Event;

use tern_engine::EndKind;

/// How often a changed history is written out.
pub const SAVE_EVERY: Duration = Duration::from_secs(5);

/// The state file's format version.
const FORMAT: u32 = 1;

/// One SA's end, as stored.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct StoredEnd {
    /// When it ended, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// "IKE" or "CHILD".
    pub kind: String,
    pub ike_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi_out: Option<String>,
    pub was_up: bool,
    pub cause: String,
    /// The engine's kind of the cause (`tern_engine::EndKind`'s name); empty
    /// in state files written before it was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub end_kind: String,
    /// For an INVALID_KE_PAYLOAD loop: our groups and those the peer asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ke_ours: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ke_asked: Vec<String>,
}

impl StoredEnd {
    /// Replaced by another SA carrying the same traffic: nothing was lost.
    fn is_routine(&self) -> bool {
        self.was_up && EndKind::from_name(&self.end_kind).is_some_and(EndKind::is_routine)
    }

    /// The end an engine event reports, if it reports one.
    pub fn of_event(event: &Event, unix_ms: u64) -> Option<(String, StoredEnd)> {
        let spi = |spi: u32| Some(format!("{spi:08x}"));
        let (connection, end) = match event {
            Event::IkeSaDeleted {
                connection,
                ike_id,
                reason,
            }
            | Event::IkeSaFailed {
                connection,
                ike_id,
                reason,
            } => (
                connection,
                StoredEnd {
                    unix_ms,
                    kind: "IKE".into(),
                    ike_id: *ike_id,
                    child: None,
                    spi_in: None,
                    spi_out: None,
                    was_up: matches!(event, Event::IkeSaDeleted { .. }),
                    cause: reason.text.clone(),
                    end_kind: reason.kind.as_str().into(),
                    ke_ours: ke_groups(reason, |g| &g.ours),
                    ke_asked: ke_groups(reason, |g| &g.asked),
                },
            ),
            Event::ChildSaDeleted {
                connection,
                ike_id,
                child,
                spi_in,
                spi_out,
                reason,
            } => (
                connection,
                StoredEnd {
                    unix_ms,
                    kind: "CHILD".into(),
                    ike_id: *ike_id,
                    child: Some(child.clone()),
                    spi_in: spi(*spi_in),
                    spi_out: spi(*spi_out),
                    was_up: true,
                    cause: reason.text.clone(),
                    end_kind: reason.kind.as_str().into(),
                    ke_ours: ke_groups(reason, |g| &g.ours),
                    ke_asked: ke_groups(reason, |g| &g.asked),
                },
            ),
            Event::ChildSaFailed {
                connection,
                ike_id,
                child,
                reason,
            } => (
                connection,
                StoredEnd {
                    unix_ms,
                    kind: "CHILD".into(),
                    ike_id: *ike_id,
                    child: Some(child.clone()),
                    spi_in: None,
                    spi_out: None,
                    was_up: false,
                    cause: reason.text.clone(),
                    end_kind: reason.kind.as_str().into(),
                    ke_ours: ke_groups(reason, |g| &g.ours),
                    ke_asked: ke_groups(reason, |g| &g.asked),
                },
            ),
            Event::IkeSaEstablished { .. }
            | Event::IkeSaRekeyed { .. }
            | Event::ChildSaInstalled { .. }
            | Event::EndAction { .. } => return None,
        };
        Some((connection.clone(), end))
    }
}

fn ke_groups(
    reason: &tern_engine::EndReason,
    side: impl Fn(&tern_engine::KeGroups) -> &Vec<String>,
) -> Vec<String> {
    reason
        .ke_groups
        .as_deref()
        .map(|g| side(g).clone())
        .unwrap_or_default()
}

/// The state file's content.
#[derive(Serialize, Deserialize, Debug, Default, PartialEq, Eq)]
struct StateFile {
    format: u32,
    /// Oldest first, per connection.
    history: BTreeMap<String, VecDeque<StoredEnd>>,
}

pub struct History {
    length: usize,
    per_connection: BTreeMap<String, VecDeque<StoredEnd>>,
    /// Changed since it was last written.
    dirty: bool,
}

/// The store every engine records into.
pub type SharedHistory = Arc<Mutex<History>>;

impl History {
    pub fn new(length: usize) -> History {
        History {
            length,
            per_connection: BTreeMap::new(),
            dirty: false,
        }
    }

    pub fn record(&mut self, connection: &str, end: StoredEnd) {
        let entries = self
            .per_connection
            .entry(connection.to_string())
            .or_default();
        entries.push_back(end);
        trim(entries, self.length);
        self.dirty = true;
    }

    /// Records the end an engine event reports, stamped now.
    pub fn record_event(&mut self, event: &Event) {
        if let Some((connection, end)) = StoredEnd::of_event(event, unix_ms(SystemTime::now())) {
            self.record(&connection, end);
        }
    }

    /// Every connection's ends, oldest first, as `list-sas` answers them (`now`
    /// gives their age).
    pub fn answer(&self, now: SystemTime) -> Vec<ConnHistory> {
        let now_ms = unix_ms(now);
        self.per_connection
            .iter()
            .filter(|(_, ends)| !ends.is_empty())
            .map(|(connection, ends)| ConnHistory {
                connection: connection.clone(),
                ends: ends
                    .iter()
                    .map(|e| SaEndInfo {
                        ago_secs: now_ms.saturating_sub(e.unix_ms) / 1000,
                        unix_ms: Some(e.unix_ms),
                        kind: e.kind.clone(),
                        ike_id: e.ike_id,
                        child: e.child.clone(),
                        spi_in: e.spi_in.clone(),
                        spi_out: e.spi_out.clone(),
                        was_up: e.was_up,
                        cause: e.cause.clone(),
                        end_kind: e.end_kind.clone(),
                        routine: e.is_routine(),
                        ke_ours: e.ke_ours.clone(),
                        ke_asked: e.ke_asked.clone(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// The history saved at `path`, cut to `length` per connection. No file is an
    /// empty history; a file that cannot be read as one is moved aside to
    /// `PATH.corrupt` (kept for whoever wants to look) and the history starts
    /// empty: a damaged state file must not keep ternd from starting.
    pub fn load(path: &Path, length: usize) -> History {
        let mut history = History::new(length);
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return history,
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot read the SA history, starting without it: {e}");
                return history;
            }
        };
        match serde_json::from_str::<StateFile>(&text) {
            Ok(state) if state.format == FORMAT => {
                for (connection, mut ends) in state.history {
                    trim(&mut ends, length);
                    history.per_connection.insert(connection, ends);
                }
            }
            Ok(state) => tracing::warn!(
                path = %path.display(),
                "the SA history has format {}, this ternd reads {FORMAT}: starting without it",
                state.format
            ),
            Err(e) => {
                let aside = corrupt_path(path);
                let moved = std::fs::rename(path, &aside);
                tracing::warn!(
                    path = %path.display(),
                    "the SA history is damaged ({e}); {}, starting without it",
                    match moved {
                        Ok(()) => format!("moved to {}", aside.display()),
                        Err(e) => format!("cannot move it aside ({e})"),
                    }
                );
            }
        }
        history
    }

    /// The file's content if the history changed since the last call.
    fn take_changes(&mut self) -> Option<Vec<u8>> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        let state = StateFile {
            format: FORMAT,
            history: self.per_connection.clone(),
        };
        Some(serde_json::to_vec_pretty(&state).expect("the history serializes"))
    }
}

/// Keeps at most `length` ends, the oldest routine one going first.
fn trim(entries: &mut VecDeque<StoredEnd>, length: usize) {
    while entries.len() > length {
        let oldest_routine = entries.iter().position(StoredEnd::is_routine);
        entries.remove(oldest_routine.unwrap_or(0));
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn corrupt_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".corrupt");
    PathBuf::from(name)
}

/// Writes `bytes` to `path` so that the file is either the old or the new one:
/// a temporary file in the same directory (mode 0600), synced, then renamed over.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // The rename itself reaches the disk with the directory.
        if let Some(dir) = dir {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Writes the history to `path` if it changed. Blocking: run it off the engines.
pub fn save(history: &SharedHistory, path: &Path) {
    let changes = history.lock().expect("history lock").take_changes();
    if let Some(bytes) = changes {
        if let Err(e) = write_atomically(path, &bytes) {
            tracing::warn!(path = %path.display(), "cannot save the SA history: {e}");
            // Try again next time.
            history.lock().expect("history lock").dirty = true;
        }
    }
}

/// Saves the history every [`SAVE_EVERY`] while it changes, until ternd stops.
pub async fn keep_saved(history: SharedHistory, path: PathBuf) {
    let mut tick = tokio::time::interval(SAVE_EVERY);
    loop {
        tick.tick().await;
        let (history, path) = (history.clone(), path.clone());
        let _ = tokio::task::spawn_blocking(move || save(&history, &path)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(unix_ms: u64, cause: &str) -> StoredEnd {
        StoredEnd {
            unix_ms,
            kind: "CHILD".into(),
            ike_id: 1,
            child: Some("net".into()),
            spi_in: Some("c0000001".into()),
            spi_out: Some("c0000002".into()),
            was_up: true,
            cause: cause.into(),
            end_kind: if cause == "rekeyed" {
                "rekeyed"
            } else {
                "other"
            }
            .into(),
            ke_ours: vec![],
            ke_asked: vec![],
        }
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ternd-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn routine_ends_make_way_first_and_the_length_holds() {
        let mut h = History::new(3);
        h.record("demo", end(1, "dead peer (DPD timeout)"));
        h.record("demo", end(2, "rekeyed"));
        h.record("demo", end(3, "rekeyed"));
        h.record("demo", end(4, "deleted by the peer"));
        h.record("demo", end(5, "terminated by ternctl"));
        let causes: Vec<String> = h.per_connection["demo"]
            .iter()
            .map(|e| e.cause.clone())
            .collect();
        assert_eq!(
            causes,
            [
                "dead peer (DPD timeout)",
                "deleted by the peer",
                "terminated by ternctl"
            ]
        );
        h.record("demo", end(6, "deleted by the peer"));
        assert_eq!(h.per_connection["demo"].len(), 3);
        assert_eq!(h.per_connection["demo"][0].unix_ms, 4, "then the oldest");
    }

    #[test]
    fn answers_carry_absolute_times_and_ages() {
        let mut h = History::new(16);
        h.record("demo", end(1_000_000, "rekeyed"));
        let answer = h.answer(UNIX_EPOCH + Duration::from_millis(1_061_500));
        assert_eq!(answer.len(), 1);
        let e = &answer[0].ends[0];
        assert_eq!((e.unix_ms, e.ago_secs), (Some(1_000_000), 61));
        assert_eq!(e.spi_in.as_deref(), Some("c0000001"));
    }

    #[test]
    fn events_become_ends() {
        let deleted = Event::ChildSaDeleted {
            connection: "demo".into(),
            ike_id: 7,
            child: "net".into(),
            spi_in: 0xc1,
            spi_out: 0xc2,
            reason: tern_engine::EndReason::rekeyed(),
        };
        let (conn, e) = StoredEnd::of_event(&deleted, 5).unwrap();
        assert_eq!(conn, "demo");
        assert_eq!(e.spi_in.as_deref(), Some("000000c1"));
        assert!(e.was_up && e.is_routine());
        let failed = Event::IkeSaFailed {
            connection: "demo".into(),
            ike_id: 8,
            reason: tern_engine::EndReason::new(
                tern_engine::EndKind::AuthFailed,
                "AUTHENTICATION_FAILED",
            ),
        };
        let (_, e) = StoredEnd::of_event(&failed, 5).unwrap();
        assert!(!e.was_up && e.kind == "IKE");
        let up = Event::IkeSaEstablished {
            connection: "demo".into(),
            ike_id: 9,
        };
        assert!(StoredEnd::of_event(&up, 5).is_none());
    }

    #[test]
    fn saved_and_loaded_cut_to_the_new_length() {
        let path = temp("saved.json");
        let shared: SharedHistory = Arc::new(Mutex::new(History::new(16)));
        for t in 1..=5 {
            shared
                .lock()
                .unwrap()
                .record("demo", end(t, "deleted by the peer"));
        }
        save(&shared, &path);
        assert!(!shared.lock().unwrap().dirty);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let loaded = History::load(&path, 2);
        let times: Vec<u64> = loaded.per_connection["demo"]
            .iter()
            .map(|e| e.unix_ms)
            .collect();
        assert_eq!(times, [4, 5]);
        let mut temporary = path.clone().into_os_string();
        temporary.push(".tmp");
        assert!(!PathBuf::from(temporary).exists(), "no temporary file left");
    }

    #[test]
    fn a_missing_file_is_an_empty_history_and_a_damaged_one_is_moved_aside() {
        let path = temp("missing.json");
        assert!(History::load(&path, 16).per_connection.is_empty());
        let path = temp("damaged.json");
        std::fs::write(&path, "{ not json").unwrap();
        assert!(History::load(&path, 16).per_connection.is_empty());
        assert!(!path.exists());
        let aside = corrupt_path(&path);
        assert_eq!(std::fs::read_to_string(&aside).unwrap(), "{ not json");
        let _ = std::fs::remove_file(aside);
    }
}
