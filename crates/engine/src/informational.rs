//! INFORMATIONAL (RFC 7296 §1.4): DELETE of IKE and CHILD SAs, liveness checks,
//! error notifies.

use std::time::{Duration, Instant};

use tern_wire::{DeletePayload, ExchangeType, NotifyType, Payload, ProtocolId};

use crate::child_sa::ChildState;
use crate::end_action::EndCause;
use crate::end_reason::{EndKind, EndReason};
use crate::engine::{Ctx, Next};
use crate::ike_sa::{IkeSa, Phase, Purpose};
use crate::payloads;

/// How soon after we refused the peer's IKE rekey (TEMPORARY_FAILURE) its DELETE
/// of the IKE SA counts as the SA's end of life there: a refused peer tries
/// again within seconds, until its life_time ends the SA.
const REFUSED_REKEY_THEN_DELETE: Duration = Duration::from_secs(60);

impl Ctx {
    /// An IKE SA that another replaces ends (a reauthentication, a duplicate, the
    /// peer's INITIAL_CONTACT): nothing is restarted for it, and the peer is told
    /// unless it no longer has it.
    pub(crate) fn end_replaced(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        reason: EndReason,
        peer_has_it: bool,
    ) -> Next {
        sa.end_cause = None;
        sa.restart = None;
        if peer_has_it {
            self.start_delete(now, sa, reason)
        } else {
            Next::Destroy(reason)
        }
    }

    /// Starts deleting an IKE SA: its CHILD SAs leave the kernel now, the peer is told,
    /// and the SA goes when the peer confirms (or stops answering).
    pub(crate) fn start_delete(&mut self, now: Instant, sa: &mut IkeSa, reason: EndReason) -> Next {
        if !sa.is_established() {
            return Next::Destroy(reason);
        }
        let ids: Vec<u64> = sa.children.iter().map(|c| c.unique_id).collect();
        for id in ids {
            self.retire_child(now, sa, id, &reason, false);
        }
        sa.phase = Phase::Deleting(reason);
        let delete = Payload::Delete(DeletePayload {
            protocol: ProtocolId::IKE,
            spi_size: 0,
            spis: Vec::new(),
        });
        self.request(
            now,
            sa,
            ExchangeType::INFORMATIONAL,
            Purpose::DeleteIke,
            vec![delete],
        );
        Next::Keep
    }

    pub(crate) fn handle_informational_request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id: u32,
        p: Vec<Payload>,
    ) -> Next {
        let deletes: Vec<&DeletePayload> = p
            .iter()
            .filter_map(|x| {
                if let Payload::Delete(d) = x {
                    Some(d)
                } else {
                    None
                }
            })
            .collect();
        if deletes.iter().any(|d| d.protocol == ProtocolId::IKE) {
            self.respond(sa, ExchangeType::INFORMATIONAL, id, &[]);
            if self.peer_won_ike_rekey_collision(now, sa) {
                return Next::Destroy(EndReason::rekeyed());
            }
            let reason = match &sa.phase {
                Phase::Rekeyed => EndReason::rekeyed(),
                // Both ends deleted it at once: our reason stands, and it is no
                // close by the peer for close_action to answer.
                Phase::Deleting(ours) => ours.clone(),
                // Older than the peer lets its IKE SAs get: the end of its life
                // on the peer's side, which a peer may leave to us to set up again.
                _ if self.ike_ended_at_peer(sa, now) => {
                    sa.end_cause = Some(EndCause::EndedAtPeer);
                    self.note_peer_ike_end_of_life(now, sa);
                    EndReason::new(EndKind::DeletedByPeer, ended_at_peer_text(sa, now))
                }
                _ => {
                    sa.end_cause = Some(EndCause::PeerClosed);
                    self.note_peer_ike_end(now, sa);
                    EndReason::new(EndKind::DeletedByPeer, "deleted by the peer")
                }
            };
            return Next::Destroy(reason);
        }
        // A responder is established once it answered IKE_AUTH; the initiator may still
        // refuse our AUTH and say so in an INFORMATIONAL (RFC 7296 §2.21.2).
        let auth_refused = payloads::notify(&p, NotifyType::AUTHENTICATION_FAILED).is_some();
        if !sa.is_established() || auth_refused {
            if let Some(err) = payloads::error_notify(&p) {
                self.respond(sa, ExchangeType::INFORMATIONAL, id, &[]);
                return Next::Destroy(match err.notify_type {
                    NotifyType::AUTHENTICATION_FAILED => {
                        crate::ike_auth::refused_by_peer(&sa.connection)
                    }
                    other => {
                        EndReason::new(EndKind::RefusedByPeer, format!("the peer reported {other}"))
                    }
                });
            }
        }
        // The peer names its inbound SPIs, which are our outbound ones; we answer
        // with our inbound SPIs of the same CHILD SAs (RFC 7296 §1.4.1), except for
        // those we are deleting ourselves: their DELETEs crossed, and each side
        // removes them on its own exchange.
        let peer_spis: Vec<u32> = deletes
            .iter()
            .filter(|d| d.protocol == ProtocolId::ESP)
            .flat_map(|d| d.spis.iter())
            .filter_map(|s| Some(u32::from_be_bytes(s.as_slice().try_into().ok()?)))
            .collect();
        let gone: Vec<(u64, u32, ChildState, bool)> = sa
            .children
            .iter()
            .filter(|c| peer_spis.contains(&c.spi_out))
            .map(|c| (c.unique_id, c.spi_in, c.state, c.predecessor_deleted_by_us))
            .collect();
        let our_spis: Vec<Vec<u8>> = gone
            .iter()
            .filter(|(_, _, state, _)| *state != ChildState::Deleting)
            .map(|(_, spi_in, _, _)| spi_in.to_be_bytes().to_vec())
            .collect();
        let unknown: Vec<u32> = peer_spis
            .iter()
            .copied()
            .filter(|spi| !sa.children.iter().any(|c| c.spi_out == *spi))
            .collect();
        // Perhaps of the SA our request in flight makes, its answer overtaken.
        crate::create_child_sa::overtaken::remember_unknown_deletes(sa, &unknown, now);
        let mut closed = Vec::new();
        if self.config.emulate.rekey_delete_collision {
            for (_, spi_in, _, _) in gone.iter().filter(|g| g.2 == ChildState::Rekeying) {
                mark_deleted_meanwhile(sa, *spi_in);
            }
        }
        for (child_id, spi_in, state, collided) in gone {
            let replaced = sa
                .children
                .iter()
                .any(|c| c.unique_id == child_id && c.successor.is_some());
            if state == ChildState::Rekeying
                && !replaced
                && !self.config.emulate.rekey_delete_collision
                && rekey_in_flight(sa, spi_in)
            {
                // Our rekey's answer decides how it ended; until then its policies
                // stay, so that no traffic leaves in clear text.
                if let Some(c) = sa.children.iter_mut().find(|c| c.unique_id == child_id) {
                    c.deleted_during_our_rekey = true;
                }
                continue;
            }
            let lost_collision = lost_collision(sa, child_id);
            // The peer's rekey of it (colliding with ours) replaced it.
            let reason = if state == ChildState::Rekeyed || replaced {
                EndReason::rekeyed()
            } else if lost_collision {
                EndReason::new(
                    EndKind::CollisionLoser,
                    "redundant after a simultaneous rekey (RFC 7296 §2.8.1)",
                )
            } else if collided {
                EndReason::new(EndKind::DeletedByPeerInCollision, "deleted by the peer")
            } else {
                EndReason::new(EndKind::DeletedByPeer, "deleted by the peer")
            };
            // Not those being replaced (a rekey, perhaps colliding with ours), nor
            // those we are deleting ourselves.
            if state == ChildState::Installed && !lost_collision {
                let name = sa
                    .children
                    .iter()
                    .find(|c| c.unique_id == child_id)
                    .map(|c| c.name.clone());
                // No deliberate close: the peer made this SA by rekeying one we
                // were deleting, and resolved that rekey/delete collision
                // (RFC 7296 §2.25.1) by dropping the new SA too, as strongSwan does.
                let cause = if collided {
                    EndCause::Lost
                } else {
                    EndCause::PeerClosed
                };
                match &name {
                    Some(name) if cause == EndCause::PeerClosed => {
                        self.note_peer_close(now, sa, child_id, name, true)
                    }
                    Some(name) => self.trap_before_retire(sa, name, cause),
                    None => {}
                }
                closed.extend(name.map(|n| (n, cause)));
            }
            self.retire_child(now, sa, child_id, &reason, true);
        }
        let mut response = if our_spis.is_empty() {
            Vec::new()
        } else {
            vec![Payload::Delete(DeletePayload {
                protocol: ProtocolId::ESP,
                spi_size: 4,
                spis: our_spis,
            })]
        };
        let path = self.request_path.unwrap_or((sa.local, sa.remote));
        response.extend(self.mobike_request(now, sa, id, path, &p));
        self.respond(sa, ExchangeType::INFORMATIONAL, id, &response);
        if sa.is_established() {
            for (name, cause) in closed {
                let why = match cause {
                    EndCause::Lost => {
                        "deleted by the peer, which had made it by rekeying an SA we deleted"
                    }
                    _ => "deleted by the peer",
                };
                self.restart_child(now, sa, &name, cause, why);
            }
        }
        Next::Keep
    }

    pub(crate) fn handle_informational_response(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        purpose: Purpose,
        p: Vec<Payload>,
    ) -> Next {
        match purpose {
            Purpose::UpdateAddresses(update) => {
                self.handle_update_response(now, sa, &update, &p);
                Next::Keep
            }
            Purpose::DeleteIke => Next::Destroy(match &sa.phase {
                Phase::Deleting(reason) => reason.clone(),
                _ => EndReason::new(EndKind::ClosedByUs, "deleted"),
            }),
            Purpose::DeleteChild { spi_in, reason } => {
                if let Some(id) = sa
                    .children
                    .iter()
                    .find(|c| c.spi_in == spi_in)
                    .map(|c| c.unique_id)
                {
                    self.retire_child(now, sa, id, &reason, true);
                }
                Next::Keep
            }
            _ => Next::Keep,
        }
    }
}

impl Ctx {
    /// The peer deleted CHILD SA `id` of child `name` on its own at `at` (a
    /// close, or the end of its life there): the trap its end action asks for
    /// goes in before it is retired, and the deletion is noted (see `adapt`;
    /// `seen`: we had the SA before); if the child is to be set up again, by
    /// the peer or by us, its policies are held until then.
    pub(crate) fn note_peer_close(
        &mut self,
        at: Instant,
        sa: &mut IkeSa,
        id: u64,
        name: &str,
        seen: bool,
    ) {
        self.trap_before_retire(sa, name, EndCause::PeerClosed);
        let end = self.note_peer_end(at, sa, id, seen);
        if matches!(end, Some(crate::adapt::Deletion::EndOfLife)) {
            self.hold_policies(sa, id);
        }
    }

    /// Whether the peer's DELETE of IKE SA `sa` is the SA's hard expiry on the
    /// peer's side (after a rekey that failed there): it came at an age past the
    /// one at which the peer rekeys its IKE SAs (its rhythm, see `rhythm`, and a
    /// twentieth more: the rhythm is one sample of a jittered rekey_time, and a
    /// deliberate close of an SA the peer is about to rekey stays a close), or at
    /// about the age the peer ended the line's last IKE SA it let expire, or
    /// soon after we refused its rekey (it kept trying until its life ran out;
    /// property search seeds 524 and 703). (A rekey or a DELETE in the first
    /// seconds is a command or a collision.)
    fn ike_ended_at_peer(&self, sa: &IkeSa, now: Instant) -> bool {
        use crate::adapt::MIN_END_AGE;
        let Some(since) = sa.established_at else {
            return false;
        };
        let age = now.saturating_duration_since(since);
        let past_rhythm = sa
            .peer_rekeyed_at
            .is_some_and(|rhythm| rhythm >= MIN_END_AGE && age >= rhythm + rhythm / 20);
        age >= MIN_END_AGE
            && (past_rhythm
                || refused_lately(sa, now)
                || self.ike_peer_ends.ends_like_the_last(sa, age))
    }
}

/// Why the peer's DELETE of IKE SA `sa` is its end of life there (see
/// `ike_ended_at_peer`).
fn ended_at_peer_text(sa: &IkeSa, now: Instant) -> &'static str {
    if refused_lately(sa, now) {
        "deleted by the peer soon after we refused its rekey (an exchange of ours was in flight): its end of life there, not a close"
    } else {
        "deleted by the peer at an age past its own IKE rekeys: its end of life there, not a close"
    }
}

/// We refused the peer's rekey of IKE SA `sa` shortly before `now`.
fn refused_lately(sa: &IkeSa, now: Instant) -> bool {
    sa.refused_peer_rekey_at
        .is_some_and(|t| now.saturating_duration_since(t) <= REFUSED_REKEY_THEN_DELETE)
}

/// Whether CHILD SA `id` is the peer's side of a simultaneous rekey that lost
/// (§2.8.1): known so once our rekey's answer settled the collision, or, if the
/// peer's DELETE overtakes that answer, because it replaces an SA whose rekey of
/// ours is still in flight.
fn lost_collision(sa: &IkeSa, id: u64) -> bool {
    sa.children.iter().any(|c| {
        (c.unique_id == id && c.collision_loser)
            || (c.successor == Some(id)
                && c.state == ChildState::Rekeying
                && rekey_in_flight(sa, c.spi_in))
    })
}

/// Whether our rekey of CHILD SA `spi_in` awaits its answer.
fn rekey_in_flight(sa: &IkeSa, spi_in: u32) -> bool {
    sa.in_flight
        .iter()
        .any(|r| matches!(&r.purpose, Purpose::CreateChild(ex) if ex.rekey_of == Some(spi_in)))
}

/// Emulating strongSwan: our rekey of CHILD SA `spi_in` met the peer's DELETE of it.
fn mark_deleted_meanwhile(sa: &mut IkeSa, spi_in: u32) {
    let in_flight = sa.in_flight.iter_mut().map(|r| &mut r.purpose);
    let queued = sa.queued.iter_mut().map(|q| &mut q.purpose);
    for purpose in in_flight.chain(queued) {
        if let Purpose::CreateChild(ex) = purpose {
            if ex.rekey_of == Some(spi_in) {
                ex.deleted_meanwhile = true;
            }
        }
    }
}
