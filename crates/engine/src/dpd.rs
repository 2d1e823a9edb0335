//! Dead peer detection (RFC 7296 §2.4): an empty INFORMATIONAL request when the
//! peer has been silent for `dpd_delay`.
//!
//! Silence means no IKE message and no inbound ESP traffic; the latter is read
//! from the kernel's byte counters, which the timer run asked for before it began
//! (see `counters`), so a tunnel carrying traffic is never probed. A check that goes unanswered through
//! the retransmission schedule ends the IKE SA (see `Ctx::retransmit_due`); like
//! strongSwan's IKEv2, there is no separate DPD timeout.

use std::time::Instant;

use tern_wire::ExchangeType;

use crate::engine::Ctx;
use crate::ike_sa::{IkeSa, Purpose};

/// Why a dead peer's IKE SA ended, as events and logs state it.
pub(crate) const DEAD_PEER: &str = "dead peer (DPD timeout)";

impl Ctx {
    /// Starts the DPD clock of a newly established IKE SA.
    pub(crate) fn arm_dpd(&mut self, now: Instant, sa: &mut IkeSa) {
        let delay = sa.connection.dpd_delay;
        sa.last_heard = Some(sa.last_heard.map_or(now, |t| t.max(now)));
        sa.dpd_at = (!delay.is_zero()).then(|| now + delay);
    }

    /// Runs the DPD clock: sends a liveness check if the peer has been silent
    /// for dpd_delay, otherwise looks again when it will have been.
    pub(crate) fn run_dpd(&mut self, now: Instant, sa: &mut IkeSa) {
        if sa.dpd_at.is_none_or(|t| t > now) {
            return;
        }
        let delay = sa.connection.dpd_delay;
        if delay.is_zero() || !sa.is_established() {
            sa.dpd_at = None;
            return;
        }
        if self.esp_arrived(sa) {
            sa.last_heard = Some(now);
        }
        let quiet_until = sa.last_heard.unwrap_or(now) + delay;
        if quiet_until > now {
            sa.dpd_at = Some(quiet_until);
            return;
        }
        // A request of ours in flight is a liveness check already: its retransmits
        // tell whether the peer is alive.
        if sa.in_flight.is_none() && sa.queued.is_empty() {
            self.stats.dpd_checks_sent += 1;
            tracing::debug!(
                ike = sa.unique_id,
                conn = sa.connection.name,
                silent_s = (now - sa.last_heard.unwrap_or(now)).as_secs(),
                "peer silent; sending a liveness check"
            );
            if !self.refresh_nat_mapping(now, sa) {
                self.request(
                    now,
                    sa,
                    ExchangeType::INFORMATIONAL,
                    Purpose::Liveness,
                    Vec::new(),
                );
            }
        }
        sa.dpd_at = Some(now + delay);
    }

    /// Whether any CHILD SA's inbound byte counter grew since it was last read.
    fn esp_arrived(&mut self, sa: &mut IkeSa) -> bool {
        let mut grew = false;
        for child in &mut sa.children {
            if let Some(bytes) = child.inbound_bytes_read {
                grew |= bytes > child.inbound_bytes_seen;
                child.inbound_bytes_seen = bytes;
            }
        }
        grew
    }
}
