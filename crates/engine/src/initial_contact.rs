//! INITIAL_CONTACT (RFC 7296 §2.4): "this is the only IKE SA between us".
//!
//! An initiator with no other IKE SA to the peer says so in IKE_AUTH — after a
//! restart, say, when it has forgotten every SA. The peer then removes the IKE and
//! CHILD SAs it still holds for the same identities, at once and without a DELETE
//! nobody would answer, instead of keeping dead SAs (and a second tunnel) until DPD
//! or their lifetime finds out.
//!
//! Every remote-access client says INITIAL_CONTACT when it connects, so finding
//! the peer's other IKE SAs must not cost a pass over the whole table: the
//! established IKE SAs are indexed by a hash of (connection, peer identity).
//! Without it, a responder holding 10,000 IKE SAs spent a quarter of its time
//! comparing identities.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::num::NonZeroU64;

use tern_wire::Identification;

use crate::engine::Engine;
use crate::ike_sa::{IkeSa, Spi};

/// A peer that sent INITIAL_CONTACT, told to the other engines of a sharded
/// daemon: its IKE SA with one engine is the only one it has, so any another
/// engine still holds for it (the peer came back from another address, which
/// hashed to another engine) is gone on the peer's side too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStartedOver {
    pub connection: String,
    pub peer: Identification,
}

/// Why the old SAs end.
pub const REPLACED: &str =
    "replaced: the peer started over with INITIAL_CONTACT (it has no other IKE SA with us, e.g. after a restart)";

/// The established IKE SAs (our SPIs) by a hash of their connection and peer
/// identity. A hash, not the identity itself, so an entry costs 16 octets; a
/// collision only means a candidate that the lookup then compares and skips.
#[derive(Default)]
pub(crate) struct PeerIndex {
    keys: RandomState,
    entries: BTreeSet<(NonZeroU64, Spi)>,
}

impl PeerIndex {
    fn key(&self, connection: &str, peer: &Identification) -> NonZeroU64 {
        let mut h = self.keys.build_hasher();
        connection.hash(&mut h);
        peer.id_type.hash(&mut h);
        peer.data.hash(&mut h);
        NonZeroU64::new(h.finish()).unwrap_or(NonZeroU64::MIN)
    }

    /// Indexes `sa` once it knows its peer (no-op before, or if already indexed).
    pub fn add(&mut self, sa: &mut IkeSa) {
        if sa.peer_key.is_some() {
            return;
        }
        let Some(peer) = &sa.peer_id else {
            return;
        };
        let key = self.key(&sa.connection.name, peer);
        sa.peer_key = Some(key);
        self.entries.insert((key, sa.our_spi()));
    }

    /// Forgets `sa`, which leaves the table for good.
    pub fn remove(&mut self, sa: &IkeSa) {
        if let Some(key) = sa.peer_key {
            self.entries.remove(&(key, sa.our_spi()));
        }
    }

    /// Our SPIs of the IKE SAs that may be of `connection` with `peer`: compare
    /// before acting.
    pub fn of(&self, connection: &str, peer: &Identification) -> Vec<Spi> {
        self.under(self.key(connection, peer))
    }

    fn under(&self, key: NonZeroU64) -> Vec<Spi> {
        self.entries
            .range((key, [0; 8])..=(key, [0xff; 8]))
            .map(|(_, spi)| *spi)
            .collect()
    }
}

impl Engine {
    /// Removes the other IKE SAs (and their CHILD SAs) of the peers that sent
    /// INITIAL_CONTACT in the IKE SAs named by the handlers.
    pub(crate) fn honour_initial_contacts(&mut self, now: std::time::Instant) {
        for (ike_id, spi) in std::mem::take(&mut self.ctx.initial_contacts) {
            let Some(new) = self.sas.get(&spi).filter(|sa| sa.unique_id == ike_id) else {
                continue;
            };
            let Some(peer) = new.peer_id.clone() else {
                continue;
            };
            let gone = PeerStartedOver {
                connection: new.connection.name.clone(),
                peer,
            };
            self.forget_sas_of(now, &gone, Some(ike_id), "INITIAL_CONTACT");
            if self.ctx.shard.count() > 1 {
                self.peers_started_over.push_back(gone);
            }
        }
    }

    /// The next peer that started over here, for the daemon to tell the other
    /// engines ([`Engine::forget_peer`]). Only a sharded engine has any.
    pub fn poll_peer_started_over(&mut self) -> Option<PeerStartedOver> {
        self.peers_started_over.pop_front()
    }

    /// Another engine's peer started over: the IKE SAs this engine holds with
    /// it for that connection go at once, as INITIAL_CONTACT asks.
    pub fn forget_peer(&mut self, now: std::time::Instant, gone: &PeerStartedOver) {
        self.forget_sas_of(now, gone, None, "INITIAL_CONTACT to another engine");
    }

    /// Removes at once, without a word to the peer (it no longer has them), the
    /// IKE SAs of the connection with the peer, but IKE SA `keep`.
    fn forget_sas_of(
        &mut self,
        now: std::time::Instant,
        gone: &PeerStartedOver,
        keep: Option<u64>,
        why: &str,
    ) {
        let old: Vec<Spi> = self
            .ctx
            .peers
            .of(&gone.connection, &gone.peer)
            .into_iter()
            .filter(|spi| {
                self.sas.get(spi).is_some_and(|sa| {
                    Some(sa.unique_id) != keep
                        && sa.connection.name == gone.connection
                        && sa.peer_id.as_ref() == Some(&gone.peer)
                })
            })
            .collect();
        for spi in old {
            let Some(mut sa) = self.sas.remove(&spi) else {
                continue;
            };
            tracing::info!(
                ike = sa.unique_id,
                conn = gone.connection,
                "removing an IKE SA the peer no longer has ({why})"
            );
            let why = crate::end_reason::EndReason::new(
                crate::end_reason::EndKind::InitialContact,
                REPLACED,
            );
            let next = self.ctx.end_replaced(now, &mut sa, why, false);
            self.settle_one(now, sa, next);
        }
    }
}
