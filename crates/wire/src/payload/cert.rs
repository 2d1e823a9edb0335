//! Certificate (RFC 7296 §3.6) and Certificate Request (§3.7) payloads: an
//! encoding octet followed by data.

use crate::codec::{Reader, Writer};
use crate::error::WireError;
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

fn parse_encoded(r: &mut Reader<'_>) -> Result<(CertEncoding, Vec<u8>), WireError> {
    let encoding = CertEncoding(r.u8("certificate encoding")?);
    Ok((encoding, r.rest().to_vec()))
}

fn write_encoded(w: &mut Writer, encoding: CertEncoding, data: &[u8]) {
    w.u8(encoding.0);
    w.bytes(data);
}

impl CertPayload {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<CertPayload, WireError> {
        let (encoding, data) = parse_encoded(r)?;
        Ok(CertPayload { encoding, data })
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        write_encoded(w, self.encoding, &self.data);
    }
}

impl CertReqPayload {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<CertReqPayload, WireError> {
        let (encoding, data) = parse_encoded(r)?;
        Ok(CertReqPayload { encoding, data })
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        write_encoded(w, self.encoding, &self.data);
    }
}
