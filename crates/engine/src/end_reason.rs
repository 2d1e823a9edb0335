//! Why an IKE or CHILD SA ended, failed or was refused: a kind for machines
//! (history, events, metrics, the diagnosis) and one sentence for people.
//!
//! The kind is decided where the SA ends, by the code that knows why; nothing
//! downstream reads the sentence to find out what happened.

use std::fmt;

use tern_wire::NotifyType;

/// The ways an SA ends. The names (`as_str`) are part of ternctl's JSON and the
/// metrics' labels: add kinds, never rename them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndKind {
    /// Replaced by its rekey, ours or the peer's.
    Rekeyed,
    /// Replaced by the peer's rekey, but the peer never deleted it: we did,
    /// once the peer sent on the new SA, or it went at its life_time.
    RekeyedWithoutPeerDelete,
    /// Replaced by a reauthentication (a new IKE SA with new CHILD SAs).
    Reauthenticated,
    /// The redundant SA of a simultaneous rekey (RFC 7296 §2.8.1, §2.8.2), or
    /// the new SA the peer dropped when its rekey met our DELETE (§2.25.1).
    CollisionLoser,
    /// One of two IKE or CHILD SAs both ends set up at once.
    Duplicate,
    /// The peer started over with INITIAL_CONTACT (a restart on its side).
    InitialContact,
    /// The peer sent a DELETE.
    DeletedByPeer,
    /// The peer deleted an SA it had made by rekeying one we deleted: a
    /// rekey/delete collision on its side, not a close.
    DeletedByPeerInCollision,
    /// We closed it: ternctl, a reload that removed its connection, ternd stopping.
    ClosedByUs,
    /// It reached a hard lifetime (time, bytes or packets) before a rekey replaced it.
    HardExpiry,
    /// The Session-Timeout a RADIUS server gave the peer's login was reached.
    SessionTimeout,
    /// Established, and then the peer stopped answering our requests.
    DeadPeer,
    /// It never came up: the peer answered none of our transmissions.
    Unanswered,
    /// It never came up: the peer answered IKE_SA_INIT but none of our IKE_AUTH
    /// transmissions (large messages lost on the path: fragments, MTU).
    AuthUnanswered,
    /// A half-open IKE SA of ours as responder, never completed by the peer.
    HalfOpenTimeout,
    /// Authentication failed, on either side.
    AuthFailed,
    /// A remote-access peer's EAP login failed: unknown user, wrong password,
    /// or an EAP conversation it did not follow.
    EapFailed,
    /// A remote-access peer's EAP login could not be decided: no RADIUS
    /// server answered (`remote_auth = "eap-radius"`).
    RadiusUnreachable,
    /// No proposal in common.
    NoProposal,
    /// The traffic selectors were refused.
    TsUnacceptable,
    /// The peer kept answering INVALID_KE_PAYLOAD, asking again for a key
    /// exchange group we had sent it already: the two sides' group lists never
    /// meet (see [`EndReason::ke_groups`]).
    InvalidKeLoop,
    /// No virtual IP was left in the pools (INTERNAL_ADDRESS_FAILURE).
    PoolExhausted,
    /// The peer refused with another error notify.
    RefusedByPeer,
    /// The kernel refused what the SA needed (an SPI, an SA).
    KernelRefused,
    /// The peer's message broke the protocol (payloads missing, invalid values).
    PeerMisbehaved,
    /// Our own configuration does not allow it.
    Configuration,
    /// Anything else.
    Other,
}

impl EndKind {
    /// The stable name, lower case, words joined by `_`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndKind::Rekeyed => "rekeyed",
            EndKind::RekeyedWithoutPeerDelete => "rekeyed_without_peer_delete",
            EndKind::Reauthenticated => "reauthenticated",
            EndKind::CollisionLoser => "collision_loser",
            EndKind::Duplicate => "duplicate",
            EndKind::InitialContact => "initial_contact",
            EndKind::DeletedByPeer => "deleted_by_peer",
            EndKind::DeletedByPeerInCollision => "deleted_by_peer_in_collision",
            EndKind::ClosedByUs => "closed_by_us",
            EndKind::HardExpiry => "hard_expiry",
            EndKind::SessionTimeout => "session_timeout",
            EndKind::DeadPeer => "dead_peer",
            EndKind::Unanswered => "unanswered",
            EndKind::AuthUnanswered => "auth_unanswered",
            EndKind::HalfOpenTimeout => "half_open_timeout",
            EndKind::AuthFailed => "auth_failed",
            EndKind::EapFailed => "eap_failed",
            EndKind::RadiusUnreachable => "radius_unreachable",
            EndKind::NoProposal => "no_proposal",
            EndKind::TsUnacceptable => "ts_unacceptable",
            EndKind::InvalidKeLoop => "invalid_ke_loop",
            EndKind::PoolExhausted => "pool_exhausted",
            EndKind::RefusedByPeer => "refused_by_peer",
            EndKind::KernelRefused => "kernel_refused",
            EndKind::PeerMisbehaved => "peer_misbehaved",
            EndKind::Configuration => "configuration",
            EndKind::Other => "other",
        }
    }

    /// Every kind, for documentation and tests.
    pub const ALL: [EndKind; 27] = [
        EndKind::Rekeyed,
        EndKind::RekeyedWithoutPeerDelete,
        EndKind::Reauthenticated,
        EndKind::CollisionLoser,
        EndKind::Duplicate,
        EndKind::InitialContact,
        EndKind::DeletedByPeer,
        EndKind::DeletedByPeerInCollision,
        EndKind::ClosedByUs,
        EndKind::HardExpiry,
        EndKind::SessionTimeout,
        EndKind::DeadPeer,
        EndKind::Unanswered,
        EndKind::AuthUnanswered,
        EndKind::HalfOpenTimeout,
        EndKind::AuthFailed,
        EndKind::EapFailed,
        EndKind::RadiusUnreachable,
        EndKind::NoProposal,
        EndKind::TsUnacceptable,
        EndKind::InvalidKeLoop,
        EndKind::PoolExhausted,
        EndKind::RefusedByPeer,
        EndKind::KernelRefused,
        EndKind::PeerMisbehaved,
        EndKind::Configuration,
        EndKind::Other,
    ];

    /// The kind named `name` (as [`EndKind::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<EndKind> {
        EndKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Replaced by another SA that carries the same traffic: nothing was lost,
    /// and `ternctl history` leaves it out unless asked.
    pub fn is_routine(self) -> bool {
        matches!(
            self,
            EndKind::Rekeyed
                | EndKind::RekeyedWithoutPeerDelete
                | EndKind::Reauthenticated
                | EndKind::CollisionLoser
                | EndKind::Duplicate
        )
    }

    /// The kind of a refusal by the peer with error notify `notify`.
    pub fn refused_with(notify: NotifyType) -> EndKind {
        match notify {
            NotifyType::NO_PROPOSAL_CHOSEN | NotifyType::INVALID_KE_PAYLOAD => EndKind::NoProposal,
            NotifyType::TS_UNACCEPTABLE => EndKind::TsUnacceptable,
            NotifyType::INTERNAL_ADDRESS_FAILURE => EndKind::PoolExhausted,
            NotifyType::AUTHENTICATION_FAILED => EndKind::AuthFailed,
            _ => EndKind::RefusedByPeer,
        }
    }

    /// The notify that says this on the wire, where one does.
    pub fn notify(self) -> Option<NotifyType> {
        match self {
            EndKind::AuthFailed | EndKind::EapFailed | EndKind::RadiusUnreachable => {
                Some(NotifyType::AUTHENTICATION_FAILED)
            }
            EndKind::NoProposal => Some(NotifyType::NO_PROPOSAL_CHOSEN),
            EndKind::TsUnacceptable => Some(NotifyType::TS_UNACCEPTABLE),
            EndKind::InvalidKeLoop => Some(NotifyType::INVALID_KE_PAYLOAD),
            EndKind::PoolExhausted => Some(NotifyType::INTERNAL_ADDRESS_FAILURE),
            EndKind::InitialContact => Some(NotifyType::INITIAL_CONTACT),
            _ => None,
        }
    }
}

impl fmt::Display for EndKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one SA ended: its kind and the sentence that says it with the details
/// (which exchange, how many transmissions, what the peer said).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndReason {
    pub kind: EndKind,
    pub text: String,
    /// For an INVALID_KE_PAYLOAD loop, the groups of each side. Boxed: rare.
    pub ke_groups: Option<Box<KeGroups>>,
}

/// The key exchange groups of an INVALID_KE_PAYLOAD loop, in the
/// configuration's words (`x25519`, `ecp256`, `modp2048`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeGroups {
    /// Those our proposals offer.
    pub ours: Vec<String>,
    /// Those the peer asked for, in order.
    pub asked: Vec<String>,
}

impl EndReason {
    pub fn new(kind: EndKind, text: impl Into<String>) -> EndReason {
        EndReason {
            kind,
            text: text.into(),
            ke_groups: None,
        }
    }

    pub fn with_ke_groups(mut self, groups: KeGroups) -> EndReason {
        self.ke_groups = Some(Box::new(groups));
        self
    }

    pub fn rekeyed() -> EndReason {
        EndReason::new(EndKind::Rekeyed, "rekeyed")
    }

    pub fn is_routine(&self) -> bool {
        self.kind.is_routine()
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An SA's rekeys that failed since it was made (refused by the peer, or an
/// answer we could not use): the SA still carries the traffic, and ends at its
/// life_time unless a retry succeeds. `ternctl diagnose` warns from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RekeyFailure {
    /// When the first and the last of them came.
    pub first: std::time::Instant,
    pub last: std::time::Instant,
    pub count: u32,
    /// Why the last one failed.
    pub reason: EndReason,
}

impl RekeyFailure {
    /// Notes one more failed rekey of the SA whose record `slot` is.
    pub fn note(slot: &mut Option<Box<RekeyFailure>>, now: std::time::Instant, reason: EndReason) {
        match slot {
            Some(f) => {
                f.last = now;
                f.count += 1;
                f.reason = reason;
            }
            None => {
                *slot = Some(Box::new(RekeyFailure {
                    first: now,
                    last: now,
                    count: 1,
                    reason,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_name_and_is_found_by_it() {
        let mut names: Vec<&str> = EndKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EndKind::ALL.len());
        for kind in EndKind::ALL {
            assert_eq!(EndKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(EndKind::from_name("deleted by the peer"), None);
    }

    #[test]
    fn only_replacements_are_routine() {
        let routine: Vec<EndKind> = EndKind::ALL
            .into_iter()
            .filter(|k| k.is_routine())
            .collect();
        assert_eq!(
            routine,
            [
                EndKind::Rekeyed,
                EndKind::RekeyedWithoutPeerDelete,
                EndKind::Reauthenticated,
                EndKind::CollisionLoser,
                EndKind::Duplicate
            ]
        );
    }
}
