//! Certificate (RFC 7296 §3.6) and Certificate Request (§3.7) payloads: an
//! encoding octet followed by data.

use nom::sequence::pair;

use crate::codec::Writer;
use crate::parse::{rest_vec, u8, Input, Parsed};
use crate::registry::CertEncoding;

/// CERT payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertPayload {
    pub encoding: CertEncoding,
    pub data: Vec<u8>,
}

/// CERTREQ payload; for X.509 the data is a list of 20-byte SHA-1 hashes of
/// trusted CAs' public keys, kept opaque here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertReqPayload {
    pub encoding: CertEncoding,
    pub data: Vec<u8>,
}

/// The encoding octet and the data after it.
fn encoded(input: Input<'_>) -> Parsed<'_, (CertEncoding, Vec<u8>)> {
    let (rest, (encoding, data)) = pair(u8("certificate encoding"), rest_vec)(input)?;
    Ok((rest, (CertEncoding(encoding), data)))
}

fn write_encoded(w: &mut Writer, encoding: CertEncoding, data: &[u8]) {
    w.u8(encoding.0);
    w.bytes(data);
}

impl CertPayload {
    pub(crate) fn parse(input: Input<'_>) -> Parsed<'_, CertPayload> {
        let (rest, (encoding, data)) = encoded(input)?;
        Ok((rest, CertPayload { encoding, data }))
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        write_encoded(w, self.encoding, &self.data);
    }
}

impl CertReqPayload {
    pub(crate) fn parse(input: Input<'_>) -> Parsed<'_, CertReqPayload> {
        let (rest, (encoding, data)) = encoded(input)?;
        Ok((rest, CertReqPayload { encoding, data }))
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        write_encoded(w, self.encoding, &self.data);
    }
}
