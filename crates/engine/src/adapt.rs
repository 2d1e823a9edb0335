//! Adaptive rekeying (PROBLEM.md: "the peer lets its SAs expire instead of
//! rekeying").
//!
//! A peer with rekeying off, or whose life_time equals its rekey_time (strongSwan
//! with `rekey_time = 7s` and no `life_time` computes a life of 7 s), deletes each
//! CHILD SA at the end of its life and creates a new one: break-before-make, a
//! packet lost now and then. When the peer deletes SAs of one child at the same
//! age again and again, tern rekeys that child's SAs itself a tenth before that
//! age from then on, so the tunnel is renewed make-before-break; it says so once.
//! `rekey_adapt = false` on the connection turns this off.

use std::time::{Duration, Instant};

use crate::engine::Ctx;
use crate::ike_sa::IkeSa;

/// How many deletions at about the same age make a pattern.
const SEEN_TO_ADAPT: u32 = 2;
/// No SA is rekeyed younger than this, whatever the peer does.
const MIN_REKEY_AGE: Duration = Duration::from_secs(1);

/// The ages at which the peer ended SAs of each child without rekeying them.
#[derive(Debug, Default)]
pub(crate) struct PeerEnds(Vec<PeerEnd>);

#[derive(Debug)]
struct PeerEnd {
    child: String,
    /// The age of the last SA the peer ended.
    age: Duration,
    /// How many SAs in a row it ended at about that age.
    seen: u32,
}

/// Whether two ages are about the same: within a tenth, or a second for short ones.
fn about(a: Duration, b: Duration) -> bool {
    a.abs_diff(b) <= (a.max(b) / 10).max(Duration::from_secs(1))
}

impl PeerEnds {
    /// The peer deleted an SA of `child` at `age` without rekeying it. Returns the
    /// age to rekey that child's SAs before, when this makes a pattern for the
    /// first time.
    pub(crate) fn note(&mut self, child: &str, age: Duration) -> Option<Duration> {
        let Some(end) = self.0.iter_mut().find(|e| e.child == child) else {
            self.0.push(PeerEnd {
                child: child.to_string(),
                age,
                seen: 1,
            });
            return None;
        };
        if about(end.age, age) {
            end.seen += 1;
            end.age = end.age.min(age);
        } else {
            (end.seen, end.age) = (1, age);
        }
        (end.seen == SEEN_TO_ADAPT).then(|| rekey_age(end.age))
    }

    /// The age before which `child`'s SAs are rekeyed, once the pattern is seen.
    pub(crate) fn rekey_before(&self, child: &str) -> Option<Duration> {
        self.0
            .iter()
            .find(|e| e.child == child && e.seen >= SEEN_TO_ADAPT)
            .map(|e| rekey_age(e.age))
    }
}

/// The age before which `sa`'s CHILD SAs of `child` are rekeyed, if adapted.
pub(crate) fn rekey_before(sa: &IkeSa, child: &str) -> Option<Duration> {
    sa.peer_ends.as_ref()?.rekey_before(child)
}

impl Ctx {
    /// The peer deleted CHILD SA `id` of `sa` on its own, neither rekeying it nor
    /// in a collision: if it keeps doing so at the same age, we rekey first from
    /// now on (the SAs of that child installed now included).
    pub(crate) fn note_peer_end(&mut self, now: Instant, sa: &mut IkeSa, id: u64) {
        if !sa.connection.rekey_adapt {
            return;
        }
        let Some(ended) = sa.children.iter().find(|c| c.unique_id == id) else {
            return;
        };
        // Another SA of the child still stands: the peer deleted a redundant one
        // (a rekey collision, a duplicate), not the child's last SA at its end.
        if sa
            .children
            .iter()
            .any(|c| c.name == ended.name && c.unique_id != id)
        {
            return;
        }
        let (name, age) = (
            ended.name.clone(),
            now.saturating_duration_since(ended.installed_at),
        );
        let ends = sa.peer_ends.get_or_insert_with(Default::default);
        let Some(rekey_age) = ends.note(&name, age).filter(|a| *a >= MIN_REKEY_AGE) else {
            return;
        };
        tracing::warn!(
            ike = sa.unique_id,
            connection = sa.connection.name,
            child = name,
            "the peer lets this CHILD SA expire after {:.1} s and creates a new one instead \
             of rekeying it (rekeying off on its side, or its life_time no longer than its \
             rekey_time); tern now rekeys it after {:.1} s. Fix on the peer: a rekey_time \
             below its life_time; or set rekey_adapt = false here",
            age.as_secs_f64(),
            rekey_age.as_secs_f64()
        );
        self.stats.rekeys_adapted += 1;
        for c in sa
            .children
            .iter_mut()
            .filter(|c| c.name == name && c.unique_id != id)
        {
            let due = c.installed_at + rekey_age;
            c.rekey_at = Some(c.rekey_at.map_or(due, |t| t.min(due)));
        }
    }
}

/// When to rekey an SA the peer ends at `end`: a tenth before, so a rekey lost
/// once still has time for a retransmission.
fn rekey_age(end: Duration) -> Duration {
    end - end / 10
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_pattern_is_two_ends_at_about_the_same_age() {
        let mut ends = PeerEnds::default();
        assert_eq!(ends.note("net", secs(7)), None);
        assert_eq!(ends.rekey_before("net"), None);
        assert_eq!(
            ends.note("net", Duration::from_millis(7300)),
            Some(secs(7) - secs(7) / 10)
        );
        assert_eq!(ends.rekey_before("net"), Some(Duration::from_millis(6300)));
        // Told once; the pattern holds.
        assert_eq!(ends.note("net", secs(7)), None);
        assert_eq!(ends.rekey_before("net"), Some(Duration::from_millis(6300)));
        assert_eq!(ends.rekey_before("other"), None);
    }

    #[test]
    fn ends_at_different_ages_are_no_pattern() {
        let mut ends = PeerEnds::default();
        assert_eq!(ends.note("net", secs(3600)), None);
        assert_eq!(ends.note("net", secs(120)), None);
        assert_eq!(ends.note("net", secs(1800)), None);
        assert_eq!(ends.rekey_before("net"), None);
    }
}
