//! Requests queued behind our IKE rekey go to the new IKE SA (RFC 7296 §2.18).
//!
//! An IKE rekey goes alone: whatever asks for an exchange while it is in flight
//! (a CHILD rekey, a new CHILD SA, a CHILD delete, a DELETE of the IKE SA) waits in
//! the old SA's queue. When the rekey succeeds, the old SA is deleted, so that queue
//! must move, or a CHILD SA would be left waiting for a rekey that never comes and
//! run into its hard lifetime.

use std::time::Instant;

use crate::engine::Ctx;
use crate::ike_sa::{IkeSa, Phase, Purpose};

impl Ctx {
    /// Moves the requests queued on `old`, which our rekey just replaced, to `new`.
    pub(crate) fn hand_over_queued(&mut self, now: Instant, old: &mut IkeSa, new: &mut IkeSa) {
        if let Phase::Deleting(reason) = &old.phase {
            // The IKE SA was being deleted (a terminate, its life_time) while the
            // rekey ran: the new SA goes the same way, and what an end calls for
            // (a restart) follows it. What was queued on the old one goes with it
            // (its reserved SPIs are released when it is destroyed).
            let reason = reason.clone();
            new.end_cause = old.end_cause.take();
            new.restart = old.restart.take();
            let _ = self.start_delete(now, new, reason);
            return;
        }
        for queued in std::mem::take(&mut old.queued) {
            match queued.purpose {
                // The rekey's answer has just shown the peer alive.
                Purpose::Liveness => {}
                purpose => self.request(now, new, queued.exchange, purpose, queued.payloads),
            }
        }
    }
}
