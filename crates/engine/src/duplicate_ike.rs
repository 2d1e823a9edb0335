//! Two IKE SAs with one peer for one connection, where one should be: both ends
//! reauthenticated the same IKE SA at once (each made a new one and deleted the
//! old), or both initiated the connection at once (each one's INITIAL_CONTACT
//! arrived before its own IKE SA was up, so neither removed anything). Nothing
//! else would ever remove the second, and when both ends reauthenticate on the
//! same schedule each reauthentication doubles them.
//!
//! A peer's new IKE SA without INITIAL_CONTACT is also what a make-before-break
//! reauthentication by the peer looks like, until the peer deletes the old one.
//! So nothing is judged at once: a check runs a grace period later, and counts
//! only IKE SAs that are up with their CHILD SAs and not being replaced by a
//! reauthentication of ours. Both ends then see the same SPIs and keep the same
//! IKE SA, the one whose SPIs rank highest; every end that runs the check deletes
//! the others (both deleting the same IKE SA is harmless), and only if the kept
//! one carries all of their children, so no traffic is left without an SA.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tern_wire::Identification;

use crate::end_reason::{EndKind, EndReason};
use crate::engine::Engine;
use crate::ike_sa::{IkeSa, Spi};

/// The longest a peer's make-before-break reauthentication is given to delete
/// the IKE SA it replaces; shorter when our own reauth_time is (half of it).
const GRACE: Duration = Duration::from_secs(300);
const MIN_GRACE: Duration = Duration::from_secs(10);

/// Why a duplicate IKE SA ends.
pub const DUPLICATE: &str = "duplicate: both ends set up an IKE SA at once (initiating or reauthenticating); the other one with this peer carries the same CHILD SAs";

/// A look, later, at the IKE SAs of one connection with one peer.
pub(crate) struct DuplicateCheck {
    pub at: Instant,
    connection: String,
    peer: Option<Identification>,
    remote: IpAddr,
}

fn same_peer(sa: &IkeSa, check: &DuplicateCheck) -> bool {
    sa.connection.name == check.connection
        && sa.peer_id == check.peer
        && sa.remote.ip() == check.remote
}

/// Counts in a check: up with its CHILD SAs, and neither replacing another nor
/// being replaced by a reauthentication of ours.
fn settled(sa: &IkeSa) -> bool {
    sa.is_established()
        && !sa.reauthenticates
        && sa.reauth_by.is_none()
        && !sa.any_child_exchange_pending()
}

/// The same order on both ends: the IKE SA's SPIs, as they are on the wire.
fn rank(sa: &IkeSa) -> (Spi, Spi) {
    (sa.spi_i, sa.spi_r)
}

fn grace(sa: &IkeSa) -> Duration {
    match sa.connection.reauth_time {
        t if t.is_zero() => GRACE,
        t => (t / 2).clamp(MIN_GRACE, GRACE),
    }
}

impl Engine {
    /// IKE SA `spi` may have a twin: if another IKE SA with its peer exists,
    /// look again after the grace period.
    pub(crate) fn check_duplicates_later(&mut self, now: Instant, spi: Spi) {
        let Some(sa) = self.sas.get(&spi) else {
            return;
        };
        let Some(peer) = sa.peer_id.clone() else {
            return;
        };
        let check = DuplicateCheck {
            at: now + grace(sa),
            connection: sa.connection.name.clone(),
            peer: Some(peer),
            remote: sa.remote.ip(),
        };
        let others = self
            .group(&check)
            .iter()
            .any(|other| other.our_spi() != spi);
        if others {
            self.ctx.duplicate_checks.push(check);
        }
    }

    /// The IKE SAs of the check's connection with its peer, through the index.
    fn group(&self, check: &DuplicateCheck) -> Vec<&IkeSa> {
        let Some(peer) = &check.peer else {
            return Vec::new();
        };
        self.ctx
            .peers
            .of(&check.connection, peer)
            .iter()
            .filter_map(|spi| self.sas.get(spi))
            .map(|sa| &**sa)
            .filter(|sa| same_peer(sa, check))
            .collect()
    }

    pub(crate) fn next_duplicate_check(&self) -> Option<Instant> {
        self.ctx.duplicate_checks.iter().map(|c| c.at).min()
    }

    /// Runs the checks that are due, deleting the duplicates they find.
    pub(crate) fn run_duplicate_checks(&mut self, now: Instant) {
        let (due, later) = std::mem::take(&mut self.ctx.duplicate_checks)
            .into_iter()
            .partition(|c| c.at <= now);
        self.ctx.duplicate_checks = later;
        for check in due {
            let group: Vec<&IkeSa> = self
                .group(&check)
                .into_iter()
                .filter(|sa| settled(sa))
                .collect();
            let Some(kept) = group.iter().max_by_key(|sa| rank(sa)) else {
                continue;
            };
            let carries = |child: &str| kept.child_running(child);
            let losers: Vec<Spi> = group
                .iter()
                .filter(|sa| sa.unique_id != kept.unique_id)
                .filter(|sa| sa.children.iter().all(|c| carries(&c.name)))
                .map(|sa| sa.our_spi())
                .collect();
            let kept_id = kept.unique_id;
            for spi in losers {
                let Some(mut sa) = self.sas.remove(&spi) else {
                    continue;
                };
                tracing::info!(
                    ike = sa.unique_id,
                    kept = kept_id,
                    conn = sa.connection.name,
                    "two IKE SAs with one peer for one connection; deleting the lower-ranked"
                );
                let why = EndReason::new(EndKind::Duplicate, DUPLICATE);
                let next = self.ctx.end_replaced(now, &mut sa, why, true);
                self.settle_one(now, sa, next);
            }
        }
    }
}
