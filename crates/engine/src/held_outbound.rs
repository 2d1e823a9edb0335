//! A peer's make-before-break reauthentication, seen from the IKE_AUTH responder.
//!
//! The new IKE SA brings CHILD SAs for traffic the old one still carries. As
//! responder we would send on the new CHILD SA as soon as we answer IKE_AUTH,
//! but the peer installs it only when our answer arrives, and a packet that
//! overtakes the answer is lost (interop: strongswan-reauthenticates lost a
//! ping this way). So, as for a CHILD SA the peer rekeys, our outbound SA of
//! such a child is held back while the old IKE SA carries the child, and goes
//! in when the peer deletes the old IKE SA, or after [`HOLD`] at the latest.

use std::time::{Duration, Instant};

use crate::engine::Engine;
use crate::ike_sa::{IkeSa, Spi};
use crate::output::KernelOp;

/// The longest an outbound SA waits for the peer to delete the IKE SA it
/// replaces (a DELETE lost once is sent again within this).
const HOLD: Duration = Duration::from_secs(5);

/// A new CHILD SA whose outbound SA is held (`Outbound::Held`).
pub(crate) struct HeldOutbound {
    pub until: Instant,
    /// Our SPI of its IKE SA, and its unique id.
    ike: Spi,
    child: u64,
}

/// Another IKE SA with the same peer for the same connection.
fn same_peer(a: &IkeSa, b: &IkeSa) -> bool {
    a.unique_id != b.unique_id
        && a.connection.name == b.connection.name
        && a.peer_id.is_some()
        && a.peer_id == b.peer_id
}

impl Engine {
    /// After IKE_AUTH without INITIAL_CONTACT (`Ctx::outbound_to_hold`): each held
    /// outbound SA waits only if another IKE SA with the peer still carries its
    /// child; otherwise there is nothing to wait for.
    pub(crate) fn hold_outbound(&mut self, now: Instant) {
        for (ike, child) in std::mem::take(&mut self.ctx.outbound_to_hold) {
            let Some(new) = self.sas.get(&ike) else {
                continue;
            };
            let Some(name) = new.children.iter().find(|c| c.unique_id == child) else {
                continue;
            };
            let peer = new.peer_id.as_ref();
            let carried = peer
                .map(|peer| self.ctx.peers.of(&new.connection.name, peer))
                .unwrap_or_default()
                .iter()
                .filter_map(|spi| self.sas.get(spi))
                .any(|old| same_peer(old, new) && old.child_running(&name.name));
            if carried {
                self.ctx.held_outbound.push(HeldOutbound {
                    until: now + HOLD,
                    ike,
                    child,
                });
            } else {
                self.release_outbound(ike, child);
            }
        }
    }

    /// IKE SA `ending` goes: the outbound SAs held for its successors with the
    /// same peer go in first, so the traffic it carried always has an SA.
    pub(crate) fn release_outbound_before_end(&mut self, ending: &IkeSa) {
        if self.ctx.held_outbound.is_empty() {
            return;
        }
        let (release, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.ctx.held_outbound)
            .into_iter()
            .partition(|h| {
                self.sas
                    .get(&h.ike)
                    .is_some_and(|new| same_peer(new, ending))
            });
        self.ctx.held_outbound = keep;
        for held in release {
            self.release_outbound(held.ike, held.child);
        }
    }

    pub(crate) fn next_outbound_release(&self) -> Option<Instant> {
        self.ctx.held_outbound.iter().map(|h| h.until).min()
    }

    /// Releases the held outbound SAs whose time is up.
    pub(crate) fn release_due_outbound(&mut self, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.ctx.held_outbound)
            .into_iter()
            .partition(|h| h.until <= now);
        self.ctx.held_outbound = later;
        for held in due {
            tracing::debug!(
                child = held.child,
                "the replaced IKE SA is still there: sending on the new CHILD SA anyway"
            );
            self.release_outbound(held.ike, held.child);
        }
    }

    fn release_outbound(&mut self, ike: Spi, child: u64) {
        let outbound = self
            .sas
            .get_mut(&ike)
            .and_then(|sa| sa.children.iter_mut().find(|c| c.unique_id == child))
            .and_then(|c| c.outbound.release());
        if let Some(outbound) = outbound {
            self.ctx.kernel_ops.push_back(KernelOp::AddSa(*outbound));
        }
    }
}
