//! Why an SA ended, as one of a few stable kinds for metrics labels and rekey
//! counts: the engine's end kinds (`tern_engine::EndKind`), grouped.

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
    /// The metrics kind of an SA that ended for `reason`: a coarser grouping of
    /// the engine's kinds, so that the label set stays small and stable.
    pub fn of(reason: &tern_engine::EndReason) -> EndKind {
        use tern_engine::EndKind as Engine;
        match reason.kind {
            Engine::Rekeyed | Engine::RekeyedWithoutPeerDelete => EndKind::Rekeyed,
            Engine::Reauthenticated
            | Engine::CollisionLoser
            | Engine::Duplicate
            | Engine::InitialContact => EndKind::Replaced,
            Engine::DeletedByPeer | Engine::DeletedByPeerInCollision => EndKind::DeletedByPeer,
            Engine::ClosedByUs | Engine::SessionTimeout => EndKind::DeletedByUs,
            Engine::HardExpiry => EndKind::HardExpiry,
            Engine::DeadPeer => EndKind::Dpd,
            Engine::Unanswered
            | Engine::AuthUnanswered
            | Engine::HalfOpenTimeout
            | Engine::AuthFailed
            | Engine::EapFailed
            | Engine::RadiusUnreachable
            | Engine::NoProposal
            | Engine::TsUnacceptable
            | Engine::InvalidKeLoop
            | Engine::PoolExhausted
            | Engine::RefusedByPeer
            | Engine::KernelRefused
            | Engine::PeerMisbehaved
            | Engine::Configuration => EndKind::Failed,
            Engine::Other => EndKind::Other,
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
    fn every_engine_kind_has_its_group() {
        use tern_engine::{EndKind as Engine, EndReason};
        for (engine, kind) in [
            (Engine::Rekeyed, Rekeyed),
            (Engine::RekeyedWithoutPeerDelete, Rekeyed),
            (Engine::Reauthenticated, Replaced),
            (Engine::CollisionLoser, Replaced),
            (Engine::Duplicate, Replaced),
            (Engine::InitialContact, Replaced),
            (Engine::DeletedByPeer, DeletedByPeer),
            (Engine::DeletedByPeerInCollision, DeletedByPeer),
            (Engine::ClosedByUs, DeletedByUs),
            (Engine::HardExpiry, HardExpiry),
            (Engine::DeadPeer, Dpd),
            (Engine::AuthFailed, Failed),
            (Engine::EapFailed, Failed),
            (Engine::RadiusUnreachable, Failed),
            (Engine::Other, Other),
        ] {
            // The sentence plays no part.
            let reason = EndReason::new(engine, "rekeyed");
            assert_eq!(EndKind::of(&reason), kind, "{engine}");
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
