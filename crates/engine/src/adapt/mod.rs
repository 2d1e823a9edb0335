//! Adaptive rekeying (PROBLEM.md: "the peer lets its SAs expire instead of
//! rekeying").
//!
//! A peer with rekeying off, or whose life_time equals its rekey_time (strongSwan
//! with `rekey_time = 7s` and no `life_time` computes a life of 7 s), deletes each
//! CHILD SA at the end of its life and creates a new one: break-before-make, a
//! packet lost now and then. An end counts when the peer deletes the child's only
//! SA and then creates the child again itself (with a CREATE_CHILD_SA that rekeys
//! nothing) within a few seconds: a deliberate close is not followed by that, nor
//! is the deletion of a duplicate or of a collision's loser. When the peer ends
//! SAs of one child at the same age twice in a row, tern rekeys that child's SAs
//! itself a tenth before that age from then on, so the tunnel is renewed
//! make-before-break; it says so once. `rekey_adapt = false` turns this off.
//!
//! IKE SAs likewise: a peer that deletes the IKE SA at the end of its life and
//! sets up a new one at once (IKE rekeying off on its side) takes every CHILD SA
//! down with it each time. The pattern is kept per connection and peer address,
//! since each end takes the IKE SA it learned from along.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::child_sa::ChildState;
use crate::end_action::EndCause;
use crate::engine::Ctx;
use crate::ike_sa::IkeSa;

/// How many deletions at about the same age make a pattern.
const SEEN_TO_ADAPT: u32 = 2;
/// An SA the peer deletes younger than this was no lifetime's end (the loser of
/// a collision, a duplicate, one it would not have): no lifetime is that short.
/// It is still no close either: the child is created again all the same, but
/// its age makes no pattern.
pub(crate) const MIN_END_AGE: Duration = Duration::from_secs(5);

/// How long after its DELETE we wait for the peer to create the child again
/// before we do: a peer that re-creates after its hard expiry does so at once,
/// so well within two of its retransmissions; a peer that does not leaves it to
/// us. Also how soon the peer's own re-creation must come for the deletion to
/// count as the end of the SA's life.
pub(crate) const RECREATE_WITHIN: Duration = Duration::from_secs(10);

/// The ages at which the peer ended SAs of each child without rekeying them, and
/// the children it deleted that nobody has created again yet.
#[derive(Debug, Default)]
pub(crate) struct PeerEnds {
    ends: Vec<PeerEnd>,
    /// Children whose last SA the peer deleted, at an age a lifetime may end, until
    /// one side creates them again.
    left: Vec<Left>,
}

#[derive(Debug)]
struct PeerEnd {
    child: String,
    /// The age of the last SA the peer ended.
    age: Duration,
    /// How many SAs in a row it ended at about that age.
    seen: u32,
    /// The age before which we rekey, set by the first pattern seen. Kept for
    /// the IKE SA's life: once we rekey first, the peer ends no more SAs to learn
    /// from, and the deletions still seen (losses, duplicates) are no lifetime.
    rekey_before: Option<Duration>,
    /// The last end was followed by our re-creation, not the peer's: if the peer
    /// deletes that SA too, at another age, it means to close the child.
    recreated_by_us: bool,
}

/// A child the peer deleted on its own: (child, the age of its SA, when).
#[derive(Debug)]
struct Left {
    child: String,
    /// Zero when unknown (see [`PeerEnds::deleted_unseen`]): no pattern either way.
    age: Duration,
    /// The peer rekeyed SAs of this child before: this end was a rekey that
    /// failed, no pattern to adapt to.
    peer_rekeys: bool,
    at: Instant,
}

/// What a deletion of a child's last SA by the peer looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deletion {
    /// The SA's end of life on the peer's side, or (younger than MIN_END_AGE) a
    /// new SA it dropped in a collision, as far as anyone can tell (on the wire
    /// nothing tells either from a close): the child is created again, by the
    /// peer or, after [`RECREATE_WITHIN`], by us.
    EndOfLife,
    /// A close: the peer deleted again, at another age (not within half of the
    /// last), the SA we created after its last deletion. (A young SA deleted is
    /// no close: a strongSwan-like peer deletes a brand-new SA it made in a
    /// rekey/delete collision, and leaves the child without any.)
    Close,
}

/// Whether two ages are about the same: within a tenth, or a second for short ones.
fn about(a: Duration, b: Duration) -> bool {
    a.abs_diff(b) <= (a.max(b) / 10).max(Duration::from_secs(1))
}

/// Whether the age at which the peer deleted the SA we created is roughly the
/// one its last SA ended at: within half of it either way. Our SA is younger on
/// our side than on the peer's by however long our request took (a lost answer:
/// 4 s and more), so `about` would take a lifetime's end for a close.
fn roughly(last: Duration, age: Duration) -> bool {
    age >= last / 2 && age <= last + last / 2
}

impl PeerEnds {
    /// The peer deleted the only SA of `child`, at `age`.
    pub(crate) fn deleted(
        &mut self,
        child: &str,
        age: Duration,
        peer_rekeys: bool,
        now: Instant,
    ) -> Deletion {
        self.left.retain(|l| l.child != child);
        let insisted = self
            .ends
            .iter()
            .find(|e| e.child == child)
            .is_some_and(|e| e.recreated_by_us && !roughly(e.age, age));
        if insisted {
            if let Some(end) = self.ends.iter_mut().find(|e| e.child == child) {
                end.recreated_by_us = false;
            }
            return Deletion::Close;
        }
        self.left.push(Left {
            child: child.to_string(),
            age,
            peer_rekeys,
            at: now,
        });
        Deletion::EndOfLife
    }

    /// The peer deleted the only SA of `child` before its answer to our request
    /// for it reached us: its age there is unknown (the request may have gone
    /// out several times), so it is neither a close nor an end to learn from;
    /// the child is left to be created again, as after an end of life.
    pub(crate) fn deleted_unseen(&mut self, child: &str, now: Instant) {
        self.left.retain(|l| l.child != child);
        let (child, age) = (child.to_string(), Duration::ZERO);
        let peer_rekeys = false;
        self.left.push(Left {
            child,
            age,
            peer_rekeys,
            at: now,
        });
    }

    /// The peer creates `child` again: if it deleted it a moment ago, that was the
    /// end of the SA's life. Returns the age to rekey that child's SAs before, when
    /// this makes a pattern for the first time.
    pub(crate) fn recreated(&mut self, child: &str, now: Instant) -> Option<Duration> {
        let i = self.left.iter().position(|l| l.child == child)?;
        let left = self.left.remove(i);
        if now.saturating_duration_since(left.at) > RECREATE_WITHIN || left.age < MIN_END_AGE {
            return None;
        }
        self.note(child, left.age, false, true)
    }

    /// When the first child the peer left deleted is ours to create again.
    pub(crate) fn recreation_due(&self) -> Option<Instant> {
        self.left.iter().map(|l| l.at + RECREATE_WITHIN).min()
    }

    /// The children the peer left deleted for [`RECREATE_WITHIN`], taken out, with
    /// the ages their SAs ended at. Each counts as an end of life, and the second
    /// at about the same age makes a pattern, as when the peer re-creates: then the
    /// age to rekey before comes with it.
    pub(crate) fn take_left(&mut self, now: Instant) -> Vec<(String, Duration, Option<Duration>)> {
        let (due, waiting) = std::mem::take(&mut self.left)
            .into_iter()
            .partition(|l: &Left| l.at + RECREATE_WITHIN <= now);
        self.left = waiting;
        due.into_iter()
            .map(|l| {
                let rekey_before = if l.age < MIN_END_AGE {
                    None
                } else {
                    self.note(&l.child, l.age, true, !l.peer_rekeys)
                };
                (l.child, l.age, rekey_before)
            })
            .collect()
    }

    /// Records an end of `child`'s SA at `age`, recreated `by_us` or by the peer;
    /// `may_adapt` false for a peer known to rekey (its ends are failed rekeys:
    /// rekeying before them would only collide with its own rekeys).
    fn note(
        &mut self,
        child: &str,
        age: Duration,
        by_us: bool,
        may_adapt: bool,
    ) -> Option<Duration> {
        let Some(end) = self.ends.iter_mut().find(|e| e.child == child) else {
            self.ends.push(PeerEnd {
                child: child.to_string(),
                age,
                seen: 1,
                rekey_before: None,
                recreated_by_us: by_us,
            });
            return None;
        };
        end.recreated_by_us = by_us;
        if about(end.age, age) {
            end.seen += 1;
            end.age = end.age.min(age);
        } else {
            (end.seen, end.age) = (1, age);
        }
        if !may_adapt || end.seen < SEEN_TO_ADAPT || end.rekey_before.is_some() {
            return None;
        }
        end.rekey_before = Some(rekey_age(end.age));
        end.rekey_before
    }

    /// The peer ended an SA of `child` at `age` at the end of its life, which it
    /// leaves to us to make again (no waiting for its re-creation to tell).
    /// Returns the age to rekey before, when this makes a pattern for the first time.
    pub(crate) fn ended(
        &mut self,
        child: &str,
        age: Duration,
        peer_rekeys: bool,
    ) -> Option<Duration> {
        self.left.retain(|l| l.child != child);
        self.note(child, age, true, !peer_rekeys)
    }

    /// An SA of `child` was rekeyed: the SA we created after the peer's last
    /// deletion (if any) is replaced, and its end is no longer ours to read.
    pub(crate) fn rekeyed(&mut self, child: &str) {
        for end in self.ends.iter_mut().filter(|e| e.child == child) {
            end.recreated_by_us = false;
        }
    }

    /// Whether the last end of life seen for `child` came at about `age`.
    pub(crate) fn last_end_about(&self, child: &str, age: Duration) -> bool {
        self.ends
            .iter()
            .any(|e| e.child == child && about(e.age, age))
    }

    /// The age before which `child`'s SAs are rekeyed, once the pattern is seen.
    pub(crate) fn rekey_before(&self, child: &str) -> Option<Duration> {
        self.ends
            .iter()
            .find(|e| e.child == child)
            .and_then(|e| e.rekey_before)
    }
}

/// The IKE SA lines' ends, by connection and peer address.
#[derive(Debug, Default)]
pub(crate) struct IkePeerEnds(HashMap<(String, IpAddr), PeerEnds>);

/// The one line an IKE SA's [`PeerEnds`] follow.
const IKE_LINE: &str = "";

/// The most IKE SA lines followed at once: every peer that deletes an IKE SA
/// starts one (a gateway sees thousands come and go), and only those that showed
/// a pattern are worth keeping when it is full.
const MAX_IKE_LINES: usize = 4096;

impl IkePeerEnds {
    /// The line of `sa`'s connection with its peer, made if need be; none when
    /// the table is full of lines that showed a pattern.
    fn of(&mut self, sa: &IkeSa) -> Option<&mut PeerEnds> {
        let key = (sa.connection.name.clone(), sa.remote.ip());
        if self.0.len() >= MAX_IKE_LINES && !self.0.contains_key(&key) {
            self.0
                .retain(|_, ends| ends.rekey_before(IKE_LINE).is_some());
            if self.0.len() >= MAX_IKE_LINES {
                return None;
            }
        }
        Some(self.0.entry(key).or_default())
    }

    /// The line of `sa`'s connection with its peer, if one is followed.
    fn get_mut(&mut self, sa: &IkeSa) -> Option<&mut PeerEnds> {
        if self.0.is_empty() {
            return None;
        }
        self.0
            .get_mut(&(sa.connection.name.clone(), sa.remote.ip()))
    }

    /// The age before which IKE SAs of `sa`'s connection with its peer are
    /// rekeyed, once the pattern is seen.
    fn rekey_before(&self, sa: &IkeSa) -> Option<Duration> {
        // Asked at every IKE SA's start and rekey: no key built for an empty table.
        if self.0.is_empty() {
            return None;
        }
        let key = (sa.connection.name.clone(), sa.remote.ip());
        self.0.get(&key)?.rekey_before(IKE_LINE)
    }

    /// Whether the peer ended the last IKE SA of `sa`'s line that reached its end
    /// of life at about `age`: a DELETE at that age is another such end.
    pub(crate) fn ends_like_the_last(&self, sa: &IkeSa, age: Duration) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let key = (sa.connection.name.clone(), sa.remote.ip());
        self.0
            .get(&key)
            .is_some_and(|ends| ends.last_end_about(IKE_LINE, age))
    }
}

/// CHILD SA `id` of `sa` replaced one by a rekey: the line goes on, so a later
/// DELETE by the peer is no longer one of the SA we created after its last.
pub(crate) fn child_rekeyed(sa: &mut IkeSa, id: u64) {
    let Some(ends) = sa.peer_ends.as_mut() else {
        return;
    };
    if let Some(c) = sa.children.iter().find(|c| c.unique_id == id) {
        ends.rekeyed(&c.name);
    }
}

/// The age before which `sa`'s CHILD SAs of `child` are rekeyed, if adapted.
pub(crate) fn rekey_before(sa: &IkeSa, child: &str) -> Option<Duration> {
    if !sa.connection.rekey_adapt {
        return None;
    }
    sa.peer_ends.as_ref()?.rekey_before(child)
}

impl Ctx {
    /// The peer deleted CHILD SA `id` of `sa` on its own, neither rekeying it nor
    /// in a collision: remembered, so that the child is created again if the peer
    /// does not (see [`Ctx::recreate_left_children`]), and in case the peer does.
    /// `None` when it was not the child's last SA. `seen`: we had the SA before
    /// the peer deleted it, so its age there is known if `peer_has_since` is.
    pub(crate) fn note_peer_end(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id: u64,
        seen: bool,
    ) -> Option<Deletion> {
        let ended = sa.children.iter().find(|c| c.unique_id == id)?;
        // Another SA of the child still stands, or one of ours is on its way: the
        // peer deleted a redundant one (a rekey collision, a duplicate), not the
        // child's last SA at its end. An SA already replaced or being deleted does
        // not stand for the child: the peer may end the replacement before the
        // old SA is gone (its answer to our rekey came late, the old SA lingers).
        if sa.child_exchange_pending(&ended.name)
            || sa.children.iter().any(|c| {
                c.name == ended.name
                    && c.unique_id != id
                    && !matches!(c.state, ChildState::Rekeyed | ChildState::Deleting)
            })
        {
            return None;
        }
        // The age the peer judged by: ours is shorter when its answer came late.
        let (name, age, peer_rekeys) = (
            ended.name.clone(),
            ended
                .peer_has_since
                .filter(|_| seen)
                .map(|since| now.saturating_duration_since(since)),
            ended.peer_rekeyed_at.is_some(),
        );
        let ends = sa.peer_ends.get_or_insert_with(Default::default);
        let Some(age) = age else {
            ends.deleted_unseen(&name, now);
            return Some(Deletion::EndOfLife);
        };
        Some(ends.deleted(&name, age, peer_rekeys, now))
    }

    /// The peer creates the child `name` anew (not a rekey): if it deleted that
    /// child's SA a moment before, at about the age it did last time, we rekey the
    /// child first from now on (its SAs installed now included).
    pub(crate) fn note_peer_recreate(&mut self, now: Instant, sa: &mut IkeSa, name: &str) {
        let Some(ends) = sa.peer_ends.as_mut() else {
            return;
        };
        if let Some(rekey_age) = ends.recreated(name, now) {
            self.rekey_child_before(sa, name, rekey_age, "creates a new one");
        }
    }

    /// Creates again the children whose last SA the peer deleted at an age a
    /// lifetime may end and did not create again within [`RECREATE_WITHIN`]: a
    /// peer that lets its SAs expire and leaves the rest to us (Libreswan with
    /// rekeying off, say). Nothing on the wire tells that from a close; a peer
    /// that means it deletes the SA we made too, and is then taken at its word.
    pub(crate) fn recreate_left_children(&mut self, now: Instant, sa: &mut IkeSa) {
        let Some(ends) = sa.peer_ends.as_mut() else {
            return;
        };
        if ends.recreation_due().is_none_or(|t| t > now) {
            return;
        }
        let left = ends.take_left(now);
        if self.config.emulate.no_recreate_after_expiry {
            for (name, _, _) in &left {
                self.release_policies(sa, name);
            }
            return;
        }
        for (name, age, rekey_age) in left {
            // A close_action answered the DELETE already (start, or its trap).
            let answered = sa.connection.children.iter().any(|c| {
                c.name == name && crate::end_action::action_for(c, EndCause::PeerClosed).is_some()
            });
            if let Some(rekey_age) = rekey_age {
                self.rekey_child_before(
                    sa,
                    &name,
                    rekey_age,
                    "leaves it to us to create a new one",
                );
            }
            let when = if age.is_zero() {
                "before its answer to our request reached us".to_string()
            } else {
                format!("at an age of {:.1} s", age.as_secs_f64())
            };
            let why = format!(
                "deleted by the peer {when} and not created again by it within {} s: that \
                 SA's end of life on its side (rekeying off there, or its rekey failed)",
                RECREATE_WITHIN.as_secs()
            );
            if !answered {
                self.restart_child(now, sa, &name, EndCause::Lost, &why);
            }
            self.release_policies_unless_coming(sa, &name);
        }
    }

    /// The peer ended SAs of child `name` twice at about the same age instead of
    /// rekeying them: from now on we rekey them before `rekey_age`.
    fn rekey_child_before(&mut self, sa: &mut IkeSa, name: &str, rekey_age: Duration, then: &str) {
        if !sa.connection.rekey_adapt {
            return;
        }
        let age = rekey_age + rekey_age / 9;
        tracing::warn!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            child = name,
            "the peer lets this CHILD SA expire after {:.1} s and {then} instead of rekeying \
             it (rekeying off on its side, or its life_time no longer than its rekey_time); \
             tern now rekeys it after {:.1} s. Fix on the peer: a rekey_time below its \
             life_time; or set rekey_adapt = false here",
            age.as_secs_f64(),
            rekey_age.as_secs_f64()
        );
        self.stats.rekeys_adapted += 1;
        for c in sa.children.iter_mut().filter(|c| c.name == name) {
            let due = c.installed_at + rekey_age;
            c.rekey_at = Some(c.rekey_at.map_or(due, |t| t.min(due)));
        }
    }
}

impl Ctx {
    /// The peer deleted IKE SA `sa` on its own (a close, as far as we know):
    /// remembered, in case it now sets up a new one with us.
    pub(crate) fn note_peer_ike_end(&mut self, now: Instant, sa: &IkeSa) {
        let Some(since) = sa.established_at else {
            return;
        };
        // One of our exchanges was on its way (our rekey, say): the DELETE may
        // have been the peer's answer to that, not the end of a lifetime.
        if !sa.connection.rekey_adapt || sa.in_flight.is_some() {
            return;
        }
        let age = now.saturating_duration_since(since);
        if let Some(ends) = self.ike_peer_ends.of(sa) {
            ends.deleted(IKE_LINE, age, false, now);
        }
    }

    /// The peer deleted IKE SA `sa` at the end of its life there (see
    /// `informational::ike_ended_at_peer`), leaving it to us to set up again: an
    /// end of the line's life like one the peer follows with a new IKE SA.
    pub(crate) fn note_peer_ike_end_of_life(&mut self, now: Instant, sa: &IkeSa) {
        let Some(since) = sa.established_at else {
            return;
        };
        if !sa.connection.rekey_adapt {
            return;
        }
        let age = now.saturating_duration_since(since);
        let line = self.ike_peer_ends.of(sa);
        let peer_rekeys = sa.peer_rekeyed_at.is_some();
        if let Some(rekey_age) = line.and_then(|ends| ends.ended(IKE_LINE, age, peer_rekeys)) {
            self.ike_rekey_adapted(sa, rekey_age, "leaves it to us to set up a new one");
        }
    }

    /// The peer set up IKE SA `sa` with us: if it deleted the previous one a
    /// moment before, at about the age it did last time, we rekey this
    /// connection's IKE SAs with that peer first from now on.
    pub(crate) fn note_peer_ike_recreate(&mut self, now: Instant, sa: &mut IkeSa) {
        if !sa.connection.rekey_adapt {
            return;
        }
        let recreated = self.ike_peer_ends.get_mut(sa);
        let Some(rekey_age) = recreated.and_then(|ends| ends.recreated(IKE_LINE, now)) else {
            return;
        };
        self.ike_rekey_adapted(sa, rekey_age, "sets up a new one");
        self.adapt_ike_rekey(sa);
    }

    /// The peer ended IKE SAs of `sa`'s line twice at about the same age instead
    /// of rekeying them: from now on we rekey them before `rekey_age`.
    fn ike_rekey_adapted(&mut self, sa: &IkeSa, rekey_age: Duration, then: &str) {
        let age = rekey_age + rekey_age / 9;
        tracing::warn!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            "the peer lets the IKE SA expire after {:.1} s and {then} instead of rekeying \
             it (IKE rekeying off on its side, or its life_time no longer than its \
             rekey_time), taking the CHILD SAs down each time; tern now rekeys it after \
             {:.1} s. Fix on the peer: an IKE rekey_time below its life_time; or set \
             rekey_adapt = false here",
            age.as_secs_f64(),
            rekey_age.as_secs_f64()
        );
        self.stats.rekeys_adapted += 1;
    }

    /// Brings `sa`'s rekey forward to the age its peer's IKE SAs end at, if known.
    pub(crate) fn adapt_ike_rekey(&self, sa: &mut IkeSa) {
        let (Some(before), Some(since)) = (self.ike_peer_ends.rekey_before(sa), sa.established_at)
        else {
            return;
        };
        let due = since + before;
        sa.rekey_at = Some(sa.rekey_at.map_or(due, |t| t.min(due)));
    }
}

/// When to rekey an SA the peer ends at `end`: a tenth before, so a rekey lost
/// once still has time for a retransmission.
fn rekey_age(end: Duration) -> Duration {
    end - end / 10
}

#[cfg(test)]
mod tests;
