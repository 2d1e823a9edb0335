//! The Access-Request that carries a peer's EAP message (RFC 3579 §3) and
//! what its answer means to the authenticator.

use tern_crypto::Secret;

use crate::attr;
use crate::auth;
use crate::grant::Grant;
use crate::packet::{self, Attribute, Packet};
use crate::Error;

/// One EAP message of the peer, to relay.
#[derive(Clone, Debug)]
pub struct EapRequest {
    /// The peer's EAP identity (User-Name, RFC 3579 §2.1).
    pub user_name: Vec<u8>,
    /// The peer's EAP packet as received.
    pub eap: Vec<u8>,
    /// The State of the last Access-Challenge, echoed (RFC 2865 §5.24).
    pub state: Option<Vec<u8>>,
    /// NAS-Identifier: who asks (the gateway's name).
    pub nas_identifier: String,
    /// Calling-Station-Id: the peer's address, for the server's logs.
    pub calling_station: Option<String>,
}

impl EapRequest {
    /// The sealed Access-Request for one server.
    pub fn to_bytes(&self, identifier: u8, authenticator: [u8; 16], secret: &Secret) -> Vec<u8> {
        let mut p = Packet {
            code: packet::ACCESS_REQUEST,
            identifier,
            authenticator,
            attributes: Vec::new(),
        };
        p.push_split(
            attr::USER_NAME,
            &self.user_name[..self.user_name.len().min(253)],
        );
        p.push_split(attr::SERVICE_TYPE, &attr::SERVICE_TYPE_FRAMED.to_be_bytes());
        p.push_split(
            attr::NAS_PORT_TYPE,
            &attr::NAS_PORT_TYPE_VIRTUAL.to_be_bytes(),
        );
        p.push_split(attr::NAS_IDENTIFIER, self.nas_identifier.as_bytes());
        if let Some(calling) = &self.calling_station {
            p.push_split(attr::CALLING_STATION_ID, calling.as_bytes());
        }
        p.push_split(attr::EAP_MESSAGE, &self.eap);
        if let Some(state) = &self.state {
            p.push_split(attr::STATE, state);
        }
        p.attributes.push(Attribute {
            kind: attr::MESSAGE_AUTHENTICATOR,
            value: vec![0; 16],
        });
        auth::seal_request(&p, secret)
    }
}

/// What the RADIUS server decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// Relay `eap` to the peer; echo `state` with its answer.
    Challenge {
        eap: Vec<u8>,
        state: Option<Vec<u8>>,
    },
    /// The peer authenticated. `eap` (normally EAP-Success) goes to the peer;
    /// `msk` is MS-MPPE-Recv-Key || MS-MPPE-Send-Key when the server sent them;
    /// `grant` the address, session limit and Class it gave the user.
    Accept {
        eap: Option<Vec<u8>>,
        msk: Option<Secret>,
        grant: Grant,
    },
    /// Refused: `eap` (normally EAP-Failure) and the server's Reply-Message.
    Reject {
        eap: Option<Vec<u8>>,
        reply_message: Option<String>,
    },
}

impl Answer {
    /// Reads and checks the reply to the request with `identifier` and
    /// `request_authenticator`.
    pub fn read(
        bytes: &[u8],
        identifier: u8,
        request_authenticator: &[u8; 16],
        secret: &Secret,
    ) -> Result<Answer, Error> {
        let p = auth::open_response(bytes, identifier, request_authenticator, secret)?;
        let eap = p.joined(attr::EAP_MESSAGE);
        match p.code {
            packet::ACCESS_CHALLENGE => Ok(Answer::Challenge {
                eap: eap.ok_or(Error::ChallengeWithoutEap)?,
                state: p.first(attr::STATE).map(<[u8]>::to_vec),
            }),
            packet::ACCESS_ACCEPT => Ok(Answer::Accept {
                eap,
                msk: msk(&p, request_authenticator, secret)?,
                grant: Grant::read(&p),
            }),
            packet::ACCESS_REJECT => Ok(Answer::Reject {
                eap,
                reply_message: p
                    .joined(attr::REPLY_MESSAGE)
                    .map(|m| String::from_utf8_lossy(&m).into_owned()),
            }),
            other => Err(Error::UnexpectedCode(other)),
        }
    }
}

/// The MSK from the Accept's MS-MPPE keys: Recv-Key || Send-Key (the keys as
/// the NAS receives and sends, which is the EAP server's MSK order, RFC 3748
/// and RFC 3079 §3.3). None when either is missing.
fn msk(
    p: &Packet,
    request_authenticator: &[u8; 16],
    secret: &Secret,
) -> Result<Option<Secret>, Error> {
    let (mut recv, mut send) = (None, None);
    for a in p
        .attributes
        .iter()
        .filter(|a| a.kind == attr::VENDOR_SPECIFIC)
    {
        for (kind, value) in attr::vendor_attributes(&a.value, attr::VENDOR_MICROSOFT) {
            match kind {
                attr::MS_MPPE_RECV_KEY => {
                    recv = Some(auth::decrypt_mppe_key(
                        value,
                        request_authenticator,
                        secret,
                    )?)
                }
                attr::MS_MPPE_SEND_KEY => {
                    send = Some(auth::decrypt_mppe_key(
                        value,
                        request_authenticator,
                        secret,
                    )?)
                }
                _ => {}
            }
        }
    }
    Ok(match (recv, send) {
        (Some(r), Some(s)) => {
            let mut msk = Vec::with_capacity(r.len() + s.len());
            msk.extend_from_slice(r.expose());
            msk.extend_from_slice(s.expose());
            Some(Secret::new(msk))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> EapRequest {
        EapRequest {
            user_name: b"carol".to_vec(),
            eap: vec![0x42; 700],
            state: Some(b"st4te".to_vec()),
            nas_identifier: "moon".into(),
            calling_station: Some("192.0.2.10".into()),
        }
    }

    #[test]
    fn the_request_carries_split_eap_state_and_a_valid_mac() {
        let secret = Secret::from_slice(b"s3cr3t");
        let bytes = request().to_bytes(5, [9; 16], &secret);
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(
            (p.code, p.identifier, p.authenticator),
            (packet::ACCESS_REQUEST, 5, [9; 16])
        );
        assert_eq!(p.joined(attr::EAP_MESSAGE).unwrap(), vec![0x42; 700]);
        assert_eq!(
            p.attributes
                .iter()
                .filter(|a| a.kind == attr::EAP_MESSAGE)
                .count(),
            3
        );
        assert_eq!(p.first(attr::STATE).unwrap(), b"st4te");
        assert_eq!(p.first(attr::USER_NAME).unwrap(), b"carol");
        // Resealing with the same inputs gives the same MAC; another secret does not.
        assert_eq!(request().to_bytes(5, [9; 16], &secret), bytes);
        assert_ne!(
            request().to_bytes(5, [9; 16], &Secret::from_slice(b"other")),
            bytes
        );
    }

    fn accept(ra: &[u8; 16], secret: &Secret) -> Vec<u8> {
        let mut p = Packet {
            code: packet::ACCESS_ACCEPT,
            identifier: 5,
            authenticator: [0; 16],
            attributes: vec![],
        };
        for (kind, key, salt) in [
            (attr::MS_MPPE_SEND_KEY, [0x22u8; 16], [0x80, 1]),
            (attr::MS_MPPE_RECV_KEY, [0x11; 16], [0x80, 2]),
        ] {
            let mut v = attr::VENDOR_MICROSOFT.to_be_bytes().to_vec();
            let enc = auth::encrypt_mppe_key(&key, salt, ra, secret);
            v.push(kind);
            v.push(enc.len() as u8 + 2);
            v.extend_from_slice(&enc);
            p.push_split(attr::VENDOR_SPECIFIC, &v);
        }
        p.push_split(attr::EAP_MESSAGE, &[3, 7, 0, 4]);
        p.push_split(attr::FRAMED_IP_ADDRESS, &[10, 9, 0, 5]);
        p.push_split(attr::CLASS, b"c1");
        p.push_split(attr::MESSAGE_AUTHENTICATOR, &[0; 16]);
        auth::seal_response(&p, ra, secret)
    }

    #[test]
    fn accept_gives_recv_then_send_key_as_the_msk() {
        let secret = Secret::from_slice(b"s3cr3t");
        let ra = [0x77; 16];
        let Answer::Accept { eap, msk, grant } =
            Answer::read(&accept(&ra, &secret), 5, &ra, &secret).unwrap()
        else {
            panic!("not an accept")
        };
        assert_eq!(eap.unwrap(), [3, 7, 0, 4]);
        assert_eq!(grant.framed_ip, Some(std::net::Ipv4Addr::new(10, 9, 0, 5)));
        assert_eq!(grant.class, vec![b"c1".to_vec()]);
        let mut want = vec![0x11; 16];
        want.extend_from_slice(&[0x22; 16]);
        assert_eq!(msk.unwrap().expose(), &want[..]);
    }

    #[test]
    fn reject_and_challenge_are_read() {
        let secret = Secret::from_slice(b"s3cr3t");
        let ra = [0x10; 16];
        let mut p = Packet {
            code: packet::ACCESS_REJECT,
            identifier: 1,
            authenticator: [0; 16],
            attributes: vec![],
        };
        p.push_split(attr::REPLY_MESSAGE, b"no such user");
        let bytes = auth::seal_response(&p, &ra, &secret);
        assert_eq!(
            Answer::read(&bytes, 1, &ra, &secret).unwrap(),
            Answer::Reject {
                eap: None,
                reply_message: Some("no such user".into())
            }
        );
        p.code = packet::ACCESS_CHALLENGE;
        let bytes = auth::seal_response(&p, &ra, &secret);
        assert_eq!(
            Answer::read(&bytes, 1, &ra, &secret),
            Err(Error::ChallengeWithoutEap)
        );
    }
}
