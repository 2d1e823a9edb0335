//! An EAP-MSCHAPv2 client as an initiator (RFC 7296 §2.16), emulated
//! (`Emulation::eap_login`): what strongSwan's `auth = eap-mschapv2` and
//! Windows do, so the gateway side (`eap_auth`) is tested against it.

use std::time::Instant;

use tern_crypto::mschapv2::{self, NtHash};
use tern_crypto::{psk_auth, verify_psk_auth, Secret};
use tern_wire::{AuthMethod, AuthPayload, ExchangeType, Identification, NotifyType, Payload};

use crate::config::EapLogin;
use crate::eap::{self, MsChap, Packet};
use crate::end_reason::{EndKind, EndReason};
use crate::engine::{Ctx, Next};
use crate::identity;
use crate::ike_auth::{octets_signed_by, sa_prf, Signer};
use crate::ike_sa::{IkeSa, Phase, Purpose};
use crate::payloads;

/// Where the client's login is.
pub enum EapClient {
    /// IKE_AUTH without AUTH sent: the answer brings the gateway's AUTH and
    /// its first EAP request.
    AwaitGateway,
    /// Answering the gateway's EAP requests; `expected` once we answered a
    /// challenge: the authenticator response to expect and the MSK.
    InEap {
        id_r: Identification,
        expected: Option<(String, Secret)>,
    },
    /// EAP succeeded and our AUTH (from the MSK) is sent.
    AwaitAuth { id_r: Identification, msk: Secret },
}

/// What the client answers an EAP packet with.
enum Reply {
    Eap(Packet, Option<(String, Secret)>),
    /// EAP-Success: send AUTH made with this MSK.
    Succeeded(Secret),
}

fn fail(text: impl Into<String>) -> EndReason {
    EndReason::new(EndKind::EapFailed, text)
}

/// The client's answer to the gateway's EAP `packet`.
fn reply(
    login: EapLogin,
    packet: &Packet,
    expected: Option<(String, Secret)>,
    random: &mut dyn FnMut(&mut [u8]),
) -> Result<Reply, EndReason> {
    let respond = |method: u8, data: &[u8]| Packet {
        code: eap::RESPONSE,
        identifier: packet.identifier,
        body: [&[method][..], data].concat(),
    };
    match (packet.code, packet.method()) {
        (eap::SUCCESS, _) => match expected {
            Some((_, msk)) => Ok(Reply::Succeeded(msk)),
            None => Err(fail("the gateway sent EAP-Success before MS-CHAPv2 ran")),
        },
        (eap::FAILURE, _) => Err(fail(format!(
            "the gateway refused our EAP login as '{}' (EAP-Failure)",
            login.user
        ))),
        (eap::REQUEST, Some(eap::TYPE_IDENTITY)) => Ok(Reply::Eap(
            respond(eap::TYPE_IDENTITY, login.user.as_bytes()),
            expected,
        )),
        (eap::REQUEST, Some(eap::TYPE_MSCHAPV2)) => {
            let message = MsChap::parse(&packet.body[1..]).map_err(fail)?;
            match message.op {
                eap::OP_CHALLENGE => {
                    let Some(challenge) = message
                        .data
                        .get(1..17)
                        .filter(|_| message.data[0] == 16)
                        .map(|c| <[u8; 16]>::try_from(c).expect("16 octets"))
                    else {
                        return Err(fail("a malformed MS-CHAPv2 Challenge"));
                    };
                    let mut peer_challenge = [0u8; 16];
                    random(&mut peer_challenge);
                    let password = NtHash::of_password(login.password);
                    let user = login.user.as_bytes();
                    let nt = mschapv2::nt_response(&password, &challenge, &peer_challenge, user);
                    let ours = mschapv2::verify_response(
                        &password,
                        &challenge,
                        &peer_challenge,
                        user,
                        &nt,
                    )
                    .expect("our own response verifies");
                    let mut value = vec![49];
                    value.extend_from_slice(&peer_challenge);
                    value.extend_from_slice(&[0; 8]);
                    value.extend_from_slice(&nt);
                    value.push(0);
                    value.extend_from_slice(user);
                    let response = MsChap {
                        op: eap::OP_RESPONSE,
                        ms_id: message.ms_id,
                        data: value,
                    };
                    Ok(Reply::Eap(
                        respond(eap::TYPE_MSCHAPV2, &response.to_bytes()),
                        Some((ours.authenticator_response, ours.msk)),
                    ))
                }
                eap::OP_SUCCESS => match expected {
                    Some((ref s, _)) if message.data.starts_with(s.as_bytes()) => Ok(Reply::Eap(
                        respond(eap::TYPE_MSCHAPV2, &[eap::OP_SUCCESS]),
                        expected,
                    )),
                    _ => Err(fail(
                        "the gateway's MS-CHAPv2 Success does not prove it knows our password",
                    )),
                },
                op => Err(fail(format!("MS-CHAPv2 op code {op} from the gateway"))),
            }
        }
        (code, method) => Err(fail(format!(
            "EAP code {code} type {} from the gateway",
            method.unwrap_or(0)
        ))),
    }
}

impl Ctx {
    /// Initiator, an EAP client: the gateway's answer in an IKE_AUTH exchange.
    pub(crate) fn handle_eap_answer(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        p: Vec<Payload>,
    ) -> Next {
        let Phase::AwaitAuthResponse(pending) = &mut sa.phase else {
            unreachable!("only while awaiting an IKE_AUTH answer")
        };
        let step = pending.eap.take().expect("an EAP client");
        let login = self.config.emulate.eap_login.expect("an EAP client");
        let (id_r, expected) = match step {
            EapClient::AwaitGateway => match self.check_responder(now, sa, &p) {
                Ok(id_r) => (id_r, None),
                Err(next) => return next,
            },
            EapClient::InEap { id_r, expected } => (id_r, expected),
            EapClient::AwaitAuth { id_r, msk } => {
                let octets = octets_signed_by(sa, Signer::Responder, &id_r);
                return match payloads::auth(&p) {
                    Some(auth)
                        if verify_psk_auth(sa_prf(sa), msk.expose(), &octets, &auth.data) =>
                    {
                        tracing::info!(
                            ike = sa.unique_id,
                            peer = identity::describe(&id_r),
                            "gateway authenticated with the EAP MSK"
                        );
                        self.auth_completed(now, sa, id_r, &p)
                    }
                    _ if payloads::notify(&p, NotifyType::AUTHENTICATION_FAILED).is_some() => {
                        Next::Destroy(fail("the gateway refused our AUTH made with the EAP MSK"))
                    }
                    _ => Next::Destroy(fail(
                        "the gateway's last AUTH does not verify with the EAP MSK",
                    )),
                };
            }
        };
        let packet = match payloads::eap(&p).map(|b| Packet::parse(b)) {
            Some(Ok(packet)) => packet,
            Some(Err(e)) => return Next::Destroy(fail(format!("the gateway sent {e}"))),
            None => return Next::Destroy(fail("the gateway's IKE_AUTH answer has no EAP payload")),
        };
        let env = &mut self.env;
        let mut random = |buf: &mut [u8]| env.random(buf);
        let (payload, next) = match reply(login, &packet, expected, &mut random) {
            Err(reason) => return Next::Destroy(reason),
            Ok(Reply::Eap(answer, expected)) => (
                Payload::Eap(answer.to_bytes()),
                EapClient::InEap { id_r, expected },
            ),
            Ok(Reply::Succeeded(msk)) => {
                let id_i = identity::to_wire(&sa.connection.local_id);
                let octets = octets_signed_by(sa, Signer::Initiator, &id_i);
                let auth = AuthPayload {
                    method: AuthMethod::SHARED_KEY_MIC,
                    data: psk_auth(sa_prf(sa), msk.expose(), &octets),
                };
                (Payload::Auth(auth), EapClient::AwaitAuth { id_r, msk })
            }
        };
        let Phase::AwaitAuthResponse(pending) = &mut sa.phase else {
            unreachable!("still awaiting IKE_AUTH answers")
        };
        pending.eap = Some(next);
        self.request(
            now,
            sa,
            ExchangeType::IKE_AUTH,
            Purpose::IkeAuth,
            vec![payload],
        );
        Next::Keep
    }
}
