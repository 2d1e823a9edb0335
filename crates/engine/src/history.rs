//! How SAs ended, per connection: the answer to "why did my tunnel drop?".
//!
//! Every IKE or CHILD SA that ends (or fails to be made) leaves one entry with its
//! cause in plain words: rekeyed, deleted by the peer, deleted locally, hard expiry,
//! dead peer, a failed rekey and why. Only the last few per connection are kept, so
//! memory stays bounded however long the daemon runs; routine ends (an SA replaced
//! by its rekey) make way first, so an hourly rekey cannot push out the one drop
//! that matters.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// Entries kept per connection.
pub const HISTORY_PER_CONNECTION: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaKind {
    Ike,
    Child,
}

/// One SA's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaEnd {
    pub at: Instant,
    pub kind: SaKind,
    /// The IKE SA's unique id (for a CHILD SA, the IKE SA it was on).
    pub ike_id: u64,
    /// The CHILD SA's configured name; empty for an IKE SA.
    pub child: String,
    /// The CHILD SA's SPIs (inbound, outbound); zero when there were none.
    pub spi_in: u32,
    pub spi_out: u32,
    /// Whether it ended after being established (false: it never came up).
    pub was_up: bool,
    pub cause: crate::end_reason::EndReason,
}

impl SaEnd {
    /// Replaced by a rekey or a reauthentication, or the redundant SA of a rekey
    /// collision: nothing lost.
    pub fn is_routine(&self) -> bool {
        self.cause.is_routine()
    }
}

#[derive(Default)]
pub struct History {
    per_connection: HashMap<String, VecDeque<SaEnd>>,
}

impl History {
    pub fn record(&mut self, connection: &str, end: SaEnd) {
        // Looked up by &str first: entry() wants the key owned, a String made
        // (and dropped) at every CHILD SA's end.
        if !self.per_connection.contains_key(connection) {
            self.per_connection
                .insert(connection.to_string(), VecDeque::new());
        }
        let entries = self
            .per_connection
            .get_mut(connection)
            .expect("inserted above");
        if entries.len() == HISTORY_PER_CONNECTION {
            let oldest_routine = entries.iter().position(SaEnd::is_routine);
            entries.remove(oldest_routine.unwrap_or(0));
        }
        entries.push_back(end);
    }

    /// A connection's entries, oldest first.
    pub fn of(&self, connection: &str) -> impl Iterator<Item = &SaEnd> {
        self.per_connection.get(connection).into_iter().flatten()
    }

    /// Every connection with entries, by name.
    pub fn connections(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.per_connection.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Forgets connections no longer configured.
    pub fn retain(&mut self, configured: impl Fn(&str) -> bool) {
        self.per_connection.retain(|name, _| configured(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(at: Instant, cause: &str) -> SaEnd {
        SaEnd {
            at,
            kind: SaKind::Child,
            ike_id: 1,
            child: "net".into(),
            spi_in: 1,
            spi_out: 2,
            was_up: true,
            // The kind is what history goes by: rekeys are routine.
            cause: crate::end_reason::EndReason::new(
                if cause == "rekeyed" {
                    crate::end_reason::EndKind::Rekeyed
                } else {
                    crate::end_reason::EndKind::Other
                },
                cause,
            ),
        }
    }

    #[test]
    fn keeps_the_last_entries_per_connection() {
        let now = Instant::now();
        let mut h = History::default();
        for i in 0..HISTORY_PER_CONNECTION + 3 {
            h.record("a", end(now, &format!("cause {i}")));
        }
        h.record("b", end(now, "other"));
        let a: Vec<&str> = h.of("a").map(|e| e.cause.text.as_str()).collect();
        assert_eq!(a.len(), HISTORY_PER_CONNECTION);
        assert_eq!(a[0], "cause 3");
        assert_eq!(
            *a.last().unwrap(),
            format!("cause {}", HISTORY_PER_CONNECTION + 2)
        );
        assert_eq!(h.connections(), ["a", "b"]);
        // Routine ends make way first.
        h.record("b", end(now, "rekeyed"));
        for i in 0..HISTORY_PER_CONNECTION {
            h.record("b", end(now, if i == 3 { "dead peer" } else { "rekeyed" }));
        }
        let b: Vec<&str> = h.of("b").map(|e| e.cause.text.as_str()).collect();
        assert_eq!(b[0], "other");
        assert!(b.contains(&"dead peer"));
        h.retain(|name| name == "b");
        assert_eq!(h.of("a").count(), 0);
        assert_eq!(h.of("b").count(), HISTORY_PER_CONNECTION);
    }
}
