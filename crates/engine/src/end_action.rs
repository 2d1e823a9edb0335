//! What follows the end of an SA: `dpd_action = restart` and `close_action = start`
//! bring the connection back, and a restart that fails is tried again, with
//! growing pauses, for as long as the configuration asks for it; `trap` for
//! either puts the child's trap in place instead (see `trap.rs`). A first
//! initiation the peer never answers is tried again the same way, as often as
//! `keyingtries` allows.

use std::time::{Duration, Instant};

use crate::config::{ChildConfig, CloseAction, Connection, DpdAction, StartAction};
use crate::engine::Ctx;
use crate::ike_sa::IkeSa;
use crate::output::{EndAction, Event};
use crate::shared_child::SharedChild;

/// Pause before the second attempt; it doubles for each later one, up to
/// `RETRY_MAX`. The first attempt goes at once.
const RETRY_BASE: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(300);

/// Why an established IKE SA is ending, where that may call for an end action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndCause {
    /// A request went unanswered through the retransmit schedule.
    PeerDead,
    /// The peer deleted the IKE SA.
    PeerClosed,
    /// The IKE SA reached its life_time without a successful rekey: both ends may
    /// well be alive, so the connection is not left down.
    Expired,
    /// An IKE SA not yet up: the peer did not answer a request of its set-up.
    Unanswered,
    /// The peer deleted the IKE SA at an age past the one it rekeys them at: the
    /// end of its life on the peer's side (its rekey failed), which a peer may
    /// leave to us to set up again. We wait `RECREATE_WITHIN` for it to do so.
    EndedAtPeer,
    /// A CHILD SA ended while both ends are alive and nobody chose to close it:
    /// our own hard expiry, or the peer deleting an SA it had only just made (the
    /// loser of a rekey/delete collision). A configured child is not left down.
    Lost,
}

/// A connection being brought back.
#[derive(Clone, Debug)]
pub(crate) struct Restart {
    pub connection: String,
    /// The child whose configuration asked for it.
    pub child: String,
    pub action: EndAction,
    /// Which initiation this is since the SA ended, 1 for the first.
    pub attempt: u32,
    /// How long the first attempt waits: for the peer to set the connection up
    /// itself, when it may.
    pub wait: Duration,
}

pub(crate) struct PendingRestart {
    pub at: Instant,
    pub restart: Restart,
    /// Not due at `at` but when this IKE SA ends: it stood for the connection when
    /// the restart came due, and may yet go without a restart of its own (the
    /// peer deletes it at its own hard expiry, say).
    pub waits_for: Option<u64>,
}

/// The action a child's configuration asks for after `cause`.
pub(crate) fn action_for(child: &ChildConfig, cause: EndCause) -> Option<EndAction> {
    let restart = match child.dpd_action {
        DpdAction::Restart => Some(EndAction::Restart),
        DpdAction::Trap => Some(EndAction::DpdTrap),
        DpdAction::Clear => None,
    };
    let start = match child.close_action {
        CloseAction::Start => Some(EndAction::Start),
        CloseAction::Trap => Some(EndAction::CloseTrap),
        CloseAction::None => None,
    };
    match cause {
        EndCause::PeerDead => restart,
        EndCause::PeerClosed => start,
        EndCause::Unanswered => None,
        // Nobody asked for it to go: it comes back, as its settings say, or at
        // once; an on-demand child's standing trap brings it back on the next packet.
        EndCause::Expired | EndCause::EndedAtPeer | EndCause::Lost => restart
            .or(start)
            .or((child.start_action != StartAction::Trap).then_some(EndAction::Restart)),
    }
}

/// The retry plan of a connection's first initiation (at load or by `ternctl
/// initiate`): none when `keyingtries = 1`.
pub(crate) fn first_try(conn: &Connection) -> Option<Restart> {
    (conn.keyingtries != 1).then(|| Restart {
        connection: conn.name.clone(),
        child: conn
            .children
            .first()
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        action: EndAction::KeyingTries,
        attempt: 1,
        wait: Duration::ZERO,
    })
}

/// The restart an ending IKE SA calls for, if any.
pub(crate) fn plan(sa: &IkeSa) -> Option<Restart> {
    if sa.established_at.is_none() {
        let tried = sa.restart.as_ref()?;
        if tried.action == EndAction::KeyingTries && !may_try_again(sa, tried.attempt) {
            return None;
        }
        // A restart attempt that failed, for whatever reason, is tried again.
        return Some(Restart {
            attempt: tried.attempt + 1,
            ..tried.clone()
        });
    }
    let cause = sa.end_cause?;
    if sa.connection.remote_addrs.is_empty() {
        // A responder-only connection cannot initiate (tern-config refuses this).
        return None;
    }
    sa.connection.children.iter().find_map(|c| {
        // A trap is put in place by `Ctx::trap_after_end`, not restarted.
        let action = action_for(c, cause).filter(|a| !a.is_trap());
        action.map(|action| Restart {
            connection: sa.connection.name.clone(),
            child: c.name.clone(),
            action,
            attempt: 1,
            wait: if cause == EndCause::EndedAtPeer {
                crate::adapt::RECREATE_WITHIN
            } else {
                Duration::ZERO
            },
        })
    })
}

/// Whether a first initiation that failed at `attempt` is tried again: only when
/// the peer did not answer (a refusal would only be refused again), and only
/// `keyingtries` times in all (0: until it answers).
fn may_try_again(sa: &IkeSa, attempt: u32) -> bool {
    let limit = sa.connection.keyingtries;
    sa.end_cause == Some(EndCause::Unanswered) && (limit == 0 || attempt < limit)
}

/// How long to wait before initiation number `attempt`.
pub(crate) fn retry_delay(attempt: u32) -> Duration {
    match attempt {
        0 | 1 => Duration::ZERO,
        n => RETRY_BASE
            .saturating_mul(1 << (n - 2).min(16))
            .min(RETRY_MAX),
    }
}

impl Ctx {
    /// Schedules `restart` after IKE SA `ike_id` ended (0: none could be made)
    /// because of `reason`, and says so.
    pub(crate) fn schedule_restart(
        &mut self,
        now: Instant,
        ike_id: u64,
        restart: Restart,
        reason: &str,
    ) {
        if self
            .pending_restarts
            .iter()
            .any(|p| p.restart.connection == restart.connection && p.waits_for.is_none())
        {
            return;
        }
        self.pending_restarts
            .retain(|p| p.restart.connection != restart.connection);
        let wait = if restart.attempt <= 1 {
            restart.wait
        } else {
            Duration::ZERO
        };
        let delay = retry_delay(restart.attempt).max(wait);
        let what = if restart.attempt <= 1 && !delay.is_zero() {
            format!(
                "{reason}; {}: initiating again in {} s unless the peer does",
                restart.action,
                delay.as_secs()
            )
        } else if restart.attempt <= 1 {
            format!("{reason}; {}: initiating again", restart.action)
        } else if restart.action == EndAction::KeyingTries {
            format!(
                "attempt {} failed: {reason}; {}: trying again in {} s",
                restart.attempt - 1,
                restart.action,
                delay.as_secs()
            )
        } else {
            format!(
                "restart attempt {} failed: {reason}; {}: trying again in {} s",
                restart.attempt - 1,
                restart.action,
                delay.as_secs()
            )
        };
        tracing::warn!(
            conn = restart.connection,
            ike = ike_id,
            child = restart.child,
            "{what}"
        );
        self.events.push_back(Event::EndAction {
            connection: restart.connection.clone(),
            ike_id,
            child: restart.child.clone(),
            action: restart.action,
            reason: what,
        });
        self.pending_restarts.push(PendingRestart {
            at: now + delay,
            restart,
            waits_for: None,
        });
    }

    /// A due restart waits while another IKE SA of its connection is being set up.
    pub(crate) fn postpone_restart(&mut self, now: Instant, restart: Restart) {
        self.pending_restarts.push(PendingRestart {
            at: now + RETRY_BASE,
            restart,
            waits_for: None,
        });
    }

    /// A due restart is not needed while IKE SA `ike_id` stands for its connection;
    /// it comes due again if that one ends.
    pub(crate) fn defer_restart(&mut self, now: Instant, restart: Restart, ike_id: u64) {
        self.pending_restarts
            .retain(|p| p.restart.connection != restart.connection);
        self.pending_restarts.push(PendingRestart {
            at: now,
            restart,
            waits_for: Some(ike_id),
        });
    }

    /// IKE SA `ike_id` ended: the restarts deferred to it are due now.
    pub(crate) fn restarts_wait_no_more(&mut self, now: Instant, ike_id: u64) {
        for p in &mut self.pending_restarts {
            if p.waits_for == Some(ike_id) {
                (p.waits_for, p.at) = (None, now);
            }
        }
    }

    /// Restarts due now, taken out of the queue.
    pub(crate) fn take_due_restarts(&mut self, now: Instant) -> Vec<Restart> {
        // Called at every timeout: most find nothing due, and need not take
        // the list apart and build it again to say so.
        let is_due = |p: &PendingRestart| p.at <= now && p.waits_for.is_none();
        if !self.pending_restarts.iter().any(is_due) {
            return Vec::new();
        }
        let (due, later) = std::mem::take(&mut self.pending_restarts)
            .into_iter()
            .partition(is_due);
        self.pending_restarts = later;
        due.into_iter().map(|p| p.restart).collect()
    }

    pub(crate) fn next_restart(&self) -> Option<Instant> {
        self.pending_restarts
            .iter()
            .filter(|p| p.waits_for.is_none())
            .map(|p| p.at)
            .min()
    }

    /// An established IKE SA is ending for `reason`: installs the traps its
    /// children's `dpd_action`/`close_action = trap` ask for, before its CHILD
    /// SAs go, so their policies stay in place throughout.
    pub(crate) fn trap_after_end(&mut self, sa: &IkeSa, reason: &str) {
        let Some(cause) = sa.end_cause.filter(|_| sa.established_at.is_some()) else {
            return;
        };
        let conn = sa.connection.clone();
        for child in &conn.children {
            let Some(action) = action_for(child, cause).filter(|a| a.is_trap()) else {
                continue;
            };
            let what = format!("{reason}; {action}: waiting for traffic");
            tracing::warn!(
                conn = conn.name,
                ike = sa.unique_id,
                child = child.name,
                "{what}"
            );
            self.events.push_back(Event::EndAction {
                connection: conn.name.clone(),
                ike_id: sa.unique_id,
                child: child.name.clone(),
                action,
                reason: what,
            });
            self.install_trap(&conn, child);
        }
    }

    /// One CHILD SA is about to go for `cause`: installs the trap its end action
    /// asks for first, so its policies never leave the kernel (a packet sent in
    /// between would go out in the clear). `restart_child` reports it after.
    pub(crate) fn trap_before_retire(&mut self, sa: &IkeSa, name: &str, cause: EndCause) {
        let conn = sa.connection.clone();
        let Some(child) = conn.children.iter().find(|c| c.name == name) else {
            return;
        };
        if action_for(child, cause).is_some_and(EndAction::is_trap) {
            self.install_trap(&conn, child);
        }
    }

    /// Drops the pending restarts of a connection (terminated, or reloaded away).
    pub(crate) fn cancel_restarts(&mut self, connection: &str) {
        self.pending_restarts
            .retain(|p| p.restart.connection != connection);
    }

    /// The peer deleted (or let expire) one CHILD SA: bring it back on the same
    /// IKE SA if its configuration says so.
    pub(crate) fn restart_child(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        name: &str,
        cause: EndCause,
        reason: &str,
    ) {
        let Some(config) = sa.connection.children.iter().find(|c| c.name == name) else {
            return;
        };
        let Some(action) = action_for(config, cause) else {
            return;
        };
        if sa.child_running(name) {
            // The peer brought it back first (its own end action): a second
            // one would be a duplicate.
            tracing::debug!(
                ike = sa.unique_id,
                child = name,
                "not creating it again: it is up"
            );
            return;
        }
        if action.is_trap() {
            let (conn, config) = (sa.connection.clone(), config.clone());
            self.events.push_back(Event::EndAction {
                connection: conn.name.clone(),
                ike_id: sa.unique_id,
                child: name.to_string(),
                action,
                reason: format!("CHILD SA {reason}; {action}: waiting for traffic"),
            });
            self.install_trap(&conn, &config);
            return;
        }
        if sa.child_exchange_pending(name) {
            // A rekey of it (or a creation) is on its way: its answer brings the
            // CHILD SA back, and a second request would make a duplicate.
            tracing::debug!(
                ike = sa.unique_id,
                child = name,
                "not creating it again: a CREATE_CHILD_SA for it is pending"
            );
            return;
        }
        let Some(config) = SharedChild::find(&sa.connection, name) else {
            return;
        };
        let what = format!("CHILD SA {reason}; {action}: creating it again");
        tracing::warn!(
            conn = sa.connection.name,
            ike = sa.unique_id,
            child = name,
            "{what}"
        );
        self.events.push_back(Event::EndAction {
            connection: sa.connection.name.clone(),
            ike_id: sa.unique_id,
            child: name.to_string(),
            action,
            reason: what,
        });
        self.stats.restarts += 1;
        self.start_child(now, sa, config);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_ceiling_and_never_stop() {
        let secs: Vec<u64> = (1..=9).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(secs, [0, 5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(retry_delay(u32::MAX), RETRY_MAX);
    }
}
