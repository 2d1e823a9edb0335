//! Why an SA ended, as one of a few stable kinds (for metrics labels and rekey
//! counts). The engine still gives its reasons as free text; this is the one place
//! that reads them, until the engine's typed end reasons replace it.

/// The kind of an SA's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndKind {
    /// Replaced by its rekey.
    Rekeyed,
    /// Made redundant: the loser of a rekey collision, an SA replaced by a
    /// reauthentication, or one the peer's INITIAL_CONTACT replaced.
    Replaced,
    /// The peer sent a DELETE.
    DeletedByPeer,
    /// We deleted it: ternctl terminate, a reload that removed its connection,
    /// ternd stopping.
    DeletedByUs,
    /// It reached its hard lifetime before a rekey succeeded.
    HardExpiry,
    /// The peer stopped answering (dead peer detection or any other request).
    Dpd,
    /// It never came up (the negotiation failed).
    Failed,
    /// Anything else.
    Other,
}

impl EndKind {
    /// The kind of an SA that ended (was deleted) for `reason`, the engine's text.
    pub fn of_deletion(reason: &str) -> EndKind {
        let starts = |prefix: &str| reason.starts_with(prefix);
        if starts("rekeyed") {
            EndKind::Rekeyed
        } else if starts("redundant after") || starts("replaced") || reason == "reauthenticated" {
            EndKind::Replaced
        } else if starts("deleted by the peer") {
            EndKind::DeletedByPeer
        } else if reason.contains("hard expiry") {
            EndKind::HardExpiry
        } else if starts("dead peer") {
            EndKind::Dpd
        } else if starts("terminated by")
            || starts("ternd is stopping")
            || starts("connection removed from the configuration")
            || starts("deleted")
        {
            EndKind::DeletedByUs
        } else {
            EndKind::Other
        }
    }

    /// The label value: stable, lower case, words joined by `_`.
    pub fn label(self) -> &'static str {
        match self {
            EndKind::Rekeyed => "rekeyed",
            EndKind::Replaced => "replaced",
            EndKind::DeletedByPeer => "deleted_by_peer",
            EndKind::DeletedByUs => "deleted_by_us",
            EndKind::HardExpiry => "hard_expiry",
            EndKind::Dpd => "dpd",
            EndKind::Failed => "failed",
            EndKind::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EndKind::{self, *};

    #[test]
    fn the_engine_s_reasons_map_to_their_kinds() {
        for (reason, kind) in [
            ("rekeyed", Rekeyed),
            (
                "rekeyed; the peer never deleted the old SA (removed at its life_time)",
                Rekeyed,
            ),
            (
                "redundant after a simultaneous rekey (RFC 7296 §2.8.1)",
                Replaced,
            ),
            ("reauthenticated", Replaced),
            (
                "replaced: the peer started over with INITIAL_CONTACT (it has no other IKE SA with us, e.g. after a restart)",
                Replaced,
            ),
            ("deleted by the peer", DeletedByPeer),
            (
                "deleted by the peer, which had made it by rekeying an SA we deleted",
                DeletedByPeer,
            ),
            ("hard expiry", HardExpiry),
            (
                "IKE SA life_time reached before a rekey succeeded (hard expiry)",
                HardExpiry,
            ),
            ("dead peer (DPD timeout)", Dpd),
            (
                "dead peer: the peer did not answer our INFORMATIONAL request after 6 transmissions",
                Dpd,
            ),
            ("terminated by ternctl", DeletedByUs),
            (
                "terminated by ternctl (the peer did not confirm the DELETE)",
                DeletedByUs,
            ),
            ("ternd is stopping", DeletedByUs),
            ("connection removed from the configuration", DeletedByUs),
            ("deleted", DeletedByUs),
            ("something new", Other),
        ] {
            assert_eq!(EndKind::of_deletion(reason), kind, "{reason}");
        }
    }

    #[test]
    fn labels_are_distinct() {
        let all = [
            Rekeyed,
            Replaced,
            DeletedByPeer,
            DeletedByUs,
            HardExpiry,
            Dpd,
            Failed,
            Other,
        ];
        let mut labels: Vec<_> = all.iter().map(|k| k.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), all.len());
    }
}
