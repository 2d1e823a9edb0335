//! CREATE_CHILD_SA (RFC 7296 §1.3): CHILD SA rekeying and additional CHILD SAs,
//! with and without PFS, both roles, and simultaneous rekeys (§2.8.1).
//! Here: starting our requests and answering the peer's; the answers to ours are in
//! `answer`.

use std::time::{Duration, Instant};

use tern_crypto::{ke_public, ke_shared};
use tern_wire::{ExchangeType, KePayload, NotifyPayload, NotifyType, Payload, ProtocolId};

use crate::child_sa::{ChildExchange, ChildState, Collision};
use crate::child_select;
use crate::config::{KeyExchange, Mode};
use crate::end_reason::{EndKind, EndReason};
use crate::engine::{Ctx, Next};
use crate::ike_sa::{IkeSa, Phase, Purpose, Queued};
use crate::ike_sa_init::{NONCE_LEN, NONCE_RANGE};
use crate::payloads;
use crate::proposal;
use crate::shared_child::SharedChild;
use crate::ts;

mod answer;
pub(crate) mod overtaken;

/// After TEMPORARY_FAILURE the rekey is tried again within this many seconds.
const TEMPORARY_FAILURE_RETRY: Duration = Duration::from_secs(10);
/// After a refusal (e.g. NO_PROPOSAL_CHOSEN) the rekey is tried again after this,
/// in case the peer's configuration changes before life_time.
const REFUSED_RETRY: Duration = Duration::from_secs(60);

impl Ctx {
    /// Starts rekeying a CHILD SA (RFC 7296 §2.8).
    pub(crate) fn start_child_rekey(&mut self, now: Instant, sa: &mut IkeSa, unique_id: u64) {
        let Some(child) = sa
            .children
            .iter_mut()
            .find(|c| c.unique_id == unique_id && c.state == ChildState::Installed)
        else {
            return;
        };
        child.rekey_at = None;
        let Some(config) = SharedChild::find(&sa.connection, &child.name) else {
            // Its configuration is gone (reloaded away): let it run to its end.
            return;
        };
        child.state = ChildState::Rekeying;
        self.stats.child_rekeys_initiated += 1;
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            child = child.name,
            spi_in = format_args!("{:08x}", child.spi_in),
            "rekeying CHILD SA"
        );
        let exchange = ChildExchange {
            rekey_of: Some(child.spi_in),
            reqid: child.reqid,
            local_ts: child.local_ts.clone(),
            remote_ts: child.remote_ts.clone(),
            mode: child.mode,
            ke: None,
            config,
            spi_in: 0,
            nonce: Vec::new(),
            collision: None,
            deleted_meanwhile: false,
            ke_sent: Vec::new(),
            unknown_deleted: Default::default(),
        };
        let pfs = first_pfs_group(&exchange);
        if self.config.emulate.rekey_twice {
            let again = ChildExchange {
                rekey_of: exchange.rekey_of,
                reqid: exchange.reqid,
                local_ts: exchange.local_ts.clone(),
                remote_ts: exchange.remote_ts.clone(),
                mode: exchange.mode,
                ke: None,
                config: exchange.config.clone(),
                spi_in: 0,
                nonce: Vec::new(),
                collision: None,
                deleted_meanwhile: false,
                ke_sent: Vec::new(),
                unknown_deleted: Default::default(),
            };
            self.send_create_child(now, sa, again, pfs);
        }
        self.send_create_child(now, sa, exchange, pfs);
    }

    /// Starts a new CHILD SA from `config` on an established IKE SA.
    pub(crate) fn start_child(&mut self, now: Instant, sa: &mut IkeSa, config: SharedChild) {
        let exchange = ChildExchange {
            rekey_of: None,
            reqid: self.reqid_for(&sa.connection.name, &config.name),
            local_ts: config.local_ts.iter().map(ts::Ts::from_config).collect(),
            remote_ts: config.remote_ts.iter().map(ts::Ts::from_config).collect(),
            mode: config.mode,
            ke: None,
            config,
            spi_in: 0,
            nonce: Vec::new(),
            collision: None,
            deleted_meanwhile: false,
            ke_sent: Vec::new(),
            unknown_deleted: Default::default(),
        };
        let pfs = first_pfs_group(&exchange);
        self.send_create_child(now, sa, exchange, pfs);
    }

    /// Sends a CREATE_CHILD_SA request for `ex`, with a KE payload of `pfs` if set.
    fn send_create_child(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        mut ex: ChildExchange,
        pfs: Option<KeyExchange>,
    ) {
        ex.spi_in = self.choose_spi_in(sa.local.ip());
        ex.nonce = self.random(NONCE_LEN);
        ex.ke = pfs.map(|k| (k, self.ke_private(k)));
        ex.ke_sent.extend(pfs);
        let mut p = Vec::new();
        if let Some(old_spi) = ex.rekey_of {
            p.push(Payload::Notify(NotifyPayload {
                protocol: ProtocolId::ESP,
                spi: old_spi.to_be_bytes().to_vec(),
                notify_type: NotifyType::REKEY_SA,
                data: Vec::new(),
            }));
        }
        if ex.mode == Mode::Transport {
            p.push(payloads::status(NotifyType::USE_TRANSPORT_MODE, Vec::new()));
        }
        p.push(Payload::Sa(proposal::esp_offer(
            &ex.config.esp_proposals,
            ex.spi_in,
        )));
        p.push(Payload::Nonce(ex.nonce.clone()));
        if let Some((k, private)) = &ex.ke {
            match ke_public(proposal::ke_alg(*k), private) {
                Ok(data) => p.push(Payload::Ke(KePayload {
                    method: proposal::ke_method(*k),
                    data,
                })),
                Err(e) => {
                    let reason = EndReason::new(EndKind::Other, e.to_string());
                    return self.child_exchange_failed(now, sa, &ex, reason, None);
                }
            }
        }
        p.push(Payload::TsI(ts::to_payload(&ex.local_ts)));
        p.push(Payload::TsR(ts::to_payload(&ex.remote_ts)));
        self.request(
            now,
            sa,
            ExchangeType::CREATE_CHILD_SA,
            Purpose::CreateChild(Box::new(ex)),
            p,
        );
    }

    /// Responder: a CREATE_CHILD_SA request.
    pub(crate) fn handle_create_child_request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id: u32,
        p: Vec<Payload>,
    ) -> Next {
        let refuse = |ctx: &mut Ctx, sa: &mut IkeSa, notify: NotifyType, why: &str| {
            tracing::warn!(
                ike = sa.unique_id,
                conn = sa.connection.name,
                "CREATE_CHILD_SA refused with {notify}: {why}"
            );
            ctx.respond(
                sa,
                ExchangeType::CREATE_CHILD_SA,
                id,
                &[payloads::error(notify)],
            );
            Next::Keep
        };
        if !matches!(sa.phase, Phase::Established) {
            return refuse(
                self,
                sa,
                NotifyType::TEMPORARY_FAILURE,
                "the IKE SA is being deleted",
            );
        }
        let (Some(offer), Some(nonce_i)) = (payloads::sa(&p), payloads::nonce(&p)) else {
            return refuse(
                self,
                sa,
                NotifyType::INVALID_SYNTAX,
                "no SA or Nonce payload",
            );
        };
        if !NONCE_RANGE.contains(&nonce_i.len()) {
            return refuse(
                self,
                sa,
                NotifyType::INVALID_SYNTAX,
                "nonce length outside 16..=256",
            );
        }
        if offer
            .proposals
            .iter()
            .any(|x| x.protocol == ProtocolId::IKE)
        {
            return self.handle_ike_rekey_request(now, sa, id, &p);
        }
        // A rekey names the SA by the peer's inbound SPI: our outbound one.
        let rekey_of = payloads::notify(&p, NotifyType::REKEY_SA)
            .filter(|n| n.protocol == ProtocolId::ESP)
            .map(|n| <[u8; 4]>::try_from(n.spi.as_slice()).map(u32::from_be_bytes));
        let old = match rekey_of {
            None => None,
            Some(Err(_)) => {
                return refuse(
                    self,
                    sa,
                    NotifyType::INVALID_SYNTAX,
                    "REKEY_SA with a malformed SPI",
                )
            }
            Some(Ok(spi_out)) => match sa.children.iter().find(|c| c.spi_out == spi_out) {
                None => {
                    return refuse(
                        self,
                        sa,
                        NotifyType::CHILD_SA_NOT_FOUND,
                        &format!("no CHILD SA with outbound SPI {spi_out:08x}"),
                    )
                }
                Some(c) if matches!(c.state, ChildState::Rekeyed | ChildState::Deleting) => {
                    // §2.25: a rekey of an SA we are closing.
                    return refuse(
                        self,
                        sa,
                        NotifyType::TEMPORARY_FAILURE,
                        "that CHILD SA is already being replaced or deleted",
                    );
                }
                Some(c)
                    if c.state == ChildState::Rekeying
                        && self.config.emulate.refuse_rekey_while_rekeying =>
                {
                    // Emulating peers that settle a simultaneous rekey by refusing
                    // the other side's instead of by the nonces (§2.8.1).
                    return refuse(
                        self,
                        sa,
                        NotifyType::TEMPORARY_FAILURE,
                        "we are rekeying that CHILD SA ourselves (emulated)",
                    );
                }
                Some(_) if self.config.emulate.refuse_peer_rekeys_with.is_some() => {
                    let notify = self.config.emulate.refuse_peer_rekeys_with.unwrap();
                    return refuse(self, sa, notify, "refusing the peer's rekeys (emulated)");
                }
                Some(c) => Some((c.unique_id, c.reqid, c.name.clone())),
            },
        };
        let Some(c) = child_select::child_payloads(&p) else {
            return refuse(self, sa, NotifyType::INVALID_SYNTAX, "no TSi/TSr");
        };
        let only = match &old {
            Some((_, _, name)) => match SharedChild::find(&sa.connection, name) {
                Some(config) => Some(config),
                None => {
                    return refuse(
                        self,
                        sa,
                        NotifyType::NO_PROPOSAL_CHOSEN,
                        "the CHILD SA's configuration was removed",
                    )
                }
            },
            None => None,
        };
        // Our own lifetime of the child, to tell the peer's rhythm by (see `rhythm`).
        let our_lifetime = only.as_ref().map(|config| config.lifetime);
        let choice = match child_select::choose(&sa.connection, only, &c, false) {
            Ok(choice) => choice,
            Err((notify, why)) => {
                // A rekey with a key exchange we do not offer (or without the one we
                // require): PFS on one side only.
                let pfs_mismatch = notify == NotifyType::NO_PROPOSAL_CHOSEN
                    && old.is_some()
                    && offers_pfs(offer) != only_pfs(sa, old.as_ref().map(|o| o.2.as_str()));
                if let (true, Some((_, _, name))) = (pfs_mismatch, &old) {
                    self.reauthenticate_instead(now, sa, name, &why, false);
                }
                return refuse(self, sa, notify, &why);
            }
        };
        let mut choice = choice;
        if self.config.emulate.ask_other_ke_group {
            ask_other_group(&mut choice, payloads::ke(&p).map(|ke| ke.method));
        }
        let ke_private = match (choice.suite.key_exchange, payloads::ke(&p)) {
            (None, _) => None,
            (Some(k), Some(ke)) if ke.method == proposal::ke_method(k) => {
                Some((k, self.ke_private(k), ke.data.clone()))
            }
            (Some(k), _) => {
                let group = proposal::ke_method(k).0.to_be_bytes().to_vec();
                tracing::info!(
                    ike = sa.unique_id,
                    "asking the peer for PFS group {}",
                    proposal::ke_name(k)
                );
                self.respond(
                    sa,
                    ExchangeType::CREATE_CHILD_SA,
                    id,
                    &[payloads::status(NotifyType::INVALID_KE_PAYLOAD, group)],
                );
                return Next::Keep;
            }
        };
        let (ke_response, shared) = match &ke_private {
            None => (None, None),
            Some((k, private, peer)) => {
                let alg = proposal::ke_alg(*k);
                match (ke_public(alg, private), ke_shared(alg, private, peer)) {
                    (Ok(public), Ok(shared)) => (
                        Some(KePayload {
                            method: proposal::ke_method(*k),
                            data: public,
                        }),
                        Some(shared),
                    ),
                    _ => {
                        return refuse(
                            self,
                            sa,
                            NotifyType::INVALID_SYNTAX,
                            "the peer's key exchange value is invalid",
                        )
                    }
                }
            }
        };
        let reqid = match &old {
            Some((_, reqid, _)) => *reqid,
            None => self.reqid_for(&sa.connection.name, &choice.config.name),
        };
        let nonce_r = self.random(NONCE_LEN);
        let keys =
            match crate::children::child_keys(sa, choice.suite, shared.as_ref(), nonce_i, &nonce_r)
            {
                Ok(k) => k,
                Err(e) => return refuse(self, sa, NotifyType::NO_PROPOSAL_CHOSEN, &e),
            };
        let spi_in = self.choose_spi_in(sa.local.ip());
        let mut response = Vec::new();
        if choice.mode == Mode::Transport {
            response.push(payloads::status(NotifyType::USE_TRANSPORT_MODE, Vec::new()));
        }
        response.push(Payload::Sa(proposal::esp_answer(
            choice.proposal_number,
            choice.suite,
            spi_in,
        )));
        response.push(Payload::Nonce(nonce_r.clone()));
        response.extend(ke_response.map(Payload::Ke));
        response.push(Payload::TsI(ts::to_payload(&choice.remote_ts)));
        response.push(Payload::TsR(ts::to_payload(&choice.local_ts)));
        self.respond(sa, ExchangeType::CREATE_CHILD_SA, id, &response);
        let negotiated = choice.into_negotiated(reqid, spi_in);
        // Make-before-break for the responder: the initiator installs its new SAs
        // only when our answer arrives, so ours sends on the old SA until the
        // initiator deletes it.
        let rekey = old.is_some();
        if !rekey {
            // Perhaps just after the peer let an SA of this child expire.
            self.note_peer_recreate(now, sa, &negotiated.name);
        }
        let new_id = self.install_child_with(now, sa, negotiated, keys, false, rekey);
        let line = match &old {
            None => Some(false),
            Some((old_id, _, _)) => crate::duplicates::line_of(sa, |c| c.unique_id == *old_id),
        };
        self.drop_duplicate_child(now, sa, new_id, line);
        if let Some((old_id, _, name)) = old {
            let Some(pos) = sa.children.iter().position(|c| c.unique_id == old_id) else {
                return Next::Keep;
            };
            sa.children[pos].successor = Some(new_id);
            crate::adapt::child_rekeyed(sa, new_id);
            let age = now.saturating_duration_since(sa.children[pos].installed_at);
            let before = sa.children[pos].peer_rekeyed_at;
            if let Some(new) = sa.children.iter_mut().find(|c| c.unique_id == new_id) {
                new.peer_rekeyed_at = Some(age);
            }
            if let Some(ours) = our_lifetime {
                crate::rhythm::note_peer_rekey(sa, Some(&name), age, before, &ours);
            }
            let old_spi = sa.children[pos].spi_in;
            let collision = Collision {
                lowest_nonce: lowest(nonce_i, &nonce_r).to_vec(),
            };
            let ours_pending = sa.children[pos].state == ChildState::Rekeying;
            if !(ours_pending && self.note_collision(sa, old_spi, collision)) {
                // The peer rekeyed it and will delete it.
                let wait = self.peer_delete_wait();
                let old = &mut sa.children[pos];
                old.state = ChildState::Rekeyed;
                old.expire_at = Some(old.expire_at.map_or(now + wait, |t| t.min(now + wait)));
                if self.config.emulate.delete_after_answering_rekey {
                    self.start_child_delete(now, sa, old_id, EndReason::rekeyed());
                }
            }
        }
        Next::Keep
    }

    /// The peer rekeyed the CHILD SA `old_spi` while we were rekeying it too. If our
    /// request is in flight, the collision is recorded with it and settled by its
    /// answer (§2.8.1): returns true. If it is still queued, unsent, it is dropped (the
    /// peer's rekey replaces it): returns false, as when there is none.
    fn note_collision(&mut self, sa: &mut IkeSa, old_spi: u32, collision: Collision) -> bool {
        let rekeys_old =
            |p: &Purpose| matches!(p, Purpose::CreateChild(ex) if ex.rekey_of == Some(old_spi));
        if let Some(request) = sa.in_flight.as_mut().filter(|r| rekeys_old(&r.purpose)) {
            if let Purpose::CreateChild(ex) = &mut request.purpose {
                ex.collision = Some(collision);
            }
            return true;
        }
        if let Some(pos) = sa.queued.iter().position(|q| rekeys_old(&q.purpose)) {
            if let Some(Queued {
                purpose: Purpose::CreateChild(ex),
                ..
            }) = sa.queued.remove(pos)
            {
                tracing::info!(
                    ike = sa.unique_id,
                    spi_in = format_args!("{old_spi:08x}"),
                    "the peer rekeyed the CHILD SA first; our queued rekey is dropped"
                );
                self.release_spi(sa, ex.spi_in);
            }
        }
        false
    }
}

/// The CHILD SA `spi_in` if the peer deleted it while our rekey of it was in
/// flight (see `ChildSa::deleted_during_our_rekey`).
fn deleted_during_our_rekey(sa: &IkeSa, spi_in: u32) -> Option<u64> {
    sa.children
        .iter()
        .find(|c| c.spi_in == spi_in && c.deleted_during_our_rekey)
        .map(|c| c.unique_id)
}

/// The PFS group we propose first, if our first proposal asks for one.
fn first_pfs_group(ex: &ChildExchange) -> Option<KeyExchange> {
    ex.config
        .esp_proposals
        .first()
        .and_then(|p| p.key_exchange.first().copied())
}

/// Whether an SA offer's proposals all carry a key exchange (PFS).
fn offers_pfs(offer: &tern_wire::SaPayload) -> bool {
    !offer.proposals.is_empty()
        && offer.proposals.iter().all(|p| {
            p.transforms
                .iter()
                .any(|t| t.transform_type == tern_wire::TransformType::KE && t.id != 0)
        })
}

/// Whether our proposals for `child` of `sa`'s connection all require PFS.
fn only_pfs(sa: &IkeSa, child: Option<&str>) -> bool {
    let Some(config) =
        child.and_then(|name| sa.connection.children.iter().find(|c| c.name == name))
    else {
        return false;
    };
    !config.esp_proposals.is_empty()
        && config
            .esp_proposals
            .iter()
            .all(|p| !p.key_exchange.is_empty())
}

/// The lower of an exchange's two nonces, compared as octet strings.
fn lowest<'a>(a: &'a [u8], b: &'a [u8]) -> &'a [u8] {
    a.min(b)
}

/// `Emulation::ask_other_ke_group`: a KE payload with the group we would choose
/// is asked for another group of the child's proposals instead.
fn ask_other_group(choice: &mut child_select::Choice, sent: Option<tern_wire::KeMethod>) {
    let Some(ours) = choice.suite.key_exchange else {
        return;
    };
    if sent != Some(proposal::ke_method(ours)) {
        return;
    }
    let other = choice
        .config
        .esp_proposals
        .iter()
        .flat_map(|p| p.key_exchange.iter().copied())
        .find(|k| *k != ours);
    if let Some(other) = other {
        choice.suite.key_exchange = Some(other);
    }
}
