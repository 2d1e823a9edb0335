//! INITIAL_CONTACT (RFC 7296 §2.4): "this is the only IKE SA between us".
//!
//! An initiator with no other IKE SA to the peer says so in IKE_AUTH — after a
//! restart, say, when it has forgotten every SA. The peer then removes the IKE and
//! CHILD SAs it still holds for the same identities, at once and without a DELETE
//! nobody would answer, instead of keeping dead SAs (and a second tunnel) until DPD
//! or their lifetime finds out.

use crate::engine::Engine;
use crate::ike_sa::Spi;

/// Why the old SAs end.
pub const REPLACED: &str =
    "replaced: the peer started over with INITIAL_CONTACT (it has no other IKE SA with us, e.g. after a restart)";

impl Engine {
    /// Removes the other IKE SAs (and their CHILD SAs) of the peers that sent
    /// INITIAL_CONTACT in the IKE SAs named by the handlers.
    pub(crate) fn honour_initial_contacts(&mut self, now: std::time::Instant) {
        for ike_id in std::mem::take(&mut self.ctx.initial_contacts) {
            let Some(new) = self.sas.values().find(|sa| sa.unique_id == ike_id) else {
                continue;
            };
            let (connection, peer) = (new.connection.name.clone(), new.peer_id.clone());
            let old: Vec<Spi> = self
                .sas
                .iter()
                .filter(|(_, sa)| {
                    sa.unique_id != ike_id && sa.connection.name == connection && sa.peer_id == peer
                })
                .map(|(spi, _)| *spi)
                .collect();
            for spi in old {
                let Some(mut sa) = self.sas.remove(&spi) else {
                    continue;
                };
                tracing::info!(
                    ike = sa.unique_id,
                    connection,
                    "removing an IKE SA the peer no longer has (INITIAL_CONTACT)"
                );
                // The peer restarted: nothing to restart on our side.
                sa.end_cause = None;
                sa.restart = None;
                self.settle_one(now, sa, crate::engine::Next::Destroy(REPLACED.into()));
            }
        }
    }
}
