//! Two CHILD SAs for one child on one IKE SA: both ends created it at the same
//! time (each brought it back after it expired, or after CHILD_SA_NOT_FOUND, with
//! the two CREATE_CHILD_SA requests crossing). Nothing else would ever remove the
//! second one, and each is rekeyed on and on.
//!
//! Each CHILD SA knows which end created the first SA of its line (a rekey keeps
//! it). When one of a line is installed while an SA of the other end's line is
//! installed for the same child, the two ends agree without a word on which line
//! ends, both seeing the same SPIs: the SA whose higher SPI is the lower. As with
//! the redundant SA of a rekey collision (RFC 7296 §2.8.1), the end whose line it
//! is deletes it. Only that end: the other may see an SA the peer is already
//! deleting, and acting on it could leave neither.

use std::time::Instant;

use crate::child_sa::{ChildSa, ChildState};
use crate::end_reason::{EndKind, EndReason};
use crate::engine::Ctx;
use crate::ike_sa::IkeSa;

/// The same number on both ends for one CHILD SA: its SPIs, larger first.
fn rank(child: &ChildSa) -> (u32, u32) {
    let (a, b) = (child.spi_in, child.spi_out);
    (a.max(b), a.min(b))
}

/// The line of the CHILD SA that `is` finds.
pub(crate) fn line_of(sa: &IkeSa, is: impl Fn(&ChildSa) -> bool) -> Option<bool> {
    sa.children
        .iter()
        .find(|c| is(c))
        .and_then(|c| c.created_by_us)
}

/// Records which end's line CHILD SA `id` belongs to.
pub(crate) fn set_line(sa: &mut IkeSa, id: u64, ours: bool) {
    if let Some(c) = sa.children.iter_mut().find(|c| c.unique_id == id) {
        c.created_by_us = Some(ours);
    }
}

impl Ctx {
    /// After CHILD SA `new_id` of line `line` went in: if an SA of the other
    /// end's line is installed for the same child, and the lower-ranked of the two
    /// is of our line, it goes.
    pub(crate) fn drop_duplicate_child(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        new_id: u64,
        line: Option<bool>,
    ) {
        let Some(ours) = line else { return };
        set_line(sa, new_id, ours);
        let Some(new) = sa.children.iter().find(|c| c.unique_id == new_id) else {
            return;
        };
        let name = new.name.clone();
        let loser = sa
            .children
            .iter()
            .filter(|c| {
                c.name == name && c.state == ChildState::Installed && c.created_by_us == Some(!ours)
            })
            .map(|other| if rank(other) < rank(new) { other } else { new })
            .find(|loser| loser.created_by_us == Some(true))
            .map(|loser| loser.unique_id);
        if let Some(loser) = loser {
            tracing::info!(
                ike = sa.unique_id,
                child = name,
                "two CHILD SAs for one child (both ends created it at once); deleting ours"
            );
            let why = EndReason::new(
                EndKind::Duplicate,
                "duplicate: both ends created it at once",
            );
            self.start_child_delete(now, sa, loser, why);
        }
    }
}
