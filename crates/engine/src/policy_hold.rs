//! A child's policies kept in the kernel while it is set up again after its last
//! CHILD SA ended: at its hard expiry (we create it again at once), or when the
//! peer deleted it at the end of its life there (the peer, or we after
//! `adapt::RECREATE_WITHIN`, create it again). Without its policies the child's
//! traffic would leave in clear text until the new CHILD SA is in (strongSwan
//! issue #3053); with them and no SA, the kernel holds it back.
//!
//! A hold counts as one more user of the policies (`Ctx::policy_users`), so the
//! ended SA leaves them behind and the new one takes them over. It ends when a
//! CHILD SA of the child is installed, when setting it up fails or is not tried,
//! or with its IKE SA.

use crate::child_sa;
use crate::children::endpoints;
use crate::engine::Ctx;
use crate::ike_sa::IkeSa;
use crate::output::KernelOp;

pub(crate) struct PolicyHold {
    ike_id: u64,
    connection: String,
    child: String,
    fingerprint: u64,
    /// What removes the policies if nothing else uses them when the hold ends.
    removal: Vec<KernelOp>,
}

impl Ctx {
    /// Holds the policies of CHILD SA `id` of `sa` (about to be retired).
    pub(crate) fn hold_policies(&mut self, sa: &IkeSa, id: u64) {
        let Some(child) = sa.children.iter().find(|c| c.unique_id == id) else {
            return;
        };
        let held = |h: &PolicyHold| h.connection == sa.connection.name && h.child == child.name;
        if self.policy_holds.iter().any(held) {
            return;
        }
        self.take_policies(child.policies_fingerprint);
        tracing::debug!(
            ike = sa.unique_id,
            child = child.name,
            "policies held until the child is set up again"
        );
        self.policy_holds.push(PolicyHold {
            ike_id: sa.unique_id,
            connection: sa.connection.name.clone(),
            child: child.name.clone(),
            fingerprint: child.policies_fingerprint,
            removal: child_sa::policy_removal(child, endpoints(sa)),
        });
    }

    /// Ends the hold of child `name` of `sa`'s connection, if there is one.
    pub(crate) fn release_policies(&mut self, sa: &IkeSa, name: &str) {
        self.release_holds(|h| h.connection == sa.connection.name && h.child == name);
    }

    /// Ends the hold of `name` unless a CHILD SA of it is on its way on `sa`.
    pub(crate) fn release_policies_unless_coming(&mut self, sa: &IkeSa, name: &str) {
        if !sa.child_exchange_pending(name) {
            self.release_policies(sa, name);
        }
    }

    /// Ends the holds taken on IKE SA `ike_id` (it is gone).
    pub(crate) fn release_policies_of(&mut self, ike_id: u64) {
        self.release_holds(|h| h.ike_id == ike_id);
    }

    fn release_holds(&mut self, which: impl Fn(&PolicyHold) -> bool) {
        let (gone, kept) = std::mem::take(&mut self.policy_holds)
            .into_iter()
            .partition::<Vec<_>, _>(which);
        self.policy_holds = kept;
        for hold in gone {
            if self.drop_policies(hold.fingerprint) {
                self.kernel_ops.extend(hold.removal);
            }
        }
    }
}
