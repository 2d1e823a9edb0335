//! EAP packets (RFC 3748 §4) as IKE_AUTH carries them (RFC 7296 §3.16), and the
//! EAP-MSCHAPv2 messages inside them (draft-kamath-pppext-eap-mschapv2-02 §2).
//! Parsing is strict: every length is checked, nothing is read past the packet.

/// EAP codes (RFC 3748 §4).
pub(crate) const REQUEST: u8 = 1;
pub(crate) const RESPONSE: u8 = 2;
pub(crate) const SUCCESS: u8 = 3;
pub(crate) const FAILURE: u8 = 4;

/// EAP method types (IANA).
pub(crate) const TYPE_IDENTITY: u8 = 1;
pub(crate) const TYPE_NAK: u8 = 3;
pub(crate) const TYPE_MSCHAPV2: u8 = 26;

/// MS-CHAPv2 op codes (RFC 2759 §3, draft-kamath §2).
pub(crate) const OP_CHALLENGE: u8 = 1;
pub(crate) const OP_RESPONSE: u8 = 2;
pub(crate) const OP_SUCCESS: u8 = 3;
pub(crate) const OP_FAILURE: u8 = 4;

/// One EAP packet: code, identifier, and for requests and responses the type
/// and its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Packet {
    pub code: u8,
    pub identifier: u8,
    /// Requests and responses: the type, then its data. Empty for Success and
    /// Failure.
    pub body: Vec<u8>,
}

impl Packet {
    pub fn parse(bytes: &[u8]) -> Result<Packet, String> {
        let [code, identifier, l0, l1, rest @ ..] = bytes else {
            return Err(format!("an EAP packet of {} octets", bytes.len()));
        };
        let length = usize::from(u16::from_be_bytes([*l0, *l1]));
        if length != bytes.len() {
            return Err(format!(
                "an EAP length of {length} in a payload of {} octets",
                bytes.len()
            ));
        }
        match *code {
            REQUEST | RESPONSE if rest.is_empty() => {
                Err("an EAP request or response without a type".into())
            }
            SUCCESS | FAILURE if !rest.is_empty() => Err(format!(
                "an EAP Success or Failure with {} octets of data",
                rest.len()
            )),
            REQUEST..=FAILURE => Ok(Packet {
                code: *code,
                identifier: *identifier,
                body: rest.to_vec(),
            }),
            other => Err(format!("EAP code {other}")),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let length = u16::try_from(4 + self.body.len()).expect("our EAP packets are small");
        let mut out = vec![self.code, self.identifier];
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// The method type of a request or response.
    pub fn method(&self) -> Option<u8> {
        self.body.first().copied()
    }

    pub fn request(identifier: u8, method: u8, data: &[u8]) -> Packet {
        let mut body = vec![method];
        body.extend_from_slice(data);
        Packet {
            code: REQUEST,
            identifier,
            body,
        }
    }

    pub fn outcome(code: u8, identifier: u8) -> Packet {
        Packet {
            code,
            identifier,
            body: Vec::new(),
        }
    }
}

/// An MS-CHAPv2 message: op code, MS-CHAPv2-ID and what follows MS-Length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MsChap {
    pub op: u8,
    pub ms_id: u8,
    pub data: Vec<u8>,
}

impl MsChap {
    /// The MS-CHAPv2 message in an EAP-MSCHAPv2 packet's type data. A peer's
    /// Success or Failure acknowledgement is its op code alone.
    pub fn parse(type_data: &[u8]) -> Result<MsChap, String> {
        match type_data {
            [op @ (OP_SUCCESS | OP_FAILURE)] => Ok(MsChap {
                op: *op,
                ms_id: 0,
                data: Vec::new(),
            }),
            [op, ms_id, l0, l1, data @ ..] => {
                // MS-Length counts from the op code: the EAP type data.
                let length = usize::from(u16::from_be_bytes([*l0, *l1]));
                if length != type_data.len() {
                    return Err(format!(
                        "an MS-Length of {length} in {} octets",
                        type_data.len()
                    ));
                }
                Ok(MsChap {
                    op: *op,
                    ms_id: *ms_id,
                    data: data.to_vec(),
                })
            }
            _ => Err(format!(
                "an MS-CHAPv2 message of {} octets",
                type_data.len()
            )),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let length = u16::try_from(4 + self.data.len()).expect("our MS-CHAPv2 messages are small");
        let mut out = vec![self.op, self.ms_id];
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&self.data);
        out
    }
}

/// The authenticator's Challenge: Value-Size 16, the challenge, our name.
pub(crate) fn challenge(ms_id: u8, challenge: &[u8; 16], name: &[u8]) -> MsChap {
    let mut data = vec![16];
    data.extend_from_slice(challenge);
    data.extend_from_slice(name);
    MsChap {
        op: OP_CHALLENGE,
        ms_id,
        data,
    }
}

/// A peer's Response (RFC 2759 §4): its challenge, its NT-Response, its name.
pub(crate) struct Response {
    pub peer_challenge: [u8; 16],
    pub nt_response: [u8; 24],
    pub name: Vec<u8>,
}

impl Response {
    /// Value-Size 49: Peer-Challenge (16), 8 reserved zero octets, NT-Response
    /// (24), Flags (1); then the name.
    pub fn parse(data: &[u8]) -> Result<Response, String> {
        let Some((&49, rest)) = data.split_first() else {
            return Err("an MS-CHAPv2 Response whose value is not 49 octets".into());
        };
        if rest.len() < 49 {
            return Err(format!("an MS-CHAPv2 Response of {} octets", data.len()));
        }
        let (value, name) = rest.split_at(49);
        Ok(Response {
            peer_challenge: value[..16].try_into().expect("16 octets"),
            nt_response: value[24..48].try_into().expect("24 octets"),
            name: name.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip_and_lengths_are_checked() {
        let identity = Packet::request(7, TYPE_IDENTITY, b"");
        assert_eq!(identity.to_bytes(), [1, 7, 0, 5, 1]);
        assert_eq!(Packet::parse(&identity.to_bytes()), Ok(identity));
        let success = Packet::outcome(SUCCESS, 9);
        assert_eq!(success.to_bytes(), [3, 9, 0, 4]);
        assert_eq!(Packet::parse(&[3, 9, 0, 4]), Ok(success));
        for bad in [
            &[2, 1, 0][..],
            &[2, 1, 0, 6, 1],
            &[2, 1, 0, 4],
            &[3, 1, 0, 5, 0],
            &[5, 1, 0, 5, 1],
        ] {
            assert!(Packet::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mschapv2_messages_parse_strictly() {
        let ours = challenge(3, &[0xaa; 16], b"tern");
        let bytes = ours.to_bytes();
        assert_eq!(&bytes[..5], [1, 3, 0, 25, 16]);
        assert_eq!(MsChap::parse(&bytes), Ok(ours));
        assert_eq!(MsChap::parse(&[OP_SUCCESS]).unwrap().op, OP_SUCCESS);
        assert!(MsChap::parse(&[OP_RESPONSE]).is_err());
        assert!(MsChap::parse(&[2, 3, 0, 9, 0]).is_err());

        let mut value = vec![49];
        value.extend_from_slice(&[1; 16]);
        value.extend_from_slice(&[0; 8]);
        value.extend_from_slice(&[2; 24]);
        value.push(0);
        value.extend_from_slice(b"carol");
        let response = Response::parse(&value).unwrap();
        assert_eq!(
            (
                response.peer_challenge,
                response.nt_response,
                &response.name[..]
            ),
            ([1; 16], [2; 24], &b"carol"[..])
        );
        assert!(Response::parse(&value[..40]).is_err());
        value[0] = 48;
        assert!(Response::parse(&value).is_err());
    }
}
