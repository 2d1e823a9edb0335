//! The authenticator's side of an EAP-MSCHAPv2 conversation (RFC 3748,
//! draft-kamath-pppext-eap-mschapv2-02), one step per EAP response from the
//! peer. Pure: no I/O, randomness handed in; IKE_AUTH carries what it returns
//! (see `eap_auth`).

use tern_crypto::mschapv2;
use tern_crypto::Secret;

use crate::config::EapUsers;
use crate::eap::{self, MsChap, Packet};

/// Our name in the MS-CHAPv2 Challenge (informative only).
const OUR_NAME: &[u8] = b"tern";

/// Where the conversation is: what the peer's next EAP response must be.
pub(crate) enum EapAwait {
    /// We sent EAP-Request/Identity with `identifier`.
    Identity { identifier: u8 },
    /// We sent the MS-CHAPv2 Challenge to the peer that named itself `identity`.
    ChallengeResponse {
        identifier: u8,
        identity: String,
        challenge: [u8; 16],
    },
    /// We sent MS-CHAPv2 Success: the peer knows `user`'s password.
    SuccessAck {
        identifier: u8,
        user: String,
        msk: Secret,
    },
    /// We sent EAP-Success: the peer's AUTH, made with `msk`, comes next.
    Auth { user: String, msk: Secret },
}

/// The conversation failed: answer EAP-Failure (`identifier`) and
/// AUTHENTICATION_FAILED.
pub(crate) struct EapFailure {
    pub identifier: u8,
    /// The user the peer claimed, once it said.
    pub user: Option<String>,
    /// For the administrator; never a password.
    pub why: String,
}

/// How a step went: the next step and the EAP packet to send with it.
pub(crate) type StepResult = Result<(EapAwait, Packet), EapFailure>;

impl EapAwait {
    /// The first request, and the step that waits for its answer.
    pub fn start(identifier: u8) -> (EapAwait, Packet) {
        (
            EapAwait::Identity { identifier },
            Packet::request(identifier, eap::TYPE_IDENTITY, &[]),
        )
    }

    /// The EAP user, once the peer proved it knows the password.
    pub fn user(&self) -> Option<&str> {
        match self {
            EapAwait::SuccessAck { user, .. } | EapAwait::Auth { user, .. } => Some(user),
            _ => None,
        }
    }

    /// Takes the peer's EAP response. `random` fills our challenge.
    pub fn next(
        self,
        users: &EapUsers,
        received: &Packet,
        random: &mut dyn FnMut(&mut [u8]),
    ) -> StepResult {
        let (expected, claimed) = match &self {
            EapAwait::Identity { identifier } => (*identifier, None),
            EapAwait::ChallengeResponse {
                identifier,
                identity,
                ..
            } => (*identifier, Some(identity.clone())),
            EapAwait::SuccessAck {
                identifier, user, ..
            } => (*identifier, Some(user.clone())),
            EapAwait::Auth { user, .. } => {
                return Err(EapFailure {
                    identifier: received.identifier,
                    user: Some(user.clone()),
                    why: "the peer sent EAP after EAP-Success instead of its AUTH".into(),
                })
            }
        };
        let fail = |why: String| EapFailure {
            identifier: expected,
            user: claimed.clone(),
            why,
        };
        if received.code != eap::RESPONSE || received.identifier != expected {
            return Err(fail(format!(
                "the peer answered EAP request {expected} with code {} identifier {}",
                received.code, received.identifier
            )));
        }
        let data = &received.body[1..];
        match (self, received.method()) {
            (EapAwait::Identity { .. }, Some(eap::TYPE_IDENTITY)) => {
                let identity = String::from_utf8(data.to_vec())
                    .map_err(|_| fail("the peer's EAP identity is not UTF-8".into()))?;
                let mut challenge = [0u8; 16];
                random(&mut challenge);
                let identifier = expected.wrapping_add(1);
                let message = eap::challenge(identifier, &challenge, OUR_NAME);
                let packet = Packet::request(identifier, eap::TYPE_MSCHAPV2, &message.to_bytes());
                let step = EapAwait::ChallengeResponse {
                    identifier,
                    identity,
                    challenge,
                };
                Ok((step, packet))
            }
            (
                EapAwait::ChallengeResponse {
                    identity,
                    challenge,
                    ..
                },
                Some(eap::TYPE_MSCHAPV2),
            ) => check_response(users, expected, &identity, &challenge, data),
            (EapAwait::SuccessAck { user, msk, .. }, Some(eap::TYPE_MSCHAPV2)) => {
                match MsChap::parse(data) {
                    Ok(MsChap {
                        op: eap::OP_SUCCESS,
                        ..
                    }) => Ok((
                        EapAwait::Auth { user, msk },
                        Packet::outcome(eap::SUCCESS, expected),
                    )),
                    _ => Err(fail(
                        "the peer did not accept our MS-CHAPv2 Success (it doubts our authenticator response)".into(),
                    )),
                }
            }
            (_, Some(eap::TYPE_NAK)) => Err(fail(format!(
                "the peer declined EAP-MSCHAPv2 (Nak; it proposes EAP type {})",
                data.first().map_or("none".into(), |t| t.to_string())
            ))),
            (_, method) => Err(fail(format!(
                "the peer answered with EAP type {} out of turn",
                method.unwrap_or(0)
            ))),
        }
    }
}

/// The peer's MS-CHAPv2 Response: right for a known user, or the failure.
fn check_response(
    users: &EapUsers,
    identifier: u8,
    identity: &str,
    challenge: &[u8; 16],
    data: &[u8],
) -> StepResult {
    let fail = |user: Option<String>, why: String| EapFailure {
        identifier,
        user: user.or_else(|| Some(identity.to_string())),
        why,
    };
    let message = MsChap::parse(data)
        .map_err(|e| fail(None, format!("a malformed MS-CHAPv2 Response: {e}")))?;
    if message.op != eap::OP_RESPONSE {
        return Err(fail(
            None,
            format!("MS-CHAPv2 op code {} instead of a Response", message.op),
        ));
    }
    let response = eap::Response::parse(&message.data)
        .map_err(|e| fail(None, format!("a malformed MS-CHAPv2 Response: {e}")))?;
    let name = String::from_utf8(response.name.clone())
        .map_err(|_| fail(None, "the MS-CHAPv2 user name is not UTF-8".into()))?;
    // Windows may write DOMAIN\user; the hash takes the user alone (RFC 2759 §4).
    let bare = name.rsplit('\\').next().unwrap_or(&name).to_string();
    let Some((user, password)) = [name.as_str(), bare.as_str()]
        .into_iter()
        .find_map(|n| users.get(n).map(|p| (n.to_string(), p)))
    else {
        return Err(fail(
            Some(name.clone()),
            format!("unknown EAP user '{name}'"),
        ));
    };
    let verified = mschapv2::verify_response(
        password,
        challenge,
        &response.peer_challenge,
        bare.as_bytes(),
        &response.nt_response,
    )
    .ok_or_else(|| {
        fail(
            Some(user.clone()),
            format!("wrong password for EAP user '{user}'"),
        )
    })?;
    let identifier = identifier.wrapping_add(1);
    let success = MsChap {
        op: eap::OP_SUCCESS,
        ms_id: message.ms_id,
        data: verified.authenticator_response.into_bytes(),
    };
    let packet = Packet::request(identifier, eap::TYPE_MSCHAPV2, &success.to_bytes());
    let step = EapAwait::SuccessAck {
        identifier,
        user,
        msk: verified.msk,
    };
    Ok((step, packet))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn users() -> EapUsers {
        let mut users = EapUsers::default();
        users.add("User", "clientPass");
        users
    }

    fn response(identifier: u8, method: u8, data: &[u8]) -> Packet {
        Packet {
            code: eap::RESPONSE,
            identifier,
            body: [&[method][..], data].concat(),
        }
    }

    /// The conversation up to the challenge, with RFC 2759 §9.2's challenge.
    fn challenged() -> EapAwait {
        let (step, request) = EapAwait::start(7);
        assert_eq!(request.to_bytes(), [1, 7, 0, 5, 1]);
        let mut rfc =
            |buf: &mut [u8]| buf.copy_from_slice(&unhex("5B5D7C7D7B3F2F3E3C2C602132262628"));
        let (step, challenge) = step
            .next(
                &users(),
                &response(7, eap::TYPE_IDENTITY, b"User"),
                &mut rfc,
            )
            .ok()
            .unwrap();
        assert_eq!(challenge.identifier, 8);
        assert_eq!(challenge.method(), Some(eap::TYPE_MSCHAPV2));
        step
    }

    fn rfc_response(ms_id: u8) -> Vec<u8> {
        let mut value = vec![49];
        value.extend(unhex("21402324255E262A28295F2B3A337C7E"));
        value.extend([0; 8]);
        value.extend(unhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"));
        value.push(0);
        value.extend(b"User");
        MsChap {
            op: eap::OP_RESPONSE,
            ms_id,
            data: value,
        }
        .to_bytes()
    }

    #[test]
    fn rfc_2759_response_gets_success_then_eap_success() {
        let mut no_random = |_: &mut [u8]| panic!("no randomness after the challenge");
        let (step, success) = challenged()
            .next(
                &users(),
                &response(8, eap::TYPE_MSCHAPV2, &rfc_response(8)),
                &mut no_random,
            )
            .ok()
            .unwrap();
        let message = MsChap::parse(&success.body[1..]).unwrap();
        assert_eq!(message.op, eap::OP_SUCCESS);
        assert_eq!(message.data, b"S=407A5589115FD0D6209F510FE9C04566932CDA56");
        assert_eq!(step.user(), Some("User"));
        let ack = response(success.identifier, eap::TYPE_MSCHAPV2, &[eap::OP_SUCCESS]);
        let (step, done) = step.next(&users(), &ack, &mut no_random).ok().unwrap();
        assert_eq!(done.to_bytes(), [eap::SUCCESS, 9, 0, 4]);
        assert!(matches!(step, EapAwait::Auth { .. }));
    }

    #[test]
    fn a_nak_a_wrong_identifier_or_another_method_fails_with_a_reason() {
        let mut no_random = |_: &mut [u8]| {};
        let cases = [
            (
                response(8, eap::TYPE_NAK, &[13]),
                "declined EAP-MSCHAPv2 (Nak; it proposes EAP type 13)",
            ),
            (
                response(9, eap::TYPE_MSCHAPV2, &rfc_response(8)),
                "answered EAP request 8 with code 2 identifier 9",
            ),
            (response(8, 4, b"md5"), "EAP type 4 out of turn"),
            (
                response(8, eap::TYPE_MSCHAPV2, &[2, 8, 0, 9]),
                "malformed MS-CHAPv2 Response",
            ),
        ];
        for (packet, why) in cases {
            let Err(failure) = challenged().next(&users(), &packet, &mut no_random) else {
                panic!("{why}: accepted");
            };
            assert_eq!(failure.identifier, 8);
            assert_eq!(failure.user.as_deref(), Some("User"));
            assert!(failure.why.contains(why), "{}", failure.why);
        }
    }
}
