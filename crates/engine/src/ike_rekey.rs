//! IKE SA rekeying (RFC 7296 §1.3.2, §2.18): a new IKE SA from a CREATE_CHILD_SA
//! exchange on the old one; the CHILD SAs move over, and the rekeying side
//! deletes the old IKE SA.
//!
//! Simultaneous IKE rekeys are settled as §2.8.2 says: each end answers the
//! other's rekey as usual, and of the two new IKE SAs the one made with the lowest
//! of the four nonces is deleted by the end that initiated it; the CHILD SAs go
//! to the other, and its initiator deletes the old IKE SA. A rekey that meets any
//! other exchange of ours in flight gets TEMPORARY_FAILURE (§2.25.2), and the peer
//! tries again later.

use std::time::{Duration, Instant};

use tern_crypto::{ike_keys_from_skeyseed, ke_public, ke_shared, skeyseed_rekey, Secret};
use tern_wire::{ExchangeType, KeMethod, KePayload, NotifyType, Payload, SaPayload};

use crate::end_reason::{EndKind, EndReason, RekeyFailure};
use crate::engine::{Ctx, Next};
use crate::ike_sa::{IkeCollision, IkeRekey, IkeSa, Phase, Purpose, Spi};
use crate::ike_sa_init::{set_keys, NONCE_LEN, NONCE_RANGE};
use crate::output::Event;
use crate::payloads;
use crate::proposal::{self, IkeSuite};

/// How long the old IKE SA waits for the peer's DELETE after the peer rekeyed it:
/// longer than the peer's whole retransmission schedule for that DELETE.
const REKEYED_IKE_LINGER: Duration = Duration::from_secs(180);
const RETRY: Duration = Duration::from_secs(10);
const REFUSED_RETRY: Duration = Duration::from_secs(120);

/// Our IKE proposals, each carrying the new SPI (§3.3.1).
fn offer_with_spi(sa: &IkeSa, spi: Spi) -> SaPayload {
    let mut offer = proposal::ike_offer(&sa.connection.ike_proposals);
    for p in &mut offer.proposals {
        p.spi = spi.to_vec();
    }
    offer
}

impl Ctx {
    /// Sets the IKE SA's rekey and end times from its connection's lifetime.
    pub(crate) fn schedule_ike_lifetime(&mut self, now: Instant, sa: &mut IkeSa) {
        let lifetime = sa.connection.lifetime;
        let jitter = self.jitter(lifetime.rand_time);
        sa.rekey_at = (!lifetime.rekey_time.is_zero())
            .then(|| now + lifetime.rekey_time.saturating_sub(jitter));
        sa.expire_at = (!lifetime.life_time.is_zero()).then(|| now + lifetime.life_time);
        self.adapt_ike_rekey(sa);
        self.schedule_reauth(now, sa);
    }

    /// Runs the IKE SA's own lifetime: rekey when due, delete at life_time.
    pub(crate) fn run_ike_timers(&mut self, now: Instant, sa: &mut IkeSa) -> Next {
        if sa.expire_at.is_some_and(|t| t <= now) {
            sa.expire_at = None;
            return match &sa.phase {
                Phase::Rekeyed => Next::Destroy(EndReason::rekeyed()),
                // Already going (replaced, or deleted for a reason of its own) and
                // its DELETE unanswered: life_time only ends the wait.
                Phase::Deleting(reason) => Next::Destroy(reason.clone()),
                _ => {
                    const WHY: &str =
                        "IKE SA life_time reached before a rekey succeeded (hard expiry)";
                    self.stats.ike_hard_expiries += 1;
                    sa.end_cause = Some(crate::end_action::EndCause::Expired);
                    let next = if sa.in_flight.is_some() {
                        // Our request in flight holds the window: a DELETE would
                        // wait behind it while the expired SA went on answering
                        // and finishing exchanges (a rekey making a new IKE SA out
                        // of an expired one, a peer's retransmitted IKE_AUTH
                        // completing it on the peer's side). It goes now, without
                        // a word; the restart's INITIAL_CONTACT tells the peer.
                        Next::Destroy(EndReason::new(EndKind::HardExpiry, WHY))
                    } else {
                        self.start_delete(now, sa, EndReason::new(EndKind::HardExpiry, WHY))
                    };
                    // The tunnel is down from now: bring it back now, not once the
                    // peer confirmed the DELETE (a whole retransmission schedule
                    // when its answer is lost).
                    if self.config.emulate.no_recreate_after_expiry {
                        sa.end_cause = None;
                    } else if let Some(restart) = crate::end_action::plan(sa) {
                        sa.end_cause = None;
                        self.schedule_restart(now, sa.unique_id, restart, WHY);
                    }
                    next
                }
            };
        }
        if sa.is_established() && sa.rekey_at.is_some_and(|t| t <= now) {
            sa.rekey_at = None;
            self.start_ike_rekey(now, sa);
        }
        self.reauth_due(now, sa);
        Next::Keep
    }

    /// Starts rekeying the IKE SA with the key exchange group it uses now.
    pub(crate) fn start_ike_rekey(&mut self, now: Instant, sa: &mut IkeSa) {
        let Some(suite) = sa.suite else { return };
        if sa.in_flight.is_some() || !sa.queued.is_empty() {
            // An IKE rekey goes alone, so no exchange straddles two IKE SAs.
            sa.rekey_at = Some(now + self.ike_rekey_retry(now, sa));
            return;
        }
        self.stats.ike_rekeys_initiated += 1;
        let new_spi = self.new_spi();
        let nonce = self.random(NONCE_LEN);
        let ke_private = self.ke_private(suite.key_exchange);
        let public = match ke_public(proposal::ke_alg(suite.key_exchange), &ke_private) {
            Ok(p) => p,
            Err(e) => return tracing::error!(ike = sa.unique_id, "cannot rekey: {e}"),
        };
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            "rekeying IKE SA"
        );
        let payloads = vec![
            Payload::Sa(offer_with_spi(sa, new_spi)),
            Payload::Nonce(nonce.clone()),
            Payload::Ke(KePayload {
                method: proposal::ke_method(suite.key_exchange),
                data: public,
            }),
        ];
        let rekey = IkeRekey {
            new_spi,
            nonce,
            key_exchange: suite.key_exchange,
            ke_private,
            collision: None,
        };
        self.request(
            now,
            sa,
            ExchangeType::CREATE_CHILD_SA,
            Purpose::RekeyIke(Box::new(rekey)),
            payloads,
        );
    }

    /// How long an IKE rekey that could not go now (another exchange in flight,
    /// or the peer's TEMPORARY_FAILURE) waits: 1 to 11 s, at random so that two
    /// ends do not try again in step; but never more than half the time left
    /// before the SA's life_time, or a short life (a rekey_time of 11 s with
    /// 12.1 s of life) would see its rekey put off past the hard expiry.
    fn ike_rekey_retry(&mut self, now: Instant, sa: &IkeSa) -> Duration {
        const SOONEST: Duration = Duration::from_millis(100);
        let retry = Duration::from_secs(1) + self.jitter(RETRY);
        match sa.expire_at {
            Some(end) => retry.min((end.saturating_duration_since(now) / 2).max(SOONEST)),
            None => retry,
        }
    }

    /// Initiator: the answer to our IKE rekey.
    pub(crate) fn handle_ike_rekey_response(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        rekey: Box<IkeRekey>,
        p: Vec<Payload>,
    ) -> Next {
        let mut rekey = rekey;
        if let Some(collision) = rekey.collision.take() {
            return self.settle_ike_rekey_collision(now, sa, &rekey, *collision, &p);
        }
        if let Some(err) = payloads::error_notify(&p) {
            let (retry, why) = match err.notify_type {
                NotifyType::TEMPORARY_FAILURE => (
                    self.ike_rekey_retry(now, sa),
                    "TEMPORARY_FAILURE".to_string(),
                ),
                other => (
                    REFUSED_RETRY,
                    format!(
                        "{other}; we offered {}",
                        proposal::describe_ike_proposals(&sa.connection.ike_proposals)
                    ),
                ),
            };
            tracing::warn!(
                ike = sa.unique_id,
                conn = sa.connection.name,
                "IKE SA rekey refused: {why}; retrying in {} s",
                retry.as_secs()
            );
            sa.rekey_at = Some(now + retry);
            let kind = EndKind::refused_with(err.notify_type);
            let reason = EndReason::new(kind, format!("rekey refused: {why}"));
            RekeyFailure::note(&mut sa.rekey_failed, now, reason);
            return Next::Keep;
        }
        match self.finish_ike_rekey(now, sa, &rekey, &p) {
            // The old IKE SA, now without CHILD SAs, goes; what waited on it moves.
            Ok(new) => {
                self.succeed(now, sa, new);
                if matches!(sa.phase, Phase::Deleting(_)) {
                    // A reauthentication replaced it while this rekey was in flight
                    // (Libreswan #514): its DELETE, queued behind the rekey, still
                    // has to tell the peer, and ends it once answered.
                    return Next::Keep;
                }
                self.start_delete(now, sa, EndReason::rekeyed())
            }
            Err(reason) => {
                tracing::warn!(
                    ike = sa.unique_id,
                    "IKE SA rekey failed: {reason}; retrying in {} s",
                    REFUSED_RETRY.as_secs()
                );
                sa.rekey_at = Some(now + REFUSED_RETRY);
                let reason =
                    EndReason::new(EndKind::PeerMisbehaved, format!("rekey failed: {reason}"));
                RekeyFailure::note(&mut sa.rekey_failed, now, reason);
                Next::Keep
            }
        }
    }

    fn finish_ike_rekey(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        rekey: &IkeRekey,
        p: &[Payload],
    ) -> Result<IkeSa, String> {
        let answer = payloads::sa(p).ok_or("no SA payload")?;
        let suite =
            proposal::accept_ike_answer(answer, &sa.connection.ike_proposals).ok_or_else(|| {
                format!(
                    "the peer chose a proposal we did not offer: {}",
                    proposal::describe_offer(answer)
                )
            })?;
        let peer_spi: Spi = answer.proposals[0]
            .spi
            .as_slice()
            .try_into()
            .map_err(|_| "the peer's new IKE SPI is not 8 octets")?;
        let nonce_r = payloads::nonce(p)
            .filter(|n| NONCE_RANGE.contains(&n.len()))
            .ok_or("no valid nonce")?;
        let ke = payloads::ke(p).filter(|k| {
            k.method == proposal::ke_method(suite.key_exchange)
                && suite.key_exchange == rekey.key_exchange
        });
        let ke = ke.ok_or("the peer's KE payload does not match the agreed group")?;
        let shared = ke_shared(
            proposal::ke_alg(suite.key_exchange),
            &rekey.ke_private,
            &ke.data,
        )
        .map_err(|e| e.to_string())?;
        self.rekeyed_sa(
            now,
            sa,
            suite,
            true,
            (rekey.new_spi, peer_spi),
            (&rekey.nonce, nonce_r),
            &shared,
        )
    }

    /// Responder: the peer rekeys the IKE SA.
    pub(crate) fn handle_ike_rekey_request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id: u32,
        p: &[Payload],
    ) -> Next {
        let refuse = |ctx: &mut Ctx, sa: &mut IkeSa, notify: Payload, why: &str| {
            tracing::warn!(
                ike = sa.unique_id,
                conn = sa.connection.name,
                "IKE SA rekey refused: {why}"
            );
            ctx.respond(sa, ExchangeType::CREATE_CHILD_SA, id, &[notify]);
            Next::Keep
        };
        // Our own IKE rekey in flight, not yet crossed by another: a collision to
        // settle (§2.8.2). Any other exchange of ours: TEMPORARY_FAILURE (§2.25.2).
        let colliding = sa.queued.is_empty()
            && matches!(&sa.in_flight, Some(r) if matches!(&r.purpose,
                Purpose::RekeyIke(ours) if ours.collision.is_none()));
        if (sa.in_flight.is_some() || !sa.queued.is_empty()) && !colliding {
            sa.refused_peer_rekey_at = Some(now);
            return refuse(
                self,
                sa,
                payloads::error(NotifyType::TEMPORARY_FAILURE),
                "an exchange of ours is in flight",
            );
        }
        let (Some(offer), Some(nonce_i), Some(ke)) =
            (payloads::sa(p), payloads::nonce(p), payloads::ke(p))
        else {
            return refuse(
                self,
                sa,
                payloads::error(NotifyType::INVALID_SYNTAX),
                "SA, Nonce or KE missing",
            );
        };
        if !NONCE_RANGE.contains(&nonce_i.len()) {
            return refuse(
                self,
                sa,
                payloads::error(NotifyType::INVALID_SYNTAX),
                "nonce length outside 16..=256",
            );
        }
        let Some((number, suite)) = proposal::select_ike(offer, &sa.connection.ike_proposals)
        else {
            let why = format!(
                "no proposal in common; the peer offered {}; ours: {}",
                proposal::describe_offer(offer),
                proposal::describe_ike_proposals(&sa.connection.ike_proposals)
            );
            return refuse(
                self,
                sa,
                payloads::error(NotifyType::NO_PROPOSAL_CHOSEN),
                &why,
            );
        };
        let Some(peer_spi) = offer
            .proposals
            .iter()
            .find(|x| x.number == number)
            .and_then(|x| <Spi>::try_from(x.spi.as_slice()).ok())
        else {
            return refuse(
                self,
                sa,
                payloads::error(NotifyType::INVALID_SYNTAX),
                "the new IKE SPI is not 8 octets",
            );
        };
        if ke.method != proposal::ke_method(suite.key_exchange) {
            let group = proposal::ke_method(suite.key_exchange)
                .0
                .to_be_bytes()
                .to_vec();
            return refuse(
                self,
                sa,
                payloads::status(NotifyType::INVALID_KE_PAYLOAD, group),
                "another key exchange group wanted",
            );
        }
        let private = self.ke_private(suite.key_exchange);
        let alg = proposal::ke_alg(suite.key_exchange);
        let (Ok(public), Ok(shared)) =
            (ke_public(alg, &private), ke_shared(alg, &private, &ke.data))
        else {
            return refuse(
                self,
                sa,
                payloads::error(NotifyType::INVALID_SYNTAX),
                "invalid key exchange value",
            );
        };
        let our_spi = self.new_spi();
        let nonce_r = self.random(NONCE_LEN);
        let new = match self.rekeyed_sa(
            now,
            sa,
            suite,
            false,
            (peer_spi, our_spi),
            (nonce_i, &nonce_r),
            &shared,
        ) {
            Ok(new) => new,
            Err(e) => {
                return refuse(
                    self,
                    sa,
                    payloads::error(NotifyType::NO_PROPOSAL_CHOSEN),
                    &e,
                )
            }
        };
        let mut answer = proposal::ike_answer(number, suite);
        answer.proposals[0].spi = our_spi.to_vec();
        let response = vec![
            Payload::Sa(answer),
            Payload::Nonce(nonce_r.clone()),
            Payload::Ke(KePayload {
                method: KeMethod(proposal::ke_method(suite.key_exchange).0),
                data: public,
            }),
        ];
        self.respond(sa, ExchangeType::CREATE_CHILD_SA, id, &response);
        if colliding {
            tracing::info!(
                ike = sa.unique_id,
                conn = sa.connection.name,
                "simultaneous IKE rekey: answered the peer's; our own rekey's answer decides \
                 which new IKE SA stays (RFC 7296 §2.8.2)"
            );
            if let Some(Purpose::RekeyIke(ours)) = sa.in_flight.as_mut().map(|r| &mut r.purpose) {
                ours.collision = Some(Box::new(IkeCollision {
                    peer_sa: new,
                    lowest_nonce: lowest(nonce_i, &nonce_r).to_vec(),
                }));
            }
            return Next::Keep;
        }
        self.succeed(now, sa, new);
        self.await_peer_delete(now, sa);
        Next::Keep
    }

    /// The IKE SA that replaces `old` takes over what it carried (see
    /// `move_children`) and its queued requests, and joins the SA table.
    fn succeed(&mut self, now: Instant, old: &mut IkeSa, mut new: IkeSa) {
        move_children(old, &mut new);
        self.hand_over_queued(now, old, &mut new);
        self.new_sas.push(new);
    }

    /// The peer rekeyed this IKE SA and deletes it; if it does not, we do.
    fn await_peer_delete(&mut self, now: Instant, sa: &mut IkeSa) {
        sa.phase = Phase::Rekeyed;
        sa.rekey_at = None;
        sa.expire_at = Some(now + REKEYED_IKE_LINGER);
    }

    /// Our IKE rekey's answer came after we answered the peer's simultaneous rekey
    /// (RFC 7296 §2.8.2). Of the two new IKE SAs, the one made with the lowest of
    /// the four nonces is redundant, and the end that initiated it deletes it; the
    /// CHILD SAs go to the other, whose initiator deletes the old IKE SA. If our
    /// rekey failed, the peer's new IKE SA is the one.
    fn settle_ike_rekey_collision(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        rekey: &IkeRekey,
        collision: IkeCollision,
        p: &[Payload],
    ) -> Next {
        self.stats.ike_rekey_collisions += 1;
        let mut theirs = collision.peer_sa;
        let ours = match payloads::error_notify(p) {
            Some(err) => Err(format!("the peer answered {}", err.notify_type)),
            None => self.finish_ike_rekey(now, sa, rekey, p),
        };
        let ours_lowest = payloads::nonce(p).is_some_and(|nonce_r| {
            lowest(&rekey.nonce, nonce_r) < collision.lowest_nonce.as_slice()
        });
        match ours {
            Ok(ours) if !ours_lowest => {
                tracing::info!(
                    ike = sa.unique_id,
                    "simultaneous IKE rekey: ours stays; the peer deletes its new IKE SA"
                );
                self.succeed(now, sa, ours);
                // The peer deletes its redundant IKE SA; if it does not, we do.
                self.await_peer_delete(now, &mut theirs);
                self.new_sas.push(theirs);
                self.start_delete(now, sa, EndReason::rekeyed())
            }
            outcome => {
                match outcome {
                    Ok(mut ours) => {
                        tracing::info!(
                            ike = sa.unique_id,
                            "simultaneous IKE rekey: the peer's stays; deleting our new IKE SA"
                        );
                        let _ = self.start_delete(
                            now,
                            &mut ours,
                            EndReason::new(
                                EndKind::CollisionLoser,
                                "redundant after a simultaneous IKE rekey (RFC 7296 §2.8.2)",
                            ),
                        );
                        self.new_sas.push(ours);
                    }
                    Err(why) => tracing::info!(
                        ike = sa.unique_id,
                        "simultaneous IKE rekey: ours failed ({why}); the peer's stays"
                    ),
                }
                self.succeed(now, sa, theirs);
                self.await_peer_delete(now, sa);
                Next::Keep
            }
        }
    }

    /// The peer deletes the old IKE SA while our rekey of it, which crossed the
    /// peer's, is unanswered: the peer's new IKE SA stayed, and takes the CHILD SAs.
    pub(crate) fn peer_won_ike_rekey_collision(&mut self, now: Instant, sa: &mut IkeSa) -> bool {
        let Some(in_flight) = sa.in_flight.as_mut() else {
            return false;
        };
        let Purpose::RekeyIke(ours) = &mut in_flight.purpose else {
            return false;
        };
        let Some(collision) = ours.collision.take() else {
            return false;
        };
        self.stats.ike_rekey_collisions += 1;
        let theirs = collision.peer_sa;
        tracing::info!(
            ike = sa.unique_id,
            "simultaneous IKE rekey: the peer deleted the old IKE SA; its new one stays"
        );
        self.succeed(now, sa, theirs);
        true
    }

    /// The new IKE SA (RFC 7296 §2.18): keys from the old SK_d and the new shared
    /// secret; the CHILD SAs move over. `we_initiated`: we initiated the rekey,
    /// and so are the new SA's original initiator.
    #[allow(clippy::too_many_arguments)]
    fn rekeyed_sa(
        &mut self,
        now: Instant,
        old: &mut IkeSa,
        suite: IkeSuite,
        we_initiated: bool,
        (spi_i, spi_r): (Spi, Spi),
        (nonce_i, nonce_r): (&[u8], &[u8]),
        shared: &Secret,
    ) -> Result<IkeSa, String> {
        let old_keys = old.keys.as_ref().expect("rekeying an established IKE SA");
        let skeyseed = skeyseed_rekey(
            proposal::prf_alg(old_keys.prf),
            &old_keys.sk_d,
            shared,
            nonce_i,
            nonce_r,
        );
        let (encr_len, integ_len) = proposal::key_lengths(suite.encryption, suite.integrity);
        let keys = ike_keys_from_skeyseed(
            proposal::prf_alg(suite.prf),
            &skeyseed,
            nonce_i,
            nonce_r,
            &spi_i,
            &spi_r,
            encr_len,
            integ_len,
        )
        .map_err(|e| format!("deriving the new IKE SA's keys: {e}"))?;
        let mut new = IkeSa::new(
            self.unique_id(),
            old.connection.clone(),
            we_initiated,
            old.local,
            old.remote,
            Phase::Established,
        );
        new.spi_i = spi_i;
        new.spi_r = spi_r;
        new.nonce_i = nonce_i.to_vec();
        new.nonce_r = nonce_r.to_vec();
        // What the peer announced in IKE_SA_INIT holds for the SAs that replace it.
        new.peer_fragmentation = old.peer_fragmentation;
        new.peer_signature_hashes = old.peer_signature_hashes.clone();
        set_keys(&mut new, suite, keys)?;
        new.peer_id = old.peer_id.clone();
        // NAT detection is not repeated: the new SA travels the way the old one did.
        new.nat = old.nat;
        // MOBIKE was agreed for the line of IKE SAs, not renegotiated (RFC 4555 §3.3).
        // Message IDs start over on the new SA: the last UPDATE's was the old one's.
        new.mobike = old.mobike.as_deref().map(|m| {
            Box::new(crate::mobike::Mobike {
                last_update: None,
                ..m.clone()
            })
        });
        new.established_at = Some(now);
        // A rekey does not authenticate anyone again: the reauthentication stays due.
        new.reauth_at = old.reauth_at;
        // The peer's rhythm (see `rhythm`): measured when it rekeys, kept when we do.
        new.peer_rekeyed_at = old.peer_rekeyed_at;
        if let Some(age) = old
            .established_at
            .filter(|_| !we_initiated)
            .map(|t| now.saturating_duration_since(t))
        {
            let ours = old.connection.lifetime;
            crate::rhythm::note_peer_rekey(old, None, age, old.peer_rekeyed_at, &ours);
            new.peer_rekeyed_at = Some(age);
        }
        self.schedule_ike_lifetime(now, &mut new);
        new.last_heard = old.last_heard;
        self.arm_dpd(now, &mut new);
        tracing::info!(
            old = old.unique_id,
            new = new.unique_id,
            conn = new.connection.name,
            suite = %suite,
            "IKE SA rekeyed"
        );
        self.events.push_back(Event::IkeSaRekeyed {
            connection: new.connection.name.clone(),
            old_ike_id: old.unique_id,
            new_ike_id: new.unique_id,
        });
        Ok(new)
    }
}

/// What the old IKE SA carries for the line moves to the one that replaces it:
/// the CHILD SAs (and inbound SAs lingering after a rekey), the NAT-keepalive
/// schedule and the peer's NAT mapping changes, a reauthentication under way, what was learnt of the peer's rhythm,
/// the children waiting to be created again after a kernel refusal, the virtual
/// IPs the peer holds.
fn move_children(old: &mut IkeSa, new: &mut IkeSa) {
    new.children = std::mem::take(&mut old.children);
    new.lingering = std::mem::take(&mut old.lingering);
    new.keepalive_at = old.keepalive_at.take();
    new.mapping_changes = old.mapping_changes.take();
    new.reauth_by = old.reauth_by.take();
    new.peer_ends = old.peer_ends.take();
    new.kernel_retries = old.kernel_retries.take();
    // The peer keeps its virtual IPs: the lease belongs to the line, not one SA.
    new.virtual_ips = std::mem::take(&mut old.virtual_ips);
    // So does a RADIUS login's session: one accounting session, one Session-Timeout.
    new.radius = old.radius.take();
}

/// The lower of an exchange's two nonces, compared as octet strings.
fn lowest<'a>(a: &'a [u8], b: &'a [u8]) -> &'a [u8] {
    a.min(b)
}
