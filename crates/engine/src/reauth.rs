//! Make-before-break reauthentication (`reauth_time`, strongSwan's name).
//!
//! When it is due, we negotiate a brand-new IKE SA with the peer (IKE_SA_INIT and
//! IKE_AUTH: both sides authenticate again) carrying the connection's CHILD SAs,
//! and delete the old IKE SA only once they are all in. The CHILD SAs of one child
//! share a reqid and their policies across IKE SAs (`Ctx::reqid_for`,
//! `Ctx::policy_users`), so for a moment both sets run side by side and traffic
//! never lacks an SA. The new IKE SA does not say INITIAL_CONTACT: that would make
//! the peer drop the old one, and its CHILD SAs, before ours are in.
//!
//! If the new IKE SA fails, the old one keeps running and we try again; its
//! life_time (see `schedule_reauth`) bounds how long.

use std::time::{Duration, Instant};

use crate::end_reason::{EndKind, EndReason};
use crate::engine::{Ctx, Engine, Next};
use crate::ike_sa::IkeSa;

/// How often a due reauthentication is looked at again: to see whether the new
/// IKE SA is still coming up, or to start another after it failed.
const REAUTH_CHECK: Duration = Duration::from_secs(30);

/// How long we leave a peer whose rekey we refused for PFS to reauthenticate on
/// its own (plus as much again at random) before we do.
const PEERS_TURN: Duration = Duration::from_secs(3);

/// Why the old IKE SA and its CHILD SAs end.
pub const REAUTHENTICATED: &str = "reauthenticated";

impl Ctx {
    /// Sets when a freshly authenticated IKE SA reauthenticates, and bounds its
    /// life by it, as strongSwan does: reauth_time plus the margin life_time leaves
    /// over rekey_time (at least a tenth of reauth_time). An IKE rekey keeps
    /// `reauth_at`, since it authenticates nobody.
    pub(crate) fn schedule_reauth(&mut self, now: Instant, sa: &mut IkeSa) {
        let reauth = sa.connection.reauth_time;
        // A connection that cannot initiate cannot reauthenticate either.
        if reauth.is_zero() || sa.connection.remote_addrs.is_empty() {
            return;
        }
        let lifetime = sa.connection.lifetime;
        let at = match sa.reauth_at {
            Some(at) => at,
            None => {
                // rand_time defaults to a tenth of rekey_time (hours): too much
                // for a reauth_time of minutes.
                let jitter = self.jitter(lifetime.rand_time.min(reauth / 10));
                let at = now + reauth.saturating_sub(jitter);
                sa.reauth_at = Some(at);
                at
            }
        };
        let over = lifetime
            .life_time
            .saturating_sub(lifetime.rekey_time)
            .max(reauth / 10);
        let hard = at + over;
        sa.expire_at = Some(sa.expire_at.map_or(hard, |t| t.min(hard)));
    }

    /// A CHILD rekey failed on a proposal the first CHILD SA did not need: a key
    /// exchange (PFS) that one side requires and the other does not offer. IKE_AUTH's
    /// CHILD SA carries none, so a reauthentication makes a CHILD SA both accept,
    /// and the tunnel goes on instead of running into its life_time. `by_us`: the
    /// failed rekey was ours; if it was the peer's, we wait a moment first, so that
    /// a peer that reauthenticates on its own (tern does) goes alone.
    pub(crate) fn reauthenticate_instead(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        child: &str,
        why: &str,
        by_us: bool,
    ) {
        if !by_us {
            // Our own refused rekey is in the history already (its failure);
            // the peer's is not, and `diagnose` judges by the history.
            self.child_failed(
                now,
                sa,
                child,
                EndReason::new(
                    EndKind::NoProposal,
                    format!("the peer's rekey of it was refused: {why}"),
                ),
            );
        }
        let at = if by_us {
            now
        } else {
            now + PEERS_TURN + self.jitter(PEERS_TURN)
        };
        if sa.reauth_by.is_some() || sa.reauth_at.is_some_and(|t| t <= at) {
            return; // one is under way, or due, already
        }
        if sa.connection.remote_addrs.is_empty() {
            tracing::warn!(
                ike = sa.unique_id,
                conn = sa.connection.name,
                child,
                "CHILD SA rekey failed: {why}; a responder-only connection cannot \
                 reauthenticate instead, so the CHILD SA will end at its life_time. Make \
                 both sides' esp_proposals agree on PFS"
            );
            return;
        }
        tracing::warn!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            child,
            "CHILD SA rekey failed: {why}. PFS is wanted by one side only; \
             reauthenticating now, since IKE_AUTH's CHILD SA needs no key exchange. Make \
             both sides' esp_proposals agree on PFS to rekey normally"
        );
        self.stats.pfs_reauths += 1;
        sa.reauth_at = Some(at);
    }

    /// From the IKE SA's timers: asks the engine to reauthenticate when due, and
    /// to look again a little later, should the new IKE SA fail.
    pub(crate) fn reauth_due(&mut self, now: Instant, sa: &mut IkeSa) {
        if sa.is_established() && sa.reauth_at.is_some_and(|t| t <= now) {
            sa.reauth_at = Some(now + REAUTH_CHECK);
            self.reauths_due.push(sa.our_spi());
        }
    }

    /// Notes a reauthenticating IKE SA that is up with all its CHILD SAs.
    pub(crate) fn note_reauth_done(&mut self, sa: &mut IkeSa) {
        if sa.reauthenticates && sa.is_established() && !sa.any_child_exchange_pending() {
            sa.reauthenticates = false;
            self.reauths_done.push(sa.unique_id);
        }
    }
}

impl Engine {
    /// Starts the reauthentications that are due and ends the IKE SAs whose
    /// reauthentication is complete.
    pub(crate) fn run_reauths(&mut self, now: Instant) {
        for spi in std::mem::take(&mut self.ctx.reauths_due) {
            self.start_reauth(now, spi);
        }
        for new_id in std::mem::take(&mut self.ctx.reauths_done) {
            // The peer may have reauthenticated the same IKE SA at the same time.
            if let Some(spi) = self.spi_of(new_id) {
                self.check_duplicates_later(now, spi);
            }
            let old: Vec<_> = self
                .sas
                .iter()
                .filter(|(_, sa)| sa.reauth_by == Some(new_id))
                .map(|(spi, _)| *spi)
                .collect();
            for spi in old {
                let Some(mut sa) = self.sas.remove(&spi) else {
                    continue;
                };
                tracing::info!(
                    ike = sa.unique_id,
                    new = new_id,
                    conn = sa.connection.name,
                    "IKE SA reauthenticated; deleting the old one"
                );
                let why = crate::end_reason::EndReason::new(
                    crate::end_reason::EndKind::Reauthenticated,
                    REAUTHENTICATED,
                );
                let next = self.ctx.end_replaced(now, &mut sa, why, true);
                self.settle_one(now, sa, next);
            }
        }
    }

    fn start_reauth(&mut self, now: Instant, spi: crate::ike_sa::Spi) {
        let Some(old) = self.sas.get(&spi).filter(|sa| sa.is_established()) else {
            return;
        };
        if let Some(id) = old.reauth_by {
            if self.spi_of(id).is_some() {
                return; // still coming up
            }
        }
        let (old_id, conn) = (old.unique_id, old.connection.clone());
        match self.ctx.initiate(now, conn) {
            Ok(mut new) => {
                tracing::info!(
                    ike = old_id,
                    new = new.unique_id,
                    conn = new.connection.name,
                    "reauthenticating IKE SA (make-before-break)"
                );
                new.reauthenticates = true;
                new.initial_contact = false;
                if let Some(old) = self.sas.get_mut(&spi) {
                    old.reauth_by = Some(new.unique_id);
                }
                self.settle_one(now, new, Next::Keep);
            }
            Err(e) => tracing::warn!(ike = old_id, "cannot reauthenticate: {e}"),
        }
    }
}
