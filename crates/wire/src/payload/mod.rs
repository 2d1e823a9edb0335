//! The payloads of RFC 7296 §3.2–§3.16 and RFC 7383 §2.5, one module per payload.
//!
//! Each payload type knows how to parse and write its *body* (what follows the
//! 4-byte generic payload header); `chain` handles generic headers and the
//! next-payload chain.

mod cert;
pub(crate) mod chain;
mod cp;
mod delete;
mod encrypted;
mod id_auth;
mod ke;
mod notify;
mod notify_data;
mod sa;
mod ts;

pub use cert::{CertPayload, CertReqPayload};
pub use cp::{CpAttribute, CpPayload};
pub use delete::DeletePayload;
pub use encrypted::{EncryptedFragmentPayload, EncryptedPayload};
pub use id_auth::{AuthPayload, Identification, SignatureAuthData};
pub use ke::KePayload;
pub use notify::NotifyPayload;
pub use notify_data::{GatewayIdentity, NotifyData};
pub use sa::{AttributeValue, Proposal, SaPayload, Transform, TransformAttribute};
pub use ts::{AnyTrafficSelector, AnyTsPayload, OtherTrafficSelector, TrafficSelector, TsPayload};

use nom::combinator::map;

use crate::codec::Writer;
use crate::error::WireError;
use crate::parse::{rest_vec, Input, Parsed};
use crate::registry::PayloadType;

/// One payload of an IKE message or of the plaintext inside SK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Sa(SaPayload),
    Ke(KePayload),
    IdI(Identification),
    IdR(Identification),
    Cert(CertPayload),
    CertReq(CertReqPayload),
    Auth(AuthPayload),
    Nonce(Vec<u8>),
    Notify(NotifyPayload),
    Delete(DeletePayload),
    VendorId(Vec<u8>),
    TsI(TsPayload),
    TsR(TsPayload),
    /// TSi with a selector type other than an IPv4/IPv6 range (see [`AnyTsPayload`]).
    TsIAny(AnyTsPayload),
    /// TSr with a selector type other than an IPv4/IPv6 range (see [`AnyTsPayload`]).
    TsRAny(AnyTsPayload),
    /// SK: must be the last payload of a message.
    Encrypted(EncryptedPayload),
    Cp(CpPayload),
    /// The EAP message, opaque here.
    Eap(Vec<u8>),
    /// SKF (RFC 7383): must be the last payload of a message.
    EncryptedFragment(EncryptedFragmentPayload),
    /// A payload type this crate does not parse, kept verbatim with its critical bit
    /// so the engine can answer UNSUPPORTED_CRITICAL_PAYLOAD or skip it.
    Unknown {
        payload_type: PayloadType,
        critical: bool,
        body: Vec<u8>,
    },
}

impl Payload {
    /// The payload type that announces this payload in the chain.
    pub fn payload_type(&self) -> PayloadType {
        match self {
            Payload::Sa(_) => PayloadType::SA,
            Payload::Ke(_) => PayloadType::KE,
            Payload::IdI(_) => PayloadType::IDI,
            Payload::IdR(_) => PayloadType::IDR,
            Payload::Cert(_) => PayloadType::CERT,
            Payload::CertReq(_) => PayloadType::CERTREQ,
            Payload::Auth(_) => PayloadType::AUTH,
            Payload::Nonce(_) => PayloadType::NONCE,
            Payload::Notify(_) => PayloadType::NOTIFY,
            Payload::Delete(_) => PayloadType::DELETE,
            Payload::VendorId(_) => PayloadType::VENDOR_ID,
            Payload::TsI(_) => PayloadType::TSI,
            Payload::TsR(_) => PayloadType::TSR,
            Payload::TsIAny(_) => PayloadType::TSI,
            Payload::TsRAny(_) => PayloadType::TSR,
            Payload::Encrypted(_) => PayloadType::SK,
            Payload::Cp(_) => PayloadType::CP,
            Payload::Eap(_) => PayloadType::EAP,
            Payload::EncryptedFragment(_) => PayloadType::SKF,
            Payload::Unknown { payload_type, .. } => *payload_type,
        }
    }

    /// The critical bit written in the generic header. RFC 7296 §3.2: zero for every
    /// payload type defined there; unknown payloads keep what they arrived with.
    pub fn is_critical(&self) -> bool {
        matches!(self, Payload::Unknown { critical: true, .. })
    }

    /// About how many bytes the payload takes written, generic header
    /// included, to size the output buffer: exact for SK and SKF (almost
    /// every message after IKE_SA_INIT is one), a round 64 for the others.
    pub(crate) fn encoded_len_guess(&self) -> usize {
        const GENERIC_HEADER: usize = 4;
        match self {
            Payload::Encrypted(sk) => GENERIC_HEADER + sk.body.len(),
            Payload::EncryptedFragment(skf) => GENERIC_HEADER + 4 + skf.body.len(),
            _ => 64,
        }
    }

    /// True for SK and SKF, which must end a message.
    pub fn is_encrypted(&self) -> bool {
        matches!(self, Payload::Encrypted(_) | Payload::EncryptedFragment(_))
    }

    /// The body of a payload that is not SK/SKF (those need their next-payload
    /// field, see `chain`), as a nom parser. The chain requires it to read the
    /// whole body.
    pub(crate) fn body<'a>(
        payload_type: PayloadType,
        critical: bool,
    ) -> impl FnMut(Input<'a>) -> Parsed<'a, Payload> {
        move |body| match payload_type {
            PayloadType::SA => map(SaPayload::parse, Payload::Sa)(body),
            PayloadType::KE => map(KePayload::parse, Payload::Ke)(body),
            PayloadType::IDI => map(Identification::parse, Payload::IdI)(body),
            PayloadType::IDR => map(Identification::parse, Payload::IdR)(body),
            PayloadType::CERT => map(CertPayload::parse, Payload::Cert)(body),
            PayloadType::CERTREQ => map(CertReqPayload::parse, Payload::CertReq)(body),
            PayloadType::AUTH => map(AuthPayload::parse, Payload::Auth)(body),
            PayloadType::NONCE => map(rest_vec, Payload::Nonce)(body),
            PayloadType::NOTIFY => map(NotifyPayload::parse, Payload::Notify)(body),
            PayloadType::DELETE => map(DeletePayload::parse, Payload::Delete)(body),
            PayloadType::VENDOR_ID => map(rest_vec, Payload::VendorId)(body),
            PayloadType::TSI => map(ts::parse_ts_payload, |parsed| match parsed {
                ts::ParsedTs::Ranges(p) => Payload::TsI(p),
                ts::ParsedTs::Any(p) => Payload::TsIAny(p),
            })(body),
            PayloadType::TSR => map(ts::parse_ts_payload, |parsed| match parsed {
                ts::ParsedTs::Ranges(p) => Payload::TsR(p),
                ts::ParsedTs::Any(p) => Payload::TsRAny(p),
            })(body),
            PayloadType::CP => map(CpPayload::parse, Payload::Cp)(body),
            PayloadType::EAP => map(rest_vec, Payload::Eap)(body),
            _ => map(rest_vec, |body| Payload::Unknown {
                payload_type,
                critical,
                body,
            })(body),
        }
    }

    /// Writes the body (everything after the generic payload header).
    fn write_body(&self, w: &mut Writer) -> Result<(), WireError> {
        match self {
            Payload::Sa(p) => p.write(w)?,
            Payload::Ke(p) => p.write(w),
            Payload::IdI(p) | Payload::IdR(p) => p.write(w),
            Payload::Cert(p) => p.write(w),
            Payload::CertReq(p) => p.write(w),
            Payload::Auth(p) => p.write(w),
            Payload::Notify(p) => p.write(w)?,
            Payload::Delete(p) => p.write(w)?,
            Payload::TsI(p) | Payload::TsR(p) => p.write(w)?,
            Payload::TsIAny(p) | Payload::TsRAny(p) => p.write(w)?,
            Payload::Encrypted(p) => p.write(w),
            Payload::Cp(p) => p.write(w)?,
            Payload::EncryptedFragment(p) => p.write(w),
            Payload::Nonce(data) | Payload::VendorId(data) | Payload::Eap(data) => w.bytes(data),
            Payload::Unknown { body, .. } => w.bytes(body),
        }
        Ok(())
    }
}
