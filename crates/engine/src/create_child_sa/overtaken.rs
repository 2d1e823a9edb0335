//! The peer's DELETE that overtakes its answer to our CREATE_CHILD_SA: the peer
//! made the CHILD SA, its answer was lost, and before our retransmission got an
//! answer the SA ended on its side (its life_time, say) and it deleted it. That
//! DELETE names SPIs we do not know yet, and is answered empty (RFC 7296
//! §1.4.1); the answer then installs an SA the peer no longer has, and the
//! tunnel is dead until that SA's own rekey. So while our request is in flight
//! the SPIs of such DELETEs are remembered with it; an answer whose SA is among
//! them is taken as made and then deleted by the peer, and the child comes back
//! as after any deletion by the peer (`adapt`, `end_action`). The same holds
//! for the first CHILD SA, made by the peer from our IKE_AUTH: a responder is
//! established once it answers, so its DELETE may come while our IKE_AUTH is
//! still being retransmitted.

use std::time::Instant;

use crate::child_sa::ChildState;
use crate::end_action::EndCause;
use crate::end_reason::{EndKind, EndReason};
use crate::engine::Ctx;
use crate::ike_sa::{IkeSa, Phase, Purpose};

/// The most unknown SPIs remembered for one request: one DELETE per SA the
/// peer may have made for it is plenty; more are not ours (the oldest go).
const MAX_REMEMBERED: usize = 4;

/// The SPIs (our outbound ones) that DELETEs of the peer named while a request
/// of ours that makes a CHILD SA was in flight, and that matched none of our
/// SAs, each with when it came.
#[derive(Default)]
pub struct UnknownDeletes(Vec<(u32, Instant)>);

impl UnknownDeletes {
    fn remember(&mut self, spis: &[u32], now: Instant) {
        for &spi in spis {
            if self.0.len() >= MAX_REMEMBERED {
                self.0.remove(0);
            }
            self.0.push((spi, now));
        }
    }

    /// When the peer deleted the SA with outbound SPI `spi_out`, if a DELETE of
    /// it came while the request was in flight.
    pub(crate) fn deleted_at(&self, spi_out: u32) -> Option<Instant> {
        self.0
            .iter()
            .find(|(spi, _)| *spi == spi_out)
            .map(|(_, at)| *at)
    }
}

/// A DELETE of the peer named `spis` (our outbound SPIs), which match none of
/// our CHILD SAs: if a request of ours that makes a CHILD SA is in flight (a
/// CREATE_CHILD_SA, or the IKE_AUTH that carries the first one), they are kept
/// with it until its answer comes (and go with the exchange).
pub(crate) fn remember_unknown_deletes(sa: &mut IkeSa, spis: &[u32], now: Instant) {
    let Some(request) = sa.in_flight.as_mut() else {
        return;
    };
    match (&mut request.purpose, &mut sa.phase) {
        (Purpose::CreateChild(ex), _) => ex.unknown_deleted.remember(spis, now),
        (Purpose::IkeAuth, Phase::AwaitAuthResponse(pending)) => {
            pending.unknown_deleted.remember(spis, now)
        }
        _ => {}
    }
}

impl Ctx {
    /// CHILD SA `id`, just installed from the answer to our request, was deleted
    /// by the peer at `deleted_at`, before that answer reached us: it goes, and
    /// the deletion counts as if it had come now (noted at its own time, so the
    /// wait for the peer to create the child again runs from then). Nothing is
    /// sent: the peer has no such SA any more.
    pub(crate) fn answer_deleted_by_peer(
        &mut self,
        now: Instant,
        deleted_at: Instant,
        sa: &mut IkeSa,
        id: u64,
    ) {
        let Some(name) = sa
            .children
            .iter()
            .find(|c| c.unique_id == id && c.state == ChildState::Installed)
            .map(|c| c.name.clone())
        else {
            // Being deleted by us already (a collision's loser, a duplicate).
            return;
        };
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            child = name,
            "the peer deleted this CHILD SA {:.1} s before its answer to our request \
             reached us",
            now.saturating_duration_since(deleted_at).as_secs_f64()
        );
        // Its age there is unknown: no close to honour, no lifetime to learn.
        self.note_peer_close(deleted_at, sa, id, &name, false);
        let reason = EndReason::new(
            EndKind::DeletedByPeer,
            "deleted by the peer before its answer to our request reached us",
        );
        self.retire_child(now, sa, id, &reason, false);
        if sa.is_established() {
            self.restart_child(now, sa, &name, EndCause::PeerClosed, "deleted by the peer");
        }
    }
}
