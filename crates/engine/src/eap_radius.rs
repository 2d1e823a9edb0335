//! EAP-RADIUS on the responder (RFC 3579 pass-through): we ask the peer's EAP
//! identity ourselves, then each EAP response of the peer goes out as a
//! [`RadiusRelay`] and the daemon's RADIUS client brings back a
//! [`RadiusAnswer`]: a challenge to relay, an accept with the MSK, a reject, or
//! no server at all. The engine stays sans-IO: it neither sends to nor waits
//! on the server; the peer's IKE_AUTH request stays unanswered until the
//! answer comes in (its retransmissions are ignored meanwhile).

use std::net::SocketAddr;
use std::time::Instant;

use tern_crypto::Secret;
use tern_wire::{ExchangeType, Payload};

use crate::eap::{self, Packet};
use crate::eap_auth::{AwaitEap, EapStep};
use crate::eap_server::{EapAwait, EapFailure};
use crate::end_reason::EndKind;
use crate::engine::{Ctx, Engine, Next};
use crate::ike_sa::{IkeSa, Phase};
use crate::payloads;
use crate::radius_session::{RadiusGrant, RadiusSession};

/// An EAP message of a peer for the RADIUS server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RadiusRelay {
    /// The IKE SA's unique id: the answer goes back with it.
    pub ike: u64,
    pub connection: String,
    /// The peer's EAP identity (the RADIUS User-Name).
    pub user: String,
    /// The peer's EAP packet, as it sent it.
    pub eap: Vec<u8>,
    /// The State of the server's last challenge, to echo.
    pub state: Option<Vec<u8>>,
    /// The peer's address (Calling-Station-Id).
    pub peer: SocketAddr,
}

/// What the RADIUS side decided about a [`RadiusRelay`].
#[derive(Debug)]
pub enum RadiusAnswer {
    /// Access-Challenge: `eap` goes to the peer; `state` comes back with its answer.
    Challenge {
        eap: Vec<u8>,
        state: Option<Vec<u8>>,
    },
    /// Access-Accept, with MS-MPPE-Recv-Key || MS-MPPE-Send-Key as the MSK,
    /// and what it granted (address, Session-Timeout, Class).
    Accept {
        msk: Option<Secret>,
        grant: RadiusGrant,
    },
    /// Access-Reject; `reason` is the server's Reply-Message, if any.
    Reject { reason: Option<String> },
    /// No server gave a valid answer: what happened at each.
    Unreachable { reason: String },
}

/// Where an EAP-RADIUS login is.
pub(crate) enum RadiusStep {
    /// We sent EAP-Request/Identity with `identifier`.
    Identity { identifier: u8 },
    /// The peer's request `message_id` (its EAP response `identifier`) is
    /// with the RADIUS server.
    Asking {
        user: String,
        message_id: u32,
        identifier: u8,
    },
    /// We relayed the server's EAP request `identifier`; the peer's answer
    /// goes back with `state`.
    Relayed {
        user: String,
        identifier: u8,
        state: Option<Vec<u8>>,
    },
}

impl Engine {
    /// The next EAP message to relay to the RADIUS server.
    pub fn poll_radius_request(&mut self) -> Option<RadiusRelay> {
        self.ctx.radius_requests.pop_front()
    }

    /// The RADIUS side's answer for IKE SA `ike`. One for an IKE SA that is
    /// gone, or that waits for no answer, is ignored.
    pub fn handle_radius_answer(&mut self, now: Instant, ike: u64, answer: RadiusAnswer) {
        let Some(spi) = self.spi_of(ike) else {
            tracing::debug!(ike, "RADIUS answer for an IKE SA that is gone; ignored");
            return;
        };
        let mut sa = self.sas.remove(&spi).expect("found above");
        let next = self.ctx.radius_answered(&mut sa, answer);
        self.settle(now, sa, next);
    }
}

impl Ctx {
    /// An IKE_AUTH request during an EAP-RADIUS login: the peer's EAP response
    /// goes to the RADIUS server.
    pub(crate) fn relay_eap(
        &mut self,
        sa: &mut IkeSa,
        id: u32,
        p: Vec<Payload>,
        mut state: Box<AwaitEap>,
    ) -> Next {
        let EapStep::Radius(step) = &state.step else {
            unreachable!("only RADIUS steps come here")
        };
        let (expected, user, radius_state) = match step {
            RadiusStep::Asking { .. } => {
                // The peer retransmitted the request we have not answered yet.
                tracing::debug!(
                    ike = sa.unique_id,
                    id,
                    "IKE_AUTH request again while the RADIUS server decides; waiting for it"
                );
                sa.phase = Phase::AwaitEap(state);
                return Next::Keep;
            }
            RadiusStep::Identity { identifier } => (*identifier, None, None),
            RadiusStep::Relayed {
                user,
                identifier,
                state,
            } => (*identifier, Some(user.clone()), state.clone()),
        };
        let fail = |why: String| EapFailure {
            identifier: expected,
            user: user.clone(),
            why,
        };
        let Some(raw) = payloads::eap(&p).cloned() else {
            let failure = fail("the peer's IKE_AUTH request during EAP has no EAP payload".into());
            return self.eap_failed(sa, id, failure, false);
        };
        let received = match Packet::parse(&raw) {
            Ok(packet) => packet,
            Err(e) => return self.eap_failed(sa, id, fail(format!("the peer sent {e}")), true),
        };
        if received.code != eap::RESPONSE || received.identifier != expected {
            let why = format!(
                "the peer answered EAP request {expected} with code {} identifier {}",
                received.code, received.identifier
            );
            return self.eap_failed(sa, id, fail(why), true);
        }
        let user = match user {
            Some(user) => user,
            None if received.method() == Some(eap::TYPE_IDENTITY) => {
                match String::from_utf8(received.body[1..].to_vec()) {
                    Ok(identity) if !identity.is_empty() => {
                        tracing::info!(
                            ike = sa.unique_id,
                            conn = sa.connection.name,
                            user = identity.as_str(),
                            "EAP identity '{identity}'; asking the RADIUS server"
                        );
                        identity
                    }
                    _ => {
                        let why = "the peer's EAP identity is empty or not UTF-8".into();
                        return self.eap_failed(sa, id, fail(why), true);
                    }
                }
            }
            None => {
                let why = format!(
                    "the peer answered the EAP identity request with EAP type {}",
                    received.method().unwrap_or(0)
                );
                return self.eap_failed(sa, id, fail(why), true);
            }
        };
        self.radius_requests.push_back(RadiusRelay {
            ike: sa.unique_id,
            connection: sa.connection.name.clone(),
            user: user.clone(),
            eap: raw,
            state: radius_state,
            peer: sa.remote,
        });
        state.step = EapStep::Radius(RadiusStep::Asking {
            user,
            message_id: id,
            identifier: expected,
        });
        sa.phase = Phase::AwaitEap(state);
        Next::Keep
    }

    /// The RADIUS side answered: relay its EAP request, or finish EAP.
    fn radius_answered(&mut self, sa: &mut IkeSa, answer: RadiusAnswer) -> Next {
        let waiting = match &sa.phase {
            Phase::AwaitEap(state) => {
                matches!(state.step, EapStep::Radius(RadiusStep::Asking { .. }))
            }
            _ => false,
        };
        if !waiting {
            tracing::debug!(
                ike = sa.unique_id,
                "RADIUS answer for an IKE SA that waits for none; ignored"
            );
            return Next::Keep;
        }
        let Phase::AwaitEap(mut state) = std::mem::replace(&mut sa.phase, Phase::AwaitAuthRequest)
        else {
            unreachable!("checked above")
        };
        let EapStep::Radius(RadiusStep::Asking {
            user,
            message_id,
            identifier,
        }) = std::mem::replace(
            &mut state.step,
            EapStep::Radius(RadiusStep::Identity { identifier: 0 }),
        )
        else {
            unreachable!("checked above")
        };
        let failure = |why: String| EapFailure {
            identifier,
            user: Some(user.clone()),
            why,
        };
        match answer {
            RadiusAnswer::Challenge {
                eap,
                state: radius_state,
            } => {
                let request = match Packet::parse(&eap) {
                    Ok(p) if p.code == eap::REQUEST => p,
                    Ok(p) => {
                        let why = format!(
                            "the RADIUS server's challenge carries EAP code {}, not a request",
                            p.code
                        );
                        return self.eap_failed(sa, message_id, failure(why), true);
                    }
                    Err(e) => {
                        let why = format!("the RADIUS server's challenge carries {e}");
                        return self.eap_failed(sa, message_id, failure(why), true);
                    }
                };
                self.respond(sa, ExchangeType::IKE_AUTH, message_id, &[Payload::Eap(eap)]);
                state.step = EapStep::Radius(RadiusStep::Relayed {
                    user,
                    identifier: request.identifier,
                    state: radius_state,
                });
                sa.phase = Phase::AwaitEap(state);
                Next::Keep
            }
            RadiusAnswer::Accept {
                msk: Some(msk),
                grant,
            } => {
                tracing::info!(
                    ike = sa.unique_id,
                    conn = sa.connection.name,
                    user = user.as_str(),
                    "the RADIUS server accepted user '{user}'{}; awaiting the peer's AUTH",
                    describe(&grant)
                );
                let mut random = [0u8; 4];
                self.env.random(&mut random);
                sa.radius = Some(Box::new(RadiusSession {
                    user: user.clone(),
                    grant,
                    // Unique per IKE SA, and across restarts of ternd.
                    session_id: format!("{:08x}{:08x}", u32::from_be_bytes(random), sa.unique_id),
                    started: None,
                    ends_at: None,
                    interim_at: None,
                }));
                let success = Packet::outcome(eap::SUCCESS, identifier);
                self.respond(
                    sa,
                    ExchangeType::IKE_AUTH,
                    message_id,
                    &[Payload::Eap(success.to_bytes())],
                );
                state.step = EapStep::Local(EapAwait::Auth { user, msk });
                sa.phase = Phase::AwaitEap(state);
                Next::Keep
            }
            RadiusAnswer::Accept { msk: None, .. } => {
                let why = "the RADIUS server accepted the user but sent no MS-MPPE keys, so there is no MSK for AUTH".into();
                self.eap_failed(sa, message_id, failure(why), true)
            }
            RadiusAnswer::Reject { reason } => {
                let why = match reason {
                    Some(r) => format!("the RADIUS server rejected the login (it says: {r})"),
                    None => "the RADIUS server rejected the login".into(),
                };
                self.eap_failed(sa, message_id, failure(why), true)
            }
            RadiusAnswer::Unreachable { reason } => self.eap_failed_as(
                sa,
                message_id,
                failure(reason),
                true,
                EndKind::RadiusUnreachable,
            ),
        }
    }
}

/// What an Accept granted, for the log line: " (Framed-IP ..., ...)" or "".
fn describe(grant: &RadiusGrant) -> String {
    let mut parts = Vec::new();
    if let Some(ip) = grant.framed_ip {
        parts.push(format!("Framed-IP-Address {ip}"));
    }
    if let Some(ip) = grant.framed_ipv6 {
        parts.push(format!("Framed-IPv6-Address {ip}"));
    }
    if let Some(t) = grant.session_timeout {
        parts.push(format!("Session-Timeout {} s", t.as_secs()));
    }
    if !grant.class.is_empty() {
        parts.push(format!("{} Class", grant.class.len()));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}
