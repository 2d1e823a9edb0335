//! IKE_AUTH (RFC 7296 §1.2, §2.15): identities, authentication with a pre-shared
//! key or a certificate (see `cert_auth`), and the first CHILD SA.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tern_crypto::{psk_auth, signed_octets, verify_psk_auth, ChildKeys};
use tern_wire::{AuthMethod, AuthPayload, ExchangeType, Identification, NotifyType, Payload};

use crate::cert_auth;
use crate::child_sa::{ChildRequest, Negotiated};
use crate::child_select;
use crate::config::{AuthConfig, Connection, Mode};
use crate::config_payload::{self, CpAnswer};
use crate::create_child_sa::overtaken::UnknownDeletes;
use crate::eap_client::EapClient;
use crate::end_reason::{EndKind, EndReason};
use crate::engine::{Ctx, Next};
use crate::identity;
use crate::ike_sa::{AwaitAuthResponse, IkeSa, Phase, Purpose};
use crate::output::Event;
use crate::payloads;
use crate::proposal;
use crate::shared_child::SharedChild;
use crate::ts::{self, Ts};

/// Whose AUTH payload is being computed or checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signer {
    Initiator,
    Responder,
}

/// The octets `signer` authenticates with its ID payload (RFC 7296 §2.15).
pub(crate) fn octets_signed_by(sa: &IkeSa, signer: Signer, id: &Identification) -> Vec<u8> {
    let keys = sa
        .keys
        .as_ref()
        .expect("IKE_AUTH runs after key derivation");
    let prf = proposal::prf_alg(keys.prf);
    let (message, nonce, sk_p) = match signer {
        Signer::Initiator => (&sa.init_request, &sa.nonce_r, &keys.sk_pi),
        Signer::Responder => (&sa.init_response, &sa.nonce_i, &keys.sk_pr),
    };
    signed_octets(prf, message, nonce, sk_p, &id.body_bytes())
}

pub(crate) fn sa_prf(sa: &IkeSa) -> tern_crypto::PrfAlg {
    proposal::prf_alg(
        sa.keys
            .as_ref()
            .expect("IKE_AUTH runs after key derivation")
            .prf,
    )
}

/// Our AUTH payload, preceded by our CERT payloads when we authenticate with a
/// certificate: the one under a CA in `requested` (the peer's CERTREQ) if we have one.
pub(crate) fn our_auth(
    sa: &IkeSa,
    signer: Signer,
    id: &Identification,
    requested: &[[u8; 20]],
) -> Result<Vec<Payload>, String> {
    let octets = octets_signed_by(sa, signer, id);
    match &sa.connection.auth {
        AuthConfig::Psk(psk) => Ok(vec![Payload::Auth(AuthPayload {
            method: AuthMethod::SHARED_KEY_MIC,
            data: psk_auth(sa_prf(sa), psk, &octets),
        })]),
        AuthConfig::Pubkey(auth) => {
            let ours = cert_auth::choose(auth, requested);
            let signed = cert_auth::sign(ours, &sa.peer_signature_hashes, &octets)?;
            let mut out: Vec<Payload> = cert_auth::cert_payloads(ours).collect();
            out.push(Payload::Auth(signed));
            Ok(out)
        }
    }
}

/// Checks the peer's AUTH payload (and certificate) under `conn`'s method. Says how
/// the peer proved itself, or what failed, for the administrator.
fn check_peer_auth(
    sa: &IkeSa,
    conn: &Connection,
    signer: Signer,
    id: &Identification,
    auth: &AuthPayload,
    received: &[Payload],
    now: SystemTime,
) -> Result<String, String> {
    let octets = octets_signed_by(sa, signer, id);
    let peer = identity::describe(id);
    match &conn.auth {
        AuthConfig::Psk(psk) if auth.method == AuthMethod::SHARED_KEY_MIC => {
            if verify_psk_auth(sa_prf(sa), psk, &octets, &auth.data) {
                Ok("pre-shared key".into())
            } else {
                Err(format!(
                    "pre-shared key mismatch: the AUTH payload of peer '{peer}' ({}) does not verify with our psk",
                    sa.remote.ip()
                ))
            }
        }
        AuthConfig::Psk(_) => Err(format!(
            "peer '{peer}' authenticates with {}, but this connection uses a pre-shared key",
            auth.method
        )),
        AuthConfig::Pubkey(_) if auth.method == AuthMethod::SHARED_KEY_MIC => Err(format!(
            "peer '{peer}' authenticates with a pre-shared key, but this connection uses certificates (auth = \"pubkey\")"
        )),
        AuthConfig::Pubkey(pubkey) => {
            cert_auth::verify_peer(pubkey, received, id, auth, &octets, now)
        }
    }
}

fn log_authenticated(sa: &IkeSa, peer: &Identification, how: &str) {
    tracing::info!(
        ike = sa.unique_id,
        conn = sa.connection.name,
        peer = identity::describe(peer),
        "peer authenticated: {how}"
    );
}

/// What the peer's AUTHENTICATION_FAILED means for `conn`.
pub(crate) fn refused_by_peer(conn: &Connection) -> EndReason {
    let likely = match conn.auth {
        AuthConfig::Psk(_) => "pre-shared key mismatch",
        AuthConfig::Pubkey(_) => {
            "the peer does not trust our certificate (check its CA certificates)"
        }
    };
    let text = format!(
        "connection `{}`: the peer rejected our authentication (AUTHENTICATION_FAILED): {likely}, or the peer does not accept our identity '{}'",
        conn.name,
        identity::describe_config(&conn.local_id)
    );
    EndReason::new(EndKind::AuthFailed, text)
}

impl Ctx {
    /// Initiator: IDi, [IDr], AUTH and the first CHILD SA's SA, TSi, TSr.
    /// `requested`: the CAs the responder's CERTREQ named.
    pub(crate) fn send_auth_request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        requested: &[[u8; 20]],
    ) -> Next {
        let conn = sa.connection.clone();
        let id_i = identity::to_wire(&conn.local_id);
        let auth = match our_auth(sa, Signer::Initiator, &id_i, requested) {
            Ok(auth) => auth,
            Err(e) => {
                let text = format!("connection `{}`: {e}", conn.name);
                return Next::Destroy(EndReason::new(EndKind::Configuration, text));
            }
        };
        let mut payloads = vec![Payload::IdI(id_i)];
        // IDi, [CERT...], [CERTREQ], [IDr], AUTH (RFC 7296 §1.2).
        // An EAP client (emulated) leaves out AUTH: it logs in with EAP.
        let eap = self
            .config
            .emulate
            .eap_login
            .map(|_| EapClient::AwaitGateway);
        let (certs, auth) = match eap {
            Some(_) => (&[][..], &[][..]),
            None => auth.split_at(auth.len() - 1),
        };
        payloads.extend_from_slice(certs);
        if let AuthConfig::Pubkey(pubkey) = &conn.auth {
            payloads.push(cert_auth::certreq(pubkey));
        }
        if sa.initial_contact {
            payloads.push(payloads::status(NotifyType::INITIAL_CONTACT, Vec::new()));
        }
        if self.config.mobike_initiator {
            payloads.extend(crate::mobike_client::offer(sa));
        }
        if let Some(remote_id) = &conn.remote_id {
            payloads.push(Payload::IdR(identity::to_wire(remote_id)));
        }
        payloads.extend_from_slice(auth);
        if let Some(request) = self.config.emulate.request_virtual_ip {
            payloads.push(Payload::Cp(config_payload::emulated_request(request)));
        }
        let mut child = None;
        if let Some(config) = conn.children.first() {
            let reqid = self.reqid_for(&conn.name, &config.name);
            let spi_in = self.choose_spi_in(sa.local.ip());
            let local_ts: Vec<Ts> = config.local_ts.iter().map(Ts::from_config).collect();
            let remote_ts: Vec<Ts> = config.remote_ts.iter().map(Ts::from_config).collect();
            if config.mode == Mode::Transport {
                payloads.push(payloads::status(NotifyType::USE_TRANSPORT_MODE, Vec::new()));
            }
            payloads.push(Payload::Sa(proposal::esp_offer(
                &proposal::without_pfs(&config.esp_proposals),
                spi_in,
            )));
            payloads.push(Payload::TsI(ts::to_payload(&local_ts)));
            payloads.push(Payload::TsR(ts::to_payload(&remote_ts)));
            child = Some(ChildRequest {
                config: SharedChild::at(&conn, 0),
                spi_in,
                reqid,
                local_ts,
                remote_ts,
            });
        }
        sa.phase = Phase::AwaitAuthResponse(Box::new(AwaitAuthResponse {
            child,
            eap,
            unknown_deleted: Default::default(),
        }));
        self.request(now, sa, ExchangeType::IKE_AUTH, Purpose::IkeAuth, payloads);
        Next::Keep
    }

    /// Initiator: the responder's IKE_AUTH answer.
    pub(crate) fn handle_auth_response(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        p: Vec<Payload>,
    ) -> Next {
        if matches!(&sa.phase, Phase::AwaitAuthResponse(pending) if pending.eap.is_some()) {
            return self.handle_eap_answer(now, sa, p);
        }
        let id_r = match self.check_responder(now, sa, &p) {
            Ok(id_r) => id_r,
            Err(next) => return next,
        };
        self.auth_completed(now, sa, id_r, &p)
    }

    /// Initiator: the responder's IDr and AUTH in its IKE_AUTH answer, checked.
    pub(crate) fn check_responder(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        p: &[Payload],
    ) -> Result<Identification, Next> {
        let conn = sa.connection.clone();
        let (id_r, auth) = match (payloads::id_r(p), payloads::auth(p)) {
            (Some(id), Some(auth)) => (id.clone(), auth.clone()),
            _ => {
                return Err(Next::Destroy(
                    match payloads::error_notify(p).map(|n| n.notify_type) {
                        Some(NotifyType::AUTHENTICATION_FAILED) => refused_by_peer(&conn),
                        Some(other) => EndReason::new(
                            EndKind::RefusedByPeer,
                            format!("the peer refused IKE_AUTH with {other}"),
                        ),
                        None => EndReason::new(
                            EndKind::PeerMisbehaved,
                            "the peer's IKE_AUTH response lacks IDr or AUTH",
                        ),
                    },
                ));
            }
        };
        if let Some(expected) = &conn.remote_id {
            if !identity::matches(expected, &id_r) {
                self.tell_auth_failed(sa);
                let text = format!(
                    "connection `{}`: the peer identified as '{}', but remote_id is '{}'",
                    conn.name,
                    identity::describe(&id_r),
                    identity::describe_config(expected)
                );
                return Err(Next::Destroy(EndReason::new(EndKind::AuthFailed, text)));
            }
        }
        let wall_clock = self.env.wall_clock(now);
        match check_peer_auth(sa, &conn, Signer::Responder, &id_r, &auth, p, wall_clock) {
            Ok(how) => log_authenticated(sa, &id_r, &how),
            Err(why) => {
                self.tell_auth_failed(sa);
                tracing::warn!(
                    ike = sa.unique_id,
                    conn = conn.name,
                    "{why}; sent AUTHENTICATION_FAILED"
                );
                let text = format!("connection `{}`: {why}", conn.name);
                return Err(Next::Destroy(EndReason::new(EndKind::AuthFailed, text)));
            }
        }
        Ok(id_r)
    }

    /// Initiator: both sides authenticated; the IKE SA is up, its first CHILD SA
    /// comes from answer `p`, the others follow.
    pub(crate) fn auth_completed(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id_r: Identification,
        p: &[Payload],
    ) -> Next {
        let Phase::AwaitAuthResponse(pending) =
            std::mem::replace(&mut sa.phase, Phase::Established)
        else {
            unreachable!("IKE_AUTH responses are only accepted while awaiting one")
        };
        self.established(now, sa, id_r);
        self.note_mobike_answer(sa, p);
        // The peer may have set one up with us at the same time.
        self.maybe_duplicates.push(sa.our_spi());
        if let Some(request) = pending.child {
            self.finish_child(now, sa, request, &pending.unknown_deleted, p);
        }
        // IKE_AUTH carries the first child; each other one follows in its own
        // CREATE_CHILD_SA (RFC 7296 §1.3.1), queued one after the other.
        let others: Vec<_> = SharedChild::all(&sa.connection).skip(1).collect();
        for config in others {
            self.start_child(now, sa, config);
        }
        Next::Keep
    }

    /// Initiator: install the CHILD SA the responder agreed to, or report why not.
    /// If the peer deleted it already (`unknown_deleted`), it goes at once.
    fn finish_child(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        request: ChildRequest,
        unknown_deleted: &UnknownDeletes,
        p: &[Payload],
    ) {
        let name = request.config.name.clone();
        let outcome = match (payloads::error_notify(p), child_select::child_payloads(p)) {
            (Some(err), _) => Err(EndReason::new(
                EndKind::refused_with(err.notify_type),
                format!("the peer refused the CHILD SA with {}", err.notify_type),
            )),
            (None, None) => Err(EndReason::new(
                EndKind::PeerMisbehaved,
                "the peer's answer has no CHILD SA (SA, TSi, TSr missing)",
            )),
            (None, Some(c)) => child_select::check_answer(
                &proposal::without_pfs(&request.config.esp_proposals),
                &request.local_ts,
                &request.remote_ts,
                request.config.mode,
                &c,
            )
            .map_err(|e| EndReason::new(EndKind::PeerMisbehaved, e)),
        };
        let keys = outcome.and_then(|(suite, spi_out, local_ts, remote_ts)| {
            let keys = crate::children::child_keys(sa, suite, None, &sa.nonce_i, &sa.nonce_r)
                .map_err(|e| EndReason::new(EndKind::Other, e))?;
            Ok((
                Negotiated {
                    name: name.clone(),
                    reqid: request.reqid,
                    mode: request.config.mode,
                    suite,
                    spi_in: request.spi_in,
                    spi_out,
                    local_ts,
                    remote_ts,
                },
                keys,
            ))
        });
        match keys {
            Ok((negotiated, keys)) => {
                let overtaken = unknown_deleted.deleted_at(negotiated.spi_out);
                let id = self.install_child(now, sa, negotiated, keys, true);
                crate::duplicates::set_line(sa, id, true);
                if let Some(deleted_at) = overtaken {
                    self.answer_deleted_by_peer(now, deleted_at, sa, id);
                }
            }
            Err(reason) => {
                // Chosen, never installed: nothing to remove from the kernel.
                self.spis_in.release(request.spi_in);
                self.child_failed(now, sa, &name, reason);
            }
        }
    }

    /// Responder: the initiator's IKE_AUTH request. Without AUTH, the peer
    /// asks to log in with EAP (RFC 7296 §2.16; see `eap_auth`).
    pub(crate) fn handle_auth_request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id: u32,
        p: Vec<Payload>,
    ) -> Next {
        let Some(id_i) = payloads::id_i(&p) else {
            self.respond(
                sa,
                ExchangeType::IKE_AUTH,
                id,
                &[payloads::error(NotifyType::INVALID_SYNTAX)],
            );
            return Next::Destroy(EndReason::new(
                EndKind::PeerMisbehaved,
                "the peer's IKE_AUTH request lacks IDi",
            ));
        };
        let auth = payloads::auth(&p);
        let id_r_hint = payloads::id_r(&p);
        let Some(conn) = self.connection_for_peer(sa, id_i, id_r_hint, auth.is_none()) else {
            self.respond(
                sa,
                ExchangeType::IKE_AUTH,
                id,
                &[payloads::error(NotifyType::AUTHENTICATION_FAILED)],
            );
            let how = if auth.is_none() {
                " with EAP (no AUTH payload; no connection has remote_auth = \"eap-mschapv2\")"
            } else {
                ""
            };
            let why = format!(
                "no connection accepts the peer identity '{}' from {}{how}",
                identity::describe(id_i),
                sa.remote.ip()
            );
            tracing::warn!(ike = sa.unique_id, "{why}");
            return Next::Destroy(EndReason::new(EndKind::AuthFailed, why));
        };
        sa.connection = conn.clone();
        self.agree_mobike(now, sa, &p);
        let checked = match auth {
            None => Ok("EAP to follow".to_string()),
            Some(auth) => {
                let wall_clock = self.env.wall_clock(now);
                check_peer_auth(sa, &conn, Signer::Initiator, id_i, auth, &p, wall_clock)
            }
        };
        let ours = checked.and_then(|how| {
            if auth.is_some() {
                log_authenticated(sa, id_i, &how);
            }
            let requested = cert_auth::requested_cas(&p);
            our_auth(
                sa,
                Signer::Responder,
                &identity::to_wire(&conn.local_id),
                &requested,
            )
        });
        let ours = match ours {
            Ok(ours) => ours,
            Err(why) => {
                self.respond(
                    sa,
                    ExchangeType::IKE_AUTH,
                    id,
                    &[payloads::error(NotifyType::AUTHENTICATION_FAILED)],
                );
                tracing::warn!(
                    ike = sa.unique_id,
                    conn = conn.name,
                    "{why}; answered AUTHENTICATION_FAILED"
                );
                let text = format!("connection `{}`: {why}", conn.name);
                return Next::Destroy(EndReason::new(EndKind::AuthFailed, text));
            }
        };
        if auth.is_none() {
            return self.start_eap(sa, id, conn, ours, p);
        }
        let mut response = vec![Payload::IdR(identity::to_wire(&conn.local_id))];
        response.extend(ours);
        let peer = id_i.clone();
        self.finish_responder_auth(now, sa, id, &conn, peer, response, &p)
    }

    /// Responder, the peer authenticated: answers `response` (our IDr and AUTH)
    /// with the CP reply and the first CHILD SA of request `p`, and establishes
    /// the IKE SA with `peer` (its IDi, or its EAP identity) as the peer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish_responder_auth(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id: u32,
        conn: &Arc<Connection>,
        peer: Identification,
        mut response: Vec<Payload>,
        p: &[Payload],
    ) -> Next {
        // A virtual IP first: the CHILD SA is narrowed to it.
        let child = match self.answer_config_request(sa, conn, &peer, p) {
            CpAnswer::Failure(why) => Some(Err((NotifyType::INTERNAL_ADDRESS_FAILURE, why))),
            answer => {
                if let CpAnswer::Reply(cp) = answer {
                    response.push(cp);
                }
                child_select::child_payloads(p).map(|c| self.negotiate_first_child(sa, &c))
            }
        };
        match &child {
            Some(Ok((n, _, number))) => {
                if n.mode == Mode::Transport {
                    response.push(payloads::status(NotifyType::USE_TRANSPORT_MODE, Vec::new()));
                }
                response.push(Payload::Sa(proposal::esp_answer(
                    *number, n.suite, n.spi_in,
                )));
                response.push(Payload::TsI(ts::to_payload(&n.remote_ts)));
                response.push(Payload::TsR(ts::to_payload(&n.local_ts)));
            }
            Some(Err((notify, _))) => response.push(payloads::error(*notify)),
            None => {}
        }
        if sa.mobike.is_some() {
            response.push(payloads::status(NotifyType::MOBIKE_SUPPORTED, Vec::new()));
        }
        if let Some(limit) = sa.radius.as_ref().and_then(|r| r.grant.session_timeout) {
            // RFC 4478: when to reauthenticate, before the RADIUS limit ends it.
            let secs = crate::radius_session::auth_lifetime(limit);
            response.push(payloads::status(
                NotifyType::AUTH_LIFETIME,
                secs.to_be_bytes().to_vec(),
            ));
        }
        self.respond(sa, ExchangeType::IKE_AUTH, id, &response);
        sa.phase = Phase::Established;
        sa.phase_deadline = None;
        self.established(now, sa, peer);
        self.radius_session_started(now, sa);
        // Without INITIAL_CONTACT the peer may hold another IKE SA with us: this
        // may be its make-before-break reauthentication (see `held_outbound`).
        let peer_alone = payloads::notify(p, NotifyType::INITIAL_CONTACT).is_some();
        if peer_alone {
            self.initial_contacts.push((sa.unique_id, sa.our_spi()));
        } else {
            self.maybe_duplicates.push(sa.our_spi());
        }
        match child {
            Some(Ok((negotiated, keys, _))) => {
                let hold = !peer_alone;
                let id = self.install_child_with(now, sa, negotiated, keys, false, hold);
                crate::duplicates::set_line(sa, id, false);
                if hold {
                    self.outbound_to_hold.push((sa.our_spi(), id));
                }
            }
            Some(Err((notify, reason))) => {
                let name = conn
                    .children
                    .first()
                    .map(|c| c.name.clone())
                    .unwrap_or_default();
                // What we answered: our refusal, or the kernel's.
                let kind = match notify {
                    NotifyType::TEMPORARY_FAILURE => EndKind::KernelRefused,
                    other => EndKind::refused_with(other),
                };
                self.child_failed(now, sa, &name, EndReason::new(kind, reason));
            }
            None => {}
        }
        Next::Keep
    }

    /// The connection a responder's IKE SA belongs to, now that the peer has named itself.
    fn connection_for_peer(
        &self,
        sa: &IkeSa,
        id_i: &Identification,
        id_r: Option<&Identification>,
        eap: bool,
    ) -> Option<Arc<Connection>> {
        let suite = sa.suite?;
        let fits = |c: &Arc<Connection>| {
            (c.local_addrs.is_empty() || c.local_addrs.contains(&sa.local.ip()))
                && (c.remote_addrs.is_empty() || c.remote_addrs.contains(&sa.remote.ip()))
                && c.remote_id
                    .as_ref()
                    .is_none_or(|r| identity::matches(r, id_i))
                && proposal::select_ike(&proposal::ike_answer(1, suite), &c.ike_proposals).is_some()
                && c.remote_auth.is_eap() == eap
        };
        let names_us = |c: &Arc<Connection>| id_r.is_none_or(|r| identity::matches(&c.local_id, r));
        let current = std::iter::once(&sa.connection);
        let all = current.chain(self.connections.iter());
        let candidates: Vec<&Arc<Connection>> = all.filter(|c| fits(c)).collect();
        candidates
            .iter()
            .find(|c| names_us(c))
            .or(candidates.first())
            .map(|c| Arc::clone(c))
    }

    /// Responder: the CHILD SA that comes with IKE_AUTH. Returns it, its keys and the
    /// number of the proposal we took.
    fn negotiate_first_child(
        &mut self,
        sa: &IkeSa,
        c: &child_select::ChildPayloads<'_>,
    ) -> Result<(Negotiated, ChildKeys, u8), child_select::Refusal> {
        let mut choice = child_select::choose(&sa.connection, None, c, true)?;
        let remote_ts = std::mem::take(&mut choice.remote_ts);
        choice.remote_ts = config_payload::narrow_to_virtual_ips(remote_ts, &sa.virtual_ips);
        if choice.remote_ts.is_empty() {
            let vips: Vec<String> = sa
                .virtual_ips
                .iter()
                .map(|v| v.address.to_string())
                .collect();
            return Err((
                NotifyType::TS_UNACCEPTABLE,
                format!(
                    "the peer's traffic selectors do not include its virtual IP {}",
                    vips.join(", ")
                ),
            ));
        }
        let reqid = self.reqid_for(&sa.connection.name, &choice.config.name);
        let keys = crate::children::child_keys(sa, choice.suite, None, &sa.nonce_i, &sa.nonce_r)
            .map_err(|e| (NotifyType::NO_PROPOSAL_CHOSEN, e))?;
        let spi_in = self.choose_spi_in(sa.local.ip());
        let proposal_number = choice.proposal_number;
        Ok((choice.into_negotiated(reqid, spi_in), keys, proposal_number))
    }

    fn established(&mut self, now: Instant, sa: &mut IkeSa, peer_id: Identification) {
        sa.established_at = Some(now);
        self.schedule_ike_lifetime(now, sa);
        if !sa.initiator {
            // Perhaps just after the peer let an IKE SA with us expire.
            self.note_peer_ike_recreate(now, sa);
        }
        self.arm_dpd(now, sa);
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            ike_spi = crate::engine::ike_spi(sa),
            peer = identity::describe(&peer_id),
            remote = %sa.remote,
            "IKE SA established"
        );
        sa.peer_id = Some(peer_id);
        self.events.push_back(Event::IkeSaEstablished {
            connection: sa.connection.name.clone(),
            ike_id: sa.unique_id,
        });
    }

    /// Initiator: the responder failed our checks; tell it, without waiting for an answer
    /// (RFC 7296 §2.21.2).
    fn tell_auth_failed(&mut self, sa: &mut IkeSa) {
        let id = sa.next_request_id;
        sa.next_request_id += 1;
        let datagrams = sa.seal(
            ExchangeType::INFORMATIONAL,
            false,
            id,
            &[payloads::error(NotifyType::AUTHENTICATION_FAILED)],
            None,
        );
        self.transmit_all(sa.local, sa.remote, datagrams);
    }
}
