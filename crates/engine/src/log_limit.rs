//! Warnings a remote host can trigger (malformed datagrams, failed sends), kept
//! from flooding the log: per kind, the first few of each window are logged one
//! by one, the rest only counted, and a summary line says how many were left
//! out and from how many addresses. Counters elsewhere still count every one.
//!
//! Pure: the clock is handed in, and the caller does the logging.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long one window lasts.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Lines logged one by one per kind and window.
pub const LINES_PER_WINDOW: u32 = 5;

/// Distinct addresses remembered per kind and window; past this the summary
/// says "at least". Bounds the memory a flood from many addresses can take.
pub const ADDRESSES_PER_WINDOW: usize = 1024;

/// One kind's current window.
struct Tally {
    started: Instant,
    logged: u32,
    left_out: u64,
    addresses: HashSet<IpAddr>,
    addresses_capped: bool,
}

/// What a window left out of the log, for its summary line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// What was left out, e.g. "dropped IKE packets (malformed)".
    pub what: &'static str,
    pub left_out: u64,
    /// Distinct addresses among all of the window's (logged or not).
    pub addresses: usize,
    /// More addresses than [`ADDRESSES_PER_WINDOW`] took part.
    pub addresses_capped: bool,
    pub window: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at_least = if self.addresses_capped {
            "at least "
        } else {
            ""
        };
        write!(
            f,
            "{}: {} more in the last {} s from {at_least}{} address{}, not logged one by one",
            self.what,
            thousands(self.left_out),
            self.window.as_secs(),
            thousands(self.addresses as u64),
            if self.addresses == 1 { "" } else { "es" }
        )
    }
}

/// `9912` as "9,912".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|group| std::str::from_utf8(group).expect("ASCII digits"))
        .collect();
    groups.join(",")
}

/// The windows of each kind of warning.
pub struct LogLimiter {
    window: Duration,
    lines_per_window: u32,
    tallies: HashMap<&'static str, Tally>,
}

impl Default for LogLimiter {
    fn default() -> LogLimiter {
        LogLimiter::new(WINDOW, LINES_PER_WINDOW)
    }
}

impl LogLimiter {
    pub fn new(window: Duration, lines_per_window: u32) -> LogLimiter {
        LogLimiter {
            window,
            lines_per_window,
            tallies: HashMap::new(),
        }
    }

    /// Counts one warning of kind `what` caused by `from`; true if it is to be
    /// logged. A window that has ended is summed up first (its summary, if it
    /// left anything out, comes back with the verdict).
    pub fn allow(
        &mut self,
        now: Instant,
        what: &'static str,
        from: IpAddr,
    ) -> (bool, Option<Summary>) {
        let ended = match self.tallies.get(what) {
            Some(tally) if now.saturating_duration_since(tally.started) >= self.window => self
                .tallies
                .remove(what)
                .and_then(|t| self.summary(what, t)),
            _ => None,
        };
        let tally = self.tallies.entry(what).or_insert_with(|| Tally {
            started: now,
            logged: 0,
            left_out: 0,
            addresses: HashSet::new(),
            addresses_capped: false,
        });
        if tally.addresses.len() < ADDRESSES_PER_WINDOW {
            tally.addresses.insert(from);
        } else if !tally.addresses.contains(&from) {
            tally.addresses_capped = true;
        }
        let log = tally.logged < self.lines_per_window;
        if log {
            tally.logged += 1;
        } else {
            tally.left_out += 1;
        }
        (log, ended)
    }

    /// The summaries of the windows that have ended by `now`, which are
    /// forgotten; for a caller that wakes periodically, so a flood that stopped
    /// still gets its last summary.
    pub fn ended(&mut self, now: Instant) -> Vec<Summary> {
        let window = self.window;
        let done: Vec<&'static str> = self
            .tallies
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(t.started) >= window)
            .map(|(what, _)| *what)
            .collect();
        let mut summaries: Vec<Summary> = done
            .into_iter()
            .filter_map(|what| {
                let tally = self.tallies.remove(what)?;
                self.summary(what, tally)
            })
            .collect();
        summaries.sort_by_key(|s| s.what);
        summaries
    }

    fn summary(&self, what: &'static str, tally: Tally) -> Option<Summary> {
        (tally.left_out > 0).then_some(Summary {
            what,
            left_out: tally.left_out,
            addresses: tally.addresses.len(),
            addresses_capped: tally.addresses_capped,
            window: self.window,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MALFORMED: &str = "dropped IKE packets (malformed)";
    const SENDS: &str = "sends failed";

    fn addr(n: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(0xc000_0200 + n))
    }

    #[test]
    fn a_flood_logs_a_few_lines_then_one_summary() {
        let start = Instant::now();
        let mut limiter = LogLimiter::default();
        let mut logged = 0;
        // 9,917 datagrams from 40 addresses within one window.
        for i in 0..9_917u32 {
            let at = start + Duration::from_millis(u64::from(i) / 1_000);
            let (log, ended) = limiter.allow(at, MALFORMED, addr(i % 40));
            assert_eq!(ended, None);
            logged += u32::from(log);
        }
        assert_eq!(logged, LINES_PER_WINDOW);
        assert!(limiter.ended(start + Duration::from_secs(9)).is_empty());
        let summaries = limiter.ended(start + WINDOW);
        assert_eq!(
            summaries,
            vec![Summary {
                what: MALFORMED,
                left_out: 9_912,
                addresses: 40,
                addresses_capped: false,
                window: WINDOW,
            }]
        );
        assert_eq!(
            summaries[0].to_string(),
            "dropped IKE packets (malformed): 9,912 more in the last 10 s from 40 addresses, not logged one by one"
        );
        // Said once; the next window starts afresh.
        assert!(limiter.ended(start + WINDOW * 3).is_empty());
        let (log, ended) = limiter.allow(start + WINDOW * 3, MALFORMED, addr(1));
        assert!(log);
        assert_eq!(ended, None);
    }

    #[test]
    fn each_kind_has_its_own_budget() {
        let start = Instant::now();
        let mut limiter = LogLimiter::new(WINDOW, 2);
        for _ in 0..10 {
            limiter.allow(start, MALFORMED, addr(1));
        }
        assert!(
            limiter.allow(start, SENDS, addr(2)).0,
            "another kind is logged"
        );
        assert!(limiter.allow(start, SENDS, addr(2)).0);
        assert!(!limiter.allow(start, SENDS, addr(2)).0);
        let summaries = limiter.ended(start + WINDOW);
        assert_eq!(summaries.len(), 2);
        assert_eq!((summaries[0].what, summaries[0].left_out), (MALFORMED, 8));
        assert_eq!((summaries[1].what, summaries[1].left_out), (SENDS, 1));
        assert_eq!(summaries[1].addresses, 1);
        assert!(summaries[1].to_string().contains("from 1 address,"));
    }

    #[test]
    fn the_next_warning_after_a_window_brings_its_summary() {
        let start = Instant::now();
        let mut limiter = LogLimiter::new(WINDOW, 1);
        limiter.allow(start, MALFORMED, addr(1));
        limiter.allow(start, MALFORMED, addr(2));
        let (log, ended) = limiter.allow(start + WINDOW, MALFORMED, addr(3));
        assert!(log, "a new window logs again");
        let ended = ended.expect("the old window's summary");
        assert_eq!((ended.left_out, ended.addresses), (1, 2));
        // A quiet window says nothing.
        assert_eq!(
            limiter.allow(start + WINDOW * 2, MALFORMED, addr(3)).1,
            None
        );
    }

    #[test]
    fn addresses_are_remembered_up_to_a_bound() {
        let start = Instant::now();
        let mut limiter = LogLimiter::new(WINDOW, 0);
        for i in 0..(ADDRESSES_PER_WINDOW as u32 + 500) {
            limiter.allow(start, MALFORMED, addr(i));
        }
        let summary = limiter.ended(start + WINDOW).remove(0);
        assert_eq!(summary.addresses, ADDRESSES_PER_WINDOW);
        assert!(summary.addresses_capped);
        assert!(
            summary
                .to_string()
                .contains("from at least 1,024 addresses"),
            "{summary}"
        );
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
