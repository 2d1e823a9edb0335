//! Identification (RFC 7296 §3.5) and Authentication (§3.8) payloads: both are a
//! one-byte type, three reserved bytes, then data.

use nom::sequence::tuple;

use crate::codec::Writer;
use crate::error::WireError;
use crate::parse::{self, reserved, rest_vec, take, u8, Input, Parsed};
use crate::registry::{AuthMethod, IdType};

const RESERVED_LEN: usize = 3;

/// IDi / IDr payload body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identification {
    pub id_type: IdType,
    pub data: Vec<u8>,
}

impl Identification {
    /// The payload body after the generic header ("RestOfIDPayload" in RFC 7296
    /// §2.15): type, 3 reserved zero octets, data. Used for AUTH.
    pub fn body_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_vec()
    }

    pub(crate) fn parse(input: Input<'_>) -> Parsed<'_, Identification> {
        let (rest, (id_type, (), data)) =
            tuple((u8("ID type"), reserved(RESERVED_LEN), rest_vec))(input)?;
        let id = Identification {
            id_type: IdType(id_type),
            data,
        };
        Ok((rest, id))
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u8(self.id_type.0);
        w.zeros(RESERVED_LEN);
        w.bytes(&self.data);
    }
}

/// AUTH payload: the method and the authentication data (MAC or signature).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthPayload {
    pub method: AuthMethod,
    pub data: Vec<u8>,
}

impl AuthPayload {
    pub(crate) fn parse(input: Input<'_>) -> Parsed<'_, AuthPayload> {
        let (rest, (method, (), data)) = tuple((
            u8("authentication method"),
            reserved(RESERVED_LEN),
            rest_vec,
        ))(input)?;
        let auth = AuthPayload {
            method: AuthMethod(method),
            data,
        };
        Ok((rest, auth))
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u8(self.method.0);
        w.zeros(RESERVED_LEN);
        w.bytes(&self.data);
    }
}

/// The authentication data of the Digital Signature method (RFC 7427 §3): the
/// DER-encoded AlgorithmIdentifier of the signature, then the signature itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureAuthData {
    /// DER AlgorithmIdentifier (at most 255 bytes: its length field is one octet).
    pub algorithm: Vec<u8>,
    pub signature: Vec<u8>,
}

impl AuthPayload {
    /// For [`AuthMethod::DIGITAL_SIGNATURE`], the data split into algorithm and
    /// signature; `None` for every other method.
    pub fn signature_data(&self) -> Option<Result<SignatureAuthData, WireError>> {
        (self.method == AuthMethod::DIGITAL_SIGNATURE).then(|| SignatureAuthData::parse(&self.data))
    }
}

impl SignatureAuthData {
    /// Parses authentication data; error offsets count from its first byte.
    pub fn parse(data: &[u8]) -> Result<SignatureAuthData, WireError> {
        parse::run(data, |input| {
            let (input, length) = u8("ASN.1 AlgorithmIdentifier length")(input)?;
            let (input, algorithm) = take(usize::from(length), "ASN.1 AlgorithmIdentifier")(input)?;
            let (rest, signature) = rest_vec(input)?;
            let data = SignatureAuthData {
                algorithm: algorithm.to_vec(),
                signature,
            };
            Ok((rest, data))
        })
    }

    /// The authentication data bytes, or an error if the AlgorithmIdentifier is
    /// longer than its one-octet length field allows.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        w.u8(w.fit_u8(self.algorithm.len(), "ASN.1 AlgorithmIdentifier")?);
        w.bytes(&self.algorithm);
        w.bytes(&self.signature);
        Ok(w.into_vec())
    }

    /// A readable name for the common algorithms of RFC 7427 Appendix A and RFC 8420,
    /// found by the object identifier inside the AlgorithmIdentifier.
    pub fn algorithm_name(&self) -> Option<&'static str> {
        let oid = algorithm_oid(&self.algorithm)?;
        KNOWN_SIGNATURE_OIDS
            .iter()
            .find(|(known, _)| *known == oid)
            .map(|(_, name)| *name)
    }
}

/// The OID's content octets inside a DER `SEQUENCE { OBJECT IDENTIFIER, ... }`
/// (short-form lengths only, which is all these identifiers need).
fn algorithm_oid(der: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const OID: u8 = 0x06;
    match der {
        [SEQUENCE, seq_len, OID, oid_len, rest @ ..]
            if usize::from(*seq_len) + 2 == der.len() && *oid_len < 0x80 =>
        {
            rest.get(..usize::from(*oid_len))
        }
        _ => None,
    }
}

const KNOWN_SIGNATURE_OIDS: &[(&[u8], &str)] = &[
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05],
        "sha1WithRSAEncryption",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a],
        "RSASSA-PSS",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
        "sha256WithRSAEncryption",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c],
        "sha384WithRSAEncryption",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d],
        "sha512WithRSAEncryption",
    ),
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02],
        "ecdsa-with-SHA256",
    ),
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03],
        "ecdsa-with-SHA384",
    ),
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04],
        "ecdsa-with-SHA512",
    ),
    (&[0x2b, 0x65, 0x70], "Ed25519"),
    (&[0x2b, 0x65, 0x71], "Ed448"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_auth_data_splits_and_names_the_algorithm() {
        // RFC 7427 Appendix A.4.3: ecdsa-with-sha256.
        let algorithm = vec![
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
        ];
        let mut data = vec![algorithm.len() as u8];
        data.extend_from_slice(&algorithm);
        data.extend_from_slice(&[0xee; 64]);
        let auth = AuthPayload {
            method: AuthMethod::DIGITAL_SIGNATURE,
            data: data.clone(),
        };
        let parsed = auth.signature_data().unwrap().unwrap();
        assert_eq!(parsed.algorithm, algorithm);
        assert_eq!(parsed.signature, vec![0xee; 64]);
        assert_eq!(parsed.algorithm_name(), Some("ecdsa-with-SHA256"));
        assert_eq!(parsed.to_bytes(), Ok(data));
    }

    #[test]
    fn signature_auth_data_errors() {
        assert!(SignatureAuthData::parse(&[]).is_err());
        let err = SignatureAuthData::parse(&[5, 0x30, 0x03]).unwrap_err();
        assert_eq!(err.offset, 1);
        let psk = AuthPayload {
            method: AuthMethod::SHARED_KEY_MIC,
            data: vec![1; 32],
        };
        assert!(psk.signature_data().is_none());
        let unnamed = SignatureAuthData {
            algorithm: vec![0x30, 0x00],
            signature: vec![],
        };
        assert_eq!(unnamed.algorithm_name(), None);
    }
}
