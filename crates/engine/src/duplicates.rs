//! Two CHILD SAs for one child on one IKE SA: both ends created it at the same
//! time (each brought it back after it expired, or after CHILD_SA_NOT_FOUND, with
//! the two requests crossing). Nothing else would ever remove the second one.
//!
//! Both ends see both SAs, with the same SPIs, so they pick the same one to keep
//! without a word: the one whose higher SPI is the higher. Each deletes the other
//! when it notices; DELETEs that cross are answered as usual.

use std::time::Instant;

use crate::child_sa::{ChildSa, ChildState};
use crate::engine::Ctx;
use crate::ike_sa::IkeSa;

/// The same number on both ends for one CHILD SA: its SPIs, larger first.
fn rank(child: &ChildSa) -> (u32, u32) {
    let (a, b) = (child.spi_in, child.spi_out);
    (a.max(b), a.min(b))
}

impl Ctx {
    /// After a new (not rekeyed) CHILD SA `new_id` went in: deletes whichever of it
    /// and an installed CHILD SA of the same child ranks lower.
    pub(crate) fn drop_duplicate_child(&mut self, now: Instant, sa: &mut IkeSa, new_id: u64) {
        let Some(new) = sa.children.iter().find(|c| c.unique_id == new_id) else {
            return;
        };
        let name = new.name.clone();
        let loser = sa
            .children
            .iter()
            .filter(|c| {
                c.unique_id != new_id && c.name == new.name && c.state == ChildState::Installed
            })
            .map(|other| {
                if rank(other) < rank(new) {
                    other.unique_id
                } else {
                    new_id
                }
            })
            .next();
        if let Some(loser) = loser {
            tracing::info!(
                ike = sa.unique_id,
                child = name,
                "two CHILD SAs for one child (both ends created it at once); deleting one"
            );
            self.start_child_delete(now, sa, loser, "duplicate: both ends created it at once");
        }
    }
}
