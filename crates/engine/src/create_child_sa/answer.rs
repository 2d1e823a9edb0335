//! CREATE_CHILD_SA as initiator: the peer's answer to our request, accepted or
//! refused, and what a failed exchange leaves.

use std::time::{Duration, Instant};

use tern_crypto::{ke_shared, ChildKeys};
use tern_wire::{KeMethod, NotifyType, Payload};

use crate::child_sa::{ChildExchange, ChildState, Negotiated};
use crate::child_select;
use crate::end_reason::{EndKind, EndReason};
use crate::engine::{Ctx, Next};
use crate::ike_sa::IkeSa;
use crate::ike_sa_init::NONCE_RANGE;
use crate::payloads;
use crate::proposal;

use super::{
    deleted_during_our_rekey, first_pfs_group, lowest, REFUSED_RETRY, TEMPORARY_FAILURE_RETRY,
};

impl Ctx {
    /// Initiator: the answer to our CREATE_CHILD_SA request.
    pub(crate) fn handle_create_child_response(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        ex: Box<ChildExchange>,
        p: Vec<Payload>,
    ) -> Next {
        if let Some(err) = payloads::error_notify(&p) {
            self.child_refused(now, sa, *ex, err.notify_type, &err.data);
            return Next::Keep;
        }
        let outcome = self.accept_child_answer(sa, &ex, &p);
        let (negotiated, keys) = match outcome {
            Ok(x) => x,
            Err(reason) => {
                let reason = EndReason::new(EndKind::PeerMisbehaved, reason);
                self.child_exchange_failed(now, sa, &ex, reason, Some(REFUSED_RETRY));
                return Next::Keep;
            }
        };
        let nonce_r = payloads::nonce(&p).cloned().unwrap_or_default();
        let overtaken = ex.unknown_deleted.deleted_at(negotiated.spi_out);
        let new_id = self.install_child(now, sa, negotiated, keys, true);
        self.settle_child_answer(now, sa, &ex, new_id, &nonce_r, overtaken.is_some());
        if let Some(deleted_at) = overtaken {
            self.answer_deleted_by_peer(now, deleted_at, sa, new_id);
        }
        Next::Keep
    }

    /// CHILD SA `new_id` is in from the answer to `ex`: a duplicate of the
    /// peer's goes, and the SA a rekey replaced is settled as RFC 7296 says
    /// (§1.3.3, §2.8.1). `overtaken`: the peer deleted the new SA already, so it
    /// is no duplicate to settle.
    fn settle_child_answer(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        ex: &ChildExchange,
        new_id: u64,
        nonce_r: &[u8],
        overtaken: bool,
    ) {
        let line = match ex.rekey_of {
            None => Some(true),
            Some(old_spi) => crate::duplicates::line_of(sa, |c| c.spi_in == old_spi),
        };
        if !overtaken {
            self.drop_duplicate_child(now, sa, new_id, line);
        }
        if ex.deleted_meanwhile {
            tracing::info!(
                ike = sa.unique_id,
                "CHILD SA rekey/delete collision, deleting the new SA too (emulating strongSwan)"
            );
            let why = EndReason::new(EndKind::CollisionLoser, "rekey/delete collision");
            self.start_child_delete(now, sa, new_id, why);
            return;
        }
        let Some(old_spi) = ex.rekey_of else {
            return;
        };
        if let Some(old_id) = deleted_during_our_rekey(sa, old_spi) {
            // The peer's DELETE overtook this answer: the old SA was replaced.
            self.retire_child(now, sa, old_id, &EndReason::rekeyed(), true);
        }
        let rhythm = sa
            .children
            .iter()
            .find(|c| c.spi_in == old_spi)
            .and_then(|c| c.peer_rekeyed_at);
        if let Some(new) = sa.children.iter_mut().find(|c| c.unique_id == new_id) {
            new.peer_rekeyed_at = rhythm;
        }
        crate::adapt::child_rekeyed(sa, new_id);
        let wait = self.peer_delete_wait();
        let old = sa.children.iter_mut().find(|c| c.spi_in == old_spi);
        match &ex.collision {
            // §2.8.1: the rekey with the lowest of the four nonces made a redundant SA;
            // its initiator deletes that, and the other side deletes the old SA (which
            // may be gone already: the peer's DELETE can overtake its answer).
            Some(c) if lowest(&ex.nonce, nonce_r) < c.lowest_nonce.as_slice() => {
                self.stats.child_rekey_collisions += 1;
                if let Some(old) = old {
                    old.state = ChildState::Rekeyed;
                    old.expire_at = Some(old.expire_at.map_or(now + wait, |t| t.min(now + wait)));
                }
                tracing::info!(
                    ike = sa.unique_id,
                    "simultaneous rekey: ours has the lowest nonce, deleting our new SA"
                );
                self.start_child_delete(
                    now,
                    sa,
                    new_id,
                    EndReason::new(
                        EndKind::CollisionLoser,
                        "redundant after a simultaneous rekey (RFC 7296 §2.8.1)",
                    ),
                );
            }
            Some(_) => {
                self.stats.child_rekey_collisions += 1;
                tracing::info!(
                    ike = sa.unique_id,
                    "simultaneous rekey: the peer's has the lowest nonce; it deletes its new SA"
                );
                if let Some(old) = old {
                    // The SA the peer's rekey made is the redundant one, not the successor.
                    let (old_id, redundant) = (old.unique_id, old.successor.take());
                    let made_by_peer = sa
                        .children
                        .iter_mut()
                        .find(|c| Some(c.unique_id) == redundant);
                    if let Some(c) = made_by_peer {
                        c.collision_loser = true;
                    }
                    self.start_child_delete(now, sa, old_id, EndReason::rekeyed());
                }
            }
            None => {
                let old_id = old.map(|o| o.unique_id);
                if self.config.emulate.rekey_twice {
                    // The second rekey goes out before the DELETE of the old SA.
                    self.send_queued(now, sa);
                }
                if let Some(old_id) = old_id {
                    self.start_child_delete(now, sa, old_id, EndReason::rekeyed());
                }
            }
        }
    }

    fn accept_child_answer(
        &mut self,
        sa: &IkeSa,
        ex: &ChildExchange,
        p: &[Payload],
    ) -> Result<(Negotiated, ChildKeys), String> {
        let c = child_select::child_payloads(p).ok_or("the peer's answer lacks SA, TSi or TSr")?;
        let nonce_r = payloads::nonce(p)
            .filter(|n| NONCE_RANGE.contains(&n.len()))
            .ok_or("the peer's answer has no valid nonce")?;
        let (suite, spi_out, local_ts, remote_ts) = child_select::check_answer(
            &ex.config.esp_proposals,
            &ex.local_ts,
            &ex.remote_ts,
            ex.mode,
            &c,
        )?;
        let shared = match (suite.key_exchange, &ex.ke, payloads::ke(p)) {
            (None, _, _) => None,
            (Some(k), Some((ours, private)), Some(ke))
                if *ours == k && ke.method == proposal::ke_method(k) =>
            {
                Some(
                    ke_shared(proposal::ke_alg(k), private, &ke.data)
                        .map_err(|e| format!("the peer's key exchange value is invalid: {e}"))?,
                )
            }
            (Some(k), _, _) => {
                return Err(format!(
                    "the peer chose PFS with {} but its KE payload does not match",
                    proposal::ke_name(k)
                ))
            }
        };
        let keys = crate::children::child_keys(sa, suite, shared.as_ref(), &ex.nonce, nonce_r)?;
        let negotiated = Negotiated {
            name: ex.config.name.clone(),
            reqid: ex.reqid,
            mode: ex.mode,
            suite,
            spi_in: ex.spi_in,
            spi_out,
            local_ts,
            remote_ts,
        };
        Ok((negotiated, keys))
    }

    /// The peer answered our CREATE_CHILD_SA with an error notify.
    fn child_refused(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        ex: ChildExchange,
        notify: NotifyType,
        data: &[u8],
    ) {
        match notify {
            NotifyType::INVALID_KE_PAYLOAD => {
                let wanted = data
                    .get(..2)
                    .map(|d| KeMethod(u16::from_be_bytes([d[0], d[1]])));
                let offered = ex
                    .config
                    .esp_proposals
                    .iter()
                    .flat_map(|p| p.key_exchange.iter().copied());
                let group = wanted
                    .and_then(proposal::ke_from_method)
                    .filter(|k| offered.clone().any(|o| o == *k));
                self.release_spi(sa, ex.spi_in);
                match group {
                    Some(k) if !ex.ke_sent.contains(&k) => {
                        self.send_create_child(now, sa, ex, Some(k))
                    }
                    // Asked again for a group it had: the lists never meet.
                    Some(k) => {
                        let reason = crate::ike_sa_init::invalid_ke_loop(
                            "CREATE_CHILD_SA",
                            &ex.ke_sent,
                            k,
                            offered.collect(),
                        );
                        self.child_exchange_failed(
                            now,
                            sa,
                            &ChildExchange { spi_in: 0, ..ex },
                            reason,
                            Some(REFUSED_RETRY),
                        );
                    }
                    _ => {
                        let reason = format!("the peer requires a PFS group we do not offer (INVALID_KE_PAYLOAD {wanted:?})");
                        if ex.rekey_of.is_some() {
                            self.reauthenticate_instead(now, sa, &ex.config.name, &reason, true);
                        }
                        self.child_exchange_failed(
                            now,
                            sa,
                            &ChildExchange { spi_in: 0, ..ex },
                            EndReason::new(EndKind::NoProposal, reason),
                            Some(REFUSED_RETRY),
                        );
                    }
                }
            }
            NotifyType::CHILD_SA_NOT_FOUND if ex.rekey_of.is_some() => {
                // The peer lost this CHILD SA (e.g. it restarted its side): replace it.
                self.release_spi(sa, ex.spi_in);
                if let Some(old) = sa
                    .children
                    .iter()
                    .find(|c| Some(c.spi_in) == ex.rekey_of)
                    .map(|c| c.unique_id)
                {
                    self.retire_child(
                        now,
                        sa,
                        old,
                        &EndReason::new(
                            EndKind::DeletedByPeer,
                            "the peer no longer knows this CHILD SA (CHILD_SA_NOT_FOUND)",
                        ),
                        false,
                    );
                }
                if sa.child_running(&ex.config.name) {
                    // Another CHILD SA carries this child (the peer deleted this
                    // one as a duplicate while our rekey was on its way).
                    return;
                }
                let pfs = first_pfs_group(&ex);
                let ex = ChildExchange {
                    rekey_of: None,
                    spi_in: 0,
                    ke: None,
                    collision: None,
                    ..ex
                };
                self.send_create_child(now, sa, ex, pfs);
            }
            NotifyType::TEMPORARY_FAILURE => {
                let retry = self.jitter(TEMPORARY_FAILURE_RETRY) + Duration::from_secs(1);
                self.child_exchange_failed(
                    now,
                    sa,
                    &ex,
                    EndReason::new(
                        EndKind::RefusedByPeer,
                        "the peer answered TEMPORARY_FAILURE",
                    ),
                    Some(retry),
                );
            }
            other => {
                let reason = format!(
                    "the peer refused with {other}; we offered {}",
                    proposal::describe_esp_proposals(&ex.config.esp_proposals)
                );
                if other == NotifyType::NO_PROPOSAL_CHOSEN
                    && ex.rekey_of.is_some()
                    && first_pfs_group(&ex).is_some()
                {
                    self.reauthenticate_instead(now, sa, &ex.config.name, &reason, true);
                }
                let kind = match other {
                    NotifyType::NO_PROPOSAL_CHOSEN => EndKind::NoProposal,
                    NotifyType::TS_UNACCEPTABLE => EndKind::TsUnacceptable,
                    _ => EndKind::RefusedByPeer,
                };
                let reason = EndReason::new(kind, reason);
                self.child_exchange_failed(now, sa, &ex, reason, Some(REFUSED_RETRY));
            }
        }
    }

    /// The SPI chosen for an exchange that installed nothing: free again, and
    /// nothing to remove from the kernel.
    pub(super) fn release_spi(&mut self, _sa: &IkeSa, spi_in: u32) {
        if spi_in != 0 {
            self.spis_in.release(spi_in);
        }
    }

    /// Our CHILD SA exchange made no SA: release what it reserved; a rekey is tried
    /// again after `retry` (the old SA keeps working until its life_time).
    pub(super) fn child_exchange_failed(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        ex: &ChildExchange,
        reason: EndReason,
        retry: Option<Duration>,
    ) {
        self.release_spi(sa, ex.spi_in);
        let Some(old_spi) = ex.rekey_of else {
            return self.child_failed(now, sa, &ex.config.name, reason);
        };
        if let Some(old_id) = deleted_during_our_rekey(sa, old_spi) {
            // The peer deleted it while this rekey was on its way, and made no
            // new one: it was closed after all.
            let closed = EndReason::new(EndKind::DeletedByPeer, "deleted by the peer");
            self.retire_child(now, sa, old_id, &closed, true);
        }
        let wait = self.peer_delete_wait();
        let Some(old) = sa.children.iter_mut().find(|c| c.spi_in == old_spi) else {
            // The CHILD SA ended (hard expiry, say) while its rekey was in flight,
            // and its end action waited for this answer: bring it back now.
            return self.restart_child(
                now,
                sa,
                &ex.config.name,
                crate::end_action::EndCause::Lost,
                &format!("ended while its rekey was in flight, and the rekey failed: {reason}"),
            );
        };
        if ex.collision.is_some() {
            // The peer's simultaneous rekey replaced it; the peer deletes it.
            old.state = ChildState::Rekeyed;
            old.expire_at = Some(old.expire_at.map_or(now + wait, |t| t.min(now + wait)));
            return;
        }
        if old.state == ChildState::Rekeying {
            old.state = ChildState::Installed;
            old.rekey_at = retry.map(|d| now + d);
            crate::end_reason::RekeyFailure::note(&mut old.rekey_failed, now, reason.clone());
        }
        let retry_text = retry.map_or(String::new(), |d| {
            format!("; retrying in {} s", d.as_secs())
        });
        let text = format!("rekey failed: {reason}{retry_text}");
        let reason = EndReason { text, ..reason };
        self.child_failed(now, sa, &ex.config.name, reason);
    }
}
