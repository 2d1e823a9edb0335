//! The kernel refused a CHILD SA's ESP SA: no ESP or no such algorithm in it, the
//! SPI held by another XFRM user (the engine chooses inbound SPIs itself, see
//! `inbound_spis`), no memory. The CHILD SA cannot carry traffic, so it ends with
//! [`EndKind::KernelRefused`] and the kernel's own words, the peer is told (a
//! DELETE, so it does not send into an SA we lack), and the child is created again:
//! at once after the first refusal, then after a back-off that grows with each
//! refusal in a row (5 s, 10 s, ... up to 5 min), so a refusal that lasts (a module
//! missing) costs one exchange per back-off, not a loop at the speed of the round
//! trip. Until then its policies stay in place, so its traffic is held rather than
//! sent in clear. A rekey's new SA refused while the old one still carries the
//! child (the peer's rekey) leaves the old one in place, rekeyed after the
//! back-off; the retry then finds the child up and does nothing.
//!
//! The refused SA itself is never removed: it is not ours in the kernel. An
//! inbound SPI the kernel said is taken stays held by this engine, so it is not
//! chosen again.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::child_sa::{ChildState, Outbound};
use crate::end_action::{retry_delay, EndCause};
use crate::end_reason::{EndKind, EndReason};
use crate::engine::{Ctx, Engine, Next};
use crate::ike_sa::IkeSa;
use crate::output::KernelOp;

/// Refusals further apart than this do not add up: the back-off starts again.
const REFUSALS_FORGOTTEN_AFTER: Duration = Duration::from_secs(15 * 60);

/// What the kernel said about an ESP SA it would not install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The kernel's words (the errno's, or tern-xfrm's reading of them).
    pub error: String,
    /// The kernel holds an SA with that SPI already (EEXIST): another XFRM user's.
    pub spi_taken: bool,
}

/// The children of one IKE SA the kernel refused, and when each is tried again.
#[derive(Debug, Default)]
pub(crate) struct KernelRetries {
    children: Vec<Retry>,
}

#[derive(Debug)]
struct Retry {
    child: String,
    /// Refusals in a row.
    refusals: u32,
    last: Instant,
    /// When the child is created again; none once that is under way.
    due: Option<Instant>,
}

impl KernelRetries {
    /// Counts a refusal of `child` and returns how long to wait before trying again.
    fn refused(&mut self, child: &str, now: Instant) -> Duration {
        let i = match self.children.iter().position(|r| r.child == child) {
            Some(i) => i,
            None => {
                self.children.push(Retry {
                    child: child.to_string(),
                    refusals: 0,
                    last: now,
                    due: None,
                });
                self.children.len() - 1
            }
        };
        let retry = &mut self.children[i];
        if now.saturating_duration_since(retry.last) > REFUSALS_FORGOTTEN_AFTER {
            retry.refusals = 0;
        }
        retry.refusals += 1;
        retry.last = now;
        // The first retry goes at once (a refusal may pass: no memory for a
        // moment), the next ones wait longer each time.
        let wait = retry_delay(retry.refusals);
        retry.due = Some(now + wait);
        wait
    }

    /// The next moment a refused child is to be created again.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.children.iter().filter_map(|r| r.due).min()
    }

    /// The children due by `now`, marked as under way.
    fn take_due(&mut self, now: Instant) -> Vec<String> {
        let mut due = Vec::new();
        for retry in &mut self.children {
            if retry.due.is_some_and(|t| t <= now) {
                retry.due = None;
                due.push(retry.child.clone());
            }
        }
        due
    }
}

impl Engine {
    /// The kernel refused the ESP SA (`dst`, `spi`) an AddSa asked for.
    pub(crate) fn on_sa_refused(&mut self, now: Instant, dst: IpAddr, spi: u32, refusal: Refusal) {
        let found = self.sas.iter().find_map(|(ike_spi, sa)| {
            sa.children.iter().find_map(|c| {
                let inbound = c.spi_in == spi && sa.local.ip() == dst;
                let outbound = c.spi_out == spi && sa.remote.ip() == dst;
                (inbound || outbound).then_some((*ike_spi, c.unique_id, inbound))
            })
        });
        // Never in the kernel: a removal queued for it (its CHILD SA retired at
        // the refusal of its other SA) would find nothing, or another user's SA.
        self.ctx
            .kernel_ops
            .retain(|op| !is_removal_of(op, dst, spi));
        let Some((ike_spi, child_id, inbound)) = found else {
            tracing::warn!(
                spi = format_args!("{spi:08x}"),
                "the kernel refused an SA no CHILD SA uses now: {}",
                refusal.error
            );
            return;
        };
        if inbound && !refusal.spi_taken {
            // Free for the next choice: nobody holds it in the kernel.
            self.ctx.spis_in.release(spi);
        }
        let mut sa = self.sas.remove(&ike_spi).expect("found above");
        self.ctx
            .child_refused_by_kernel(now, &mut sa, child_id, inbound, spi, &refusal.error);
        self.settle(now, sa, Next::Keep);
    }
}

impl Ctx {
    fn child_refused_by_kernel(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id: u64,
        inbound: bool,
        spi: u32,
        error: &str,
    ) {
        self.stats.kernel_refusals += 1;
        let Some(child) = sa.children.iter_mut().find(|c| c.unique_id == id) else {
            return;
        };
        // The refused SA is not in the kernel: nothing of it to remove.
        if !inbound {
            child.outbound = Outbound::Removed;
        }
        let (name, spi_in) = (child.name.clone(), child.spi_in);
        let direction = if inbound { "inbound" } else { "outbound" };
        let why = EndReason::new(
            EndKind::KernelRefused,
            format!("the kernel refused its {direction} ESP SA {spi:08x}: {error}"),
        );
        // A rekey's new SA refused: the old one carries the child again (see
        // `retire_child`), and is rekeyed after the back-off rather than at once.
        let carried = sa
            .children
            .iter()
            .any(|c| c.successor == Some(id) && c.state == ChildState::Rekeyed);
        if !carried {
            self.hold_policies(sa, id);
        }
        self.retire_child(now, sa, id, &why, false);
        let refused_at = if inbound {
            sa.local.ip()
        } else {
            sa.remote.ip()
        };
        self.kernel_ops
            .retain(|op| !is_removal_of(op, refused_at, spi));
        // Tell the peer, so it does not send into an SA we do not have.
        self.request_child_delete(now, sa, spi_in, why);
        let wait = sa
            .kernel_retries
            .get_or_insert_with(Default::default)
            .refused(&name, now);
        let what = if carried {
            if let Some(old) = sa
                .children
                .iter_mut()
                .find(|c| c.name == name && c.state == ChildState::Installed)
            {
                old.rekey_at = Some(now + wait);
            }
            "the old one carries on, rekeyed again"
        } else {
            "creating it again"
        };
        tracing::warn!(
            conn = sa.connection.name,
            ike = sa.unique_id,
            child = name,
            "CHILD SA refused by the kernel ({error}); {what} in {} s",
            wait.as_secs()
        );
    }

    /// Creates again the refused children whose back-off is over.
    pub(crate) fn retry_refused_children(&mut self, now: Instant, sa: &mut IkeSa) {
        let Some(retries) = sa.kernel_retries.as_mut() else {
            return;
        };
        if retries.due().is_none_or(|t| t > now) {
            return;
        }
        for name in retries.take_due(now) {
            self.restart_child(now, sa, &name, EndCause::Lost, "was refused by the kernel");
            self.release_policies_unless_coming(sa, &name);
        }
    }
}

fn is_removal_of(op: &KernelOp, dst: IpAddr, spi: u32) -> bool {
    matches!(op, KernelOp::DeleteSa { dst: d, spi: s, .. } if *d == dst && *s == spi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_grows_with_refusals_in_a_row_and_starts_again_later() {
        let t0 = Instant::now();
        let mut retries = KernelRetries::default();
        let waits: Vec<u64> = (0..9)
            .map(|n| {
                retries
                    .refused("net", t0 + Duration::from_secs(n))
                    .as_secs()
            })
            .collect();
        assert_eq!(waits, [0, 5, 10, 20, 40, 80, 160, 300, 300]);
        let later = t0 + Duration::from_secs(8) + REFUSALS_FORGOTTEN_AFTER + Duration::from_secs(1);
        assert_eq!(retries.refused("net", later).as_secs(), 0);
        // Each child counts its own.
        assert_eq!(retries.refused("other", later).as_secs(), 0);
        assert_eq!(retries.refused("other", later).as_secs(), 5);
    }

    #[test]
    fn a_due_child_is_taken_once() {
        let t0 = Instant::now();
        let mut retries = KernelRetries::default();
        retries.refused("net", t0);
        retries.refused("net", t0);
        assert_eq!(retries.due(), Some(t0 + Duration::from_secs(5)));
        assert!(retries.take_due(t0 + Duration::from_secs(4)).is_empty());
        assert_eq!(retries.take_due(t0 + Duration::from_secs(5)), ["net"]);
        assert_eq!(retries.due(), None);
        assert!(retries.take_due(t0 + Duration::from_secs(60)).is_empty());
    }
}
