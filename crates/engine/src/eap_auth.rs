//! IKE_AUTH with EAP, the responder's side (RFC 7296 §2.16): the initiator's
//! first IKE_AUTH has no AUTH; we answer with our identity and AUTH and an EAP
//! request, EAP goes back and forth in further IKE_AUTH exchanges (`eap_server`),
//! and after EAP-Success both sides send an AUTH made with the EAP MSK. The first
//! request's SA, TS and CP payloads are answered with the last AUTH.
//! With `remote_auth = "eap-radius"` the EAP steps after the identity are the
//! RADIUS server's (`eap_radius`); the AUTH at the end is the same.

use std::sync::Arc;
use std::time::Instant;

use tern_crypto::{psk_auth, verify_psk_auth};
use tern_wire::{
    AuthMethod, AuthPayload, ExchangeType, IdType, Identification, NotifyType, Payload,
};

use crate::config::{Connection, RemoteAuth};
use crate::eap::{self, Packet};
use crate::eap_radius::RadiusStep;
use crate::eap_server::{EapAwait, EapFailure};
use crate::end_reason::{EndKind, EndReason};
use crate::engine::{Ctx, Next};
use crate::identity;
use crate::ike_auth::{octets_signed_by, sa_prf, Signer};
use crate::ike_sa::{IkeSa, Phase};
use crate::payloads;

/// A responder's IKE_AUTH while EAP runs.
pub struct AwaitEap {
    pub step: EapStep,
    /// The identity the initiator gave in IDi.
    pub id_i: Identification,
    /// The first IKE_AUTH request: its CHILD SA and CP are answered at the end.
    pub first_request: Vec<Payload>,
}

/// Who runs the EAP conversation: we (EAP-MSCHAPv2), or a RADIUS server we
/// relay to. Either way it ends in `EapAwait::Auth` with the MSK.
pub(crate) enum EapStep {
    Local(EapAwait),
    Radius(RadiusStep),
}

/// An identity of the EAP user, for the IKE SA's peer and its lease.
fn eap_identity(user: &str) -> Identification {
    let id_type = if user.contains('@') {
        IdType::RFC822_ADDR
    } else {
        IdType::FQDN
    };
    Identification {
        id_type,
        data: user.as_bytes().to_vec(),
    }
}

impl Ctx {
    /// Responder: the initiator's first IKE_AUTH, without AUTH, for a connection
    /// whose peer logs in with EAP. Answers IDr, [CERT], AUTH and EAP-Request/Identity.
    pub(crate) fn start_eap(
        &mut self,
        sa: &mut IkeSa,
        id: u32,
        conn: Arc<Connection>,
        our: Vec<Payload>,
        p: Vec<Payload>,
    ) -> Next {
        let Some(id_i) = payloads::id_i(&p).cloned() else {
            unreachable!("IKE_AUTH requests without IDi are refused before")
        };
        let mut identifier = [0u8; 1];
        self.env.random(&mut identifier);
        let (step, request) = match conn.remote_auth {
            RemoteAuth::EapRadius => (
                EapStep::Radius(RadiusStep::Identity {
                    identifier: identifier[0],
                }),
                Packet::request(identifier[0], eap::TYPE_IDENTITY, &[]),
            ),
            _ => {
                let (step, request) = EapAwait::start(identifier[0]);
                (EapStep::Local(step), request)
            }
        };
        let mut response = vec![Payload::IdR(identity::to_wire(&conn.local_id))];
        response.extend(our);
        response.push(Payload::Eap(request.to_bytes()));
        self.respond(sa, ExchangeType::IKE_AUTH, id, &response);
        tracing::info!(
            ike = sa.unique_id,
            conn = conn.name,
            peer = identity::describe(&id_i),
            "peer logs in with {}; asked for its EAP identity",
            conn.remote_auth.eap_name()
        );
        sa.phase = Phase::AwaitEap(Box::new(AwaitEap {
            step,
            id_i,
            first_request: p,
        }));
        Next::Keep
    }

    /// Responder: an IKE_AUTH request while EAP runs (or its final AUTH).
    pub(crate) fn handle_eap_request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id: u32,
        p: Vec<Payload>,
    ) -> Next {
        let Phase::AwaitEap(state) = std::mem::replace(&mut sa.phase, Phase::AwaitAuthRequest)
        else {
            unreachable!("EAP requests are only handled while EAP runs")
        };
        if let EapStep::Radius(_) = state.step {
            return self.relay_eap(sa, id, p, state);
        }
        let AwaitEap {
            step: EapStep::Local(step),
            id_i,
            first_request,
        } = *state
        else {
            unreachable!("RADIUS steps were handed on above")
        };
        let conn = sa.connection.clone();
        if let EapAwait::Auth { user, msk } = step {
            return match payloads::auth(&p) {
                Some(auth) => {
                    let state = Finish {
                        id_i,
                        user,
                        msk,
                        first_request,
                    };
                    self.finish_eap(now, sa, id, auth.clone(), state)
                }
                None => {
                    let failure = EapFailure {
                        identifier: 0,
                        user: Some(user),
                        why: "the peer's IKE_AUTH after EAP-Success has no AUTH".into(),
                    };
                    self.eap_failed(sa, id, failure, false)
                }
            };
        }
        let received = match payloads::eap(&p).map(|bytes| Packet::parse(bytes)) {
            Some(Ok(packet)) => packet,
            Some(Err(e)) => {
                let failure = EapFailure {
                    identifier: 0,
                    user: step.user().map(str::to_string),
                    why: format!("the peer sent {e}"),
                };
                return self.eap_failed(sa, id, failure, false);
            }
            None => {
                let failure = EapFailure {
                    identifier: 0,
                    user: step.user().map(str::to_string),
                    why: "the peer's IKE_AUTH request during EAP has no EAP payload".into(),
                };
                return self.eap_failed(sa, id, failure, false);
            }
        };
        let RemoteAuth::EapMschapv2(users) = &conn.remote_auth else {
            unreachable!("local EAP steps run only for remote_auth = eap-mschapv2")
        };
        let env = &mut self.env;
        let mut random = |buf: &mut [u8]| env.random(buf);
        match step.next(users, &received, &mut random) {
            Ok((step, packet)) => {
                if let EapAwait::Auth { user, .. } = &step {
                    tracing::info!(
                        ike = sa.unique_id,
                        conn = conn.name,
                        user = user.as_str(),
                        "EAP-MSCHAPv2 succeeded for user '{user}'; awaiting the peer's AUTH"
                    );
                }
                self.respond(
                    sa,
                    ExchangeType::IKE_AUTH,
                    id,
                    &[Payload::Eap(packet.to_bytes())],
                );
                sa.phase = Phase::AwaitEap(Box::new(AwaitEap {
                    step: EapStep::Local(step),
                    id_i,
                    first_request,
                }));
                Next::Keep
            }
            Err(failure) => self.eap_failed(sa, id, failure, true),
        }
    }

    /// Checks the peer's AUTH made with the MSK, answers ours, and completes
    /// IKE_AUTH with the first request's CHILD SA and CP.
    fn finish_eap(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id: u32,
        auth: AuthPayload,
        state: Finish,
    ) -> Next {
        let conn = sa.connection.clone();
        let prf = sa_prf(sa);
        let theirs = octets_signed_by(sa, Signer::Initiator, &state.id_i);
        if auth.method != AuthMethod::SHARED_KEY_MIC
            || !verify_psk_auth(prf, state.msk.expose(), &theirs, &auth.data)
        {
            let failure = EapFailure {
                identifier: 0,
                user: Some(state.user),
                why: "the peer's AUTH does not verify with the EAP session key (MSK)".into(),
            };
            return self.eap_failed(sa, id, failure, false);
        }
        let id_r = identity::to_wire(&conn.local_id);
        let ours = octets_signed_by(sa, Signer::Responder, &id_r);
        let response = vec![Payload::Auth(AuthPayload {
            method: AuthMethod::SHARED_KEY_MIC,
            data: psk_auth(prf, state.msk.expose(), &ours),
        })];
        tracing::info!(
            ike = sa.unique_id,
            conn = conn.name,
            peer = identity::describe(&state.id_i),
            user = state.user.as_str(),
            "peer authenticated: {} as user '{}'",
            conn.remote_auth.eap_name(),
            state.user
        );
        let peer = eap_identity(&state.user);
        self.finish_responder_auth(now, sa, id, &conn, peer, response, &state.first_request)
    }

    /// Ends the conversation: EAP-Failure when an EAP exchange is open (`eap`),
    /// AUTHENTICATION_FAILED, a log line naming the user and the reason.
    pub(crate) fn eap_failed(
        &mut self,
        sa: &mut IkeSa,
        id: u32,
        failure: EapFailure,
        eap: bool,
    ) -> Next {
        self.eap_failed_as(sa, id, failure, eap, EndKind::EapFailed)
    }

    /// [`Ctx::eap_failed`] with the end reason's kind.
    pub(crate) fn eap_failed_as(
        &mut self,
        sa: &mut IkeSa,
        id: u32,
        failure: EapFailure,
        eap: bool,
        kind: EndKind,
    ) -> Next {
        let mut response = Vec::new();
        if eap {
            let packet = Packet::outcome(eap::FAILURE, failure.identifier);
            response.push(Payload::Eap(packet.to_bytes()));
        }
        response.push(payloads::error(NotifyType::AUTHENTICATION_FAILED));
        self.respond(sa, ExchangeType::IKE_AUTH, id, &response);
        let user = failure.user.as_deref().unwrap_or("(none given)");
        let method = sa.connection.remote_auth.eap_name();
        tracing::warn!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            user,
            remote = %sa.remote,
            "{method} failed for user '{user}': {}; answered AUTHENTICATION_FAILED",
            failure.why
        );
        let text = format!(
            "connection `{}`: {method} failed for user '{user}' from {}: {}",
            sa.connection.name,
            sa.remote.ip(),
            failure.why
        );
        Next::Destroy(EndReason::new(kind, text))
    }
}

/// What the last IKE_AUTH needs once EAP succeeded.
struct Finish {
    id_i: Identification,
    user: String,
    msk: tern_crypto::Secret,
    first_request: Vec<Payload>,
}
